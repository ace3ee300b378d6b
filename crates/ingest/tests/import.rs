//! Import behaviour, end to end through the library: containers, gzip, directories, dedupe,
//! quarantine, coverage.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use trailproof_ingest::{CoverageBasis, ImportOptions, ImportReport, collect_inputs, import};
use trailproof_model::Source;
use trailproof_store::Store;

fn console_login(id: &str, time: &str, region: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAX:alice@example.com","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com","accountId":"111122223333"}},"eventTime":"{time}","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"{region}","sourceIPAddress":"198.51.100.7","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{{"ConsoleLogin":"Success"}},"additionalEventData":{{"MFAUsed":"No","SamlProviderArn":"arn:aws:iam::111122223333:saml-provider/Okta"}},"eventID":"{id}","eventType":"AwsConsoleSignIn","recipientAccountId":"111122223333"}}"#
    )
}

fn noise(id: &str, time: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/i-1"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

fn gz(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(body.as_bytes()).unwrap();
    std::fs::write(path, e.finish().unwrap()).unwrap();
}

fn run(store: &mut Store, paths: &[PathBuf], opts: &ImportOptions) -> ImportReport {
    let (inputs, manifests) = collect_inputs(paths).unwrap();
    let r = import(store, &inputs, &manifests, opts, &mut |_| {}).unwrap();
    let c = &r.counts;
    assert_eq!(
        c.read,
        c.stored + c.duplicates + c.skipped + c.quarantined + r.foreign,
        "every record counted once: {c:?}"
    );
    r
}

/// An S3 trail tree: nested dated folders, gzip, a digest folder, a stray README.
fn trail_tree(root: &Path) {
    let base = root.join("AWSLogs/o-abc123/111122223333/CloudTrail");
    gz(
        &base.join("us-east-1/2026/11/02/111122223333_CloudTrail_us-east-1_20261102T0905Z_a.json.gz"),
        &format!(
            r#"{{"Records":[{},{},{}]}}"#,
            noise("n1", "2026-11-02T08:58:00Z"),
            console_login("e1", "2026-11-02T09:00:04Z", "us-east-1"),
            noise("n2", "2026-11-02T08:59:00Z")
        ),
    );
    // The same ConsoleLogin delivered again in another file (duplicates happen).
    gz(
        &base.join("eu-west-1/2026/11/02/111122223333_CloudTrail_eu-west-1_20261102T0910Z_b.json.gz"),
        &format!(
            r#"{{"Records":[{},{}]}}"#,
            console_login("e1", "2026-11-02T09:00:04Z", "us-east-1"),
            noise("n3", "2026-11-02T09:01:00Z")
        ),
    );
    gz(
        &root.join("AWSLogs/o-abc123/111122223333/CloudTrail-Digest/us-east-1/2026/11/02/digest.json.gz"),
        r#"{"digestStartTime":"x"}"#,
    );
    std::fs::write(root.join("AWSLogs/README.txt"), "not a log").unwrap();
}

#[test]
fn s3_trail_tree_with_duplicates_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    trail_tree(dir.path());
    let mut store = Store::open_in_memory().unwrap();
    let opts = ImportOptions::new(Source::Cloudtrail);
    let r = run(&mut store, &[dir.path().join("AWSLogs")], &opts);
    assert_eq!(r.files, 2, "digest folder and README are not read");
    assert_eq!(
        (r.counts.read, r.counts.stored, r.counts.duplicates, r.counts.skipped, r.counts.quarantined),
        (5, 1, 1, 3, 0)
    );
    // Coverage per account/region from the records' own fields, including the skipped noise.
    let cov: Vec<(String, String, String)> = r
        .coverage
        .iter()
        .map(|c| (c.scope.clone(), trailproof_model::format_ms(c.start_ms), trailproof_model::format_ms(c.end_ms)))
        .collect();
    assert_eq!(
        cov,
        vec![(
            "111122223333/us-east-1".to_string(),
            "2026-11-02T08:58:00Z".to_string(),
            "2026-11-02T09:01:00Z".to_string()
        )]
    );
    // Importing again stores nothing new.
    let again = run(&mut store, &[dir.path().join("AWSLogs")], &opts);
    assert_eq!((again.counts.stored, again.counts.duplicates), (0, 2));
    assert_eq!(store.raw_counts().unwrap(), vec![("cloudtrail".to_string(), 1)]);
}

