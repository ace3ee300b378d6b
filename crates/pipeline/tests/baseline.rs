//! The "new" signals across slices: `judge` works a slice of sessions at a time, and what came
//! before a slice reaches the engine only as the store's per-principal / per-user aggregates.
//! A wrong aggregation key would make every session look new (or none); this pins both ways,
//! with each session in a slice of its own and with both in one slice.

mod common;

use common::{DAY, saml_login, sso, store_with};
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::Signal;
use trailproof_model::{AwsEvent, IdpEvent};

const T0: i64 = 1_793_527_200_000; // 2026-11-01T10:00:00Z

/// The SSO with its network, the SSO's IdP session cut off (the signals need no factors).
fn sso_from(id: &str, t: i64, asn: u32, country: &str) -> IdpEvent {
    IdpEvent { asn: Some(asn), country: Some(country.into()), session_id: None, ..sso(id, t) }
}

fn login(id: &str, t: i64, ip: &str, ua: &str, role: &str) -> AwsEvent {
    AwsEvent {
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/{role}/{}", common::USER)),
        role_name: Some(role.into()),
        source_ip: Some(ip.into()),
        user_agent: Some(ua.into()),
        ..saml_login(id, t)
    }
}

fn signals(day2: (&str, &str, &str, u32, &str), slice_sessions: u64) -> Vec<Signal> {
    let (ip, ua, role, asn, country) = day2;
    let mut store = store_with(
        // Day 1, the baseline; day 2, the session judged against it.
        &[sso_from("s1", T0 - 3_000, 3741, "IE"), sso_from("s2", T0 + DAY - 3_000, asn, country)],
        &[login("c1", T0, "198.51.100.7", "Firefox", "OktaAdmin"), login("c2", T0 + DAY, ip, ua, role)],
        None,
    );
    let cfg = Compiled::new(&Config::default()).unwrap();
    let opts = trailproof_pipeline::JudgeOptions { slice_sessions, ..Default::default() };
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
