//! The "new" signals across slices: `judge` works a slice of sessions at a time, and what came
//! before a slice reaches the engine only as the store's per-principal / per-user aggregates.
//! A wrong aggregation key would make every session look new (or none); this pins both ways,
//! with each session in a slice of its own and with both in one slice.

use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::Signal;
use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, UserKeys};
use trailproof_store::{Origin, Store, raw};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_793_527_200_000; // 2026-11-01T10:00:00Z
const USER: &str = "alice@example.com";

fn sso(id: &str, t: i64, asn: u32, country: &str) -> IdpEvent {
    IdpEvent {
        provider: Idp::Okta,
        tenant: None,
        event_id: id.into(),
        time_ms: t,
        kind: IdpEventKind::AppSso,
        native_type: "user.authentication.sso".into(),
        outcome: Outcome::Success,
        outcome_reason: None,
        user: UserKeys { login: Some(USER.into()), ..Default::default() },
        app_id: None,
        app_name: Some("AWS Account Federation".into()),
        session_id: None,
        source_ip: None,
        user_agent: None,
        asn: Some(asn),
        as_org: None,
        country: Some(country.into()),
        mfa: MfaClaim::Silent,
        factors: vec![],
        auth_requirement: None,
    }
}

fn login(id: &str, t: i64, ip: &str, ua: &str, role: &str) -> AwsEvent {
    AwsEvent {
        event_id: id.into(),
        time_ms: t,
        kind: Some(AwsEventKind::ConsoleLogin),
        account_id: Some("111122223333".into()),
        outcome: Outcome::Success,
        principal_type: Some("AssumedRole".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/{role}/{USER}")),
        role_name: Some(role.into()),
        session_name: Some(USER.into()),
        saml_provider_arn: Some("arn:aws:iam::111122223333:saml-provider/Okta".into()),
        source_ip: Some(ip.into()),
        user_agent: Some(ua.into()),
        ..Default::default()
    }
}

fn signals(day2: (&str, &str, &str, u32, &str), slice_sessions: u64) -> Vec<Signal> {
    let mut store = Store::open_in_memory().unwrap();
    let at = Origin { origin: "test", location: "-" };
    let blob = raw::compress(b"{}");
    let mut b = store.batch().unwrap();
    // Day 1: the baseline.
    b.insert_idp(Source::Okta, "s1", at, &blob, &[sso("s1", T0 - 3_000, 3741, "IE")]).unwrap();
    b.insert_aws("c1", at, &blob, &[login("c1", T0, "198.51.100.7", "Firefox", "OktaAdmin")]).unwrap();
    // Day 2: the session judged against it.
    let (ip, ua, role, asn, country) = day2;
    b.insert_idp(Source::Okta, "s2", at, &blob, &[sso("s2", T0 + DAY - 3_000, asn, country)]).unwrap();
    b.insert_aws("c2", at, &blob, &[login("c2", T0 + DAY, ip, ua, role)]).unwrap();
    b.commit().unwrap();
    let cfg = Compiled::new(&Config::default()).unwrap();
    let opts = trailproof_pipeline::JudgeOptions { slice_sessions };
    let s = trailproof_pipeline::judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
    assert_eq!(s.slices, 3 - slice_sessions, "{s:?}");
    let v = store.verdicts_for("c2").unwrap().remove(0);
    let first = store.verdicts_for("c1").unwrap().remove(0);
    assert!(
        !first.risk.signals.iter().any(|s| matches!(
            s,
            Signal::NewIp | Signal::NewUserAgent | Signal::NewRole | Signal::NewAsn | Signal::NewCountry
        )),
        "a first session has no baseline: {:?}",
        first.risk.signals
    );
    v.risk.signals
}

#[test]
fn a_session_like_the_previous_days_is_not_new() {
    for slice_sessions in [1, 2] {
        let s = signals(("198.51.100.7", "Firefox", "OktaAdmin", 3741, "IE"), slice_sessions);
        for sig in [Signal::NewIp, Signal::NewUserAgent, Signal::NewRole, Signal::NewAsn, Signal::NewCountry] {
            assert!(!s.contains(&sig), "{sig:?} in {s:?} (slices of {slice_sessions})");
        }
    }
}

#[test]
fn a_session_unlike_the_previous_days_is_new_in_every_respect() {
    for slice_sessions in [1, 2] {
        let s = signals(("203.0.113.9", "curl/8.4.0", "OktaReadOnly", 64500, "BR"), slice_sessions);
        for sig in [Signal::NewIp, Signal::NewUserAgent, Signal::NewRole, Signal::NewAsn, Signal::NewCountry] {
            assert!(s.contains(&sig), "{sig:?} missing from {s:?} (slices of {slice_sessions})");
        }
    }
}