#[test]
fn lookup_events_and_ndjson_and_single_record_files() {
    let dir = tempfile::tempdir().unwrap();
    let inner = console_login("e2", "2026-11-02T10:00:00Z", "us-east-1");
    let lookup = serde_json::json!({"Events": [{"EventId": "e2", "EventName": "ConsoleLogin", "EventTime": 1793613600, "CloudTrailEvent": inner}], "NextToken": "x"});
    std::fs::write(dir.path().join("lookup.json"), lookup.to_string()).unwrap();
    std::fs::write(
        dir.path().join("events.ndjson"),
        format!(
            "{}\n{}\n",
            console_login("e3", "2026-11-02T10:01:00Z", "us-east-1"),
            noise("n9", "2026-11-02T10:02:00Z")
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("one.json"), console_login("e4", "2026-11-02T10:03:00Z", "us-east-1")).unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[dir.path().to_path_buf()], &ImportOptions::new(Source::Cloudtrail));
    assert_eq!((r.counts.stored, r.counts.skipped, r.counts.quarantined), (3, 1, 0), "{r:?}");
}

#[test]
fn a_bad_record_is_quarantined_and_span_coverage_is_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("okta.json");
    std::fs::write(
        &f,
        r#"[{"uuid":"u1","published":"2026-11-02T09:00:00.000Z","eventType":"user.session.start","actor":{"type":"User","alternateId":"a@example.com"},"outcome":{"result":"SUCCESS"},"authenticationContext":{"externalSessionId":"s1"}},
            {"uuid":"u2","published":"not a time","eventType":"user.session.start"},
            {"uuid":"u3","published":"2026-11-02T10:00:00.000Z","eventType":"user.session.start","actor":{"type":"User","alternateId":"b@example.com"},"outcome":{"result":"SUCCESS"}}]"#,
    )
    .unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, std::slice::from_ref(&f), &ImportOptions::new(Source::Okta));
    assert_eq!((r.counts.stored, r.counts.quarantined), (2, 1));
    assert!(r.quarantine_examples[0].0.contains("record 2"), "{:?}", r.quarantine_examples);
    assert!(r.coverage.is_empty());
    assert!(r.coverage_withheld.as_deref().unwrap_or("").contains("quarantined"));
    assert!(store.coverage().unwrap().is_empty());
    // The same file with --covers: the user vouches, coverage is recorded as stated.
    let mut opts = ImportOptions::new(Source::Okta);
    opts.covers = Some((1_793_577_600_000, 1_793_664_000_000));
    let r = run(&mut store, &[f], &opts);
    assert_eq!(r.coverage.len(), 1);
    assert_eq!(r.coverage[0].basis, CoverageBasis::Vouched);
    assert_eq!((r.coverage[0].scope.as_str(), r.coverage[0].start_ms), ("*", 1_793_577_600_000));
    assert_eq!(r.counts.duplicates, 2);
}

#[test]
fn coverage_manifest_is_honoured_and_gaps_stay_uncovered() {
    let dir = tempfile::tempdir().unwrap();
    let okta = dir.path().join("okta");
    std::fs::create_dir_all(&okta).unwrap();
    std::fs::write(
        okta.join("page-1.json"),
        r#"[{"uuid":"u1","published":"2026-11-02T09:00:00.000Z","eventType":"user.session.start","actor":{"type":"User","alternateId":"a@example.com"},"outcome":{"result":"SUCCESS"}}]"#,
    )
    .unwrap();
    std::fs::write(
        okta.join("coverage.json"),
        r#"[{"scope":"*","start":"2026-11-02T00:00:00Z","end":"2026-11-02T06:00:00Z"},{"scope":"*","start":"2026-11-02T07:00:00Z","end":"2026-11-02T23:59:59Z"}]"#,
    )
    .unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[okta], &ImportOptions::new(Source::Okta));
    assert_eq!(r.files, 1, "the manifest is not read as records");
    assert_eq!(r.counts.stored, 1);
    assert!(r.coverage.iter().all(|c| c.basis == CoverageBasis::Manifest));
    let cov = store.coverage().unwrap();
    assert_eq!(cov.len(), 2, "the 06:00–07:00 gap stays uncovered: {cov:?}");
}

#[test]
fn malformed_manifest_is_an_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coverage.json"), r#"[{"scope":"*","start":"yesterday"}]"#).unwrap();
    let e = collect_inputs(&[dir.path().to_path_buf()]).unwrap_err().to_string();
    assert!(e.contains("coverage.json"), "{e}");
}

