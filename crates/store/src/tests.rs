use super::*;
use proptest::prelude::*;

/// The first bytes of a zstd frame (RFC 8878 §3.1.1): how a zstd block is told from deflate.
const ZSTD_MAGIC: &[u8] = &[0x28, 0xB5, 0x2F, 0xFD];
use trailproof_model::{AwsAppRule, AwsEventKind, Idp, IdpEventKind, MfaClaim, Outcome, UserKeys};

fn at() -> Origin<'static> {
    Origin { origin: "test.json", location: "record 0 at byte 0" }
}

fn aws(id: &str) -> AwsEvent {
    AwsEvent {
        event_id: id.into(),
        time_ms: 1_000,
        kind: Some(AwsEventKind::ConsoleLogin),
        outcome: Outcome::Success,
        arn: Some("arn:aws:sts::111122223333:assumed-role/Admin/Alice@Example.com".into()),
        session_name: Some("Alice@Example.com".into()),
        mfa_used: Some(false),
        ..Default::default()
    }
}

fn idp(id: &str) -> IdpEvent {
    IdpEvent {
        provider: Idp::Okta,
        tenant: None,
        event_id: id.into(),
        time_ms: 2_000,
        kind: IdpEventKind::FactorVerified,
        native_type: "user.authentication.auth_via_mfa".into(),
        outcome: Outcome::Success,
        outcome_reason: None,
        user: UserKeys { login: Some("Alice@Example.com".into()), ..Default::default() },
        app_id: None,
        app_name: None,
        session_id: Some("102abc".into()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: None,
        asn: Some(3741),
        as_org: None,
        country: None,
        mfa: MfaClaim::Verified,
        factors: vec!["OKTA_VERIFY_PUSH".into()],
        auth_requirement: None,
    }
}

#[test]
fn reinserting_the_same_record_is_a_duplicate_and_changes_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    let raw = raw::compress(br#"{"eventID":"e1"}"#);
    let mut b = s.batch().unwrap();
    assert_eq!(b.insert_aws("e1", at(), &raw, &[aws("e1")]).unwrap(), Stored::New);
    assert_eq!(b.insert_aws("e1", at(), &raw, &[aws("e1")]).unwrap(), Stored::Duplicate);
    b.commit().unwrap();
    let mut b = s.batch().unwrap();
    assert_eq!(b.insert_aws("e1", at(), &raw, &[aws("e1")]).unwrap(), Stored::Duplicate);
    b.commit().unwrap();
    let n: i64 = s.conn().query_row("SELECT COUNT(*) FROM aws_events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.raw_counts().unwrap(), vec![("cloudtrail".to_string(), 1)]);
}

#[test]
fn stored_fields_and_folded_keys() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    b.insert_aws("e1", at(), &raw::compress(b"{}"), &[aws("e1")]).unwrap();
    b.insert_idp(Source::Okta, "u1", at(), &raw::compress(b"{}"), &[idp("u1")]).unwrap();
    b.commit().unwrap();
    let (fold, mfa_used): (String, i64) = s
        .conn()
        .query_row("SELECT session_name_fold, mfa_used FROM aws_events", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(fold, "alice@example.com");
    assert_eq!(mfa_used, 0);
    let (login_fold, mfa, factors, asn): (String, String, String, i64) = s
        .conn()
        .query_row("SELECT user_login_fold, mfa, factors, asn FROM idp_events_full", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!(login_fold, "alice@example.com");
    assert_eq!(mfa, "verified");
    // An SSO is kept in a frame (sso.rs), not as a row, and its keys are folded when read; no
    // e-mail's is (no column holds one).
    let mut b = s.batch().unwrap();
    let e = IdpEvent { kind: IdpEventKind::AppSso, ..idp("u2") };
    b.insert_idp(Source::Okta, "u2", at(), &raw::compress(b"{}"), std::slice::from_ref(&e)).unwrap();
    b.commit().unwrap();
    assert_eq!(
        table(&s, "SELECT kind || ' ' || coalesce(user_login_fold, '-') FROM idp_events"),
        ["factor_verified alice@example.com"]
    );
    assert_eq!(table(&s, "SELECT provider || ' ' || events FROM sso_blocks"), ["okta 1"]);
    assert_eq!(s.idp_event(Idp::Okta, "u2").unwrap(), Some(e));
    assert_eq!(factors, r#"["OKTA_VERIFY_PUSH"]"#);
    assert_eq!(asn, 3741);
    let counts = s.event_counts().unwrap();
    assert!(counts.contains(&("cloudtrail".into(), "ConsoleLogin".into(), 1)));
    assert!(counts.contains(&("okta".into(), "factor_verified".into(), 1)));
}

#[test]
fn raw_record_round_trips_compressed() {
    let mut s = Store::open_in_memory().unwrap();
    let raw = br#"{"uuid":"u1","published":"2024-05-01T09:00:02.123Z"}"#;
    let mut b = s.batch().unwrap();
    b.insert_idp(Source::Okta, "u1", at(), &raw::compress(raw), &[idp("u1")]).unwrap();
    b.commit().unwrap();
    assert_eq!(s.raw_record(Source::Okta, "u1").unwrap().as_deref(), Some(&raw[..]));
    assert_eq!(s.raw_record(Source::Okta, "nope").unwrap(), None);
}

#[test]
fn rollback_when_batch_is_dropped() {
    let mut s = Store::open_in_memory().unwrap();
    {
        let mut b = s.batch().unwrap();
        b.insert_aws("e1", at(), &raw::compress(b"{}"), &[aws("e1")]).unwrap();
        b.add_coverage(Source::Cloudtrail, "1/us-east-1", 0, 10).unwrap();
    }
    assert!(s.raw_counts().unwrap().is_empty());
    assert!(s.coverage().unwrap().is_empty());
}

#[test]
fn quarantine_dedupes_identical_bytes_and_caps_size() {
    let mut s = Store::open_in_memory().unwrap();
    let big = vec![b'x'; RAW_QUARANTINE_CAP + 10];
    let mut b = s.batch().unwrap();
    assert_eq!(b.quarantine(Source::Okta, at(), "not valid JSON", b"garbage").unwrap(), Stored::New);
    assert_eq!(b.quarantine(Source::Okta, at(), "not valid JSON", b"garbage").unwrap(), Stored::Duplicate);
    assert_eq!(b.quarantine(Source::Okta, at(), "too big", &big).unwrap(), Stored::New);
    b.commit().unwrap();
    let q = s.quarantine_summary(5).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].count, 2);
    let (len, kept): (i64, i64) = s
        .conn()
        .query_row("SELECT raw_len, length(raw) FROM quarantine WHERE reason = 'too big'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(len as usize, RAW_QUARANTINE_CAP + 10);
    assert_eq!(kept as usize, RAW_QUARANTINE_CAP);
}

#[test]
fn coverage_merges_overlapping_and_adjacent_intervals_per_scope() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    b.add_coverage(Source::Okta, "*", 100, 200).unwrap();
    b.add_coverage(Source::Okta, "*", 300, 400).unwrap();
    b.add_coverage(Source::Okta, "other", 150, 350).unwrap();
    b.add_coverage(Source::Okta, "*", 201, 250).unwrap(); // adjacent to the first
    b.add_coverage(Source::Okta, "*", 260, 310).unwrap(); // overlaps the second
    b.commit().unwrap();
    let c: Vec<(String, i64, i64)> =
        s.coverage().unwrap().into_iter().map(|c| (c.scope, c.start_ms, c.end_ms)).collect();
    assert_eq!(c, vec![("*".into(), 100, 250), ("*".into(), 260, 400), ("other".into(), 150, 350)]);
}

proptest! {
    /// Whatever intervals are added in whatever order, the stored coverage is the exact union
    /// (at millisecond granularity), as disjoint non-adjacent intervals.
    #[test]
    fn coverage_is_the_union(intervals in prop::collection::vec((0i64..200, 0i64..40), 1..12)) {
        let mut s = Store::open_in_memory().unwrap();
        let mut b = s.batch().unwrap();
        let mut covered = [false; 241];
        for &(start, len) in &intervals {
            b.add_coverage(Source::Entra, "t", start, start + len).unwrap();
            for c in covered.iter_mut().skip(start as usize).take(len as usize + 1) { *c = true; }
        }
        b.commit().unwrap();
        let got = s.coverage().unwrap();
        let mut stored = [false; 241];
        for w in got.windows(2) {
            prop_assert!(w[0].end_ms + 1 < w[1].start_ms, "not disjoint/non-adjacent: {:?}", w);
        }
        for c in &got { for t in c.start_ms..=c.end_ms { stored[t as usize] = true; } }
        prop_assert_eq!(covered.to_vec(), stored.to_vec());
    }
}

#[test]
fn migrations_bring_an_old_database_up_to_date_and_refuse_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    Store::create_at_version(&path, 0).unwrap();
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    drop(s);
    // Reopening an up-to-date database applies nothing and keeps data.
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    s.conn().pragma_update(None, "user_version", 999).unwrap();
    drop(s);
    match Store::open(&path) {
        Err(StoreError::TooNew { found: 999, .. }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a database from the future"),
    }
}

#[test]
fn every_migration_prefix_opens() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..=MIGRATIONS.len() {
        let path = dir.path().join(format!("v{n}.db"));
        Store::create_at_version(&path, n).unwrap();
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }
}

#[test]
fn checkpoints_commit_with_the_batch() {
    let mut s = Store::open_in_memory().unwrap();
    {
        let mut b = s.batch().unwrap();
        b.set_checkpoint(Source::Okta, "*", "logs", "https://x/api/v1/logs?after=1").unwrap();
    } // dropped: rolled back
    assert_eq!(s.checkpoint(Source::Okta, "*", "logs").unwrap(), None);
    let mut b = s.batch().unwrap();
    b.set_checkpoint(Source::Okta, "*", "logs", "a").unwrap();
    b.set_checkpoint(Source::Okta, "*", "logs", "b").unwrap();
    b.commit().unwrap();
    assert_eq!(s.checkpoint(Source::Okta, "*", "logs").unwrap().as_deref(), Some("b"));
}

fn sso(id: &str, t: i64, app_id: Option<&str>, app_name: Option<&str>, login: &str) -> IdpEvent {
    IdpEvent {
        event_id: id.into(),
        time_ms: t,
        kind: IdpEventKind::AppSso,
        native_type: "user.authentication.sso".into(),
        app_id: app_id.map(str::to_string),
        app_name: app_name.map(str::to_string),
        user: UserKeys { login: Some(login.into()), ..Default::default() },
        mfa: MfaClaim::Silent,
        factors: vec![],
        ..idp(id)
    }
}

/// The engine's AWS-application rule for a configuration naming, for Okta, the applications with
/// these ids and names (with none, Okta's SSOs to names like AWS are taken).
fn okta_apps(ids: &[&str], names: &[&str]) -> AwsAppRule {
    let mut c = trailproof_model::config::Config::default();
    if !ids.is_empty() || !names.is_empty() {
        c.idp.push(trailproof_model::config::IdpConfig {
            name: "Okta".into(),
            kind: "okta".into(),
            aws_app_ids: ids.iter().map(|s| s.to_string()).collect(),
            aws_app_names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
    }
    trailproof_correlate::Compiled::new(&c).unwrap().aws_app_rule()
}

/// The snapshot of the day from `t`, with an hour either side, a 30-day baseline and the AWS
/// applications given.
fn day_query(t: Millis, aws_apps: AwsAppRule) -> SnapshotQuery {
    let day = 86_400_000;
    SnapshotQuery {
        from_ms: t,
        to_ms: t + day,
        before_ms: 3_600_000,
        after_ms: 3_600_000,
        baseline_ms: 30 * day,
        burst_ms: 0,
        google_lookback_ms: 0,
        portal_lookback_ms: 0,
        aws_apps,
    }
}

/// The snapshot reads the SSOs to the applications the engine's rule calls AWS applications
/// (`Compiled::is_aws_app`): by id, by configured name in any case, by the default pattern for a
/// provider that configures none; and no other.
#[test]
fn snapshot_takes_sso_to_aws_apps_by_id_name_and_pattern_and_nothing_else() {
    let mut s = Store::open_in_memory().unwrap();
    let day = 86_400_000;
    let t = 10 * day;
    let events = vec![
        sso("by-pattern", t, None, Some("Amazon Web Services (Prod)"), "a@x.com"),
        sso("by-pattern-2", t + 1, None, Some("AWS IAM Identity Center"), "b@x.com"),
        sso("by-name", t + 2, None, Some("Console Access"), "c@x.com"),
        sso("by-id", t + 3, Some("0oa-aws"), Some("Federation"), "d@x.com"),
        sso("other-app", t + 4, Some("0oa-slack"), Some("Slack"), "a@x.com"),
        sso("non-ascii", t + 7, None, Some("Cloud-Überwachung"), "f@x.com"),
        sso("outside-window", t + 3 * day, None, Some("Amazon Web Services (Prod)"), "a@x.com"),
        sso("baseline", t - 5 * day, None, Some("aws iam identity center"), "b@x.com"),
        // One application under two names: its name is turned into its id, and of the SSOs
        // sought by that id only the ones under a matching name are taken.
        sso("renamed-aws", t + 5, Some("0oa-renamed"), Some("AWS Sandbox"), "e@x.com"),
        sso("renamed-other", t + 6, Some("0oa-renamed"), Some("Sandbox"), "e@x.com"),
        sso("renamed-baseline", t - 2 * day, Some("0oa-renamed"), Some("AWS Sandbox"), "e@x.com"),
    ];
    let mut b = s.batch().unwrap();
    for e in &events {
        b.insert_idp(Source::Okta, &e.event_id, at(), &raw::compress(b"{}"), std::slice::from_ref(e)).unwrap();
    }
    b.commit().unwrap();
    let q = |ids: &[&str], names: &[&str]| day_query(t, okta_apps(ids, names));
    let ids_of = |snap: &trailproof_model::snapshot::Snapshot| -> Vec<String> {
        snap.idp.iter().map(|e| e.event_id.clone()).collect()
    };
    let snap = s.snapshot(&q(&[], &[])).unwrap();
    assert_eq!(ids_of(&snap), ["by-pattern", "by-pattern-2", "renamed-aws"]);
    let prior = &snap.prior_ssos[&(Idp::Okta, "b@x.com".to_string())];
    assert_eq!(prior.ssos, 1, "the baseline SSO of b, found by the pattern in another case");
    let snap = s.snapshot(&q(&["0oa-aws"], &["  CONSOLE access "])).unwrap();
    assert_eq!(ids_of(&snap), ["by-name", "by-id"]);
    assert!(snap.prior_ssos.is_empty());
    let snap = s.snapshot(&q(&["0oa-aws"], &[])).unwrap();
    assert_eq!(ids_of(&snap), ["by-id"], "a provider that names its applications takes no others");
    let snap = s.snapshot(&q(&[], &["cloud-überwachung"])).unwrap();
    assert_eq!(ids_of(&snap), ["non-ascii"], "names fold as the rule folds them");
    let snap = s.snapshot(&q(&["0oa-renamed"], &[])).unwrap();
    assert_eq!(ids_of(&snap), ["renamed-aws", "renamed-other"], "an id takes all of its SSOs");
    // Configured by id and by a name that resolves to the same id: each SSO counts once.
    let snap = s.snapshot(&q(&["0oa-renamed"], &["AWS Sandbox"])).unwrap();
    assert_eq!(ids_of(&snap), ["renamed-aws", "renamed-other"]);
    assert_eq!(snap.prior_ssos[&(Idp::Okta, "e@x.com".to_string())].ssos, 1);
}

/// Events with the keys SQL and Rust fold differently (tabs, non-ASCII), for the migration test.
fn tricky_events() -> Vec<IdpEvent> {
    let user = |login: &str, email: Option<&str>, app_user: Option<&str>| UserKeys {
        login: Some(login.into()),
        email: email.map(str::to_string),
        app_username: app_user.map(str::to_string),
        ..Default::default()
    };
    vec![
        IdpEvent { user: user("Ölaf@Example.com", Some(" OLAF@mail.example"), Some(" \tJörg-Admin ")), ..idp("o1") },
        IdpEvent { user: user("bob@example.com", None, Some("BOB")), ..idp("o2") },
        sso("o3", 5_000, Some("0oa-aws"), Some("ÅWS Console"), "bob@example.com"),
        sso("o4", 6_000, None, None, "bob@example.com"),
        IdpEvent { provider: Idp::Google, ..sso("g1", 7_000, None, Some("Amazon Web Services"), "Carol@Example.com") },
    ]
}

fn write_events(s: &mut Store, events: &[IdpEvent]) {
    let mut b = s.batch().unwrap();
    for e in events {
        let source = Source::parse(e.provider.as_str()).unwrap();
        b.insert_idp(source, &e.event_id, at(), &raw::compress(b"{}"), std::slice::from_ref(e)).unwrap();
    }
    b.commit().unwrap();
}

/// Every stored IdP event's id, sorted: the rows' and the SSOs' in their frames.
fn idp_event_ids(s: &Store) -> Vec<String> {
    let mut out = table(s, "SELECT event_id FROM idp_events_full");
    let frames: Vec<(i64, Vec<u8>)> = s
        .conn()
        .prepare("SELECT id, frame FROM sso_blocks")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (id, frame) in frames {
        for r in crate::sso::decode(&frame, id).unwrap() {
            let native: String = s
                .conn()
                .query_row(
                    &format!("SELECT {} FROM raw_records AS r WHERE r.id = ?1", crate::blocks::NATIVE_ID_SQL),
                    [r.raw_id],
                    |x| x.get(0),
                )
                .unwrap();
            out.push(format!("{native}{}", r.event_suffix.unwrap_or_default()));
        }
    }
    out.sort();
    out
}

/// Every raw block has its facts (`raw_facts`), and no facts outlive their block (the trigger of
/// migration 25): facts left behind would block a later block given the same id.
fn assert_every_block_has_its_facts(s: &Store) {
    let (blocks, facts, without): (i64, i64, i64) = s
        .conn()
        .query_row(
            "SELECT (SELECT count(*) FROM raw_blocks), (SELECT count(*) FROM raw_facts),
                (SELECT count(*) FROM raw_blocks WHERE id NOT IN (SELECT block_id FROM raw_facts))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((facts, without), (blocks, 0), "{blocks} blocks, {facts} rows of facts");
}

/// `sso_block_apps` holds exactly one row per frame and application it holds, at the frame's
/// latest time: no seek row outlives what it named.
fn assert_seek_rows_match_frames(s: &Store) {
    let frames: Vec<(i64, i64, Vec<u8>)> = s
        .conn()
        .prepare("SELECT id, max_ms, frame FROM sso_blocks")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut want = Vec::new();
    for (id, max_ms, frame) in frames {
        let rows = crate::sso::decode(&frame, id).unwrap();
        assert_eq!(rows.iter().map(|r| r.time_ms).max(), Some(max_ms), "frame {id}");
        want.extend(crate::sso::apps_of(&rows).into_iter().map(|a| format!("{a} {max_ms} {id}")));
    }
    want.sort();
    let got = table(s, "SELECT app_ref || ' ' || max_ms || ' ' || block_id FROM sso_block_apps");
    assert_eq!(got, want);
}

fn table(s: &Store, sql: &str) -> Vec<String> {
    let mut st = s.conn().prepare(sql).unwrap();
    let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
    let mut out: Vec<String> = rows.map(|r| r.unwrap()).collect();
    out.sort();
    out
}

/// Migration 9 fills `idp_users` and `idp_apps` from stored events in SQL; the writer fills
/// them as it stores events, folding in Rust. Both must give the same keys, or a database
/// would know other users depending on when its events were stored.
#[test]
fn a_database_migrated_to_9_knows_the_users_and_apps_a_new_one_knows() {
    let dir = tempfile::tempdir().unwrap();
    let new_db = dir.path().join("new.db");
    let mut new = Store::open(&new_db).unwrap();
    write_events(&mut new, &tricky_events());
    let old_db = dir.path().join("old.db");
    Store::create_at_version(&old_db, 8).unwrap();
    // The SSOs as rows again (migration 24 moves them back into frames at the next open).
    undo_migration_24(new.conn());
    new.conn().execute_batch("PRAGMA user_version = 23").unwrap();
    // Version 8 has the same columns: copy the rows in as an old trailproof would have written them.
    new.conn()
        .execute_batch(&format!(
            "ATTACH '{}' AS old;
             INSERT INTO old.raw_records SELECT id, source, native_id,
                (SELECT origin FROM main.raw_origins WHERE id = origin_id), {RAW_LOCATION_SQL}, stored_ms, raw,
                block_id, block_start, block_len FROM main.raw_records;
             INSERT INTO old.idp_events SELECT {IDP_COLUMNS_16} FROM main.idp_events_full;
             DETACH old;",
            old_db.display()
        ))
        .unwrap();
    // Version 8 stored every event's folded login and e-mail (the writer now stores only the
    // logins of events other than SSOs): fold them as it did.
    {
        let c = rusqlite::Connection::open(&old_db).unwrap();
        let rows: Vec<(i64, Option<String>, Option<String>)> = c
            .prepare("SELECT id, user_login, user_email FROM idp_events")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (id, login, email) in rows {
            c.execute(
                "UPDATE idp_events SET user_login_fold = ?2, user_email_fold = ?3 WHERE id = ?1",
                rusqlite::params![id, login.as_deref().map(fold), email.as_deref().map(fold)],
            )
            .unwrap();
        }
    }
    let old = Store::open(&old_db).unwrap();
    drop(new);
    let new = Store::open(&new_db).unwrap();
    assert_eq!(idp_event_ids(&old), idp_event_ids(&new));
    assert_eq!(idp_event_ids(&new).len(), tricky_events().len());
    for sql in [
        "SELECT provider || ' ' || key FROM idp_users",
        "SELECT provider || ' ' || app_id || ' ' || name_fold FROM idp_apps",
    ] {
        assert_eq!(table(&old, sql), table(&new, sql), "{sql}");
    }
    assert_eq!(old.identity_index().unwrap(), new.identity_index().unwrap());
    assert_eq!(old.app_names_by_provider().unwrap(), new.app_names_by_provider().unwrap());
    assert_eq!(
        table(&new, "SELECT key FROM idp_users WHERE provider = 'okta'"),
        ["\tjörg-admin", "bob", "bob@example.com", "olaf@mail.example", "ölaf@example.com"],
        "logins and e-mails fold in Rust; app user names as SQL's lower(trim(..)) does"
    );
    assert_eq!(old.idp_event(Idp::Google, "g1").unwrap().map(|e| e.time_ms), Some(7_000));
}

/// Event ids are unique because raw records are: an event whose id is not its record's native
/// id (or that id and `#<n>`) is refused, and events are found by id through their record.
#[test]
fn event_ids_derive_from_native_ids_and_find_their_events() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    let multi = [idp("rec-1#0"), IdpEvent { time_ms: 3_000, ..idp("rec-1#1") }];
    b.insert_idp(Source::Okta, "rec-1", at(), &raw::compress(b"{}"), &multi).unwrap();
    b.insert_idp(Source::Okta, "rec-2", at(), &raw::compress(b"{}"), &[idp("rec-2")]).unwrap();
    for (native, event) in [("rec-3", "other"), ("rec-3", "rec-3x"), ("rec#3", "rec#3#0")] {
        let err = b.insert_idp(Source::Okta, native, at(), &raw::compress(b"{}"), &[idp(event)]);
        assert!(matches!(err, Err(StoreError::Corrupt(_))), "{native} / {event}");
    }
    b.commit().unwrap();
    assert_eq!(s.idp_event(Idp::Okta, "rec-1#1").unwrap().map(|e| e.time_ms), Some(3_000));
    assert_eq!(s.idp_event(Idp::Okta, "rec-2").unwrap().map(|e| e.event_id), Some("rec-2".into()));
    assert!(s.idp_event(Idp::Okta, "rec-1").unwrap().is_none());
    assert!(s.idp_event(Idp::Entra, "rec-2").unwrap().is_none());
    // Storing a record again stores none of its events again.
    let mut b = s.batch().unwrap();
    assert_eq!(b.insert_idp(Source::Okta, "rec-1", at(), &raw::compress(b"{}"), &multi).unwrap(), Stored::Duplicate);
    b.commit().unwrap();
    let n: i64 = s.conn().query_row("SELECT COUNT(*) FROM idp_events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 3);
}

/// The known users: every distinct folded login, e-mail and app user name per provider, once
/// each, however many events carry it; a provider with only coverage is present but knows nobody.
#[test]
fn identity_index_lists_each_users_keys_once_per_provider() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    let user = |login: &str, email: Option<&str>, app_user: Option<&str>| UserKeys {
        login: Some(login.into()),
        email: email.map(str::to_string),
        app_username: app_user.map(str::to_string),
        ..Default::default()
    };
    let events = [
        IdpEvent { user: user("Alice@Example.com", Some("alice@mail.example"), Some(" AWS-Alice ")), ..idp("o1") },
        IdpEvent { user: user("alice@example.com", None, None), ..idp("o2") },
        IdpEvent { user: user("bob@example.com", None, None), ..idp("o3") },
        // Entra has only an SSO: it is present through `idp_apps`, Okta through its other events.
        IdpEvent {
            provider: Idp::Entra,
            user: user("Carol@Example.com", None, None),
            ..sso("e1", 2_000, None, Some("Teams"), "")
        },
    ];
    for e in &events {
        let source = if e.provider == Idp::Entra { Source::Entra } else { Source::Okta };
        b.insert_idp(source, &e.event_id, at(), &raw::compress(b"{}"), std::slice::from_ref(e)).unwrap();
    }
    b.add_coverage(Source::Google, "C01", 0, 10).unwrap();
    b.commit().unwrap();
    let (known, present) = s.identity_index().unwrap();
    let names =
        |p: Idp| -> Vec<&str> { known.get(&p).map(|s| s.iter().map(String::as_str).collect()).unwrap_or_default() };
    assert_eq!(names(Idp::Okta), ["alice@example.com", "alice@mail.example", "aws-alice", "bob@example.com"]);
    assert_eq!(names(Idp::Entra), ["carol@example.com"]);
    assert!(names(Idp::Google).is_empty());
    assert_eq!(present.into_iter().collect::<Vec<_>>(), [Idp::Okta, Idp::Entra, Idp::Google]);
}

/// A slice's known users are sought per key and prefix (`known_users_for`): the keys asked that
/// are known, and the first `n` known keys of the provider that start with each prefix, in byte
/// order (`bob@` itself sorts before `bob@a.com`; `boba` follows the keys that start `bob@`).
#[test]
fn known_users_for_answers_the_keys_and_prefixes_asked() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    for (i, login) in ["bob@", "bob@a.com", "bob@b.com", "boba", "carol@c.com"].into_iter().enumerate() {
        let id = format!("o{i}");
        let e = IdpEvent { user: UserKeys { login: Some(login.into()), ..Default::default() }, ..idp(&id) };
        b.insert_idp(Source::Okta, &id, at(), &raw::compress(b"{}"), std::slice::from_ref(&e)).unwrap();
    }
    b.commit().unwrap();
    let lookups = trailproof_model::snapshot::UserLookups {
        keys: [(Idp::Okta, "boba"), (Idp::Okta, "dave"), (Idp::Entra, "boba")]
            .into_iter()
            .map(|(p, k)| (p, k.to_string()))
            .collect(),
        prefixes: [((Idp::Okta, "bob@"), 2), ((Idp::Okta, "carol@"), 2), ((Idp::Okta, "dave@"), 2)]
            .into_iter()
            .map(|((p, k), n)| ((p, k.to_string()), n))
            .collect(),
    };
    let known = s.known_users_for(&lookups).unwrap();
    let okta: Vec<&str> = known[&Idp::Okta].iter().map(String::as_str).collect();
    assert_eq!(okta, ["bob@", "bob@a.com", "boba", "carol@c.com"]);
    assert!(!known.contains_key(&Idp::Entra), "{known:?}");
}

/// A new database gets 16 KiB pages (faster bulk imports); one created with the old default
/// keeps its 4 KiB pages and opens as before.
#[test]
fn new_databases_get_16_kib_pages_and_old_ones_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let page = |s: &Store| -> i64 { s.conn().pragma_query_value(None, "page_size", |r| r.get(0)).unwrap() };
    let fresh = Store::open(&dir.path().join("new.db")).unwrap();
    assert_eq!(page(&fresh), 16384);
    let old = dir.path().join("old.db");
    Store::create_at_version(&old, 7).unwrap();
    let s = Store::open(&old).unwrap();
    assert_eq!(page(&s), 4096);
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
}

/// Regression: removing a block whose records were all duplicates made SQLite look for raw
/// records pointing into it (a foreign key) by reading every raw record, once per block: a
/// re-import into a large store took minutes. Counted in SQLite VM steps, not seconds: the
/// removal must not grow with the store.
#[test]
fn removing_an_unused_block_does_not_read_every_raw_record() {
    let mut s = Store::open_in_memory().unwrap();
    let steps_to_remove_a_block = |s: &mut Store| -> u64 {
        let steps = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = steps.clone();
        s.conn
            .progress_handler(
                10,
                Some(move || {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    false
                }),
            )
            .unwrap();
        let mut b = s.batch().unwrap();
        let id = b.insert_block(&raw::compress(b"{}")).unwrap();
        b.delete_block(id).unwrap();
        b.commit().unwrap();
        s.conn.progress_handler(10, None::<fn() -> bool>).unwrap();
        steps.load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut stored = 0;
    let mut steps = Vec::new();
    for n in [100, 20_000] {
        let mut b = s.batch().unwrap();
        let block = b.insert_block(&raw::compress(b"{}")).unwrap();
        for i in stored..n {
            let id = format!("r{i}");
            let raw = RawRef::InBlock { block_id: block, start: 0, len: 2 };
            b.insert_idp(Source::Okta, &id, at(), raw, &[idp(&id)]).unwrap();
        }
        b.commit().unwrap();
        stored = n;
        steps.push(steps_to_remove_a_block(&mut s));
    }
    assert!(steps[1] <= steps[0] + 5, "VM steps (x10) to remove a block at 100 and 20,000 records: {steps:?}");
}

/// The writer remembers which user keys are stored so as to insert each once; a batch that
/// rolls back must not leave its keys remembered, or the next batch would skip them.
#[test]
fn a_rolled_back_batch_leaves_no_key_behind() {
    let mut s = Store::open_in_memory().unwrap();
    let dave = |id: &str| IdpEvent {
        user: UserKeys { login: Some("Dave@Example.com".into()), ..Default::default() },
        ..sso(id, 1_000, Some("0oa-aws"), Some("AWS"), "")
    };
    {
        let mut b = s.batch().unwrap();
        b.insert_idp(Source::Okta, "d1", at(), &raw::compress(b"{}"), &[dave("d1")]).unwrap();
    } // dropped: rolled back
    let (known, _) = s.identity_index().unwrap();
    assert!(known.is_empty());
    assert!(s.app_names_by_provider().unwrap().is_empty());
    let mut b = s.batch().unwrap();
    b.insert_idp(Source::Okta, "d2", at(), &raw::compress(b"{}"), &[dave("d2")]).unwrap();
    b.commit().unwrap();
    let (known, _) = s.identity_index().unwrap();
    assert_eq!(known[&Idp::Okta].iter().collect::<Vec<_>>(), ["dave@example.com"]);
    assert_eq!(s.app_names_by_provider().unwrap()[&Idp::Okta].iter().collect::<Vec<_>>(), ["aws"]);
}

/// The log copier: batches written while it runs are all readable, by this handle and by a
/// new one; the writer's restart keeps the log from growing past its limit; and once stopped,
/// the handle copies the log itself again.
#[test]
fn the_log_copier_loses_nothing_and_keeps_the_log_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let mut s = Store::open(&path).unwrap();
    let autocheckpoint = |s: &Store| s.conn().pragma_query_value(None, "wal_autocheckpoint", |r| r.get::<_, i64>(0));
    s.conn().pragma_update(None, "wal_autocheckpoint", 500).unwrap();
    let copier = s.copy_wal_in_background().unwrap().expect("a file store gets a copier");
    assert_eq!(autocheckpoint(&s).unwrap(), 0, "the writer leaves the copying to the copier");
    // 2,000 bytes that do not compress: some 400 KB a batch.
    let mut x: u32 = 7;
    let noise: Vec<u8> = (0..2000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let blob = raw::compress(&noise);
    let wal = dir.path().join("c.db-wal");
    let mut longest = 0;
    for b in 0..40 {
        let mut batch = s.batch().unwrap();
        for i in 0..200 {
            let id = format!("e{b}-{i}");
            batch.insert_idp(Source::Okta, &id, at(), &blob, &[IdpEvent { event_id: id.clone(), ..idp(&id) }]).unwrap();
        }
        batch.commit().unwrap();
        // A limit of one byte: every batch starts the log over.
        copier.restart_if_long(&s, 1).unwrap();
        longest = longest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    copier.stop(&s).unwrap();
    assert_eq!(autocheckpoint(&s).unwrap(), 500, "the store's own setting comes back");
    let count = |s: &Store| s.conn().query_row("SELECT count(*) FROM idp_events", [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count(&s), 8000);
    // Started over when the copier last saw it longer than the limit, the log stays within a
    // few batches (7 MB when written); never started over, it held all forty (35 MB).
    assert!(longest < 16 << 20, "log of {longest} bytes");
    drop(s);
    let again = Store::open(&path).unwrap();
    assert_eq!(count(&again), 8000);
    let ok: String = again.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_store_in_memory_has_no_log_to_copy() {
    let s = Store::open_in_memory().unwrap();
    assert!(s.copy_wal_in_background().unwrap().is_none());
}

/// Slices end at the n-th ConsoleLogin from their start, never inside one millisecond's
/// logins, and always after their start, so the judging loop moves on.
#[test]
fn a_slice_ends_at_its_nth_login_and_keeps_a_milliseconds_logins_together() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    for (i, t) in [10, 10, 10, 20, 30].into_iter().enumerate() {
        let id = format!("c{i}");
        b.insert_aws(&id, at(), &raw::compress(b"{}"), &[AwsEvent { time_ms: t, ..aws(&id) }]).unwrap();
    }
    // Not a ConsoleLogin: not counted.
    let other = AwsEvent { time_ms: 15, kind: Some(AwsEventKind::GetSigninToken), ..aws("t1") };
    b.insert_aws("t1", at(), &raw::compress(b"{}"), &[other]).unwrap();
    b.commit().unwrap();
    let end = |from, to, n| s.console_login_slice_end(from, to, n).unwrap();
    assert_eq!(end(10, 100, 3), 20, "three logins at 10");
    assert_eq!(end(10, 100, 4), 30);
    assert_eq!(end(10, 100, 2), 20, "more than two share 10: the slice ends just after them");
    assert_eq!(end(10, 100, 1), 20);
    assert_eq!(end(20, 100, 2), 100, "two left: the slice runs to the end");
    assert_eq!(end(10, 25, 4), 25, "never past `to`");
    assert_eq!(end(10, 15, 1), 15, "nothing after 10 before `to`");
    assert_eq!(end(10, 100, 0), 20, "at least one login a slice");
}

fn portal_sign_in(id: &str, t: Millis, user: &str) -> AwsEvent {
    AwsEvent {
        event_id: id.into(),
        time_ms: t,
        kind: Some(AwsEventKind::UserAuthentication),
        arn: None,
        session_name: None,
        user_name: Some(user.into()),
        ..aws(id)
    }
}

fn portal_query(t: Millis) -> SnapshotQuery {
    SnapshotQuery {
        from_ms: t,
        to_ms: t + 60_000,
        before_ms: 0,
        after_ms: 0,
        baseline_ms: 0,
        burst_ms: 0,
        google_lookback_ms: 0,
        portal_lookback_ms: 12 * 3_600_000,
        aws_apps: okta_apps(&[], &[]),
    }
}

fn portal_ids(s: &Store, q: &SnapshotQuery) -> Vec<String> {
    let snap = s.snapshot_aws(q).unwrap();
    snap.aws_related
        .iter()
        .filter(|e| e.kind == Some(AwsEventKind::UserAuthentication))
        .map(|e| e.event_id.clone())
        .collect()
}

/// A slice reads the portal sign-ins of its own users only (by the folded session name, the
/// way the engine anchors an Identity Center window on them), from up to the portal session
/// length before it: before, it read every user's, and memory grew with the organisation's day.
#[test]
fn a_slice_reads_the_portal_sign_ins_of_its_own_users_only() {
    let t: Millis = 100 * 3_600_000;
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    let login = AwsEvent {
        time_ms: t + 10,
        arn: Some("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123/Änne".into()),
        session_name: Some("Änne".into()),
        ..aws("c1")
    };
    b.insert_aws("c1", at(), &raw::compress(b"{}"), &[login]).unwrap();
    for e in [
        portal_sign_in("u-anne", t - 3_600_000, " ÄNNE "),
        portal_sign_in("u-anne-too-early", t - 13 * 3_600_000, "änne"),
        portal_sign_in("u-bob", t - 60_000, "bob"),
        AwsEvent { kind: Some(AwsEventKind::GetSigninToken), ..portal_sign_in("not-a-portal", t - 60_000, "änne") },
    ] {
        b.insert_aws(&e.event_id.clone(), at(), &raw::compress(b"{}"), &[e]).unwrap();
    }
    b.commit().unwrap();
    assert_eq!(portal_ids(&s, &portal_query(t)), ["u-anne"]);
}

/// Migration 10 folds the user names of the portal sign-ins already stored the way the writer
/// folds new ones (Unicode lower case, trimmed): SQLite's own lower() would leave "Ä" and the
/// session "Änne" would not find its portal sign-in.
#[test]
fn a_database_migrated_to_10_finds_the_portal_sign_ins_it_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.db");
    let t: Millis = 100 * 3_600_000;
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        let login = AwsEvent { time_ms: t + 10, session_name: Some("Änne".into()), ..aws("c1") };
        for e in [login, portal_sign_in("u-anne", t - 3_600_000, " ÄNNE "), portal_sign_in("u-bob", t - 60_000, "bob")]
        {
            b.insert_aws(&e.event_id.clone(), at(), &raw::compress(b"{}"), &[e]).unwrap();
        }
        b.commit().unwrap();
        // Back to schema 9 as an older trailproof left it: no folded user name, no index.
        s.conn()
            .execute_batch(
                "DROP INDEX aws_events_portal; DROP INDEX aws_events_challenge_user; DROP INDEX aws_events_workflow;
                 DROP TABLE ticket_details;
                 ALTER TABLE aws_events DROP COLUMN user_name_fold;
                 ALTER TABLE aws_events DROP COLUMN auth_workflow_id;
                 ALTER TABLE aws_events DROP COLUMN identity_store_user_id;
                 ALTER TABLE aws_events DROP COLUMN credential_id;
                 PRAGMA user_version = 9;",
            )
            .unwrap();
        undo_migration_15(s.conn());
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(portal_ids(&s, &portal_query(t)), ["u-anne"]);
}

/// Since 2025 Identity Center's own directory names the user of a sign-in on its password
/// challenge only; a slice finds the user's UserAuthentication through the challenge's
/// AuthWorkflowID, and loads both (the engine ties them together).
#[test]
fn a_slice_finds_a_portal_sign_in_that_names_no_user_through_its_challenge() {
    let t: Millis = 100 * 3_600_000;
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    let login = AwsEvent { time_ms: t + 10, session_name: Some("Mara.Keller".into()), ..aws("c1") };
    let seq = |id: &str, kind, wf: &str, user: Option<&str>| AwsEvent {
        kind: Some(kind),
        user_name: user.map(str::to_string),
        auth_workflow_id: Some(wf.into()),
        ..portal_sign_in(id, t - 3_600_000, "x")
    };
    let events = [
        login,
        seq("ch-mara", AwsEventKind::CredentialChallenge, "wf-mara", Some("mara.keller")),
        seq("ua-mara", AwsEventKind::UserAuthentication, "wf-mara", None),
        seq("ch-bob", AwsEventKind::CredentialChallenge, "wf-bob", Some("bob")),
        seq("ua-bob", AwsEventKind::UserAuthentication, "wf-bob", None),
    ];
    for e in events {
        b.insert_aws(&e.event_id.clone(), at(), &raw::compress(b"{}"), &[e]).unwrap();
    }
    b.commit().unwrap();
    let snap = s.snapshot_aws(&portal_query(t)).unwrap();
    let mut ids: Vec<&str> = snap.aws_related.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["ch-mara", "ua-mara"]);
}

/// A Google event as a store written before issue 15 holds it: the id `<time>/<qualifier>`.
fn google_event(id: &str, kind: IdpEventKind, native_type: &str, t: Millis) -> IdpEvent {
    IdpEvent {
        provider: Idp::Google,
        kind,
        native_type: native_type.into(),
        time_ms: t,
        user: UserKeys { login: Some("erin@example.org".into()), ..Default::default() },
        session_id: None,
        ..idp(id)
    }
}

/// Issue 15 (D3) and migration 13: a store at schema 12 holding Google records of the old id
/// form, and verdicts citing them, is migrated: raw records, events and the verdicts' evidence
/// (and explanation) take `<application>/<time>/<qualifier>`, keeping their version; the
/// verdict the engine now writes for the same data is unchanged (no new version, no ticket);
/// the history is rewritten too; the records then import as duplicates, and the `saml`
/// activity that collided with a `login` one is stored.
#[test]
fn a_store_of_schema_12_gets_the_new_google_ids_and_its_verdicts_stay_unchanged() {
    use trailproof_model::verdict::{Evidence, Verdict, VerdictRecord};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v12.db");
    let login_id = "2026-11-02T07:30:42.481Z/7301010101010101";
    let sso_id = "2026-11-02T09:45:01.512Z/900000000000001";
    let multi = "2026-11-02T07:31:00.000Z/-42";
    let ev = |source: Source, id: &str, role: &str| Evidence { source, id: id.into(), role: role.into() };
    let verdict = |ids: [&str; 3], verdict: Verdict| VerdictRecord {
        evidence: vec![
            ev(Source::Cloudtrail, "c5c5c5c5-0000-4000-8000-000000000005", "console_login"),
            ev(Source::Google, ids[0], "idp_sso"),
            ev(Source::Google, ids[1], "idp_login"),
            ev(Source::Google, ids[2], "mfa_factor"),
            // An Okta uuid-like id with one slash is not Google's: left alone.
            ev(Source::Okta, "a/b", "conflicting_candidate"),
        ],
        explanation: format!(
            "It matches google user erin@example.org by email, whose SSO to AWS ({}) is at 09:45. \
             The Google sign-in behind it ({}) and its step ({}).",
            ids[0], ids[1], ids[2]
        ),
        ..crate::verdicts::tests::rec("c5c5c5c5-0000-4000-8000-000000000005", verdict)
    };
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        let login = google_event(login_id, IdpEventKind::Login, "login/login_success", 1_000);
        let sso = google_event(sso_id, IdpEventKind::AppSso, "saml/login_success", 2_000);
        let steps = [
            google_event(&format!("{multi}#0"), IdpEventKind::Login, "login/login_challenge", 1_100),
            google_event(&format!("{multi}#1"), IdpEventKind::Login, "login/login_verification", 1_200),
        ];
        b.insert_idp(Source::Google, login_id, at(), &raw::compress(b"{\"a\":1}"), &[login]).unwrap();
        b.insert_idp(Source::Google, sso_id, at(), &raw::compress(b"{\"a\":2}"), &[sso]).unwrap();
        b.insert_idp(Source::Google, multi, at(), &raw::compress(b"{\"a\":3}"), &steps).unwrap();
        // Two versions: the first goes to the history.
        b.put_verdicts(&[verdict([sso_id, login_id, &format!("{multi}#1")], Verdict::NotEnforced)]).unwrap();
        b.put_verdicts(&[verdict([sso_id, login_id, &format!("{multi}#1")], Verdict::Enforced)]).unwrap();
        b.commit().unwrap();
        // Migration 13 changes no table: schema 12 is this schema, with the old ids (and without
        // what migrations 14 and 15 added).
        s.conn().execute_batch("DROP TABLE ticket_details;").unwrap();
        undo_migration_15(s.conn());
        s.conn().pragma_update(None, "user_version", 12).unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);

    let new_login = format!("login/{login_id}");
    let new_sso = format!("saml/{sso_id}");
    let new_step = format!("login/{multi}#1");
    assert_eq!(
        table(&s, &format!("SELECT {} FROM raw_records AS r WHERE source = 'google'", crate::blocks::NATIVE_ID_SQL)),
        [new_login.clone(), format!("login/{multi}"), new_sso.clone()]
    );
    assert_eq!(idp_event_ids(&s), [new_login.clone(), format!("login/{multi}#0"), new_step.clone(), new_sso.clone()]);
    assert_eq!(s.idp_event(Idp::Google, &new_step).unwrap().map(|e| e.time_ms), Some(1_200));
    assert_eq!(s.idp_event(Idp::Google, &new_sso).unwrap().map(|e| e.kind), Some(IdpEventKind::AppSso));
    assert_eq!(s.raw_record(Source::Google, &new_sso).unwrap().as_deref(), Some(&b"{\"a\":2}"[..]));

    // The stored verdict, as the engine now writes it for the same data (new ids), keeps its
    // version: nothing new to store, no ticket.
    let now = verdict([&new_sso, &new_login, &new_step], Verdict::Enforced);
    let stored = s.verdicts_for("c5c5c5c5-0000-4000-8000-000000000005").unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].version, 2);
    assert_eq!(VerdictRecord { version: 0, ..stored[0].clone() }, now);
    assert!(stored[0].explanation.contains(&format!("({new_sso})")), "{}", stored[0].explanation);
    let outbox_before: i64 = s.conn().query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0)).unwrap();
    let mut b = s.batch().unwrap();
    let c = b.put_verdicts(&[now]).unwrap();
    b.commit().unwrap();
    assert_eq!((c.new, c.changed, c.unchanged), (0, 0, 1));
    let outbox_after: i64 = s.conn().query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(outbox_after, outbox_before);
    let history: String =
        s.conn().query_row("SELECT record FROM verdict_history WHERE version = 1", [], |r| r.get(0)).unwrap();
    let old: VerdictRecord = serde_json::from_str(&history).unwrap();
    assert_eq!(old.verdict, Verdict::NotEnforced);
    assert_eq!(
        old.evidence.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["c5c5c5c5-0000-4000-8000-000000000005", new_sso.as_str(), new_login.as_str(), new_step.as_str(), "a/b"]
    );

    // Importing the same activities again (the parser now gives the new ids) stores nothing;
    // the saml activity with the login's time and qualifier is a record of its own.
    let mut b = s.batch().unwrap();
    let again = google_event(&new_login, IdpEventKind::Login, "login/login_success", 1_000);
    assert_eq!(
        b.insert_idp(Source::Google, &new_login, at(), &raw::compress(b"{}"), &[again]).unwrap(),
        Stored::Duplicate
    );
    let twin = format!("saml/{login_id}");
    let saml = google_event(&twin, IdpEventKind::AppSso, "saml/login_success", 1_000);
    assert_eq!(b.insert_idp(Source::Google, &twin, at(), &raw::compress(b"{}"), &[saml]).unwrap(), Stored::New);
    b.commit().unwrap();
    assert!(s.idp_event(Idp::Google, &twin).unwrap().is_some());
    assert!(s.idp_event(Idp::Google, &new_login).unwrap().is_some());
}

