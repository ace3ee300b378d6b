//! Records for the pipeline's hand-built stores: one Okta user signing in to AWS over SAML.
// Each test crate uses a part of it.
#![allow(dead_code)]

use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, UserKeys};
use trailproof_store::{Origin, Store, raw};

pub const MIN: i64 = 60_000;
pub const DAY: i64 = trailproof_model::DAY_MS;
pub const USER: &str = "alice@example.com";

/// Alice's SSO to `AWS Account Federation` at `t`, in Okta session `sess-<id>`, from
/// 198.51.100.7 (AS3741, IE).
pub fn sso(id: &str, t: i64) -> IdpEvent {
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
        session_id: Some(format!("sess-{id}")),
        source_ip: Some("198.51.100.7".into()),
        user_agent: None,
        asn: Some(3741),
        as_org: None,
        country: Some("IE".into()),
        mfa: MfaClaim::Verified,
        factors: vec!["push".into()],
        auth_requirement: None,
    }
}

/// An Okta sign-in: a push factor verified in the session of `sso`, 30 s before it, then `sso`.
pub fn sign_in(sso: IdpEvent) -> [IdpEvent; 2] {
    let factor = IdpEvent {
        event_id: format!("{}-factor", sso.event_id),
        time_ms: sso.time_ms - 30_000,
        kind: IdpEventKind::FactorVerified,
        native_type: "user.authentication.auth_via_mfa".into(),
        app_name: None,
        ..sso.clone()
    };
    [factor, sso]
}

/// Alice's SAML console sign-in at `t` as role `OktaAdmin`, from 198.51.100.7 with Firefox.
pub fn saml_login(id: &str, t: i64) -> AwsEvent {
    AwsEvent {
        event_id: id.into(),
        time_ms: t,
        kind: Some(AwsEventKind::ConsoleLogin),
        account_id: Some("111122223333".into()),
        outcome: Outcome::Success,
        principal_type: Some("AssumedRole".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/OktaAdmin/{USER}")),
        role_name: Some("OktaAdmin".into()),
        session_name: Some(USER.into()),
        saml_provider_arn: Some("arn:aws:iam::111122223333:saml-provider/Okta".into()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("Firefox".into()),
        ..Default::default()
    }
}

/// A store in memory holding the events, each as its own raw record, with `coverage` recorded
/// for Okta when given.
pub fn store_with(idp: &[IdpEvent], aws: &[AwsEvent], coverage: Option<(i64, i64)>) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let at = Origin { origin: "test", location: "-" };
    let blob = raw::compress(b"{}");
    let mut b = store.batch().unwrap();
    for e in idp {
        b.insert_idp(Source::Okta, &e.event_id, at, &blob, std::slice::from_ref(e)).unwrap();
    }
    for e in aws {
        b.insert_aws(&e.event_id, at, &blob, std::slice::from_ref(e)).unwrap();
    }
    if let Some((start, end)) = coverage {
        b.add_coverage(Source::Okta, "org", start, end).unwrap();
    }
    b.commit().unwrap();
    store
}