#[test]
fn truncated_gzip_is_a_failed_input_and_what_was_read_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("trail.json.gz");
    let body = format!(
        r#"{{"Records":[{},{}]}}"#,
        console_login("e1", "2026-11-02T09:00:04Z", "us-east-1"),
        console_login("e2", "2026-11-02T09:00:05Z", "us-east-1")
    );
    gz(&f, &body);
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 30]).unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let (inputs, m) = collect_inputs(&[f]).unwrap();
    let r = import(&mut store, &inputs, &m, &ImportOptions::new(Source::Cloudtrail), &mut |_| {}).unwrap();
    assert_eq!(r.failed_inputs.len(), 1, "{r:?}");
    assert!(r.coverage.is_empty());
    assert!(r.coverage_withheld.is_some());
}

#[test]
fn missing_path_is_an_error_before_anything_is_read() {
    let e = collect_inputs(&[PathBuf::from("/definitely/not/here.json")]).unwrap_err().to_string();
    assert!(e.contains("/definitely/not/here.json"), "{e}");
}

#[test]
fn idp_page_wrappers_are_unwrapped() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases");
    let mut store = Store::open_in_memory().unwrap();
    let r =
        run(&mut store, &[fixtures.join("entra_previously_satisfied/entra.json")], &ImportOptions::new(Source::Entra));
    assert_eq!((r.counts.read, r.counts.stored), (2, 2));
    assert_eq!(r.coverage[0].scope, "aaaabbbb-0000-4000-8000-000000000001");
    let r = run(
        &mut store,
        &[fixtures.join("google_saml_2sv/google-login.json"), fixtures.join("google_saml_2sv/google-saml.json")],
        &ImportOptions::new(Source::Google),
    );
    assert_eq!((r.counts.read, r.counts.stored), (4, 4));
    assert_eq!(r.coverage[0].scope, "C03az79cb");
}

#[test]
fn a_page_and_its_checkpoint_commit_together() {
    let page = br#"[{"uuid":"u1","published":"2026-11-02T09:00:00.000Z","eventType":"user.session.start","actor":{"type":"User","alternateId":"a@example.com"},"outcome":{"result":"SUCCESS"}},
                    {"uuid":"u2","published":"2026-11-02T09:05:00.000Z","eventType":"user.lifecycle.create"}]"#;
    let mut store = Store::open_in_memory().unwrap();
    let opts = ImportOptions::new(Source::Okta);
    {
        let mut b = store.batch().unwrap();
        let r = trailproof_ingest::ingest_page(&mut b, &opts, "https://example.okta.com/api/v1/logs", page).unwrap();
        assert_eq!((r.counts.read, r.counts.stored, r.counts.skipped), (2, 1, 1));
        assert_eq!(r.span.get("*"), Some(&(1_793_610_000_000, 1_793_610_300_000)));
        b.set_checkpoint(Source::Okta, "*", "logs", "next-1").unwrap();
        // Not committed: a crash here leaves neither the page nor the cursor.
    }
    assert!(store.raw_counts().unwrap().is_empty());
    assert_eq!(store.checkpoint(Source::Okta, "*", "logs").unwrap(), None);
    let mut b = store.batch().unwrap();
    trailproof_ingest::ingest_page(&mut b, &opts, "https://example.okta.com/api/v1/logs", page).unwrap();
    b.set_checkpoint(Source::Okta, "*", "logs", "next-1").unwrap();
    b.commit().unwrap();
    assert_eq!(store.raw_counts().unwrap(), vec![("okta".to_string(), 1)]);
    assert_eq!(store.checkpoint(Source::Okta, "*", "logs").unwrap().as_deref(), Some("next-1"));
}

fn okta_record(i: usize) -> String {
    format!(
        r#"{{"uuid":"u{i}","published":"2026-11-02T09:{:02}:{:02}.000Z","eventType":"user.session.start","actor":{{"type":"User","alternateId":"user{}@example.com"}},"outcome":{{"result":"SUCCESS"}},"authenticationContext":{{"externalSessionId":"s{}"}},"client":{{"userAgent":{{"rawUserAgent":"agent {i}"}}}}}}"#,
        i / 60 % 60,
        i % 60,
        i % 37,
        i % 50
    )
}

/// Two files of Okta records, every fifth one irrelevant, more than one chunk (256) each.
fn okta_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (f, range) in [(0, 0..700), (1, 700..1300)] {
        let recs: Vec<String> = range
            .map(|i| {
                if i % 5 == 4 {
                    format!(r#"{{"uuid":"x{i}","published":"2026-11-02T09:00:00.000Z","eventType":"user.lifecycle.create"}}"#)
                } else {
                    okta_record(i)
                }
            })
            .collect();
        let p = dir.join(format!("okta-{f}.json"));
        std::fs::write(&p, format!("[{}]", recs.join(",\n"))).unwrap();
        paths.push(p);
    }
    paths
}