/// The explanation keeps an id that only looks like a Google one inside another id.
#[test]
fn google_ids_are_replaced_as_whole_ids_in_explanations() {
    use trailproof_model::verdict::{Evidence, Verdict};
    let mut r = crate::verdicts::tests::rec("e1", Verdict::Enforced);
    r.evidence = vec![Evidence { source: Source::Google, id: "T/1".into(), role: "idp_login".into() }];
    r.explanation = "Login (T/1) then T/1#0, T/12 and x/T/1; T/1.".into();
    let map = [("T/1".to_string(), "login/T/1".to_string())].into_iter().collect();
    let out = crate::verdicts::migrate_google_evidence(&serde_json::to_string(&r).unwrap(), &map).unwrap();
    let out: trailproof_model::verdict::VerdictRecord = serde_json::from_str(&out).unwrap();
    assert_eq!(out.evidence[0].id, "login/T/1");
    assert_eq!(out.explanation, "Login (login/T/1) then T/1#0, T/12 and x/T/1; login/T/1.");
    let none = std::collections::HashMap::new();
    assert_eq!(crate::verdicts::migrate_google_evidence(&serde_json::to_string(&r).unwrap(), &none), None);
    assert_eq!(crate::verdicts::migrate_google_evidence("not a verdict", &map), None);
}

