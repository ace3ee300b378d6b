//! Broken and hostile input through the import library (issue 17): nothing guessed, nothing
//! lost, nothing hung. Each test names the finding it pins; the CLI's data-driven corpus
//! (`crates/cli/tests/hostile.rs`, `fixtures/hostile/`) runs the same cases through the binary.

use std::path::{Path, PathBuf};
use std::time::Duration;
use trailproof_ingest::{ImportOptions, ImportReport, Input, collect_inputs, import};
use trailproof_model::{DAY_MS, Source, parse_time};
use trailproof_store::Store;

fn okta(uuid: &str, published: &str) -> String {
    format!(
        r#"{{"uuid":"{uuid}","published":"{published}","eventType":"user.lifecycle.activate","actor":{{"id":"a","type":"User","alternateId":"x@example.com"}},"outcome":{{"result":"SUCCESS"}}}}"#
    )
}

fn cloudtrail_noise(id: &str, time: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/i-1"}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
    )
}

fn run_at(store: &mut Store, paths: &[PathBuf], opts: &ImportOptions) -> ImportReport {
    let (inputs, manifests) = collect_inputs(paths).unwrap();
    let r = import(store, &inputs, &manifests, opts, &mut |_| {}).unwrap();
    let c = &r.counts;
    assert_eq!(c.read, c.stored + c.updated + c.duplicates + c.skipped + c.quarantined + r.foreign, "{c:?}");
    r
}

fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn opts(source: Source, now: &str) -> ImportOptions {
    ImportOptions { now_ms: parse_time(now).unwrap(), ..ImportOptions::new(source) }
}

#[test]
fn implausible_times_are_quarantined_and_vouch_no_coverage() {
    // The finding: two irrelevant Okta records dated 2026-10-30 and 9999-12-31 recorded
    // `okta * 2026-10-30 → 9999-12-31` as covered.
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "okta.json",
        format!("[{},{}]", okta("u-1", "2026-10-30T10:00:00.000Z"), okta("u-2", "9999-12-31T23:59:59.000Z")),
    );
    let mut store = Store::open_in_memory().unwrap();
    let r = run_at(&mut store, &[f], &opts(Source::Okta, "2026-12-06T00:00:00Z"));
    assert_eq!((r.counts.skipped, r.counts.quarantined), (1, 1), "{r:?}");
    assert!(r.quarantine_examples[0].1.contains("implausible time 9999-12-31T23:59:59Z"), "{r:?}");
    assert!(r.coverage.is_empty(), "nothing vouched: {:?}", r.coverage);
    assert!(store.coverage().unwrap().is_empty());

    // Before a source can exist: a CloudTrail record of 2010.
    let f = write(dir.path(), "ct.json", cloudtrail_noise("n1", "2010-01-01T00:00:00Z"));
    let r = run_at(&mut store, &[f], &opts(Source::Cloudtrail, "2026-12-06T00:00:00Z"));
    assert_eq!(r.counts.quarantined, 1, "{r:?}");
    assert!(r.quarantine_examples[0].1.contains("before any cloudtrail record can exist"), "{r:?}");

    // Within the skew: kept, but no coverage past now.
    let f = write(
        dir.path(),
        "soon.json",
        format!("[{},{}]", okta("u-3", "2026-12-05T10:00:00.000Z"), okta("u-4", "2026-12-06T10:00:00.000Z")),
    );
    let r = run_at(&mut store, std::slice::from_ref(&f), &opts(Source::Okta, "2026-12-06T00:00:00Z"));
    assert_eq!((r.counts.skipped, r.counts.quarantined), (2, 0), "{r:?}");
    assert_eq!(r.coverage.len(), 1);
    assert_eq!(r.coverage[0].end_ms, parse_time("2026-12-06T00:00:00Z").unwrap(), "clamped to now");
    assert!(r.coverage_withheld.as_deref().unwrap_or("").contains("after now"), "{r:?}");
    // A smaller skew quarantines it.
    let tight = ImportOptions { future_skew_ms: DAY_MS / 24, ..opts(Source::Okta, "2026-12-06T00:00:00Z") };
    let r = run_at(&mut Store::open_in_memory().unwrap(), &[f], &tight);
    assert_eq!(r.counts.quarantined, 1, "{r:?}");
}