fn rows(store: &Store, sql: &str) -> Vec<Vec<String>> {
    let mut st = store.conn().prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        (0..n).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect::<Result<Vec<_>, _>>()
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// Regression for the bulk import (indexes dropped, then rebuilt) and for raw records kept in
/// compressed blocks: the same rows, the same indexes, every raw record back byte for byte.
#[test]
fn a_bulk_import_stores_exactly_what_an_indexed_import_stores() {
    let dir = tempfile::tempdir().unwrap();
    let files = okta_files(dir.path());
    let mut stores = Vec::new();
    for bulk in [true, false] {
        let mut store = Store::open(&dir.path().join(format!("bulk-{bulk}.db"))).unwrap();
        let opts = ImportOptions { bulk: Some(bulk), ..ImportOptions::new(Source::Okta) };
        let r = run(&mut store, &files, &opts);
        assert_eq!((r.counts.stored, r.counts.skipped), (1040, 260));
        stores.push(store);
    }
    // Every column but the row ids (two files are read in parallel: their order varies), with
    // the strings the rows point at (`idp_events_full`, migration 17).
    let events = "SELECT provider, tenant, event_id, time_ms, kind, native_type, outcome, outcome_reason, user_login,
        user_login_fold, user_email, user_id, display_name, app_username, app_id, app_name, session_id,
        source_ip, user_agent, asn, as_org, country, mfa, factors, auth_requirement FROM idp_events_full ORDER BY event_id";
    let (a, b) = (rows(&stores[0], events), rows(&stores[1], events));
    assert_eq!(a.len(), 1040);
    assert!(a == b, "bulk and indexed imports stored different events");
    // The same indexes, defined alike (up to the whitespace of the migration's text).
    let indexes = |s: &Store| -> Vec<String> {
        let mut st = s
            .conn()
            .prepare("SELECT name || ' ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(indexes(&stores[0]), indexes(&stores[1]));
    assert!(indexes(&stores[0]).iter().any(|r| r.contains("idp_events_login_kind_time")));
    for store in &stores {
        for i in (0..1300).filter(|i| i % 5 != 4) {
            let raw = store.raw_record(Source::Okta, &format!("u{i}")).unwrap().expect("stored");
            assert_eq!(String::from_utf8(raw).unwrap(), okta_record(i), "record u{i}");
        }
        // Kept in blocks: far fewer blobs than records.
        let blocks: i64 = store.conn().query_row("SELECT count(*) FROM raw_blocks", [], |r| r.get(0)).unwrap();
        assert!((2..=10).contains(&blocks), "{blocks} blocks");
    }
}

/// Importing the same files again stores nothing, not even the blocks of the duplicates.
#[test]
fn a_reimport_adds_no_block_and_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let files = okta_files(dir.path());
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    let opts = ImportOptions::new(Source::Okta);
    run(&mut store, &files, &opts);
    let count = |store: &Store| {
        rows(store, "SELECT (SELECT count(*) FROM raw_blocks), (SELECT count(*) FROM raw_records)")[0].clone()
    };
    let before = count(&store);
    let r = run(&mut store, &files, &opts);
    assert_eq!((r.counts.stored, r.counts.duplicates), (0, 1040));
    assert_eq!(count(&store), before);
}

/// A file that mixes records already stored with new ones (chunks of both kinds, and chunks
/// holding both): each record is counted once, every new one reads back byte for byte, and no
/// block is kept that no record points into.
#[test]
fn a_partly_new_import_counts_each_record_once_and_keeps_only_blocks_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let files = okta_files(dir.path());
    let mut store = Store::open(&dir.path().join("t.db")).unwrap();
    let opts = ImportOptions::new(Source::Okta);
    run(&mut store, &files[..1], &opts); // records 0..700
    let all: Vec<String> = (0..1300)
        .map(|i| {
            if i % 5 == 4 {
                format!(
                    r#"{{"uuid":"x{i}","published":"2026-11-02T09:00:00.000Z","eventType":"user.lifecycle.create"}}"#
                )
            } else {
                okta_record(i)
            }
        })
        .collect();
    let mixed = dir.path().join("mixed.json");
    std::fs::write(&mixed, format!("[{}]", all.join(",\n"))).unwrap();
    let r = run(&mut store, std::slice::from_ref(&mixed), &opts);
    assert_eq!((r.counts.stored, r.counts.duplicates, r.counts.skipped), (480, 560, 260));
    for i in (0..1300).filter(|i| i % 5 != 4) {
        let raw = store.raw_record(Source::Okta, &format!("u{i}")).unwrap().expect("stored");
        assert_eq!(String::from_utf8(raw).unwrap(), okta_record(i), "record u{i}");
    }
    let unused = rows(
        &store,
        "SELECT count(*) FROM raw_blocks WHERE id NOT IN (SELECT block_id FROM raw_records WHERE block_id IS NOT NULL)",
    );
    assert_eq!(unused, [["Integer(0)"]]);
}

/// The writer stores a transaction's records sorted by native id (for the unique indexes'
/// sake), not as read. Of two records with the same id in one input, the first read must still
/// be the one kept, whether both fall in one transaction or in two.
#[test]
fn the_first_of_two_records_with_one_id_is_kept_however_the_records_are_batched() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs: Vec<String> = (0..700).map(okta_record).collect();
    let second = okta_record(5).replace("agent 5", "agent 5, sent again");
    recs.insert(650, second);
    let file = dir.path().join("okta.json");
    std::fs::write(&file, format!("[{}]", recs.join(",\n"))).unwrap();
    for batch_size in [50_000, 300, 7] {
        let mut store = Store::open(&dir.path().join(format!("b{batch_size}.db"))).unwrap();
        let opts = ImportOptions { batch_size, ..ImportOptions::new(Source::Okta) };
        let r = run(&mut store, std::slice::from_ref(&file), &opts);
        assert_eq!((r.counts.stored, r.counts.duplicates), (700, 1), "batches of {batch_size}");
        let raw = store.raw_record(Source::Okta, "u5").unwrap().expect("stored");
        assert_eq!(String::from_utf8(raw).unwrap(), okta_record(5), "batches of {batch_size}");
        let ua = rows(&store, "SELECT user_agent FROM idp_events_full WHERE event_id = 'u5'");
        assert_eq!(ua, [[r#"Text("agent 5")"#]], "batches of {batch_size}");
    }
}

fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real").join(rel)
}

fn okta_event(uuid: &str, time: &str) -> String {
    format!(
        r#"{{"uuid":"{uuid}","published":"{time}","eventType":"user.session.start","actor":{{"type":"User","alternateId":"a@example.com"}},"outcome":{{"result":"SUCCESS"}}}}"#
    )
}

fn covered(store: &Store) -> Vec<(String, String, String, String)> {
    store
        .coverage()
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.source.to_string(),
                c.scope,
                trailproof_model::format_ms(c.start_ms),
                trailproof_model::format_ms(c.end_ms),
            )
        })
        .collect()
}

