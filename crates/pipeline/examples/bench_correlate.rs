//! Correlation benchmark: fills a store with USERS × DAYS console sessions (one per user per day,
//! SAML via Okta) and IdP records (a session start, a factor for 80 % of sessions, the AWS SSO, and
//! NOISE SSOs to other applications per session), then times `pipeline::judge` over all of it and
//! reports sessions/s and the peak resident memory (VmHWM) of the whole process.
//!
//! cargo run --release -p trailproof-pipeline --example bench_correlate -- --users 50000 --days 20 --noise 17
//! (1,000,000 sessions against 20,000,000 IdP records.) --db PATH keeps the store between runs.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::Instant;
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, UserKeys};
use trailproof_store::{Origin, Store, raw};

const T0: i64 = 1_793_491_200_000; // 2026-11-01
const MIN: i64 = 60_000;

fn idp(id: String, t: i64, kind: IdpEventKind, user: &str, sid: &str, app: &str) -> IdpEvent {
    IdpEvent {
        provider: Idp::Okta,
        tenant: None,
        event_id: id,
        time_ms: t,
        kind,
        native_type: "x".into(),
        outcome: Outcome::Success,
        outcome_reason: None,
        user: UserKeys { login: Some(user.to_string()), ..Default::default() },
        app_id: None,
        app_name: (!app.is_empty()).then(|| app.to_string()),
        session_id: Some(sid.to_string()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: None,
        asn: Some(3741),
        as_org: None,
        country: Some("IE".into()),
        mfa: if kind == IdpEventKind::FactorVerified { MfaClaim::Verified } else { MfaClaim::Silent },
        factors: if kind == IdpEventKind::FactorVerified { vec!["OKTA_VERIFY_PUSH".into()] } else { vec![] },
        auth_requirement: None,
    }
}

mod common;
use common::vm_hwm_kb;

fn main() -> anyhow::Result<()> {
    // As the binary does (trailproof_pipeline::memory).
    trailproof_pipeline::memory::release_freed_memory_promptly();
    let (mut users, mut days, mut noise) = (5_000u64, 2u64, 17u64);
    let mut db: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().and_then(|v| v.parse::<u64>().ok());
        match a.as_str() {
            "--users" => users = v().unwrap_or(users),
            "--days" => days = v().unwrap_or(days),
            "--noise" => noise = v().unwrap_or(noise),
            "--db" => db = args.next().map(PathBuf::from),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let tmp = tempfile::tempdir()?;
    let path = db.unwrap_or_else(|| tmp.path().join("bench.db"));
    let fresh = !path.exists();
    let mut store = Store::open(&path)?;
    let raw_blob = raw::compress(b"{}");
    let at = Origin { origin: "bench", location: "-" };
    if fresh {
        let t = Instant::now();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut idp_rows = 0u64;
        for d in 0..days {
            let mut batch = store.batch()?;
            for u in 0..users {
                let user = format!("user{u}@example.com");
                let login_t = T0 + d as i64 * 86_400_000 + rng.random_range(8 * 60..20 * 60) * MIN;
                let sid = format!("s{d}-{u}");
                let start = idp(format!("st{d}-{u}"), login_t - 30 * MIN, IdpEventKind::SessionStart, &user, &sid, "");
                batch.insert_idp(Source::Okta, &start.event_id.clone(), at, &raw_blob, &[start])?;
                idp_rows += 1;
                if rng.random_range(0..10) < 8 {
                    let f = idp(format!("f{d}-{u}"), login_t - 29 * MIN, IdpEventKind::FactorVerified, &user, &sid, "");
                    batch.insert_idp(Source::Okta, &f.event_id.clone(), at, &raw_blob, &[f])?;
                    idp_rows += 1;
                }
                let sso = idp(
                    format!("sso{d}-{u}"),
                    login_t - 3_000,
                    IdpEventKind::AppSso,
                    &user,
                    &sid,
                    "AWS Account Federation",
                );
                batch.insert_idp(Source::Okta, &sso.event_id.clone(), at, &raw_blob, &[sso])?;
                idp_rows += 1;
                for n in 0..noise {
                    let e = idp(
                        format!("n{d}-{u}-{n}"),
                        login_t - rng.random_range(0..600) * MIN,
                        IdpEventKind::AppSso,
                        &user,
                        &sid,
                        ["Slack", "Salesforce", "Workday", "Zoom"][n as usize % 4],
                    );
                    batch.insert_idp(Source::Okta, &e.event_id.clone(), at, &raw_blob, &[e])?;
                    idp_rows += 1;
                }
                let c = AwsEvent {
                    event_id: format!("c{d}-{u}"),
                    time_ms: login_t,
                    kind: Some(AwsEventKind::ConsoleLogin),
                    account_id: Some("111122223333".into()),
                    outcome: Outcome::Success,
                    principal_type: Some("AssumedRole".into()),
                    arn: Some(format!("arn:aws:sts::111122223333:assumed-role/OktaAdmin/{user}")),
                    role_name: Some("OktaAdmin".into()),
                    session_name: Some(user.clone()),
                    saml_provider_arn: Some("arn:aws:iam::111122223333:saml-provider/Okta".into()),
                    source_ip: Some("198.51.100.7".into()),
                    user_agent: Some("Mozilla/5.0".into()),
                    mfa_used: Some(false),
                    ..Default::default()
                };
                batch.insert_aws(&c.event_id.clone(), at, &raw_blob, &[c])?;
            }
            batch.add_coverage(Source::Okta, "*", T0 - 86_400_000, T0 + (days as i64 + 1) * 86_400_000)?;
            batch.commit()?;
            eprintln!("filled day {}/{days} ({idp_rows} IdP rows, {:.0}s)", d + 1, t.elapsed().as_secs_f64());
        }
        eprintln!("store filled: {} sessions, {idp_rows} IdP rows in {:.1}s", users * days, t.elapsed().as_secs_f64());
    }
    let hwm_before = vm_hwm_kb();
    let cfg = Compiled::new(&Config::default())?;
    let t = Instant::now();
    let s = trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, n| {
        eprintln!("  judged {n} sessions ({:.1}s)", t.elapsed().as_secs_f64());
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!("sessions judged      {}", s.sessions);
    println!("verdicts             {:?}", s.by_verdict);
    println!(
        "judge time           {secs:.2}s  ({:.0} sessions/s, snapshot queries + engine + verdict writes)",
        s.sessions as f64 / secs
    );
    println!(
        "time split           snapshot queries {:.2}s, engine {:.2}s, verdict writes {:.2}s",
        s.timings.snapshot.as_secs_f64(),
        s.timings.engine.as_secs_f64(),
        s.timings.write.as_secs_f64()
    );
    println!("peak RSS (VmHWM)     {} MB (after filling: {} MB)", vm_hwm_kb() / 1024, hwm_before / 1024);
    Ok(())
}