#[test]
fn a_cut_array_is_reported_where_it_ends_and_its_file_records_no_coverage() {
    // The finding: `[r1,…,r5,` imported with exit 0 and coverage of its span.
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<String> =
        (0..5).map(|i| cloudtrail_noise(&format!("n{i}"), &format!("2026-11-02T08:5{i}:00Z"))).collect();
    let body = format!("[{},", recs.join(","));
    let f = write(dir.path(), "cut.json", &body);
    let mut store = Store::open_in_memory().unwrap();
    let r = run_at(&mut store, &[f], &opts(Source::Cloudtrail, "2026-12-06T00:00:00Z"));
    assert_eq!((r.counts.read, r.counts.skipped, r.counts.quarantined), (6, 5, 1), "{r:?}");
    let (at, why) = &r.quarantine_examples[0];
    assert!(at.ends_with(&format!("record 6 at byte {}", body.len())), "{at}");
    assert!(why.contains("ends inside the array or page opened at byte 0"), "{why}");
    assert!(r.coverage.is_empty(), "{:?}", r.coverage);

    // 100,000 levels of `[`: reported, not "0 records read".
    let f = write(dir.path(), "deep.json", vec![b'['; 100_000]);
    let r = run_at(&mut store, &[f], &opts(Source::Cloudtrail, "2026-12-06T00:00:00Z"));
    assert_eq!((r.counts.read, r.counts.quarantined), (1, 1), "{r:?}");
    assert!(r.quarantine_examples[0].1.contains("the input ends inside this record"), "{r:?}");
}

#[test]
fn random_bytes_named_cloudtrail_are_quarantined_not_skipped() {
    // The finding: 200 KB of random bytes counted as thousands of irrelevant records.
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let f = write(dir.path(), "random.bin", bytes);
    let mut store = Store::open_in_memory().unwrap();
    let r = run_at(&mut store, &[f], &opts(Source::Cloudtrail, "2026-12-06T00:00:00Z"));
    assert!(r.counts.read > 0);
    assert_eq!(r.counts.skipped, 0, "nothing of it is a skipped record: {r:?}");
    assert_eq!(r.counts.quarantined, r.counts.read, "{r:?}");
    assert!(r.coverage.is_empty());
}

#[test]
fn one_cut_ndjson_line_is_one_bad_record_and_the_next_lines_are_stored() {
    // The finding: a line cut short followed by three good lines stored nothing.
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("{\"uuid\":\"u-0\",\"published\":\"2026-11-02T08:0\n");
    for i in 1..=3 {
        body.push_str(&okta(&format!("u-{i}"), &format!("2026-11-02T09:0{i}:00.000Z")));
        body.push('\n');
    }
    let f = write(dir.path(), "cut.ndjson", body);
    let mut store = Store::open_in_memory().unwrap();
    let r = run_at(&mut store, &[f], &opts(Source::Okta, "2026-12-06T00:00:00Z"));
    assert_eq!((r.counts.read, r.counts.skipped, r.counts.quarantined), (4, 3, 1), "{r:?}");
    assert!(r.quarantine_examples[0].1.contains("the line ends inside this record"), "{r:?}");
    // A problem file withholds its own stretch (per-file coverage): alone, it records nothing.
    assert!(r.coverage.is_empty(), "{r:?}");
    assert_eq!(r.withheld.len(), 1, "{r:?}");
}

#[cfg(unix)]
#[test]
fn bad_directory_entries_are_skipped_and_reported_and_a_fifo_never_blocks() {
    // The findings: a dangling symlink or a symlink loop aborted the directory before anything
    // was stored; a FIFO hung the import forever.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.json", okta("u-1", "2026-11-02T10:00:00.000Z"));
    std::os::unix::fs::symlink("/nonexistent/trailproof/x.json", d.join("dangling.json")).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/loop")).unwrap();
    let fifo = d.join("pipe.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);

    let root = d.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut store = Store::open_in_memory().unwrap();
        let r = run_at(&mut store, &[root], &opts(Source::Okta, "2026-12-06T00:00:00Z"));
        let _ = tx.send((r, store.coverage().unwrap().len()));
    });
    let (r, _) = rx.recv_timeout(Duration::from_secs(60)).expect("the import finishes (a FIFO must not block it)");
    assert_eq!(r.counts.skipped, 1, "the good file is imported: {r:?}");
    let failed: Vec<&str> = r.failed_inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(failed.len(), 3, "{:?}", r.failed_inputs);
    let why = |name: &str| {
        r.failed_inputs.iter().find(|(n, _)| n.ends_with(name)).map(|(_, w)| w.clone()).unwrap_or_default()
    };
    assert!(why("dangling.json").contains("dangling symlink"), "{:?}", r.failed_inputs);
    assert!(why("loop").contains("symlink loop"), "{:?}", r.failed_inputs);
    assert!(why("pipe.json").contains("FIFO"), "{:?}", r.failed_inputs);
    // A named FIFO is refused too, without opening it.
    let (inputs, _) = collect_inputs(&[fifo]).unwrap();
    assert!(matches!(&inputs[0], Input::Unreadable { why, .. } if why.contains("FIFO")), "{inputs:?}");
}