/// Issue 15, point 10: one quarantined record in one file of a two-file import withholds the
/// coverage around that file's records only; the clean file's span is recorded.
#[test]
fn a_quarantined_record_withholds_its_files_span_only() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("page-1.json");
    let bad = dir.path().join("page-2.json");
    std::fs::write(
        &clean,
        format!("[{},{}]", okta_event("u1", "2026-11-02T09:00:00.000Z"), okta_event("u2", "2026-11-02T09:30:00.000Z")),
    )
    .unwrap();
    std::fs::write(
        &bad,
        format!(
            "[{},{},{}]",
            okta_event("u3", "2026-11-02T10:00:00.000Z"),
            r#"{"uuid":"u4","published":"not a time","eventType":"user.session.start"}"#,
            okta_event("u5", "2026-11-02T10:30:00.000Z")
        ),
    )
    .unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[clean.clone(), bad.clone()], &ImportOptions::new(Source::Okta));
    assert_eq!((r.counts.stored, r.counts.quarantined), (4, 1));
    assert_eq!(
        covered(&store),
        vec![("okta".into(), "*".into(), "2026-11-02T09:00:00Z".into(), "2026-11-02T09:30:00Z".into())],
        "the clean page is covered; nothing from its last record on (the bad page's stretch)"
    );
    assert_eq!(r.withheld.len(), 1);
    assert_eq!(r.withheld[0].input, bad.display().to_string());
    assert!(r.coverage_withheld.as_deref().unwrap_or("").contains("page-2.json"), "{:?}", r.coverage_withheld);

    // The bad page first, then the clean one: the clean page's span is covered from its first record.
    let mut store = Store::open_in_memory().unwrap();
    let later = dir.path().join("page-3.json");
    std::fs::write(&later, format!("[{}]", okta_event("u6", "2026-11-02T11:00:00.000Z"))).unwrap();
    run(&mut store, &[bad.clone(), later], &ImportOptions::new(Source::Okta));
    assert_eq!(
        covered(&store),
        vec![("okta".into(), "*".into(), "2026-11-02T11:00:00Z".into(), "2026-11-02T11:00:00Z".into())]
    );

    // A bad file without any dated record bounds nothing: nothing is recorded, as before.
    let undated = dir.path().join("undated.json");
    std::fs::write(&undated, r#"[{"uuid":"u7","published":"never","eventType":"user.session.start"}]"#).unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[clean, undated], &ImportOptions::new(Source::Okta));
    assert!(covered(&store).is_empty(), "{:?}", covered(&store));
    assert_eq!(r.withheld[0].span, None);
}

