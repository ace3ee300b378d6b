//! Retention (issue 18) on a simulated organisation run day by day, as a scheduled `run` does:
//! each day's logs imported, the last two days judged again, and (in one of the two stores)
//! pruned to a three-day window. Every verdict of the pruned store must equal the never-pruned
//! store's, signals and versions included, although the baselines of the "new IP / user agent /
//! role / ASN / country" signals reach back 30 days, far past what the pruned store keeps as
//! events; and every record a verdict cites stays readable. A third store also removes the
//! verdicts of sessions older than five days: those it keeps equal the never-pruned store's, and
//! nothing of the removed ones (queue rows, citations, records only they cited) is left behind.
//! A hand-built case then pins the aggregates themselves: without them, a "new ASN" that the
//! pruned SSOs rule out would fire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use trailproof_correlate::Compiled;
use trailproof_ingest::{ImportOptions, Input, collect_inputs, import};
use trailproof_model::verdict::VerdictRecord;
use trailproof_model::{DAY_MS, Idp, IdpEventKind, Millis, Source, format_ms};
use trailproof_simulate::{SimOptions, simulate};
use trailproof_store::Store;

mod common;

use trailproof_simulate::SOURCE_DIRS as SOURCES;

/// `YYYYMMDD` of a simulated file: in its name (IdP pages, `syslog-20261101-0001.json`) or its S3
/// key (`.../YYYY/MM/DD/`).
fn day_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_string();
    if let Some(d) = name.split('-').find(|p| p.len() == 8 && p.bytes().all(|c| c.is_ascii_digit())) {
        return Some(d.to_string());
    }
    let parts: Vec<String> = path.iter().map(|p| p.to_string_lossy().to_string()).collect();
    let n = parts.len();
    (n >= 4).then(|| format!("{}{}{}", parts[n - 4], parts[n - 3], parts[n - 2]))
}

/// Imports the files of `day` (`[day0, day0 + 1 day)`), with each `coverage.json` cut to it.
fn import_day(store: &mut Store, sim: &Path, day0: Millis) {
    let day = format_ms(day0)[..10].replace('-', "");
    for (source, sub) in SOURCES {
        let (inputs, manifests) = collect_inputs(&[sim.join(sub)]).unwrap();
        let inputs: Vec<Input> = inputs
            .into_iter()
            .filter(|i| match i {
                Input::File { path, .. } => day_of(path).as_deref() == Some(day.as_str()),
                _ => false,
            })
            .collect();
        let manifests: Vec<_> = manifests
            .into_iter()
            .filter_map(|mut m| {
                m.start_ms = m.start_ms.max(day0);
                m.end_ms = m.end_ms.min(day0 + DAY_MS - 1);
                (m.start_ms <= m.end_ms).then_some(m)
            })
            .collect();
        if inputs.is_empty() {
            continue;
        }
        let r = import(store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {}).unwrap();
        assert_eq!(r.counts.quarantined, 0, "{source} {day}: {r:?}");
    }
}

struct Run {
    store: Store,
    cfg: Compiled,
    day0: Millis,
    days: u32,
}

/// The organisation run day by day; `keep_days`: pruned after each day's judging (and the
/// verdicts of sessions older than `verdict_days` removed).
fn run_days(sim: &Path, db: PathBuf, opts: &SimOptions, keep_days: Option<u32>, verdict_days: Option<u32>) -> Run {
    let text = std::fs::read_to_string(sim.join("org.toml")).unwrap();
    let mut config: trailproof_model::config::Config = toml::from_str(&text).unwrap();
    // Google sign-ins are looked for two days back (14 by default, longer than this run), so
    // that they are pruned too.
    config.windows.google_lookback_days = 2;
    let cfg = Compiled::new(&config).unwrap();
    let mut store = Store::open(&db).unwrap();
    let day0 = opts.start_ms - opts.start_ms.rem_euclid(DAY_MS);
    // The simulated collector's history starts the day before.
    for d in -1..i64::from(opts.days) {
        let start = day0 + d * DAY_MS;
        import_day(&mut store, sim, start);
        let now = start + DAY_MS;
        trailproof_pipeline::judge(&mut store, &cfg, Some(now - 2 * DAY_MS), now, &mut |_, _| {}).unwrap();
        if let Some(k) = keep_days {
            let r = trailproof_pipeline::prune(&mut store, &cfg, k, verdict_days, now, false).unwrap();
            assert!(!r.dry_run);
        }
    }
    Run { store, cfg, day0, days: opts.days }
}