/// An Entra sign-in as first read (one factor) and as completed later (the MFA step aggregated
/// onto the same `id`).
fn entra_versions() -> (IdpEvent, IdpEvent) {
    let first = IdpEvent {
        provider: Idp::Entra,
        tenant: Some("t-1".into()),
        event_id: "si-1".into(),
        time_ms: 50_000,
        kind: IdpEventKind::AppSso,
        native_type: "signIn".into(),
        app_id: Some("aws-app".into()),
        mfa: MfaClaim::SingleFactor,
        factors: vec!["Password".into()],
        auth_requirement: Some("singleFactorAuthentication".into()),
        ..idp("si-1")
    };
    let later = IdpEvent {
        mfa: MfaClaim::Verified,
        factors: vec!["Password".into(), "Mobile app notification".into()],
        auth_requirement: Some("multiFactorAuthentication".into()),
        ..first.clone()
    };
    (first, later)
}

#[test]
fn a_later_version_replaces_the_events_keeps_the_earlier_bytes_and_queues_a_rejudge() {
    let mut s = Store::open_in_memory().unwrap();
    let (first, later) = entra_versions();
    let (v1, v2) = (br#"{"id":"si-1","v":1}"#.as_slice(), br#"{"id":"si-1","v":2}"#.as_slice());
    let mut b = s.batch().unwrap();
    let put = |b: &mut Batch<'_>, bytes: &[u8], e: &IdpEvent, origin: &'static str| {
        let at = Origin { origin, location: "record 0" };
        b.insert_idp_record(
            Source::Entra,
            "si-1",
            at,
            &raw::compress(bytes),
            Some(content_hash(bytes)),
            std::slice::from_ref(e),
        )
        .unwrap()
    };
    assert_eq!(put(&mut b, v1, &first, "page-1"), Stored::New);
    assert_eq!(put(&mut b, v1, &first, "page-2"), Stored::Duplicate);
    b.commit().unwrap();
    assert!(s.rejudge_queue().unwrap().is_empty());

    let mut b = s.batch().unwrap();
    assert_eq!(put(&mut b, v2, &later, "page-3"), Stored::Updated);
    b.commit().unwrap();
    // The normalized event is the later one, still one row; the raw record holds the later bytes.
    assert_eq!(s.idp_event(Idp::Entra, "si-1").unwrap(), Some(later.clone()));
    // One event: the earlier version's SSO left its frame (emptied, so removed).
    assert_eq!(idp_event_ids(&s), ["si-1"]);
    assert_eq!(table(&s, "SELECT CAST(events AS TEXT) FROM sso_blocks"), ["1"]);
    assert_seek_rows_match_frames(&s);
    assert_eq!(s.raw_record(Source::Entra, "si-1").unwrap().as_deref(), Some(v2));
    // The earlier bytes are kept, with where they came from.
    let hist = s.raw_history(Source::Entra, "si-1").unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!((hist[0].raw.as_slice(), hist[0].origin.as_str()), (v1, "page-1"));
    assert_eq!(s.raw_history_counts().unwrap(), vec![("entra".to_string(), 1)]);
    // The time it spans is queued for re-judging.
    let q = s.rejudge_queue().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].provider.as_str(), q[0].from_ms, q[0].to_ms, q[0].sso_only), ("entra", 50_000, 50_000, true));
    assert!(q[0].reason.contains("si-1"), "{}", q[0].reason);

    // The later version again, and the earlier bytes again... the same bytes as stored are a
    // duplicate; the earlier version read once more would be another change (the last read wins).
    let mut b = s.batch().unwrap();
    assert_eq!(put(&mut b, v2, &later, "page-4"), Stored::Duplicate);
    b.clear_rejudge(&[q[0].id]).unwrap();
    b.commit().unwrap();
    assert!(s.rejudge_queue().unwrap().is_empty());
    assert_eq!(s.raw_history(Source::Entra, "si-1").unwrap().len(), 1);
}