/// Issue 15, point 7: a file of another source's records fails the import naming that source;
/// nothing is stored and nothing is covered.
#[test]
fn the_wrong_source_named_is_foreign_and_named() {
    let entra = real("entra/graph-docs-beta-signin-list-example2-empty-status.json");
    for named in [Source::Cloudtrail, Source::Okta, Source::Google, Source::Adfs] {
        let mut store = Store::open_in_memory().unwrap();
        let r = run(&mut store, std::slice::from_ref(&entra), &ImportOptions::new(named));
        assert_eq!((r.foreign, r.counts.stored, r.counts.skipped, r.counts.quarantined), (1, 0, 0, 0), "{named}");
        assert_eq!(r.foreign_inputs, vec![(entra.display().to_string(), Source::Entra, 1)], "{named}");
        assert!(r.coverage.is_empty() && store.coverage().unwrap().is_empty(), "{named}");
        assert!(store.raw_counts().unwrap().is_empty(), "{named}");
    }
    // --covers is not recorded either: the command named the wrong source.
    let mut store = Store::open_in_memory().unwrap();
    let opts = ImportOptions { covers: Some((0, 1)), ..ImportOptions::new(Source::Cloudtrail) };
    let r = run(&mut store, std::slice::from_ref(&entra), &opts);
    assert!(store.coverage().unwrap().is_empty());
    assert!(r.coverage_withheld.unwrap().contains("--covers"));
    // Named right, it imports.
    let r = run(&mut store, &[entra], &ImportOptions::new(Source::Entra));
    assert_eq!((r.foreign, r.counts.stored), (0, 1));
}

/// AD FS sign-ins (Entra's `ADFSSignInLogs`) are their own source: `import entra` names them,
/// `import adfs` stores them.
#[test]
fn adfs_records_are_adfs_not_entra() {
    use trailproof_ingest::Format;
    assert!(Format::for_source(Source::Adfs, Some("graph")).is_err(), "Graph holds no AD FS sign-ins");
    assert!(Format::for_source(Source::Adfs, Some("azure-monitor")).is_ok());
    let adfs = real("adfs/elastic-test-adfs-signin.log");
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, std::slice::from_ref(&adfs), &ImportOptions::new(Source::Entra));
    assert_eq!((r.foreign, r.counts.stored), (1, 0));
    assert_eq!(r.foreign_inputs[0].1, Source::Adfs);
    let r = run(&mut store, &[adfs], &ImportOptions::new(Source::Adfs));
    assert_eq!((r.foreign, r.counts.stored), (0, 1));
    assert_eq!(store.raw_counts().unwrap(), vec![("adfs".to_string(), 1)]);
}

/// `import auto` routes each record of a mixed file to its source (real records of five
/// sources, one in an Okta Event Hook delivery): each is stored and covered under its own.
#[test]
fn auto_routes_each_record_of_a_mixed_file() {
    let mixed = real("mixed/one-record-of-each-source.ndjson");
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, std::slice::from_ref(&mixed), &ImportOptions::auto());
    let stored: Vec<(Source, u64)> = r.by_source.iter().map(|(s, c)| (*s, c.stored)).collect();
    assert_eq!(
        stored,
        vec![(Source::Cloudtrail, 1), (Source::Okta, 1), (Source::Entra, 1), (Source::Google, 2), (Source::Adfs, 1)]
    );
    assert_eq!((r.foreign, r.counts.quarantined), (0, 0));
    assert_eq!(r.envelopes.get(&trailproof_envelope::Envelope::OktaEventHook), Some(&1));
    let raw: Vec<(String, u64)> = store.raw_counts().unwrap();
    assert_eq!(
        raw,
        vec![
            ("adfs".to_string(), 1),
            ("cloudtrail".to_string(), 1),
            ("entra".to_string(), 1),
            ("google".to_string(), 2),
            ("okta".to_string(), 1)
        ]
    );
    let sources: std::collections::BTreeSet<String> = covered(&store).into_iter().map(|c| c.0).collect();
    assert_eq!(sources.len(), 5, "each source's span is covered under its own name: {sources:?}");
    // The raw record kept is the record, not the envelope it came in.
    let okta = store.raw_record(Source::Okta, "f790999f-fe87-467a-9880-6982a583986c").unwrap().unwrap();
    assert!(String::from_utf8(okta).unwrap().trim_start().starts_with("{\n        \"version\": \"0\""));
}

