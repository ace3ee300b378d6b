//! `judge` works through the stored sessions a slice at a time. A session's verdict must not
//! depend on where the slices fall: not on the slice it is judged in, not on the neighbours a
//! slice loads around itself, not on how many sessions a slice holds.

use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::{Verdict, VerdictRecord};
use trailproof_model::{AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, UserKeys};
use trailproof_pipeline::{JudgeOptions, judge_with};
use trailproof_store::{Origin, Store, raw};

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// 2026-11-02T00:00:00Z: a day boundary.
const MIDNIGHT: i64 = 1_793_577_600_000;
const USER: &str = "alice@example.com";

/// An Okta sign-in: a push factor verified in session `sess-<id>`, then the SSO `id` at `t`.
fn sign_in(id: &str, t: i64, app: &str) -> [IdpEvent; 2] {
    let sso = sso(id, t, app);
    let factor = IdpEvent {
        event_id: format!("{id}-factor"),
        time_ms: t - 30_000,
        kind: IdpEventKind::FactorVerified,
        native_type: "user.authentication.auth_via_mfa".into(),
        app_name: None,
        ..sso.clone()
    };
    [factor, sso]
}

fn sso(id: &str, t: i64, app: &str) -> IdpEvent {
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
        app_name: Some(app.into()),
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

fn saml_login(id: &str, t: i64) -> AwsEvent {
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

fn store_with(idp: &[IdpEvent], aws: &[AwsEvent]) -> Store {
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
    // The Okta logs are complete over both days, so a missing sign-in is a finding.
    b.add_coverage(Source::Okta, "org", MIDNIGHT - 2 * DAY, MIDNIGHT + 2 * DAY).unwrap();
    b.commit().unwrap();
    store
}

fn verdict_of(store: &Store, id: &str) -> VerdictRecord {
    let mut v = store.verdicts_for(id).unwrap();
    assert_eq!(v.len(), 1, "{id}: {v:?}");
    v.remove(0)
}

/// A session judged with its day was judged again, with a snapshot cut for the next day, as a
/// "burst" neighbour of that day's first session: its SSO lay before what the next day loads, so
/// its stored `enforced` became a new version saying `no_idp_login`.
#[test]
fn a_session_before_midnight_is_not_judged_again_with_the_next_days_data() {
    let late = saml_login("c-late", MIDNIGHT - 14 * MIN);
    let early = saml_login("c-early", MIDNIGHT + 5 * MIN);
    let mut store = store_with(
        &[
            sign_in("s-late", MIDNIGHT - 15 * MIN, "AWS Account Federation"),
            sign_in("s-early", MIDNIGHT + 4 * MIN, "AWS Account Federation"),
        ]
        .concat(),
        &[late, early],
    );
    let cfg = Compiled::new(&Config::default()).unwrap();
    let s = judge_with(&mut store, &cfg, None, i64::MAX - 1, &JudgeOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!((s.sessions, s.changes.new, s.changes.changed), (2, 2, 0), "{s:?}");
    let v = verdict_of(&store, "c-late");
    assert_eq!((v.verdict, v.version), (Verdict::Enforced, 1), "{}", v.explanation);
    assert!(v.evidence.iter().any(|e| e.id == "s-late"), "{:?}", v.evidence);
}

/// An IAM Identity Center console session opened after midnight from a portal sign-in made the
/// evening before: the IdP sign-in is looked for around the portal sign-in, before the slice
/// that holds the console login.
#[test]
fn an_identity_center_session_finds_its_idp_sign_in_before_the_slice() {
    let portal = AwsEvent {
        event_id: "portal".into(),
        time_ms: MIDNIGHT - 60 * MIN,
        kind: Some(AwsEventKind::UserAuthentication),
        account_id: Some("111122223333".into()),
        outcome: Outcome::Success,
        user_name: Some(USER.into()),
        source_ip: Some("198.51.100.7".into()),
        credential_type: Some("ExternalIdP".into()),
        ..Default::default()
    };
    let role = "AWSReservedSSO_Admin_0123456789abcdef";
    let console = AwsEvent {
        event_id: "c-ic".into(),
        time_ms: MIDNIGHT + 30 * MIN,
        kind: Some(AwsEventKind::ConsoleLogin),
        account_id: Some("111122223333".into()),
        outcome: Outcome::Success,
        principal_type: Some("AssumedRole".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/{role}/{USER}")),
        role_name: Some(role.into()),
        session_name: Some(USER.into()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("Firefox".into()),
        ..Default::default()
    };
    let mut store = store_with(&sign_in("s-ic", MIDNIGHT - 61 * MIN, "AWS IAM Identity Center"), &[portal, console]);
    let cfg = Compiled::new(&Config::default()).unwrap();
    judge_with(&mut store, &cfg, None, i64::MAX - 1, &JudgeOptions::default(), &mut |_, _| {}).unwrap();
    let v = verdict_of(&store, "c-ic");
    assert_eq!(v.verdict, Verdict::Enforced, "{}", v.explanation);
    assert!(v.evidence.iter().any(|e| e.id == "s-ic"), "{:?}", v.evidence);
}

/// The "new" signals look back exactly the baseline (30 days) before each login, whatever slice
/// it falls in. Before, what came before a slice was aggregated from 30 days before the slice's
/// start: a login judged in a slice that began six hours before it counted an IP last seen 30
/// days and three hours earlier as known, and the same login in a slice of its own as new.
#[test]
fn the_baseline_does_not_move_with_the_slice() {
    let t = MIDNIGHT + 10 * 60 * MIN;
    let at = |id: &str, time: i64, ip: &str| AwsEvent { source_ip: Some(ip.into()), ..saml_login(id, time) };
    let logins = [
        at("c-old", t - 30 * DAY - 3 * 60 * MIN, "192.0.2.1"),
        at("c-hist", t - 5 * DAY, "192.0.2.2"),
        at("c-six", t - 6 * 60 * MIN, "192.0.2.2"),
        at("c-new", t, "192.0.2.1"),
    ];
    let signals = |slice_sessions: u64| {
        let mut store = store_with(&[], &logins);
        let cfg = Compiled::new(&Config::default()).unwrap();
        let opts = JudgeOptions { slice_sessions };
        let s = judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
        assert_eq!(s.sessions, 4);
        verdict_of(&store, "c-new").risk.signals
    };
    let whole = signals(4_000);
    assert!(whole.contains(&trailproof_model::verdict::Signal::NewIp), "{whole:?}");
    for n in [1, 2, 3] {
        assert_eq!(signals(n), whole, "slices of {n}");
    }
}