#[test]
fn other_bytes_with_the_same_events_are_a_duplicate_and_records_without_hash_stay_as_they_were() {
    let mut s = Store::open_in_memory().unwrap();
    let (first, later) = entra_versions();
    let a = br#"{"id":"si-1","createdDateTime":"2026-01-01T00:00:50Z"}"#.as_slice();
    let b_ = br#"{ "id": "si-1", "createdDateTime": "2026-01-01T00:00:50Z" }"#.as_slice();
    let mut b = s.batch().unwrap();
    let h = |x: &[u8]| Some(content_hash(x));
    assert_eq!(
        b.insert_idp_record(Source::Entra, "si-1", at(), &raw::compress(a), h(a), std::slice::from_ref(&first))
            .unwrap(),
        Stored::New
    );
    // Another formatting of the same record: the same events, nothing changes.
    assert_eq!(
        b.insert_idp_record(Source::Entra, "si-1", at(), &raw::compress(b_), h(b_), std::slice::from_ref(&first))
            .unwrap(),
        Stored::Duplicate
    );
    // Without a hash (the behaviour before versions), a stored record is a duplicate whatever it says.
    assert_eq!(
        b.insert_idp(Source::Entra, "si-1", at(), &raw::compress(b"{}"), std::slice::from_ref(&later)).unwrap(),
        Stored::Duplicate
    );
    b.commit().unwrap();
    assert_eq!(s.idp_event(Idp::Entra, "si-1").unwrap(), Some(first));
    assert_eq!(s.raw_record(Source::Entra, "si-1").unwrap().as_deref(), Some(a));
    assert!(s.raw_history(Source::Entra, "si-1").unwrap().is_empty());
    assert!(s.rejudge_queue().unwrap().is_empty());
}

/// A record stored before content hashes existed (migration 15) is compared by its events.
#[test]
fn a_record_stored_before_hashes_is_compared_by_its_events() {
    let mut s = Store::open_in_memory().unwrap();
    let (first, later) = entra_versions();
    let mut b = s.batch().unwrap();
    b.insert_idp(Source::Entra, "si-1", at(), &raw::compress(b"{\"v\":1}"), std::slice::from_ref(&first)).unwrap();
    b.commit().unwrap();
    let hash: Option<i64> = s.conn().query_row("SELECT content_hash FROM raw_records", [], |r| r.get(0)).unwrap();
    assert_eq!(hash, None);
    let v1 = b"{\"v\":1}".as_slice();
    let mut b = s.batch().unwrap();
    assert_eq!(
        b.insert_idp_record(
            Source::Entra,
            "si-1",
            at(),
            &raw::compress(v1),
            Some(content_hash(v1)),
            std::slice::from_ref(&first)
        )
        .unwrap(),
        Stored::Duplicate
    );
    let v2 = b"{\"v\":2}".as_slice();
    assert_eq!(
        b.insert_idp_record(
            Source::Entra,
            "si-1",
            at(),
            &raw::compress(v2),
            Some(content_hash(v2)),
            std::slice::from_ref(&later)
        )
        .unwrap(),
        Stored::Updated
    );
    b.commit().unwrap();
    assert_eq!(s.idp_event(Idp::Entra, "si-1").unwrap(), Some(later));
}

/// A record whose bytes sit in a block is replaced by one in another block; the earlier bytes
/// are still readable from the history, the other records of the old block from their block.
#[test]
fn replacing_a_record_stored_in_a_block_leaves_the_block_to_its_other_records() {
    let mut s = Store::open_in_memory().unwrap();
    let (first, later) = entra_versions();
    let other = IdpEvent { event_id: "si-2".into(), ..first.clone() };
    let (r1, r2) = (br#"{"id":"si-1","v":1}"#.as_slice(), br#"{"id":"si-2"}"#.as_slice());
    let mut block = raw::Block::default();
    let p1 = block.push(r1);
    let p2 = block.push(r2);
    let mut b = s.batch().unwrap();
    let id = b.insert_block(&block.finish()).unwrap();
    let at1 = RawRef::InBlock { block_id: id, start: p1.0, len: p1.1 };
    let at2 = RawRef::InBlock { block_id: id, start: p2.0, len: p2.1 };
    b.insert_idp_record(Source::Entra, "si-1", at(), at1, Some(content_hash(r1)), &[first]).unwrap();
    b.insert_idp_record(Source::Entra, "si-2", at(), at2, Some(content_hash(r2)), &[other]).unwrap();
    b.commit().unwrap();
    let v2 = br#"{"id":"si-1","v":2}"#.as_slice();
    let mut block = raw::Block::default();
    let p = block.push(v2);
    let mut b = s.batch().unwrap();
    let id2 = b.insert_block(&block.finish()).unwrap();
    let r = RawRef::InBlock { block_id: id2, start: p.0, len: p.1 };
    assert_eq!(
        b.insert_idp_record(Source::Entra, "si-1", at(), r, Some(content_hash(v2)), &[later]).unwrap(),
        Stored::Updated
    );
    b.commit().unwrap();
    assert_eq!(s.raw_record(Source::Entra, "si-1").unwrap().as_deref(), Some(v2));
    assert_eq!(s.raw_record(Source::Entra, "si-2").unwrap().as_deref(), Some(r2));
    assert_eq!(s.raw_history(Source::Entra, "si-1").unwrap()[0].raw, r1);
}

/// A record replaced by a later version within the batch that stored it: the earlier bytes,
/// origin and location are read from the facts the batch still holds (written as it commits),
/// and both versions' facts read back from the committed blocks.
#[test]
fn a_record_replaced_in_the_batch_that_stored_it_keeps_its_earlier_place() {
    let mut s = Store::open_in_memory().unwrap();
    let (first, later) = entra_versions();
    let (v1, v2) = (br#"{"id":"si-1","v":1}"#.as_slice(), br#"{"id":"si-1","v":2}"#.as_slice());
    let mut block = raw::Block::default();
    let (p1, p2) = (block.push(b"{\"other\":1}"), block.push(v1));
    let p3 = block.push(v2);
    let _ = p1;
    let mut b = s.batch().unwrap();
    let id = b.insert_block(&block.finish()).unwrap();
    let first_at = Origin { origin: "a.json", location: "record 7 at byte 12" };
    let later_at = Origin { origin: "b.json", location: "page 2, record 1" };
    let r1 = RawRef::InBlock { block_id: id, start: p2.0, len: p2.1 };
    let r2 = RawRef::InBlock { block_id: id, start: p3.0, len: p3.1 };
    assert_eq!(
        b.insert_idp_record(Source::Entra, "si-1", first_at, r1, Some(content_hash(v1)), &[first]).unwrap(),
        Stored::New
    );
    assert_eq!(
        b.insert_idp_record(Source::Entra, "si-1", later_at, r2, Some(content_hash(v2)), &[later]).unwrap(),
        Stored::Updated
    );
    b.commit().unwrap();
    assert_eq!(s.raw_record(Source::Entra, "si-1").unwrap().as_deref(), Some(v2));
    assert_eq!(s.raw_origin(Source::Entra, "si-1").unwrap(), Some(("b.json".into(), "page 2, record 1".into())));
    let h = s.raw_history(Source::Entra, "si-1").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].raw.as_slice(), h[0].origin.as_str(), h[0].location.as_str()),
        (v1, "a.json", "record 7 at byte 12")
    );
    assert_eq!(h[0].stored_ms, h[0].superseded_ms, "stored and superseded by the same batch");
}

/// Each source's records are found by it: the row holds a code, and `source` (derived from it
/// in SQL) gives each source's name back; a record stored alone is a block of its own.
#[test]
fn every_source_is_stored_as_a_code_and_read_back_by_name() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    for source in Source::ALL {
        let id = format!("{}-1", source.as_str());
        let bytes = format!("{{\"id\":\"{id}\"}}");
        b.insert_idp_record(source, &id, at(), &raw::compress(bytes.as_bytes()), None, &[]).unwrap();
    }
    b.commit().unwrap();
    for source in Source::ALL {
        let id = format!("{}-1", source.as_str());
        let name: String = s
            .conn()
            .query_row(
                &format!("SELECT source FROM raw_records AS r WHERE {} = ?1", crate::blocks::NATIVE_ID_SQL),
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(name, source.as_str());
        assert_eq!(s.raw_record(source, &id).unwrap(), Some(format!("{{\"id\":\"{id}\"}}").into_bytes()));
        assert_eq!(s.raw_origin(source, &id).unwrap(), Some(("test.json".into(), "record 0 at byte 0".into())));
    }
    let blocks: i64 = s.conn().query_row("SELECT count(DISTINCT block_id) FROM raw_records", [], |r| r.get(0)).unwrap();
    assert_eq!(blocks, Source::ALL.len() as i64);
}

#[test]
fn the_import_log_counts_updates() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    let c = ImportCounts { read: 5, stored: 1, duplicates: 2, skipped: 0, quarantined: 0, updated: 2 };
    b.log_import(Source::Entra, "collect entra:corp", 1, &c).unwrap();
    b.commit().unwrap();
    assert_eq!(s.imports(1).unwrap()[0].counts, c);
}

/// Takes a database of the current schema back to before migration 15 (record versions), for
/// tests that make an older schema out of a new database.
fn undo_migration_15(c: &rusqlite::Connection) {
    undo_migration_16(c);
    c.execute_batch(
        "DROP TABLE raw_history; DROP TABLE rejudge_queue;
         ALTER TABLE raw_records DROP COLUMN content_hash; ALTER TABLE imports DROP COLUMN updated;",
    )
    .unwrap();
}

/// Takes a store back to what migration 15 left (for the migration tests).
fn undo_migration_16(c: &rusqlite::Connection) {
    undo_migration_17(c);
    c.execute_batch(
        "DROP TABLE aws_baseline; DROP TABLE sso_baseline; DROP TABLE retained_facts; DROP TABLE retention;
         DROP TABLE verdict_evidence; DROP TABLE prune_chunks; DROP INDEX aws_events_raw;",
    )
    .unwrap();
}

/// The columns of `idp_events` before migration 17, in their order.
const IDP_COLUMNS_16: &str = "id, provider, tenant, event_id, time_ms, kind, native_type, outcome, outcome_reason,
    user_login, user_login_fold, user_email, NULL, user_id, display_name, app_username, app_id, app_name, session_id,
    source_ip, user_agent, asn, as_org, country, mfa, factors, auth_requirement, raw_id";

/// Takes a store back to what migration 16 left (for the migration tests): `idp_events` with a
/// column per field, as the writer of schema 16 wrote it (the folded login on events other than
/// SSOs only), and its indexes.
fn undo_migration_17(c: &rusqlite::Connection) {
    undo_migration_18(c);
    c.execute_batch(&format!(
        "CREATE TABLE idp_events_v16 (
            id INTEGER PRIMARY KEY, provider TEXT NOT NULL, tenant TEXT, event_id TEXT NOT NULL,
            time_ms INTEGER NOT NULL, kind TEXT NOT NULL, native_type TEXT NOT NULL, outcome TEXT NOT NULL,
            outcome_reason TEXT, user_login TEXT, user_login_fold TEXT, user_email TEXT, user_email_fold TEXT,
            user_id TEXT, display_name TEXT, app_username TEXT, app_id TEXT, app_name TEXT, session_id TEXT,
            source_ip TEXT, user_agent TEXT, asn INTEGER, as_org TEXT, country TEXT, mfa TEXT NOT NULL,
            factors TEXT NOT NULL, auth_requirement TEXT,
            raw_id INTEGER NOT NULL REFERENCES raw_records(id));
         INSERT INTO idp_events_v16 SELECT {IDP_COLUMNS_16} FROM idp_events_full ORDER BY id;
         DROP VIEW idp_events_full;
         DROP TABLE idp_events;
         DROP TABLE idp_strings;
         DROP TABLE idp_app_refs;
         ALTER TABLE idp_events_v16 RENAME TO idp_events;
         CREATE INDEX idp_events_raw ON idp_events (raw_id);
         CREATE INDEX idp_events_login_kind_time ON idp_events (provider, user_login_fold, kind, time_ms)
            WHERE kind <> 'app_sso';
         CREATE INDEX idp_events_session ON idp_events (provider, session_id, kind, time_ms) WHERE kind <> 'app_sso';
         CREATE INDEX idp_events_sso_appid ON idp_events (provider, app_id, time_ms)
            WHERE kind = 'app_sso' AND app_id IS NOT NULL;
         CREATE INDEX idp_events_sso_appname ON idp_events (provider, lower(app_name), time_ms)
            WHERE kind = 'app_sso' AND app_id IS NULL;"
    ))
    .unwrap();
}