/// Issue 15, point 3: the EventBridge ConsoleLogin (kintail's README) is stored, not quarantined.
#[test]
fn eventbridge_console_login_is_stored() {
    let file = real("envelope/eventbridge-cloudtrail-kintail.ndjson");
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[file], &ImportOptions::new(Source::Cloudtrail));
    assert_eq!((r.counts.read, r.counts.stored, r.counts.skipped, r.counts.quarantined), (3, 1, 2, 0));
    assert_eq!(r.envelopes.get(&trailproof_envelope::Envelope::EventBridge), Some(&3));
    let raw = store.raw_record(Source::Cloudtrail, "e00e0b1e-762a-44f6-b0cf-xxxx").unwrap().expect("stored");
    let raw: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(raw["eventName"], "ConsoleLogin");
    assert!(raw.get("detail-type").is_none(), "the envelope's own fields are not kept");
}

/// A record that cannot be used inside an envelope is quarantined with where it came from.
#[test]
fn quarantine_inside_an_envelope_names_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("firehose.json");
    let login = console_login("e9", "2026-11-02T09:00:04Z", "us-east-1");
    let bad_login = login.replace(r#""eventTime":"2026-11-02T09:00:04Z","#, "");
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    std::fs::write(
        &f,
        format!(
            r#"{{"requestId":"r1","timestamp":1,"records":[{{"data":"{}"}},{{"data":"{}"}},{{"data":"%%%"}}]}}"#,
            b64(&login),
            b64(&bad_login)
        ),
    )
    .unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, &[f], &ImportOptions::new(Source::Cloudtrail));
    assert_eq!((r.counts.stored, r.counts.quarantined), (1, 2));
    let (loc, reason) = &r.quarantine_examples[0];
    assert!(
        loc.contains("record 2 of a Firehose HTTP endpoint delivery") && reason.contains("eventTime"),
        "{loc}: {reason}"
    );
    let (loc, reason) = &r.quarantine_examples[1];
    assert!(
        loc.contains("record 3 of a Firehose HTTP endpoint delivery") && reason.contains("base64"),
        "{loc}: {reason}"
    );
}

/// An auto import of a file none of whose records is any source's fails that file.
#[test]
fn an_unrecognised_input_fails_an_auto_import() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("other.ndjson");
    std::fs::write(&f, "{\"Type\":\"Notification\"}\nplain text\n").unwrap();
    let mut store = Store::open_in_memory().unwrap();
    let r = run(&mut store, std::slice::from_ref(&f), &ImportOptions::auto());
    assert_eq!(r.failed_inputs.len(), 1);
    assert!(r.failed_inputs[0].1.contains("trailproof import SOURCE"), "{:?}", r.failed_inputs);
    assert!(store.coverage().unwrap().is_empty());
}

/// Collectors' pages: a record of another source is quarantined (a page holds one source's).
#[test]
fn a_page_quarantines_a_foreign_record() {
    let page = format!(
        "[{},{}]",
        okta_event("u1", "2026-11-02T09:00:00.000Z"),
        std::fs::read_to_string(real("adfs/elastic-test-adfs-signin.log")).unwrap()
    );
    let mut store = Store::open_in_memory().unwrap();
    let mut b = store.batch().unwrap();
    let r = trailproof_ingest::ingest_page(&mut b, &ImportOptions::new(Source::Okta), "page", page.as_bytes()).unwrap();
    assert_eq!((r.counts.read, r.counts.stored, r.counts.quarantined), (2, 1, 1));
    assert!(r.quarantine_examples[0].1.contains("adfs"), "{:?}", r.quarantine_examples);
}

