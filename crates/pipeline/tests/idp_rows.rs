//! The IdP events of a simulated day read back from the store exactly as the parsers gave them
//! (migration 17 keeps the strings of a row in `idp_strings` / `idp_app_refs`): in a new store,
//! and in a store whose events were stored in the layout before it and then migrated.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use trailproof_ingest::{Events, ImportOptions, RecordOutcome, collect_inputs, import, read_records};
use trailproof_model::{Idp, IdpEvent, Source};
use trailproof_simulate::{SimOptions, simulate};
use trailproof_store::{MIGRATIONS, Store};

/// The simulated IdP sources (all but CloudTrail).
fn idp_sources() -> impl Iterator<Item = (Source, &'static str)> {
    trailproof_simulate::SOURCE_DIRS.into_iter().filter(|(s, _)| *s != Source::Cloudtrail)
}

/// Every IdP event the parsers give for the simulated files, by (provider, event id): each
/// version a record has in the files (a record read again with other content replaces the
/// stored one).
fn parsed_events(sim: &Path) -> BTreeMap<(Idp, String), Vec<IdpEvent>> {
    let mut out: BTreeMap<(Idp, String), Vec<IdpEvent>> = BTreeMap::new();
    for (source, sub) in idp_sources() {
        let (inputs, _) = collect_inputs(&[sim.join(sub)]).unwrap();
        let opts = ImportOptions::new(source);
        for input in &inputs {
            let mut bytes = Vec::new();
            trailproof_ingest::input::open(input, Arc::new(AtomicU64::new(0)))
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            let read = read_records(&opts, &bytes);
            assert!(read.failure.is_none(), "{:?}", read.failure);
            for r in read.records {
                if let RecordOutcome::Kept { events: Events::Idp(events), .. } = r.outcome {
                    for e in events {
                        let v = out.entry((e.provider, e.event_id.clone())).or_default();
                        if !v.contains(&e) {
                            v.push(e);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Every event read back by id equals one the parsers gave for that id, and every id is stored.
fn assert_round_trip(store: &Store, parsed: &BTreeMap<(Idp, String), Vec<IdpEvent>>, what: &str) {
    let stored: u64 =
        store.event_counts().unwrap().iter().filter(|(source, _, _)| source != "cloudtrail").map(|c| c.2).sum();
    assert_eq!(stored as usize, parsed.len(), "{what}: one stored event per parsed id");
    for ((provider, id), versions) in parsed {
        let back = store.idp_event(*provider, id).unwrap();
        let back = back.unwrap_or_else(|| panic!("{what}: {provider:?} {id} not found"));
        assert!(versions.contains(&back), "{what}: {provider:?} {id} read back as {back:?}, parsed as {versions:?}");
    }
}

/// `idp_events` as the writer of schema 16 left it: one column per field.
const LAYOUT_16: &str = "
    CREATE TABLE idp_events_v16 (
        id INTEGER PRIMARY KEY, provider TEXT NOT NULL, tenant TEXT, event_id TEXT NOT NULL,
        time_ms INTEGER NOT NULL, kind TEXT NOT NULL, native_type TEXT NOT NULL, outcome TEXT NOT NULL,
        outcome_reason TEXT, user_login TEXT, user_login_fold TEXT, user_email TEXT, user_email_fold TEXT,
        user_id TEXT, display_name TEXT, app_username TEXT, app_id TEXT, app_name TEXT, session_id TEXT,
        source_ip TEXT, user_agent TEXT, asn INTEGER, as_org TEXT, country TEXT, mfa TEXT NOT NULL,
        factors TEXT NOT NULL, auth_requirement TEXT, raw_id INTEGER NOT NULL REFERENCES raw_records(id));
    INSERT INTO idp_events_v16 SELECT id, provider, tenant, event_id, time_ms, kind, native_type, outcome,
        outcome_reason, user_login, user_login_fold, user_email, NULL, user_id, display_name, app_username, app_id,
        app_name, session_id, source_ip, user_agent, asn, as_org, country, mfa, factors, auth_requirement, raw_id
        FROM idp_events_full ORDER BY id;
    DROP VIEW idp_events_full;
    DROP TABLE idp_events;
    DROP TABLE idp_strings;
    DROP TABLE idp_app_refs;
    ALTER TABLE idp_events_v16 RENAME TO idp_events;";

#[test]
fn a_simulated_days_idp_events_read_back_as_parsed_before_and_after_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let opts =
        SimOptions { seed: 7, users: 40, days: 1, noise_ratio: 0.9, idp_noise_per_user_day: 20, ..Default::default() };
    simulate(&opts, &sim, &mut |_| {}).unwrap();
    let parsed = parsed_events(&sim);
    assert!(parsed.len() > 1_000, "{}", parsed.len());
    let with = |f: &dyn Fn(&IdpEvent) -> bool| parsed.values().flatten().filter(|e| f(e)).count();
    // The corpus has what the strings tables must keep apart: no tenant / a tenant, events with
    // and without an application, session, e-mail, user agent, outcome reason.
    for (name, n) in [
        ("tenant", with(&|e| e.tenant.is_some())),
        ("no tenant", with(&|e| e.tenant.is_none())),
        ("app", with(&|e| e.app_id.is_some() || e.app_name.is_some())),
        ("no app", with(&|e| e.app_id.is_none() && e.app_name.is_none())),
        ("session", with(&|e| e.session_id.is_some())),
        ("user agent", with(&|e| e.user_agent.is_some())),
        ("outcome reason", with(&|e| e.outcome_reason.is_some())),
    ] {
        assert!(n > 0, "no event with {name}");
    }

    let db = dir.path().join("t.db");
    let mut store = Store::open(&db).unwrap();
    for (source, sub) in idp_sources() {
        let (inputs, manifests) = collect_inputs(&[sim.join(sub)]).unwrap();
        let r = import(&mut store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {}).unwrap();
        assert_eq!((r.counts.quarantined, r.failed_inputs.len()), (0, 0), "{source}: {r:?}");
    }
    assert_round_trip(&store, &parsed, "new store");

    // The same rows in the layout before migration 17 (the SSOs rows again, as before
    // migration 24), then migrated (17, then 20, which takes the event ids out of the rows; the
    // raw records are already as 20 leaves them and 20 rebuilds them the same).
    let at = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE idp_strings")).unwrap();
    let at20 = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE raw_records_v20")).unwrap();
    store.undo_raw_facts().unwrap();
    store.undo_sso_frames().unwrap();
    store.conn().execute_batch(LAYOUT_16).unwrap();
    store.conn().execute_batch(&format!("BEGIN; {} COMMIT;", MIGRATIONS[at])).unwrap();
    // Read back once the layout is the current one: the store reads an event's columns as the
    // latest migration leaves them (its id through its raw record, migration 20; SSOs in
    // frames, migration 24, which the next open applies).
    // As `Store::open` applies it: foreign keys off around the table it rebuilds.
    store
        .conn()
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; BEGIN; {} COMMIT; PRAGMA foreign_keys = ON;",
            MIGRATIONS[at20]
        ))
        .unwrap();
    store.conn().pragma_update(None, "user_version", 23).unwrap();
    drop(store);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_round_trip(&store, &parsed, "migrated store");
    drop(store);
    // Reopened, with every index in place, and written to again: the same records are duplicates.
    let mut store = Store::open(&db).unwrap();
    assert_round_trip(&store, &parsed, "reopened store");
    let (inputs, manifests) = collect_inputs(&[sim.join("okta")]).unwrap();
    let r = import(&mut store, &inputs, &manifests, &ImportOptions::new(Source::Okta), &mut |_| {}).unwrap();
    assert_eq!(r.counts.stored + r.counts.updated, 0, "{r:?}");
    assert_round_trip(&store, &parsed, "store imported into again");
}