/// A store written by the previous version (schema 15, `auto_vacuum = NONE` as every store
/// before migration 16) is migrated on open: every raw record reads back byte for byte (in
/// blocks and alone), the records its verdicts cite are listed as evidence, and a prune works on
/// it (the freed pages stay in the file for later imports: no incremental vacuum).
#[test]
fn a_store_of_schema_15_is_migrated_and_reads_back_every_raw_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v15.db");
    Store::create_at_version(&path, 15).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    let mut records: Vec<(Source, String, Vec<u8>)> = Vec::new();
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        for blk in 0..3 {
            let mut block = raw::Block::default();
            let mut refs = Vec::new();
            for i in 0..200 {
                let id = format!("okta-{blk}-{i}");
                let bytes = format!(r#"{{"uuid":"{id}","published":"x","pad":"{}"}}"#, "é".repeat(i % 7)).into_bytes();
                refs.push((id.clone(), block.push(&bytes)));
                records.push((Source::Okta, id, bytes));
            }
            let block_id = b.insert_block(&block.finish()).unwrap();
            for (k, (id, (start, len))) in refs.into_iter().enumerate() {
                let e = IdpEvent {
                    event_id: id.clone(),
                    time_ms: t0 + i64::from(blk) * 5 * DAY + k as i64,
                    kind: IdpEventKind::AppSso,
                    session_id: None,
                    app_name: Some("Slack".into()),
                    ..idp(&id)
                };
                b.insert_idp(Source::Okta, &id, at(), RawRef::InBlock { block_id, start, len }, &[e]).unwrap();
            }
        }
        for i in 0..20 {
            let id = format!("ct-{i}");
            let bytes = format!(r#"{{"eventID":"{id}","eventName":"ConsoleLogin"}}"#).into_bytes();
            // Failed sign-ins but the first (a successful one without a verdict holds the seal back).
            let outcome = if i == 0 { Outcome::Success } else { Outcome::Failure };
            let e = AwsEvent { time_ms: t0 + i * DAY / 2, outcome, ..aws(&id) };
            b.insert_aws(&id, at(), &raw::compress(&bytes), &[e]).unwrap();
            records.push((Source::Cloudtrail, id, bytes));
        }
        let mut v = crate::verdicts::tests::rec("ct-0", trailproof_model::verdict::Verdict::Enforced);
        v.evidence = vec![
            trailproof_model::verdict::Evidence {
                source: Source::Cloudtrail,
                id: "ct-0".into(),
                role: "console_login".into(),
            },
            trailproof_model::verdict::Evidence { source: Source::Okta, id: "okta-0-5".into(), role: "idp_sso".into() },
        ];
        b.put_verdicts(&[v]).unwrap();
        b.commit().unwrap();
        undo_migration_16(s.conn());
        s.conn().execute_batch("PRAGMA user_version = 15").unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(s.conn().pragma_query_value(None, "auto_vacuum", |r| r.get::<_, i64>(0)).unwrap(), 0);
    for (source, id, bytes) in &records {
        assert_eq!(s.raw_record(*source, id).unwrap().as_deref(), Some(bytes.as_slice()), "{id}");
    }
    let cited: Vec<(String, String)> = s
        .conn()
        .prepare("SELECT DISTINCT source, event_id FROM verdict_cites ORDER BY 1, 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(cited, [("cloudtrail".to_string(), "ct-0".to_string()), ("okta".into(), "okta-0-5".into())]);

    // Prune: keep from day 12; records before day 12 - 2 days go, but the cited ones.
    let plan = prune_plan(t0 + 12 * DAY, 2 * DAY);
    let dry = s.prune(&plan).unwrap();
    let r = s.prune(&PrunePlan { dry_run: false, ..plan.clone() }).unwrap();
    assert!(!r.incremental_vacuum && r.vacuum_steps == 0, "{r:?}");
    assert_every_block_has_its_facts(&s);
    // The first two blocks' SSOs (days 0 and 5) but the cited one, the logins before day 10 but
    // the cited one; the whole second block goes, the first stays for its cited record, and so
    // do the blocks of their own the 19 CloudTrail records stored alone became (migration 25).
    assert_eq!((r.idp_events, r.aws_events, r.raw_blocks), (399, 19, 20), "{r:?}");
    assert_eq!((dry.idp_events, dry.aws_events, dry.raw_blocks, dry.raw_records), (399, 19, 20, 418), "{dry:?}");
    assert!(dry.bytes_freed > 0 && r.bytes_freed > 0, "{dry:?} {r:?}");
    assert!(s.conn().pragma_query_value(None, "freelist_count", |r| r.get::<_, i64>(0)).unwrap() > 0);
    for (source, id, bytes) in &records {
        let stays = id.starts_with("okta-2-") || id == "ct-0" || id == "okta-0-5";
        let want = stays.then_some(bytes.as_slice());
        assert_eq!(s.raw_record(*source, id).unwrap().as_deref(), want, "{id}");
    }
    // A second prune finds nothing more to do.
    let again = s.prune(&PrunePlan { dry_run: false, ..plan }).unwrap();
    assert_eq!((again.idp_events, again.aws_events, again.raw_records), (0, 0, 0), "{again:?}");
}

/// A block whose records are pruned but for the few a verdict cites is packed again with those
/// alone: the pruned records' bytes leave the file (before, one cited record kept its whole
/// block, and a store pruned daily grew by half the rate of one never pruned:
/// `scripts/bench-month.sh`, issue 18). Every kept record reads back byte for byte; a dry run
/// changes nothing.
#[test]
fn prune_repacks_a_block_kept_for_its_cited_records() {
    prune_repacks_a_block_of(false);
}

/// The same over blocks of all three codecs: the block repacked was written before migration
/// 18 (deflate) or before migration 26 (zstd of the records as they are), the other one is
/// columns; the repacked block is columns and every live record reads back byte for byte.
#[test]
fn prune_repacks_a_deflate_block_of_before_into_columns() {
    prune_repacks_a_block_of(true);
}

fn prune_repacks_a_block_of(deflate_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    {
        let mut b = s.batch().unwrap();
        for (blk, day) in [(0, 0), (1, 12)] {
            let mut block = raw::Block::default();
            let mut plain = Vec::new();
            let mut refs = Vec::new();
            for i in 0..300 {
                let id = format!("okta-{blk}-{i}");
                let bytes = format!(r#"{{"uuid":"{id}","published":"x","pad":"{}"}}"#, "ü".repeat(i % 40)).into_bytes();
                refs.push((id.clone(), block.push(&bytes)));
                plain.extend_from_slice(&bytes);
                records.push((id, bytes));
            }
            // The first block as written before migration 18 (the same bytes, deflated) or
            // before migration 26 (zstd of the bytes as they are); the second as columns.
            let packed = match (blk, deflate_first) {
                (0, true) => raw::compress(&plain),
                (0, false) => raw::compress_block(&plain),
                _ => block.finish(),
            };
            assert_eq!(packed.starts_with(ZSTD_MAGIC), blk == 0 && !deflate_first);
            assert_eq!(packed.starts_with(&raw::COLUMNS_HEADER), blk == 1);
            let block_id = b.insert_block(&packed).unwrap();
            for (k, (id, (start, len))) in refs.into_iter().enumerate() {
                let e = IdpEvent {
                    event_id: id.clone(),
                    time_ms: t0 + day * DAY + k as i64,
                    kind: IdpEventKind::AppSso,
                    session_id: None,
                    app_name: Some("Slack".into()),
                    ..idp(&id)
                };
                b.insert_idp(Source::Okta, &id, at(), RawRef::InBlock { block_id, start, len }, &[e]).unwrap();
            }
        }
        let mut v = crate::verdicts::tests::rec("ct-0", trailproof_model::verdict::Verdict::Enforced);
        v.evidence = ["okta-0-7", "okta-0-250"]
            .map(|id| trailproof_model::verdict::Evidence {
                source: Source::Okta,
                id: id.into(),
                role: "idp_sso".into(),
            })
            .to_vec();
        b.put_verdicts(&[v]).unwrap();
        b.commit().unwrap();
    }
    let blocks = |s: &Store| -> Vec<(i64, usize)> {
        s.conn()
            .prepare("SELECT id FROM raw_blocks ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|id| {
                let id: i64 = id.unwrap();
                Ok((id, crate::blocks::data_of(s.conn(), id, None).unwrap().len()))
            })
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let before = blocks(&s);
    assert_eq!(before.len(), 2);
    let plan = prune_plan(t0 + 12 * DAY, 2 * DAY);
    let dry = s.prune(&plan).unwrap();
    assert_eq!((dry.idp_events, dry.raw_records, dry.raw_blocks_repacked), (298, 298, 1), "{dry:?}");
    assert_eq!(blocks(&s), before, "a dry run repacks nothing");

    let r = s.prune(&PrunePlan { dry_run: false, ..plan.clone() }).unwrap();
    assert_eq!((r.idp_events, r.raw_records, r.raw_blocks, r.raw_blocks_repacked), (298, 298, 0, 1), "{r:?}");
    let after = blocks(&s);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], before[1], "the kept day's block is left alone");
    assert_every_block_has_its_facts(&s);
    let cited: usize =
        records.iter().filter(|(id, _)| id == "okta-0-7" || id == "okta-0-250").map(|(_, b)| b.len()).sum();
    assert_eq!(after[1].1, cited, "the new block holds the two cited records and nothing else");
    let newest: Vec<u8> = s.conn().query_row("SELECT data FROM raw_blocks ORDER BY id DESC", [], |r| r.get(0)).unwrap();
    assert!(newest.starts_with(&raw::COLUMNS_IDS_HEADER), "a repacked block is columns, with its ids as dictionary");
    for (id, bytes) in &records {
        let stays = id.starts_with("okta-1-") || id == "okta-0-7" || id == "okta-0-250";
        assert_eq!(s.raw_record(Source::Okta, id).unwrap().as_deref(), stays.then_some(bytes.as_slice()), "{id}");
    }
    let again = s.prune(&PrunePlan { dry_run: false, ..plan }).unwrap();
    assert_eq!((again.raw_records, again.raw_blocks_repacked), (0, 0), "{again:?}");
}

/// A dry run says what the prune does, count for count, even where the prune's chunks act
/// together: here one block's records belong to three chunks of event ids, none of which
/// thins it below half on its own (a dry run that rolled each chunk back on its own counted no
/// packing), and the strings only the pruned events used go too.
#[test]
fn a_dry_run_counts_what_the_prune_does_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    {
        let mut b = s.batch().unwrap();
        let mut block = raw::Block::default();
        let mut refs = Vec::new();
        for i in 0..9_000 {
            let id = format!("okta-{i}");
            let bytes = format!(r#"{{"uuid":"{id}","pad":"{}"}}"#, "x".repeat(i % 30)).into_bytes();
            refs.push((id, block.push(&bytes)));
        }
        // And 3,000 SSOs, kept in three frames (sso.rs).
        for i in 0..3_000 {
            let id = format!("sso-{i}");
            let bytes = format!(r#"{{"uuid":"{id}"}}"#).into_bytes();
            refs.push((id, block.push(&bytes)));
        }
        let block_id = b.insert_block(&block.finish()).unwrap();
        for (k, (id, (start, len))) in refs.into_iter().enumerate() {
            let e = if k < 9_000 {
                IdpEvent {
                    event_id: id.clone(),
                    time_ms: t0 + k as i64,
                    user_agent: Some(format!("UA {}", k % 7)),
                    ..idp(&id)
                }
            } else {
                IdpEvent {
                    event_id: id.clone(),
                    time_ms: t0 + k as i64 - 9_000,
                    kind: IdpEventKind::AppSso,
                    app_id: Some("0oa-aws".into()),
                    user_agent: Some(format!("SSO UA {}", k % 5)),
                    ..idp(&id)
                }
            };
            b.insert_idp(Source::Okta, &id, at(), RawRef::InBlock { block_id, start, len }, &[e]).unwrap();
        }
        let mut v = crate::verdicts::tests::rec("ct-0", trailproof_model::verdict::Verdict::Enforced);
        v.evidence = ["okta-8999", "sso-2999"]
            .map(|id| trailproof_model::verdict::Evidence {
                source: Source::Okta,
                id: id.into(),
                role: "idp_sso".into(),
            })
            .to_vec();
        b.put_verdicts(&[v]).unwrap();
        b.commit().unwrap();
    }
    let chunks: Vec<i64> = s
        .conn()
        .prepare("SELECT DISTINCT id >> 12 FROM idp_events ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(chunks, [0, 1, 2], "the block's events span three chunks");
    assert_eq!(table(&s, "SELECT CAST(events AS TEXT) FROM sso_blocks"), ["1024", "1024", "952"]);
    let plan = prune_plan(t0 + 12 * DAY, 2 * DAY);
    let dry = s.prune(&plan).unwrap();
    let stored = |s: &Store| -> (i64, i64, i64, i64) {
        s.conn()
            .query_row(
                "SELECT (SELECT count(*) FROM idp_events), (SELECT count(*) FROM raw_blocks),
                        (SELECT count(*) FROM idp_strings), (SELECT count(*) FROM prune_repack)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
    };
    let before = stored(&s);
    assert_eq!((before.0, before.1, before.3), (9_000, 1, 0), "a dry run changes nothing");
    assert_eq!(
        table(&s, "SELECT CAST(events AS TEXT) FROM sso_blocks"),
        ["1024", "1024", "952"],
        "a dry run changes nothing"
    );
    let r = s.prune(&PrunePlan { dry_run: false, ..plan }).unwrap();
    assert_eq!((r.idp_events, r.raw_records, r.raw_blocks_repacked, r.kept_evidence), (11_998, 11_998, 1, 2), "{r:?}");
    assert_eq!(r.unused_strings, 10, "all user agents but the two the cited events name went: {r:?}");
    assert_eq!(idp_event_ids(&s), ["okta-8999", "sso-2999"]);
    assert_eq!(
        table(&s, "SELECT CAST(events AS TEXT) FROM sso_blocks"),
        ["1"],
        "two frames emptied and removed, one thinned"
    );
    assert_seek_rows_match_frames(&s);
    let same = |p: &PruneReport| PruneReport {
        dry_run: false,
        file_bytes_before: 0,
        file_bytes_after: 0,
        vacuum_steps: 0,
        ..p.clone()
    };
    assert_eq!(same(&dry), same(&r), "the dry run's counts are the prune's");
    assert_eq!(stored(&s).1, 1, "one block, packed again with the cited record");
}

/// Migration 22 turns the SSO baseline's three rows per user and application (kind `sso`,
/// `asn`, `country`) into rows per ASN and country, keeping the last time each value was seen.
#[test]
fn a_store_of_schema_21_keeps_its_sso_baseline_facts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    Store::create_at_version(&path, 21).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "INSERT INTO sso_baseline (provider, login_fold, email_fold, app_user_fold, app_id, app_name, kind, value,
                 first_ms, last_ms) VALUES
             ('okta', 'ann', '=ann@x.com', '', '=0oa1', '=AWS', 'sso', '', 10, 90),
             ('okta', 'ann', '=ann@x.com', '', '=0oa1', '=AWS', 'asn', '16509', 10, 50),
             ('okta', 'ann', '=ann@x.com', '', '=0oa1', '=AWS', 'asn', '7922', 60, 90),
             ('okta', 'ann', '=ann@x.com', '', '=0oa1', '=AWS', 'country', 'US', 10, 90),
             ('entra', 'bob', '', '', '', '=Slack', 'sso', '', 5, 5);",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let rows: Vec<(String, String, String, String, i64, i64)> = s
        .conn()
        .prepare("SELECT provider, login_fold, asn, country, first_ms, last_ms FROM sso_baseline ORDER BY 1, 2, 3, 4")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let row = |p: &str, l: &str, a: &str, c: &str, f: i64, t: i64| (p.into(), l.into(), a.into(), c.into(), f, t);
    assert_eq!(
        rows,
        vec![
            row("entra", "bob", "", "", 5, 5),
            row("okta", "ann", "", "", 10, 90),
            row("okta", "ann", "", "=US", 10, 90),
            row("okta", "ann", "=16509", "", 10, 50),
            row("okta", "ann", "=7922", "", 60, 90),
        ]
    );
}

/// A prune packs the blocks its chunks thinned after the chunks (migration 21), each once. A
/// prune killed between a chunk's commit and that packing leaves the block noted in
/// `prune_repack`: the next prune packs it, though it has nothing else to remove, and every
/// record left reads back byte for byte.
#[test]
fn a_block_noted_by_a_killed_prune_is_packed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    let t0 = 1_793_527_200_000;
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    let block_id = {
        let mut b = s.batch().unwrap();
        let mut block = raw::Block::default();
        let mut refs = Vec::new();
        for i in 0..200 {
            let id = format!("okta-{i}");
            let bytes = format!(r#"{{"uuid":"{id}","pad":"{}"}}"#, "x".repeat(i % 50)).into_bytes();
            refs.push((id.clone(), block.push(&bytes)));
            records.push((id, bytes));
        }
        let block_id = b.insert_block(&block.finish()).unwrap();
        for (k, (id, (start, len))) in refs.into_iter().enumerate() {
            let e = IdpEvent { event_id: id.clone(), time_ms: t0 + k as i64, kind: IdpEventKind::AppSso, ..idp(&id) };
            b.insert_idp(Source::Okta, &id, at(), RawRef::InBlock { block_id, start, len }, &[e]).unwrap();
        }
        b.commit().unwrap();
        block_id
    };
    // What a committed chunk leaves when the prune is killed before packing: its events and
    // raw records gone, the block noted.
    let kept = ["okta-3", "okta-150"];
    s.conn()
        .execute_batch(&format!(
            "DELETE FROM idp_events WHERE raw_id IN (SELECT id FROM raw_records AS r WHERE {2} NOT IN ('{0}', '{1}'));
             DELETE FROM raw_records AS r WHERE {2} NOT IN ('{0}', '{1}');
             INSERT INTO prune_repack (block_id) VALUES ({block_id});",
            kept[0],
            kept[1],
            crate::blocks::NATIVE_ID_SQL
        ))
        .unwrap();
    let dry = s.prune(&prune_plan(t0 - trailproof_model::DAY_MS, 0)).unwrap();
    assert_eq!(dry.raw_blocks_repacked, 1, "a dry run says it would pack the block: {dry:?}");
    let state = |s: &Store| -> (i64, i64) {
        s.conn()
            .query_row("SELECT (SELECT count(*) FROM prune_repack), (SELECT max(id) FROM raw_blocks)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    };
    assert_eq!(state(&s), (1, block_id), "and leaves the note and the block as they were");
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(t0 - trailproof_model::DAY_MS, 0) }).unwrap();
    assert_eq!((r.raw_records, r.raw_blocks_repacked), (0, 1), "{r:?}");
    let notes: i64 = s.conn().query_row("SELECT count(*) FROM prune_repack", [], |r| r.get(0)).unwrap();
    assert_eq!(notes, 0, "the note goes with the packing");
    let (blocks, block): (i64, i64) =
        s.conn().query_row("SELECT count(*), max(id) FROM raw_blocks", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let left: Vec<u8> =
        records.iter().filter(|(id, _)| kept.contains(&id.as_str())).flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(
        (blocks, crate::blocks::data_of(s.conn(), block, None).unwrap()),
        (1, left),
        "one block, holding the two records left"
    );
    for (id, bytes) in &records {
        let stays = kept.contains(&id.as_str());
        assert_eq!(s.raw_record(Source::Okta, id).unwrap().as_deref(), stays.then_some(bytes.as_slice()), "{id}");
    }
}

#[test]
fn prune_removes_a_block_whose_records_were_all_replaced_by_later_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    let t0 = 1_793_527_200_000;
    // The same three records twice, each time in a block of their own; the second time with an
    // MFA step more (a later version, as Entra completes a sign-in): the first block is orphaned.
    let mut last = Vec::new();
    for version in 0..2 {
        let mut b = s.batch().unwrap();
        let mut block = raw::Block::default();
        let mut refs = Vec::new();
        for i in 0..3 {
            let id = format!("entra-{i}");
            let bytes = format!(r#"{{"id":"{id}","v":{version}}}"#).into_bytes();
            refs.push((id.clone(), bytes.clone(), block.push(&bytes)));
        }
        let block_id = b.insert_block(&block.finish()).unwrap();
        last.clear();
        for (k, (id, bytes, (start, len))) in refs.into_iter().enumerate() {
            let e = IdpEvent {
                event_id: id.clone(),
                time_ms: t0 + k as i64,
                kind: IdpEventKind::AppSso,
                mfa: if version == 0 { MfaClaim::SingleFactor } else { MfaClaim::Verified },
                ..idp(&id)
            };
            let stored = b
                .insert_idp_record(
                    Source::Entra,
                    &id,
                    at(),
                    RawRef::InBlock { block_id, start, len },
                    Some(content_hash(&bytes)),
                    &[e],
                )
                .unwrap();
            if version == 1 {
                assert!(matches!(stored, Stored::Updated), "{stored:?}");
            }
            last.push((id, bytes));
        }
        b.commit().unwrap();
    }
    let count = |s: &Store| -> i64 { s.conn().query_row("SELECT count(*) FROM raw_blocks", [], |r| r.get(0)).unwrap() };
    assert_eq!(count(&s), 2);
    // Nothing is old enough to go: only the orphaned block does.
    let plan = prune_plan(t0 - trailproof_model::DAY_MS, 0);
    let dry = s.prune(&plan).unwrap();
    assert_eq!((dry.raw_records, dry.raw_blocks), (0, 1), "{dry:?}");
    assert_eq!(count(&s), 2, "a dry run removes nothing");
    let r = s.prune(&PrunePlan { dry_run: false, ..plan }).unwrap();
    assert_eq!((r.raw_records, r.raw_blocks), (0, 1), "{r:?}");
    assert_eq!(count(&s), 1);
    for (id, bytes) in &last {
        assert_eq!(s.raw_record(Source::Entra, id).unwrap().as_deref(), Some(bytes.as_slice()), "{id}");
    }
}

/// Migration 27 on a store of schema 26 (facts without sources, an index of records by block):
/// every block's facts gain each record's source, so a block's records are found from its facts
/// (here a block holding two sources' records); the index by block and the foreign key go; a
/// block whose records were all replaced before the migration is noted, and the next prune
/// removes it; every record reads back as stored.
#[test]
fn migration_27_finds_each_blocks_records_from_its_facts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    let t0 = 1_793_527_200_000;
    let mut stored: Vec<(Source, String, Vec<u8>)> = Vec::new();
    let mixed = {
        let mut s = Store::open(&path).unwrap();
        // Entra's three records twice, the second time as later versions: the first block is
        // left without records.
        for version in 0..2 {
            let mut b = s.batch().unwrap();
            let mut block = raw::Block::default();
            let mut refs = Vec::new();
            for i in 0..3 {
                let id = format!("entra-{i}");
                let bytes = format!(r#"{{"id":"{id}","v":{version}}}"#).into_bytes();
                refs.push((id.clone(), bytes.clone(), block.push(&bytes)));
            }
            let block_id = b.insert_block(&block.finish()).unwrap();
            for (k, (id, bytes, (start, len))) in refs.into_iter().enumerate() {
                let e = IdpEvent {
                    event_id: id.clone(),
                    time_ms: t0 + k as i64,
                    mfa: if version == 0 { MfaClaim::SingleFactor } else { MfaClaim::Verified },
                    ..idp(&id)
                };
                let raw = RawRef::InBlock { block_id, start, len };
                b.insert_idp_record(Source::Entra, &id, at(), raw, Some(content_hash(&bytes)), &[e]).unwrap();
                if version == 1 {
                    stored.push((Source::Entra, id, bytes));
                }
            }
            b.commit().unwrap();
        }
        // A block of Okta and Google records.
        let mut b = s.batch().unwrap();
        let mut block = raw::Block::default();
        let mut refs = Vec::new();
        for i in 0..40 {
            let (source, id) =
                if i % 3 == 0 { (Source::Google, format!("app/g-{i}")) } else { (Source::Okta, format!("o-{i}")) };
            let bytes = format!(r#"{{"id":"{id}","n":{i}}}"#).into_bytes();
            refs.push((source, id, bytes.clone(), block.push(&bytes)));
        }
        let mixed = b.insert_block(&block.finish()).unwrap();
        // Stored in the reverse of their bytes' order: their slots too.
        for (source, id, bytes, (start, len)) in refs.into_iter().rev() {
            let raw = RawRef::InBlock { block_id: mixed, start, len };
            b.insert_idp_record(source, &id, at(), raw, Some(content_hash(&bytes)), &[]).unwrap();
            stored.push((source, id, bytes));
        }
        b.commit().unwrap();
        // Back to schema 26: facts without sources, the index by block, nothing noted.
        undo_migration_28(s.conn());
        let blocks: Vec<i64> = s
            .conn()
            .prepare("SELECT block_id FROM raw_facts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for block in blocks {
            let (facts, _) = crate::blocks::facts_of(s.conn(), block).unwrap();
            s.conn()
                .execute(
                    "UPDATE raw_facts SET facts = ?2 WHERE block_id = ?1",
                    rusqlite::params![block, facts.without_sources().encode().unwrap()],
                )
                .unwrap();
        }
        s.conn()
            .execute_batch(
                "DELETE FROM prune_repack; CREATE INDEX raw_records_block ON raw_records (block_id);
                 PRAGMA user_version = 26",
            )
            .unwrap();
        let (facts, _) = crate::blocks::facts_of(s.conn(), mixed).unwrap();
        let err = crate::blocks::live_records(s.conn(), mixed, &facts).unwrap_err().to_string();
        assert!(err.contains("names no source"), "{err}");
        mixed
    };
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let (index, fks): (i64, i64) = s
        .conn()
        .query_row(
            "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'raw_records_block'),
                    (SELECT count(*) FROM pragma_foreign_key_list('raw_records'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((index, fks), (0, 0), "no index by block, no foreign key that would need one");
    let noted: Vec<i64> = s
        .conn()
        .prepare("SELECT block_id FROM prune_repack")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(noted, vec![1], "the block whose records were all replaced");
    let (facts, _) = crate::blocks::facts_of(s.conn(), mixed).unwrap();
    let live = crate::blocks::live_records(s.conn(), mixed, &facts).unwrap();
    let rows: Vec<(i64, i64)> = s
        .conn()
        .prepare("SELECT id, block_slot FROM raw_records WHERE block_id = ?1 ORDER BY block_slot")
        .unwrap()
        .query_map([mixed], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!((live.len(), &live), (40, &rows), "every record of the block, found from its facts");
    for (slot, fact) in facts.stored() {
        let google = fact.native_id.text().starts_with("app/");
        assert_eq!(fact.source, Some(if google { Source::Google } else { Source::Okta }), "slot {slot}");
    }
    let starts: Vec<u64> = facts.stored().map(|(_, f)| f.span.unwrap().0).collect();
    assert!(starts.is_sorted(), "slots renumbered in the order of the records' bytes: {starts:?}");
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(t0 - trailproof_model::DAY_MS, 0) }).unwrap();
    assert_eq!((r.raw_records, r.raw_blocks, r.raw_blocks_repacked), (0, 1, 0), "{r:?}");
    let blocks: i64 = s.conn().query_row("SELECT count(*) FROM raw_blocks", [], |r| r.get(0)).unwrap();
    assert_eq!(blocks, 2);
    assert_every_block_has_its_facts(&s);
    for (source, id, bytes) in &stored {
        assert_eq!(s.raw_record(*source, id).unwrap().as_deref(), Some(bytes.as_slice()), "{id}");
    }
    // Written to again: a copy is a duplicate, a new record is stored.
    let mut b = s.batch().unwrap();
    let (_, id, bytes) = &stored[5];
    assert_eq!(
        b.insert_idp_record(Source::Okta, id, at(), &raw::compress(bytes), Some(content_hash(bytes)), &[]).unwrap(),
        Stored::Duplicate
    );
    assert_eq!(
        b.insert_idp_record(Source::Okta, "o-new", at(), &raw::compress(b"{}"), None, &[]).unwrap(),
        Stored::New
    );
    b.commit().unwrap();
}

/// A block's origin is its first record's, and only a record of another origin names its own
/// (migration 28); each record's origin reads back, through a prune's removal of unused
/// origins too. Migration 28 on rows that each name theirs gives single-origin blocks theirs,
/// leaves a block of two origins to its rows, and keeps every copy a copy (48-bit hashes).
#[test]
fn a_block_holds_its_records_origin_and_a_record_of_another_names_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    let t0 = 1_793_527_200_000;
    let mut s = Store::open(&path).unwrap();
    let recs: Vec<(String, &str, Vec<u8>)> = (0..6)
        .map(|i| {
            let origin = if i == 4 { "okta/other.json" } else { "okta/day.json" };
            (format!("o-{i}"), origin, format!(r#"{{"id":"o-{i}"}}"#).into_bytes())
        })
        .collect();
    let mut b = s.batch().unwrap();
    let mut block = raw::Block::default();
    let places: Vec<_> = recs.iter().map(|(_, _, bytes)| block.push(bytes)).collect();
    let mixed = b.insert_block(&block.finish()).unwrap();
    for ((id, origin, bytes), (start, len)) in recs.iter().zip(&places) {
        let at = Origin { origin, location: "record 1 at byte 0" };
        let e = IdpEvent { event_id: id.clone(), time_ms: t0, ..idp(id) };
        let raw = RawRef::InBlock { block_id: mixed, start: *start, len: *len };
        b.insert_idp_record(Source::Okta, id, at, raw, Some(content_hash(bytes)), &[e]).unwrap();
    }
    // A record stored alone: a block of its own, of its origin.
    let alone = br#"{"id":"o-alone"}"#;
    let at = Origin { origin: "okta/alone.json", location: "page 1" };
    b.insert_idp_record(Source::Okta, "o-alone", at, &raw::compress(alone), Some(content_hash(alone)), &[]).unwrap();
    b.commit().unwrap();
    let named: Vec<Option<i64>> = s
        .conn()
        .prepare("SELECT origin_id FROM raw_records ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        named.iter().filter(|o| o.is_some()).count(),
        1,
        "only the record of another origin names it: {named:?}"
    );
    let check = |s: &Store| {
        for (id, origin, bytes) in &recs {
            assert_eq!(s.raw_origin(Source::Okta, id).unwrap().unwrap().0, *origin, "{id}");
            assert_eq!(s.raw_record(Source::Okta, id).unwrap().unwrap(), *bytes);
        }
        assert_eq!(s.raw_origin(Source::Okta, "o-alone").unwrap().unwrap().0, "okta/alone.json");
    };
    check(&s);
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(t0 - trailproof_model::DAY_MS, 0) }).unwrap();
    assert_eq!(r.unused_origins, 0, "{r:?}");
    check(&s);
    // Back to schema 27 (every row names its origin), then migrated again.
    undo_migration_28(s.conn());
    s.conn().execute_batch("PRAGMA user_version = 27").unwrap();
    drop(s);
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    check(&s);
    let (rows_naming, blocks_naming): (i64, i64) = s
        .conn()
        .query_row(
            "SELECT (SELECT count(origin_id) FROM raw_records), (SELECT count(origin_id) FROM raw_facts)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows_naming, blocks_naming), (6, 1), "the block of two origins leaves them to its rows");
    let mut b = s.batch().unwrap();
    for (id, origin, bytes) in &recs {
        let at = Origin { origin, location: "record 1 at byte 0" };
        let stored = b.insert_idp_record(Source::Okta, id, at, &raw::compress(bytes), Some(content_hash(bytes)), &[]);
        assert_eq!(stored.unwrap(), Stored::Duplicate, "{id}: its hash, migrated, is the one computed now");
    }
    b.commit().unwrap();
}

/// Migration 29 on a store of schema 28 (strings unique by their text): every string keeps its
/// id and gets its key, events read back the same, and the writer finds the stored strings by
/// key (a new record of the same strings adds none).
#[test]
fn migration_29_seeks_strings_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    let t0 = 1_793_527_200_000;
    let event = |id: &str| IdpEvent {
        event_id: id.into(),
        time_ms: t0,
        kind: IdpEventKind::Login,
        session_id: Some("sess-1".into()),
        source_ip: Some("198.51.100.7".into()),
        ..idp(id)
    };
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        b.insert_idp(Source::Okta, "e-1", at(), &raw::compress(b"{}"), &[event("e-1")]).unwrap();
        b.commit().unwrap();
        // Back to schema 28.
        s.conn()
            .execute_batch(
                "DROP VIEW idp_events_full;
                 CREATE TABLE idp_strings_28 (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
                 INSERT INTO idp_strings_28 SELECT id, value FROM idp_strings;
                 DROP TABLE idp_strings;
                 ALTER TABLE idp_strings_28 RENAME TO idp_strings;",
            )
            .unwrap();
        s.conn().execute_batch(&crate::blocks::view_sql(true)).unwrap();
        s.conn().execute_batch("PRAGMA user_version = 28").unwrap();
    }
    let strings_before: Vec<(i64, String)> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT id, value FROM idp_strings ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let keyed: Vec<(i64, String)> = s
        .conn()
        .prepare(
            "SELECT id, value FROM idp_strings WHERE key = trailproof_native_key('idp_strings', value) ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(keyed, strings_before, "every string keeps its id and gets its key");
    assert_eq!(s.idp_event(Idp::Okta, "e-1").unwrap(), Some(event("e-1")));
    let mut b = s.batch().unwrap();
    b.insert_idp(Source::Okta, "e-2", at(), &raw::compress(b"{}"), &[event("e-2")]).unwrap();
    b.commit().unwrap();
    let n: i64 = s.conn().query_row("SELECT count(*) FROM idp_strings", [], |r| r.get(0)).unwrap();
    assert_eq!(n, strings_before.len() as i64, "the same strings are found, not added again");
    assert_eq!(s.idp_event(Idp::Okta, "e-2").unwrap(), Some(event("e-2")));
}

/// Takes a store back to what migration 27 left: every row names its origin, no block does, and
/// content hashes of 64 bits (the 48 kept, shifted back).
fn undo_migration_28(c: &rusqlite::Connection) {
    c.execute_batch(&format!(
        "UPDATE raw_records AS r SET origin_id = {}, content_hash = content_hash << 16;
         ALTER TABLE raw_facts DROP COLUMN origin_id;",
        crate::blocks::ORIGIN_ID_SQL
    ))
    .unwrap();
}

/// Takes a store back to before migration 23: which records some verdict cites, without which
/// verdict (`verdict_evidence`), and no verdict ever removed.
fn undo_migration_23(c: &rusqlite::Connection) {
    undo_migration_24(c);
    c.execute_batch(
        "CREATE TABLE verdict_evidence (source TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (source, event_id))
            WITHOUT ROWID;
         INSERT OR IGNORE INTO verdict_evidence (source, event_id) SELECT source, event_id FROM verdict_cites;
         DROP TABLE verdict_cites;
         ALTER TABLE retention DROP COLUMN verdicts_before_ms;",
    )
    .unwrap();
}

/// Takes a store back to what migration 23 left (see `Store::undo_sso_frames`).
fn undo_migration_24(c: &rusqlite::Connection) {
    undo_migration_25(c);
    crate::sso::undo_frames(c).unwrap();
}

/// Takes a store back to what migration 24 left (see `Store::undo_raw_facts`).
fn undo_migration_25(c: &rusqlite::Connection) {
    crate::blocks::undo(c).unwrap();
}

/// Takes a store back to what migration 17 left: origin and location as text in every row
/// (and without migration 21's table of blocks a prune has still to pack).
fn undo_migration_18(c: &rusqlite::Connection) {
    undo_migration_23(c);
    c.execute_batch("DROP TABLE prune_repack;").unwrap();
    c.execute_batch(&format!(
        "ALTER TABLE raw_records ADD COLUMN origin TEXT NOT NULL DEFAULT '';
         ALTER TABLE raw_records ADD COLUMN location TEXT NOT NULL DEFAULT '';
         UPDATE raw_records SET origin = (SELECT origin FROM raw_origins WHERE id = origin_id),
            location = {RAW_LOCATION_SQL};
         ALTER TABLE raw_records DROP COLUMN origin_id;
         ALTER TABLE raw_records DROP COLUMN loc_record;
         ALTER TABLE raw_records DROP COLUMN loc_byte;
         ALTER TABLE raw_records DROP COLUMN loc_text;
         DROP TABLE raw_origins;"
    ))
    .unwrap();
}

/// A store of schema 17 (deflate blocks of 256 records, records stored alone, origin and
/// location as text in every row) is migrated on open: every raw record reads back byte for
/// byte, every origin and location text is kept exactly (the usual `record N at byte M` as
/// numbers, anything else as written), a record replaced after the migration moves to the
/// history with its origin and location of before, and new records go on using the same origin.
#[test]
fn a_store_of_schema_17_is_migrated_and_keeps_every_raw_record_origin_and_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v17.db");
    Store::create_at_version(&path, 17).unwrap();
    let locations = [
        "record 1 at byte 0",
        "record 3 at byte 1204, log event 2 of a CloudWatch Logs subscription payload",
        "",
        "record 007 at byte 1",
        "RECORD 1 AT BYTE 2",
        "record 12 at byte -5",
        "record 99999999999999999999 at byte 1",
        "record 5 at byte 6 ",
        "record  at byte ",
    ];
    // (source, native id, origin, location, bytes)
    let mut rows: Vec<(Source, String, String, String, Vec<u8>)> = Vec::new();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut plain = Vec::new();
        let mut places = Vec::new();
        for i in 0..256usize {
            let bytes = match i {
                0 => Vec::new(),
                1 => (0..=255u8).collect(),
                _ => format!(r#"{{"uuid":"okta-{i}","pad":"{}"}}"#, "é".repeat(i % 9)).into_bytes(),
            };
            places.push((plain.len(), bytes.len()));
            plain.extend_from_slice(&bytes);
            let origin = format!("/data/okta/syslog-{:04}.json", i / 100);
            let location =
                locations.get(i).map_or_else(|| format!("record {i} at byte {}", i * 731), |l| l.to_string());
            rows.push((Source::Okta, format!("okta-{i}"), origin, location, bytes));
        }
        c.execute("INSERT INTO raw_blocks (id, data) VALUES (1, ?1)", [raw::compress(&plain)]).unwrap();
        for (k, (source, id, origin, location, _)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO raw_records (source, native_id, origin, location, stored_ms, raw, block_id, block_start,
                    block_len, content_hash) VALUES (?1, ?2, ?3, ?4, 5, x'', 1, ?5, ?6, NULL)",
                params![source.as_str(), id, origin, location, places[k].0 as i64, places[k].1 as i64],
            )
            .unwrap();
        }
        for i in 0..5 {
            let bytes = format!(r#"{{"eventID":"ct-{i}"}}"#).into_bytes();
            let (origin, location) =
                ("s3://trail/AWSLogs/1.json.gz".to_string(), format!("record {i} at byte {}", i * 9));
            c.execute(
                "INSERT INTO raw_records (source, native_id, origin, location, stored_ms, raw) VALUES ('cloudtrail', ?1, ?2, ?3, 5, ?4)",
                params![format!("ct-{i}"), origin, location, raw::compress(&bytes)],
            )
            .unwrap();
            rows.push((Source::Cloudtrail, format!("ct-{i}"), origin, location, bytes));
        }
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let stored =
        |s: &Store, source: Source, id: &str| -> (String, String) { s.raw_origin(source, id).unwrap().unwrap() };
    for (source, id, origin, location, bytes) in &rows {
        assert_eq!(s.raw_record(*source, id).unwrap().as_deref(), Some(bytes.as_slice()), "{id}");
        assert_eq!(stored(&s, *source, id), (origin.clone(), location.clone()), "{id}");
    }
    // Numbers where they give the text back, text elsewhere.
    let mut texts = 0;
    for (source, id, ..) in &rows {
        let raw_id: i64 = s
            .conn()
            .query_row(
                &format!("SELECT id FROM raw_records AS r WHERE source = ?1 AND {} = ?2", crate::blocks::NATIVE_ID_SQL),
                params![source.as_str(), id],
                |r| r.get(0),
            )
            .unwrap();
        let (_, fact, _) = crate::blocks::fact_of(s.conn(), raw_id, None).unwrap();
        texts += usize::from(matches!(fact.loc, crate::raw::Location::Text(_)));
    }
    assert_eq!(texts, 7, "the locations other than `record N at byte M` stay text");
    let origins: i64 = s.conn().query_row("SELECT count(*) FROM raw_origins", [], |r| r.get(0)).unwrap();
    assert_eq!(origins, 4);
    // A later version of a migrated record: the earlier one keeps its origin and location.
    let v2 = br#"{"uuid":"okta-3","v":2}"#;
    let mut b = s.batch().unwrap();
    let at2 = Origin { origin: "/data/okta/syslog-0000.json", location: "record 4 at byte 10" };
    let e = IdpEvent { event_id: "okta-3".into(), ..idp("okta-3") };
    let r = b.insert_idp_record(Source::Okta, "okta-3", at2, &raw::compress(v2), Some(content_hash(v2)), &[e]).unwrap();
    assert_eq!(r, Stored::Updated);
    let at3 = Origin { origin: "/data/okta/syslog-0000.json", location: "record 5 at byte 11, inside an envelope" };
    b.insert_idp(Source::Okta, "okta-new", at3, &raw::compress(b"{}"), &[idp("okta-new")]).unwrap();
    b.commit().unwrap();
    let h = s.raw_history(Source::Okta, "okta-3").unwrap();
    assert_eq!((h[0].origin.as_str(), h[0].location.as_str()), ("/data/okta/syslog-0000.json", "record 007 at byte 1"));
    assert_eq!(h[0].stored_ms, 5, "the time it was first stored, kept by its block");
    assert_eq!(h[0].raw, rows[3].4);
    assert_eq!(s.raw_record(Source::Okta, "okta-3").unwrap().as_deref(), Some(v2.as_slice()));
    assert_eq!(stored(&s, Source::Okta, "okta-3"), (at2.origin.to_string(), at2.location.to_string()));
    assert_eq!(stored(&s, Source::Okta, "okta-new"), (at3.origin.to_string(), at3.location.to_string()));
    let origins: i64 = s.conn().query_row("SELECT count(*) FROM raw_origins", [], |r| r.get(0)).unwrap();
    assert_eq!(origins, 4, "a known origin is not stored again");
}

/// Location texts go in as numbers only where the numbers give the same text back.
#[test]
fn locations_are_split_into_numbers_only_when_lossless() {
    use crate::raw::Location;
    assert_eq!(Location::parse("record 3 at byte 1204"), Location::At { record: 3, byte: 1204 });
    for text in ["record 03 at byte 1", "record 3 at byte +1", "record 3 at byte 1, log event 2", "", "x"] {
        assert_eq!(Location::parse(text), Location::Text(text.to_string()), "{text:?}");
    }
}

/// A prune removes the strings and origins only pruned rows used (migration 19), keeps the
/// ones a kept row uses, and a writer in another process that remembered the ids of removed
/// strings forgets them: what it writes after the prune reads back as written.
#[test]
fn prune_removes_unused_strings_and_a_writer_of_before_forgets_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tp.db");
    let mut pruner = Store::open(&db).unwrap();
    let mut other = Store::open(&db).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    let event = |id: &str, day: i64, ua: &str| IdpEvent {
        time_ms: t0 + day * DAY,
        kind: IdpEventKind::AppSso,
        session_id: None,
        app_name: Some("Slack".into()),
        user_agent: Some(ua.into()),
        ..idp(id)
    };
    let write = |s: &mut Store, id: &str, origin: &str, e: IdpEvent| {
        let mut b = s.batch().unwrap();
        let o = Origin { origin, location: "record 0 at byte 0" };
        b.insert_idp(Source::Okta, id, o, &raw::compress(id.as_bytes()), &[e]).unwrap();
        b.commit().unwrap();
    };
    // Day 0: written by the other handle (which now remembers "UA old" and "UA shared").
    write(&mut other, "old-1", "okta/day0.json", event("old-1", 0, "UA old"));
    write(&mut other, "old-2", "okta/day0.json", event("old-2", 0, "UA shared"));
    // Day 12: written by the pruner's handle.
    write(&mut pruner, "new-1", "okta/day12.json", event("new-1", 12, "UA shared"));
    let strings = |s: &Store| -> Vec<String> {
        let mut st = s.conn().prepare("SELECT value FROM idp_strings ORDER BY value").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    let origins = |s: &Store| -> Vec<String> {
        let mut st = s.conn().prepare("SELECT origin FROM raw_origins ORDER BY origin").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    assert!(strings(&pruner).contains(&"UA old".to_string()));
    let plan = PrunePlan { dry_run: false, ..prune_plan(t0 + 12 * DAY, 2 * DAY) };
    let r = pruner.prune(&plan).unwrap();
    assert_eq!((r.idp_events, r.raw_records), (2, 2), "{r:?}");
    assert_eq!(r.unused_strings, 1, "only \"UA old\" was used by the pruned events alone: {r:?}");
    assert_eq!(r.unused_origins, 1, "{r:?}");
    let left = strings(&pruner);
    assert!(!left.contains(&"UA old".to_string()), "{left:?}");
    assert!(left.contains(&"UA shared".to_string()), "a string a kept event uses stays: {left:?}");
    assert_eq!(origins(&pruner), vec!["okta/day12.json".to_string()]);
    assert_eq!(
        pruner.idp_event(Idp::Okta, "new-1").unwrap().and_then(|e| e.user_agent).as_deref(),
        Some("UA shared"),
        "the kept event reads back whole"
    );
    // The other handle writes "UA old" again: it must not reuse the removed id.
    write(&mut other, "new-2", "okta/day12.json", event("new-2", 12, "UA old"));
    write(&mut other, "new-3", "okta/day13.json", event("new-3", 13, "UA shared"));
    let got = |id: &str| pruner.idp_event(Idp::Okta, id).unwrap().and_then(|e| e.user_agent);
    assert_eq!(got("new-2").as_deref(), Some("UA old"));
    assert_eq!(got("new-3").as_deref(), Some("UA shared"));
    assert_eq!(pruner.raw_record(Source::Okta, "new-2").unwrap().as_deref(), Some(b"new-2".as_slice()));
    // Nothing left to remove: a second prune removes no string.
    let again = pruner.prune(&plan).unwrap();
    assert_eq!((again.unused_strings, again.unused_origins), (0, 0), "{again:?}");
}

/// A dry-run plan keeping what is after `keep_from_ms`, reaching back `reach_ms` (Google too),
/// with the default AWS-application rule.
fn prune_plan(keep_from_ms: i64, reach_ms: i64) -> PrunePlan {
    PrunePlan {
        keep_from_ms,
        reach_ms,
        google_reach_ms: reach_ms,
        aws_apps: okta_apps(&[], &[]),
        dry_run: true,
        vacuum_step_pages: 16,
        verdicts_before_ms: None,
    }
}

/// Two records whose keys are equal (migration 20 seeks records by an 8-byte hash of source and
/// native id) are still two records: the writer compares what the key finds. The collision is
/// made by hand, since no two known ids share a SHA-256 prefix.
#[test]
fn records_sharing_a_native_key_stay_apart() {
    let mut s = Store::open_in_memory().unwrap();
    let mut b = s.batch().unwrap();
    assert_eq!(b.insert_idp(Source::Okta, "a", at(), &raw::compress(b"A"), &[idp("a")]).unwrap(), Stored::New);
    b.commit().unwrap();
    // "a" now carries the key "b" will have.
    s.conn()
        .execute(
            &format!("UPDATE raw_records AS r SET native_key = ?1 WHERE {} = 'a'", crate::blocks::NATIVE_ID_SQL),
            [native_key("okta", "b")],
        )
        .unwrap();
    let mut b = s.batch().unwrap();
    let hb = content_hash(b"B");
    let r = b.insert_idp_record(Source::Okta, "b", at(), &raw::compress(b"B"), Some(hb), &[idp("b")]).unwrap();
    assert_eq!(r, Stored::New, "another id with the same key is a new record");
    assert_eq!(b.insert_idp(Source::Okta, "b", at(), &raw::compress(b"B"), &[idp("b")]).unwrap(), Stored::Duplicate);
    // The same id in another source is another record too.
    assert_eq!(
        b.insert_idp(Source::Entra, "b", at(), &raw::compress(b"E"), &[IdpEvent { provider: Idp::Entra, ..idp("b") }])
            .unwrap(),
        Stored::New
    );
    b.commit().unwrap();
    assert_eq!(s.raw_record(Source::Okta, "b").unwrap().as_deref(), Some(b"B".as_slice()));
    assert_eq!(s.idp_event(Idp::Okta, "b").unwrap().map(|e| e.event_id), Some("b".to_string()));
    // Both found by the key they share.
    let shared: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM raw_records WHERE native_key = ?1", [native_key("okta", "b")], |r| r.get(0))
        .unwrap();
    assert_eq!(shared, 2);
    // "a" back under its own key: found as before.
    s.conn()
        .execute(
            &format!("UPDATE raw_records AS r SET native_key = ?1 WHERE {} = 'a'", crate::blocks::NATIVE_ID_SQL),
            [native_key("okta", "a")],
        )
        .unwrap();
    assert_eq!(s.raw_record(Source::Okta, "a").unwrap().as_deref(), Some(b"A".as_slice()));
    assert_eq!(s.raw_record(Source::Okta, "b").unwrap().as_deref(), Some(b"B".as_slice()));
    assert_eq!(s.raw_record(Source::Entra, "b").unwrap().as_deref(), Some(b"E".as_slice()));
    assert_eq!(s.idp_event(Idp::Okta, "a").unwrap().map(|e| e.event_id), Some("a".to_string()));
    assert_eq!(s.idp_event(Idp::Okta, "b").unwrap().map(|e| e.event_id), Some("b".to_string()));
    assert_eq!(s.idp_event(Idp::Entra, "b").unwrap().map(|e| e.provider), Some(Idp::Entra));
}

/// A store of schema 19 (the native id in a unique index and in every IdP event's id) is
/// migrated on open: every record reads back byte for byte, every event keeps its id (with and
/// without `#<n>`), and the same records written again are duplicates.
#[test]
fn a_store_of_schema_19_is_migrated_and_keeps_every_event_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v19.db");
    Store::create_at_version(&path, 19).unwrap();
    let records: Vec<(String, Vec<String>)> = vec![
        ("okta-1".into(), vec!["okta-1".into()]),
        (
            "login/2026-11-01T10:00:00.000Z/-42".into(),
            vec!["login/2026-11-01T10:00:00.000Z/-42#0".into(), "login/2026-11-01T10:00:00.000Z/-42#1".into()],
        ),
        ("weird#id".into(), vec!["weird#id".into()]),
    ];
    {
        // Written as the code of schema 19 wrote them (event id in the row, native id unique).
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("INSERT INTO raw_origins (id, origin) VALUES (1, 'okta/day.json')", []).unwrap();
        for (k, (native, events)) in records.iter().enumerate() {
            c.execute(
                "INSERT INTO raw_records (id, source, native_id, stored_ms, raw, origin_id, loc_record, loc_byte)
                 VALUES (?1, 'okta', ?2, 5, ?3, 1, ?1, 0)",
                params![k as i64 + 1, native, raw::compress(native.as_bytes())],
            )
            .unwrap();
            c.execute("INSERT OR IGNORE INTO idp_strings (value) VALUES ('t'), ('verified'), ('[]')", []).unwrap();
            for id in events {
                c.execute(
                    "INSERT INTO idp_events (provider, event_id, time_ms, kind, outcome, native_type_ref, mfa_ref,
                        factors_ref, raw_id)
                     VALUES ('okta', ?1, 7, 'factor_verified', 'success',
                        (SELECT id FROM idp_strings WHERE value = 't'), (SELECT id FROM idp_strings WHERE value = 'verified'),
                        (SELECT id FROM idp_strings WHERE value = '[]'), ?2)",
                    params![id, k as i64 + 1],
                )
                .unwrap();
            }
        }
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let mut all: Vec<String> = records.iter().flat_map(|(_, e)| e.clone()).collect();
    all.sort();
    assert_eq!(table(&s, "SELECT event_id FROM idp_events_full ORDER BY id"), all);
    let suffixes: i64 =
        s.conn().query_row("SELECT count(*) FROM idp_events WHERE event_suffix IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(suffixes, 2, "only the events whose id is longer than their record's carry a suffix");
    for (native, events) in &records {
        assert_eq!(s.raw_record(Source::Okta, native).unwrap().as_deref(), Some(native.as_bytes()), "{native}");
        for id in events {
            assert_eq!(s.idp_event(Idp::Okta, id).unwrap().map(|e| e.event_id).as_deref(), Some(id.as_str()));
        }
    }
    let mut b = s.batch().unwrap();
    for (native, events) in &records {
        let evs: Vec<IdpEvent> = events.iter().map(|id| idp(id)).collect();
        let r = b.insert_idp(Source::Okta, native, at(), &raw::compress(native.as_bytes()), &evs).unwrap();
        assert_eq!(r, Stored::Duplicate, "{native}");
    }
    // A new record with two events after the migration: its ids as given.
    let evs = [idp("n/1#0"), idp("n/1#1")];
    assert_eq!(b.insert_idp(Source::Okta, "n/1", at(), &raw::compress(b"n"), &evs).unwrap(), Stored::New);
    b.commit().unwrap();
    assert_eq!(s.idp_event(Idp::Okta, "n/1#1").unwrap().map(|e| e.event_id).as_deref(), Some("n/1#1"));
    let keys: i64 = s
        .conn()
        .query_row(
            &format!(
                "SELECT count(*) FROM raw_records AS r WHERE native_key = trailproof_native_key(source, {})",
                crate::blocks::NATIVE_ID_SQL
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keys, 4);
}

/// Verdicts go only when a plan says so (`verdicts_before_ms`, `[retention] verdict_keep_days`):
/// those of sessions before the cut (held to the seal) go with their earlier versions, their
/// ticket-queue rows and their citations, and the records only they cited go in the same prune,
/// although an earlier prune had visited their chunks and kept them as evidence. A record a
/// later verdict also cites stays; a verdict a notification sink has not sent yet stays, with
/// what it cites. A dry run counts the same and removes nothing; a second prune finds nothing.
#[test]
fn prune_removes_verdicts_before_their_cut_and_the_records_only_they_cited() {
    use trailproof_model::verdict::{Evidence, Verdict};
    const DAY: i64 = trailproof_model::DAY_MS;
    const HOUR: i64 = 3_600_000;
    let t0 = 1_793_527_200_000; // 2026-11-01T10:00:00Z
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    // Day d: ConsoleLogin c<d>, and an SSO s<d> an hour before it.
    let mut b = s.batch().unwrap();
    for d in 0..10 {
        let (c, sso) = (format!("c{d}"), format!("s{d}"));
        let e = IdpEvent {
            time_ms: t0 + d * DAY - HOUR,
            kind: IdpEventKind::AppSso,
            session_id: None,
            app_name: Some("Amazon Web Services".into()),
            ..idp(&sso)
        };
        b.insert_idp(Source::Okta, &sso, at(), &raw::compress(sso.as_bytes()), &[e]).unwrap();
        let e = AwsEvent { time_ms: t0 + d * DAY, ..aws(&c) };
        b.insert_aws(&c, at(), &raw::compress(c.as_bytes()), &[e]).unwrap();
    }
    // Later rows (failed sign-ins, factors on day 9), enough that the chunk holding the days'
    // rows is not the last: a prune summarizes the last chunk afresh each time, the others by
    // what it noted when it visited them.
    for i in 0..4_100 {
        let id = format!("f{i}");
        let e = AwsEvent { time_ms: t0 + 9 * DAY + i, outcome: Outcome::Failure, ..aws(&id) };
        b.insert_aws(&id, at(), &raw::compress(id.as_bytes()), &[e]).unwrap();
        let e = IdpEvent { time_ms: t0 + 9 * DAY + i, ..idp(&id) };
        b.insert_idp(Source::Okta, &id, at(), &raw::compress(id.as_bytes()), &[e]).unwrap();
    }
    // Each verdict cites its login and its SSO; c5's also cites s4. c0 is stored twice (an
    // earlier version kept); c1 last, so that only its queue row is after the sink's cursor.
    let verdict = |d: i64, v: Verdict| {
        let mut r = crate::verdicts::tests::rec(&format!("c{d}"), v);
        r.time = trailproof_model::format_ms(t0 + d * DAY);
        r.evidence = vec![
            Evidence { source: Source::Cloudtrail, id: format!("c{d}"), role: "console_login".into() },
            Evidence { source: Source::Okta, id: format!("s{d}"), role: "idp_sso".into() },
        ];
        if d == 5 {
            r.evidence.push(Evidence { source: Source::Okta, id: "s4".into(), role: "idp_sso".into() });
        }
        r
    };
    b.put_verdicts(&[verdict(0, Verdict::Enforced)]).unwrap();
    for d in [0, 2, 3, 4, 5, 6, 7, 8, 9] {
        b.put_verdicts(&[verdict(d, Verdict::NotEnforced)]).unwrap();
    }
    b.commit().unwrap();
    let cursor = s.outbox_head().unwrap();
    let mut b = s.batch().unwrap();
    b.put_verdicts(&[verdict(1, Verdict::Enforced)]).unwrap();
    b.commit().unwrap();
    s.set_notify_cursor("jira", cursor).unwrap();
    s.set_notify_cursor("slack", s.outbox_head().unwrap()).unwrap();

    // Sessions before day 5 are sealed, and nothing older than the seal is needed (reach 0).
    let seal = t0 + 5 * DAY - 1;
    // 1. Without a verdict cut every old record is evidence: nothing goes.
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(seal, 0) }).unwrap();
    assert_eq!((r.aws_events, r.idp_events, r.verdicts, r.verdicts_before_ms), (0, 0, 0, None), "{r:?}");
    assert_eq!(r.kept_evidence, 11, "{r:?}"); // c0-c4, s0-s5
    // 2. Verdicts of sessions before day 30: held to the seal, so c0-c4; c1 waits for jira.
    let plan = PrunePlan { verdicts_before_ms: Some(t0 + 30 * DAY), ..prune_plan(seal, 0) };
    let table = |s: &Store, sql: &str| -> Vec<String> {
        s.conn().prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    };
    let verdicts = |s: &Store| table(s, "SELECT console_login_event_id FROM verdicts ORDER BY 1");
    // c3's record no longer reads back: its citations are found without it.
    s.conn().execute("UPDATE verdicts SET record = '{' WHERE console_login_event_id = 'c3'", []).unwrap();
    let dry = s.prune(&plan).unwrap();
    assert_eq!(verdicts(&s).len(), 10, "a dry run removes nothing");
    let r = s.prune(&PrunePlan { dry_run: false, ..plan.clone() }).unwrap();
    for rep in [&dry, &r] {
        assert_eq!(rep.verdicts_before_ms, Some(seal), "{rep:?}");
        assert_eq!((rep.verdicts, rep.verdict_versions, rep.verdicts_unsent), (4, 1, 1), "{rep:?}");
        // c0, c2, c3, c4 and s0, s2, s3 (s4 is c5's evidence too).
        assert_eq!((rep.aws_events, rep.idp_events, rep.raw_records), (4, 3, 7), "{rep:?}");
    }
    assert_eq!(verdicts(&s), ["c1", "c5", "c6", "c7", "c8", "c9"]);
    assert_eq!(table(&s, "SELECT DISTINCT console_login_event_id FROM verdict_history"), Vec::<String>::new());
    let queued = table(&s, "SELECT DISTINCT console_login_event_id FROM outbox ORDER BY 1");
    assert_eq!(queued, ["c1", "c5", "c6", "c7", "c8", "c9"]);
    let cited = table(&s, "SELECT DISTINCT console_login_event_id FROM verdict_cites ORDER BY 1");
    assert_eq!(cited, ["c1", "c5", "c6", "c7", "c8", "c9"]);
    for d in 0..10 {
        let gone = [0, 2, 3, 4].contains(&d);
        let c = format!("c{d}");
        assert_eq!(s.raw_record(Source::Cloudtrail, &c).unwrap().is_none(), gone, "{c}");
        assert_eq!(s.aws_event(&c).unwrap().is_none(), gone, "{c}");
        let sso = format!("s{d}");
        let gone = [0, 2, 3].contains(&d);
        assert_eq!(s.raw_record(Source::Okta, &sso).unwrap().is_none(), gone, "{sso}");
        assert_eq!(s.idp_event(Idp::Okta, &sso).unwrap().is_none(), gone, "{sso}");
    }
    assert_eq!(s.retention_state().unwrap().and_then(|r| r.verdicts_before_ms), Some(seal));
    // 3. Once jira has sent it, c1 goes too; then nothing is left to do.
    s.set_notify_cursor("jira", s.outbox_head().unwrap()).unwrap();
    let r = s.prune(&PrunePlan { dry_run: false, ..plan.clone() }).unwrap();
    assert_eq!((r.verdicts, r.verdicts_unsent, r.aws_events, r.idp_events), (1, 0, 1, 1), "{r:?}");
    let again = s.prune(&PrunePlan { dry_run: false, ..plan }).unwrap();
    assert_eq!((again.verdicts, again.aws_events, again.idp_events, again.raw_records), (0, 0, 0, 0), "{again:?}");
    let ok: String = s.conn().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

/// A store of schema 22 (which records some verdict cites, not which verdict) is migrated: each
/// citation of a verdict or of an earlier version is noted with the verdict citing it.
#[test]
fn a_store_of_schema_22_notes_which_verdict_cites_each_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v22.db");
    Store::create_at_version(&path, 22).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let record = |ids: &[&str]| {
            let ev: Vec<String> =
                ids.iter().map(|i| format!(r#"{{"source":"okta","id":"{i}","role":"idp_sso"}}"#)).collect();
            format!(r#"{{"console_login_event_id":"x","evidence":[{}]}}"#, ev.join(","))
        };
        c.execute(
            "INSERT INTO verdicts (console_login_event_id, time_ms, verdict, severity, score, version, record,
                content_sha256, updated_ms) VALUES ('a', 1, 'enforced', 'info', 0, 2, ?1, '', 0),
                ('b', 2, 'enforced', 'info', 0, 1, ?2, '', 0)",
            [record(&["s1", "s2"]), record(&["s2"])],
        )
        .unwrap();
        c.execute(
            "INSERT INTO verdict_history (console_login_event_id, version, record, superseded_ms) VALUES ('a', 1, ?1, 0)",
            [record(&["s0"])],
        )
        .unwrap();
        c.execute_batch(
            "INSERT INTO verdict_evidence (source, event_id) VALUES ('okta', 's0'), ('okta', 's1'), ('okta', 's2')",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let rows: Vec<(String, String, String)> = s
        .conn()
        .prepare("SELECT source, event_id, console_login_event_id FROM verdict_cites ORDER BY 1, 2, 3")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let want = [("okta", "s0", "a"), ("okta", "s1", "a"), ("okta", "s2", "a"), ("okta", "s2", "b")];
    assert_eq!(rows, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
    let gone: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'verdict_evidence'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(gone, 0);
}

/// Migration 24 moves the SSOs stored as rows into frames. A store of schema 23 (made here from a
/// new one, its SSOs turned back into rows) reads back the same: every event by its id, the same
/// snapshot (SSOs of one millisecond included), every raw record byte for byte; each record with
/// SSOs names its frame, and a frame holds one application's SSOs but where a record named several.
#[test]
fn a_store_of_schema_23_keeps_its_ssos_in_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    let day = 86_400_000;
    let t = 10 * day;
    let mut events: Vec<(Source, String, Vec<IdpEvent>)> = Vec::new();
    for i in 0..2_500 {
        let app = ["AWS Account Federation", "Slack", "Zoom", "Amazon Web Services"][i % 4];
        let id = format!("sso-{i:04}");
        // Some SSOs share a millisecond: read in the order their records were stored.
        let mut e = sso(&id, t + (i as i64 / 3) * 1_000, None, Some(app), &format!("u{}@x.com", i % 50));
        e.user_agent = Some(format!("UA {}", i % 9));
        e.country = (i % 5 == 0).then(|| "NL".to_string());
        events.push((Source::Okta, id, vec![e]));
    }
    // A Google activity with three events: two SSOs to two applications and a sign-in.
    let g = |n: usize, kind: IdpEventKind, app: Option<&str>| IdpEvent {
        provider: Idp::Google,
        event_id: format!("saml/x#{n}"),
        kind,
        app_name: app.map(str::to_string),
        time_ms: t + 5_000,
        ..idp("g")
    };
    events.push((
        Source::Google,
        "saml/x".into(),
        vec![
            g(0, IdpEventKind::AppSso, Some("Amazon Web Services")),
            g(1, IdpEventKind::Login, None),
            g(2, IdpEventKind::AppSso, Some("Slack")),
        ],
    ));
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        for (source, id, evs) in &events {
            b.insert_idp(*source, id, at(), &raw::compress(id.as_bytes()), evs).unwrap();
        }
        b.commit().unwrap();
    }
    let query = day_query(t, okta_apps(&[], &[]));
    let (ids_new, snap_new) = {
        let s = Store::open(&path).unwrap();
        (idp_event_ids(&s), s.snapshot(&query).unwrap())
    };
    assert_eq!(ids_new.len(), 2_503);
    assert_eq!(snap_new.idp.iter().filter(|e| e.kind == IdpEventKind::AppSso).count(), 1_251);
    {
        let s = Store::open(&path).unwrap();
        undo_migration_24(s.conn());
        s.conn().execute_batch("PRAGMA user_version = 23").unwrap();
        let rows: i64 = s.conn().query_row("SELECT count(*) FROM idp_events", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 2_503, "schema 23 keeps every event as a row");
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(idp_event_ids(&s), ids_new);
    let snap = s.snapshot(&query).unwrap();
    assert_eq!(snap.idp, snap_new.idp, "the same SSOs in the same order");
    assert_eq!(snap.prior_ssos, snap_new.prior_ssos);
    let rows: i64 = s.conn().query_row("SELECT count(*) FROM idp_events", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1, "only the Google sign-in is a row");
    for (source, id, evs) in &events {
        assert_eq!(s.raw_record(*source, id).unwrap().as_deref(), Some(id.as_bytes()));
        for e in evs {
            assert_eq!(s.idp_event(e.provider, &e.event_id).unwrap().as_ref(), Some(e), "{}", e.event_id);
        }
    }
    let unnamed: i64 = s
        .conn()
        .query_row(
            &format!(
                "SELECT count(*) FROM raw_records AS r WHERE source <> 'cloudtrail' AND sso_block IS NULL AND {} <> ''",
                crate::blocks::NATIVE_ID_SQL
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unnamed, 0, "every record here has an SSO and names its frame");
    // Frames by application: four of 625 SSOs each (the Google record's frame holds its two).
    assert_eq!(
        table(&s, "SELECT provider || ' ' || CAST(events AS TEXT) FROM sso_blocks"),
        ["google 2", "okta 625", "okta 625", "okta 625", "okta 625"]
    );
    let apps: i64 = s
        .conn()
        .query_row("SELECT count(DISTINCT app_ref) FROM sso_block_apps WHERE block_id = (SELECT id FROM sso_blocks WHERE provider = 'google')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(apps, 2, "the Google frame is sought by both its applications");
    assert_seek_rows_match_frames(&s);
}

/// A pruned record's earlier versions go with it; a kept record keeps its own, whether its SSO
/// is in a frame or its event a row.
#[test]
fn prune_removes_the_earlier_versions_of_the_records_it_removes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    let put = |s: &mut Store, id: &str, t: Millis, kind: IdpEventKind, version: u8| {
        let bytes = format!(r#"{{"id":"{id}","v":{version}}}"#).into_bytes();
        let e = IdpEvent {
            provider: Idp::Entra,
            event_id: id.into(),
            time_ms: t,
            kind,
            app_id: Some("0oa-slack".into()),
            factors: vec![format!("v{version}")],
            session_id: Some(format!("s-{id}")),
            ..idp(id)
        };
        let mut b = s.batch().unwrap();
        let r = b
            .insert_idp_record(Source::Entra, id, at(), &raw::compress(&bytes), Some(content_hash(&bytes)), &[e])
            .unwrap();
        b.commit().unwrap();
        r
    };
    for (id, t, kind) in [
        ("old-sso", t0, IdpEventKind::AppSso),
        ("old-row", t0 + 1, IdpEventKind::FactorVerified),
        ("new-sso", t0 + 11 * DAY, IdpEventKind::AppSso),
        ("new-row", t0 + 11 * DAY + 1, IdpEventKind::FactorVerified),
    ] {
        assert_eq!(put(&mut s, id, t, kind, 1), Stored::New);
        assert_eq!(put(&mut s, id, t, kind, 2), Stored::Updated);
    }
    assert_eq!(s.raw_history_counts().unwrap(), vec![("entra".to_string(), 4)]);
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(t0 + 12 * DAY, 2 * DAY) }).unwrap();
    assert_eq!((r.idp_events, r.raw_records, r.raw_history), (2, 2, 2), "{r:?}");
    assert_eq!(s.raw_history_counts().unwrap(), vec![("entra".to_string(), 2)]);
    for id in ["new-sso", "new-row"] {
        let h = s.raw_history(Source::Entra, id).unwrap();
        assert_eq!(h.len(), 1, "{id}");
        assert_eq!(h[0].raw, format!(r#"{{"id":"{id}","v":1}}"#).into_bytes());
    }
    assert_eq!(idp_event_ids(&s), ["new-row", "new-sso"]);
}

/// A record with a row (a Google sign-in) and an SSO in a frame keeps its raw record while
/// either is kept: the SSO a verdict cites holds it after the sign-in's row is pruned, and the
/// cited sign-in holds it after the SSO left its frame.
#[test]
fn a_record_stays_while_its_row_or_its_sso_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("tp.db")).unwrap();
    const DAY: i64 = trailproof_model::DAY_MS;
    let t0 = 1_793_527_200_000;
    let event = |native: &str, n: usize, kind: IdpEventKind| IdpEvent {
        provider: Idp::Google,
        event_id: format!("{native}#{n}"),
        kind,
        app_name: (kind == IdpEventKind::AppSso).then(|| "Amazon Web Services".to_string()),
        session_id: None,
        time_ms: t0,
        ..idp(native)
    };
    let mut b = s.batch().unwrap();
    for native in ["saml/a", "saml/b"] {
        let evs = [event(native, 0, IdpEventKind::Login), event(native, 1, IdpEventKind::AppSso)];
        b.insert_idp(Source::Google, native, at(), &raw::compress(native.as_bytes()), &evs).unwrap();
    }
    let mut v = crate::verdicts::tests::rec("ct-0", trailproof_model::verdict::Verdict::Enforced);
    v.evidence = [(Source::Google, "saml/a#1", "idp_sso"), (Source::Google, "saml/b#0", "idp_login")]
        .map(|(source, id, role)| trailproof_model::verdict::Evidence { source, id: id.into(), role: role.into() })
        .to_vec();
    b.put_verdicts(&[v]).unwrap();
    b.commit().unwrap();
    let r = s.prune(&PrunePlan { dry_run: false, ..prune_plan(t0 + 12 * DAY, 2 * DAY) }).unwrap();
    assert_eq!((r.idp_events, r.raw_records, r.kept_evidence), (2, 0, 2), "{r:?}");
    assert_eq!(idp_event_ids(&s), ["saml/a#1", "saml/b#0"]);
    assert_seek_rows_match_frames(&s);
    for native in ["saml/a", "saml/b"] {
        assert_eq!(s.raw_record(Source::Google, native).unwrap().as_deref(), Some(native.as_bytes()));
    }
    let sso = s.idp_event(Idp::Google, "saml/a#1").unwrap().expect("the cited SSO reads back");
    assert_eq!(sso.kind, IdpEventKind::AppSso);
    assert!(s.idp_event(Idp::Google, "saml/a#0").unwrap().is_none());
    assert!(s.idp_event(Idp::Google, "saml/b#0").unwrap().is_some());
    assert!(s.idp_event(Idp::Google, "saml/b#1").unwrap().is_none());
}

/// Migration 26 on a store of schema 25: every record's key becomes the 47-bit key (6 bytes in
/// SQLite), every record is found by its id again, and records stored after it are told from
/// those stored before (duplicates stay duplicates).
#[test]
fn migration_26_keeps_every_record_found_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tp.db");
    let ids: Vec<String> = (0..500).map(|i| format!("00u-{i:04}-{}", i * 7919 % 1000)).collect();
    {
        let mut s = Store::open(&path).unwrap();
        let mut b = s.batch().unwrap();
        for id in &ids {
            b.insert_idp(Source::Okta, id, at(), &raw::compress(id.as_bytes()), &[idp(id)]).unwrap();
        }
        b.commit().unwrap();
        // Back to schema 25: each key as migration 20 computed it.
        let tx = s.conn();
        for id in &ids {
            tx.execute(
                "UPDATE raw_records SET native_key = trailproof_native_key_64('okta', ?1)
                 WHERE native_key = trailproof_native_key('okta', ?1)",
                [id],
            )
            .unwrap();
        }
        // Schema 25 had an index of records by block (migration 27 reads it, then drops it).
        undo_migration_28(tx);
        tx.execute_batch("CREATE INDEX raw_records_block ON raw_records (block_id); PRAGMA user_version = 25").unwrap();
    }
    let wide: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM raw_records WHERE abs(native_key) >= 1 << 46", [], |r| r.get(0))
        .unwrap();
    assert!(wide > 400, "schema 25's keys use 64 bits ({wide} of 500 past 47)");
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let (wide, n): (i64, i64) = s
        .conn()
        .query_row("SELECT count(*) FILTER (WHERE native_key >= 1 << 46 OR native_key < -(1 << 46)), count(*) FROM raw_records", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((wide, n), (0, 500), "every key fits in 47 bits with its sign");
    for id in &ids {
        assert_eq!(s.raw_record(Source::Okta, id).unwrap().as_deref(), Some(id.as_bytes()), "{id}");
        let key: i64 = s.conn().query_row("SELECT trailproof_native_key('okta', ?1)", [id], |r| r.get(0)).unwrap();
        assert_eq!(key, crate::native_key("okta", id));
    }
    let mut b = s.batch().unwrap();
    assert!(matches!(
        b.insert_idp(Source::Okta, &ids[3], at(), &raw::compress(ids[3].as_bytes()), &[idp(&ids[3])]).unwrap(),
        Stored::Duplicate
    ));
    assert!(matches!(
        b.insert_idp(Source::Okta, "00u-new", at(), &raw::compress(b"new"), &[idp("00u-new")]).unwrap(),
        Stored::New
    ));
    b.commit().unwrap();
}