/// The SSOs of the real IdP records (`fixtures/real/`, each with its provenance) read back from
/// the store's frames (column by column since version 2, a user's names as differences from the
/// login's string) as the parser gives them; so does every other event, read from its row.
#[test]
fn every_real_idp_event_reads_back_from_the_store_as_parsed() {
    use std::collections::BTreeMap;
    use trailproof_ingest::{Events, RecordOutcome, read_records};
    use trailproof_model::{IdpEvent, IdpEventKind};
    let dir = tempfile::tempdir().unwrap();
    for (source, sub) in [(Source::Okta, "okta"), (Source::Entra, "entra"), (Source::Google, "google")] {
        let files: Vec<PathBuf> = std::fs::read_dir(real(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.to_string_lossy().ends_with(".meta.json") && p.extension().is_some_and(|e| e != "txt"))
            .collect();
        let opts = ImportOptions::new(source);
        let mut ssos = 0;
        // A file at a time: the projects' test files reuse each other's event ids.
        for (n, f) in files.iter().enumerate() {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            // What the parser makes of the file's records, by event id. Some test files give
            // one id to records that differ (Elastic's Okta events): the store keeps one of
            // them, the latest version.
            let mut parsed: BTreeMap<String, Vec<IdpEvent>> = BTreeMap::new();
            for r in read_records(&opts, &std::fs::read(f).unwrap()).records {
                if let RecordOutcome::Kept { events: Events::Idp(events), .. } = r.outcome {
                    for e in events {
                        parsed.entry(e.event_id.clone()).or_default().push(e);
                    }
                }
            }
            ssos += parsed.values().flatten().filter(|e| e.kind == IdpEventKind::AppSso).count();
            let mut store = Store::open(&dir.path().join(format!("{sub}-{n}.db"))).unwrap();
            run(&mut store, std::slice::from_ref(f), &opts);
            let stored: BTreeMap<String, IdpEvent> =
                store.idp_events_all().unwrap().into_iter().map(|e| (e.event_id.clone(), e)).collect();
            assert_eq!(
                stored.keys().collect::<Vec<_>>(),
                parsed.keys().collect::<Vec<_>>(),
                "{name}: the events stored are not those parsed"
            );
            for (id, versions) in &parsed {
                assert!(
                    versions.contains(&stored[id]),
                    "{name}: event {id} reads back otherwise than it parses: {:?}, parsed {versions:?}",
                    stored[id]
                );
            }
        }
        assert!(ssos > 0, "{sub}: no real record holds an SSO to an application");
    }
}

/// Real records (fixtures/real, each with its provenance in a `.meta.json` beside it) go into
/// the store's blocks (columns, their native ids as dictionary) and read back byte for byte: every
/// stored record's bytes are found as they are in the file it came from.
#[test]
fn every_stored_real_record_reads_back_as_it_is_in_its_file() {
    let dir = tempfile::tempdir().unwrap();
    for (source, sub) in [
        (Source::Okta, "okta"),
        (Source::Entra, "entra"),
        (Source::Google, "google"),
        (Source::Cloudtrail, "cloudtrail"),
    ] {
        let files: Vec<PathBuf> = std::fs::read_dir(real(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                // Records inside an envelope (an Elastic document's `event.original`, say) are
                // stored unwrapped, not as the file writes them: left out here.
                let meta = p.with_extension("meta.json");
                let wrapped = std::fs::read_to_string(&meta).is_ok_and(|m| m.contains("envelope/"));
                !name.ends_with(".meta.json") && (name.ends_with(".json") || name.ends_with(".ndjson")) && !wrapped
            })
            .collect();
        let contents: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let mut store = Store::open(&dir.path().join(format!("{sub}.db"))).unwrap();
        run(&mut store, &files, &ImportOptions::new(source));
        let ids = store.native_ids(source).unwrap();
        assert!(!ids.is_empty(), "{sub}: no real record was stored");
        for id in &ids {
            let raw = store.raw_record(source, id).unwrap().unwrap_or_else(|| panic!("{sub} {id}: not readable"));
            assert!(
                contents.iter().any(|c| c.windows(raw.len()).any(|w| w == raw.as_slice())),
                "{sub} {id}: its stored bytes are in none of the files"
            );
            // Its origin (its block's, or its own where the block's is another's: migration 28)
            // is the file whose bytes hold it.
            let (origin, _) = store.raw_origin(source, id).unwrap().unwrap();
            let at = files.iter().position(|p| origin.ends_with(&*p.file_name().unwrap().to_string_lossy()));
            let at = at.unwrap_or_else(|| panic!("{sub} {id}: origin {origin:?} is none of the files"));
            assert!(contents[at].windows(raw.len()).any(|w| w == raw.as_slice()), "{sub} {id}: not in {origin}");
        }
    }
}