fn all_verdicts(store: &Store) -> BTreeMap<String, VerdictRecord> {
    store
        .verdicts(Millis::MIN, Millis::MAX)
        .unwrap()
        .into_iter()
        .map(|v| (v.console_login_event_id.clone(), v))
        .collect()
}

/// Every record a verdict of `verdicts` cites is still in `store`: its event, and its raw bytes
/// as the never-pruned store `full` holds them.
fn assert_cited_records_stay(store: &Store, full: &Store, verdicts: &BTreeMap<String, VerdictRecord>) {
    for v in verdicts.values() {
        for e in &v.evidence {
            let native = e.id.rsplit_once('#').map_or(e.id.as_str(), |(n, _)| n);
            let found = match Idp::parse(e.source.as_str()) {
                Some(p) => store.idp_event(p, &e.id).unwrap().is_some(),
                None => store.aws_event(&e.id).unwrap().is_some(),
            };
            assert!(found, "{} {} cited by {} is gone", e.source.as_str(), e.id, v.console_login_event_id);
            let raw = store.raw_record(e.source, native).unwrap();
            assert_eq!(raw, full.raw_record(e.source, native).unwrap(), "{}", e.id);
            assert!(raw.is_some());
        }
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn pruning_changes_no_verdict_and_keeps_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let opts =
        SimOptions { seed: 18, users: 80, days: 9, noise_ratio: 0.5, idp_noise_per_user_day: 5, ..Default::default() };
    let s = simulate(&opts, &sim, &mut |_| {}).unwrap();
    assert!(s.mismatches.is_empty(), "{:?}", s.mismatches);

    let full = run_days(&sim, dir.path().join("full.db"), &opts, None, None);
    let pruned = run_days(&sim, dir.path().join("pruned.db"), &opts, Some(3), None);
    let expiring = run_days(&sim, dir.path().join("expiring.db"), &opts, Some(3), Some(5));

    // The pruned store lost its old events but those cited, and kept aggregates instead.
    let events = |s: &Store| s.event_counts().unwrap().iter().map(|c| c.2 as i64).sum::<i64>();
    let (kept, all) = (events(&pruned.store), events(&full.store));
    assert!(kept < all, "pruned store holds {kept} events of {all}");
    let before = pruned.store.retention_state().unwrap().unwrap().pruned_before_ms;
    let old_uncited = |s: &Store| {
        let cited = |source: &str, id: &str| {
            s.conn()
                .query_row(
                    "SELECT count(*) FROM verdict_cites WHERE source = ?1 AND event_id = ?2",
                    [source, id],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                > 0
        };
        let ssos = s
            .idp_events_all()
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.time_ms < before && e.kind == IdpEventKind::AppSso && !cited(e.provider.as_str(), &e.event_id)
            })
            .count() as i64;
        ssos + count(
            s,
            &format!(
                "SELECT count(*) FROM aws_events AS e WHERE time_ms < {before}
                    AND NOT EXISTS (SELECT 1 FROM verdict_cites WHERE source = 'cloudtrail' AND event_id = e.event_id)"
            ),
        )
    };
    assert_eq!(old_uncited(&pruned.store), 0);
    assert!(old_uncited(&full.store) > 1000, "{}", old_uncited(&full.store));
    assert!(
        count(&pruned.store, "SELECT count(*) FROM raw_records")
            < count(&full.store, "SELECT count(*) FROM raw_records")
    );
    // (Every successful ConsoleLogin is its own verdict's evidence, so the console baselines
    // rest on stored logins; the SSO baselines on aggregates.)
    assert_eq!(count(&pruned.store, "SELECT count(*) FROM aws_baseline"), 0);
    assert!(count(&pruned.store, "SELECT count(*) FROM sso_baseline") > 0);
    assert!(
        count(&pruned.store, "SELECT count(*) FROM idp_events WHERE provider = 'google' AND kind = 'login'")
            < count(&full.store, "SELECT count(*) FROM idp_events WHERE provider = 'google' AND kind = 'login'")
    );

    // Every verdict (and version) is the same.
    let (a, b) = (all_verdicts(&full.store), all_verdicts(&pruned.store));
    assert!(a.len() > 200, "{} sessions", a.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let differ: Vec<&String> = a.keys().filter(|k| a[*k] != b[*k]).collect();
    assert!(differ.is_empty(), "{} verdicts differ, e.g. {:#?} vs {:#?}", differ.len(), a[differ[0]], b[differ[0]]);
    let new_signals = a.values().filter(|v| v.risk.signals.iter().any(|s| format!("{s:?}").starts_with("New"))).count();
    assert!(new_signals > 0, "no session has a new_* signal: the test proves little");

    assert_cited_records_stay(&pruned.store, &full.store, &b);

    // With verdicts kept five days: those of later sessions are the same as ever, the earlier
    // ones are gone with what only they cited, and every record a kept verdict cites stays.
    let cut = expiring.store.retention_state().unwrap().unwrap().verdicts_before_ms.unwrap();
    assert_eq!(cut, expiring.day0 + Millis::from(expiring.days - 5) * DAY_MS);
    let c = all_verdicts(&expiring.store);
    let later: BTreeMap<String, VerdictRecord> = a
        .iter()
        .filter(|(_, v)| trailproof_model::parse_time(&v.time).unwrap() >= cut)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(later.len() > 100 && later.len() + 100 < a.len(), "{} of {} verdicts after the cut", later.len(), a.len());
    assert_eq!(c, later, "the verdicts after the cut differ from the never-pruned store's");
    assert_eq!(old_uncited(&expiring.store), 0);
    for (table, fewer) in [
        ("aws_events", true),
        ("idp_events", true),
        ("sso_blocks", true),
        ("raw_records", true),
        ("verdict_history", false),
    ] {
        // SSOs are counted in their frames.
        let what = if table == "sso_blocks" { "sum(events)" } else { "count(*)" };
        let (e, p) = (
            count(&expiring.store, &format!("SELECT {what} FROM {table}")),
            count(&pruned.store, &format!("SELECT {what} FROM {table}")),
        );
        assert!(if fewer { e < p } else { e <= p }, "{table}: {e} with verdicts removed, {p} without");
    }
    assert_cited_records_stay(&expiring.store, &full.store, &c);
    let no_verdict = count(
        &expiring.store,
        "SELECT count(*) FROM outbox WHERE console_login_event_id NOT IN (SELECT console_login_event_id FROM verdicts)",
    ) + count(
        &expiring.store,
        "SELECT count(*) FROM verdict_cites WHERE console_login_event_id NOT IN (SELECT console_login_event_id FROM verdicts)",
    );
    assert_eq!(no_verdict, 0, "queue rows or citations outlive their verdict");
    // Judging again brings none of the removed sessions back.
    let mut store = expiring.store;
    let now = expiring.day0 + Millis::from(expiring.days) * DAY_MS;
    let j = trailproof_pipeline::judge(&mut store, &expiring.cfg, None, now, &mut |_, _| {}).unwrap();
    assert_eq!((j.changes.new, j.changes.changed), (0, 0));
    assert_eq!(all_verdicts(&store), later);

    // Sessions before the seal are not judged again, even when asked for all.
    let seal = pruned.store.sealed_before().unwrap().unwrap();
    assert_eq!(seal, pruned.day0 + Millis::from(pruned.days - 3) * DAY_MS);
    let mut store = pruned.store;
    let now = pruned.day0 + Millis::from(pruned.days) * DAY_MS;
    let j = trailproof_pipeline::judge(&mut store, &pruned.cfg, None, now, &mut |_, _| {}).unwrap();
    assert_eq!(j.sealed_before, Some(seal));
    assert_eq!((j.changes.new, j.changes.changed), (0, 0));
    assert_eq!(j.range.map(|r| r.0 >= seal), Some(true));
}

/// An SSO from AS3741 / IE on day 0 that no verdict cites; sessions on day 9 (from AS64500 / BR)
/// and day 12 (from AS3741 / IE again). Judged on day 12, the day-0 SSO is in the 30-day baseline:
/// not a new ASN or country. In the store pruned on day 11 with one day kept, the day-0 SSO is
/// gone, and its aggregate gives the same answer; without the aggregate, both signals fire.
#[test]
fn the_sso_baseline_outlives_the_pruned_ssos() {
    use common::{DAY, saml_login, sso};
    use trailproof_model::IdpEvent;
    use trailproof_model::verdict::Signal;
    const T0: i64 = 1_793_527_200_000; // 2026-11-01T10:00:00Z
    let from = |id: &str, t: i64, asn: u32, country: &str| IdpEvent {
        asn: Some(asn),
        country: Some(country.into()),
        session_id: None,
        ..sso(id, t)
    };
    let day0 = [from("s0", T0, 3741, "IE")];
    let day9 = ([from("s1", T0 + 9 * DAY - 3_000, 64500, "BR")], [saml_login("c1", T0 + 9 * DAY)]);
    let day12 = ([from("s2", T0 + 12 * DAY - 3_000, 3741, "IE")], [saml_login("c2", T0 + 12 * DAY)]);
    let cfg = Compiled::new(&trailproof_model::config::Config::default()).unwrap();
    let add = |store: &mut Store, idp: &[IdpEvent], aws: &[trailproof_model::AwsEvent]| {
        let at = trailproof_store::Origin { origin: "test", location: "-" };
        let blob = trailproof_store::raw::compress(b"{}");
        let mut b = store.batch().unwrap();
        for e in idp {
            b.insert_idp(Source::Okta, &e.event_id, at, &blob, std::slice::from_ref(e)).unwrap();
        }
        for e in aws {
            b.insert_aws(&e.event_id, at, &blob, std::slice::from_ref(e)).unwrap();
        }
        b.commit().unwrap();
    };
    let judge = |store: &mut Store, since: i64, now: i64| {
        trailproof_pipeline::judge(store, &cfg, Some(since), now, &mut |_, _| {}).unwrap();
    };
    let new_signals = |store: &Store| -> Vec<Signal> {
        let v = store.verdicts_for("c2").unwrap().remove(0);
        v.risk.signals.into_iter().filter(|s| matches!(s, Signal::NewAsn | Signal::NewCountry)).collect()
    };

    let mut full = Store::open_in_memory().unwrap();
    let mut pruned = Store::open_in_memory().unwrap();
    for store in [&mut full, &mut pruned] {
        add(store, &day0, &[]);
        add(store, &day9.0, &day9.1);
        judge(store, T0 + 8 * DAY, T0 + 9 * DAY + 3_600_000);
    }
    let r = trailproof_pipeline::prune(&mut pruned, &cfg, 1, None, T0 + 11 * DAY, false).unwrap();
    assert_eq!(r.idp_events, 1, "{r:?}");
    assert!(pruned.idp_event(trailproof_model::Idp::Okta, "s0").unwrap().is_none());
    for store in [&mut full, &mut pruned] {
        add(store, &day12.0, &day12.1);
        judge(store, T0 + 11 * DAY, T0 + 12 * DAY + 3_600_000);
    }
    assert_eq!(new_signals(&full), vec![]);
    assert_eq!(full.verdicts_for("c2").unwrap(), pruned.verdicts_for("c2").unwrap());

    pruned.conn().execute_batch("DELETE FROM sso_baseline").unwrap();
    pruned.conn().execute_batch("DELETE FROM verdicts WHERE console_login_event_id = 'c2'").unwrap();
    judge(&mut pruned, T0 + 11 * DAY, T0 + 12 * DAY + 3_600_000);
    assert_eq!(new_signals(&pruned), vec![Signal::NewAsn, Signal::NewCountry]);
}
