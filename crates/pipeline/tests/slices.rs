//! `judge` works through the stored sessions a slice at a time. A session's verdict must not
//! depend on where the slices fall: not on the slice it is judged in, not on the neighbours a
//! slice loads around itself, not on how many sessions a slice holds.

mod common;

use common::{DAY, MIN, saml_login, sign_in, sso};
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::{Signal, UnknownReason, Verdict, VerdictRecord};
use trailproof_model::{AwsEvent, AwsEventKind, IdpEvent, Outcome, UserKeys};
use trailproof_pipeline::{JudgeOptions, JudgeSummary, judge_with};
use trailproof_store::Store;

/// 2026-11-02T00:00:00Z: a day boundary.
const MIDNIGHT: i64 = 1_793_577_600_000;
const USER: &str = common::USER;

/// Alice's sign-in to `app` at `t` (SSO `id`, in a session with a verified factor).
fn signed_in(id: &str, t: i64, app: &str) -> [IdpEvent; 2] {
    sign_in(IdpEvent { app_name: Some(app.into()), ..sso(id, t) })
}

/// The events in a store, with the Okta logs complete over both days around `MIDNIGHT`, so a
/// missing sign-in is a finding.
fn store_with(idp: &[IdpEvent], aws: &[AwsEvent]) -> Store {
    common::store_with(idp, aws, Some((MIDNIGHT - 2 * DAY, MIDNIGHT + 2 * DAY)))
}

/// The events in a store (see [`store_with`]), judged in slices of `slice_sessions`.
fn judged_in_slices(idp: &[IdpEvent], aws: &[AwsEvent], slice_sessions: u64) -> (Store, JudgeSummary) {
    let mut store = store_with(idp, aws);
    let cfg = Compiled::new(&Config::default()).unwrap();
    let opts = JudgeOptions { slice_sessions, ..Default::default() };
    let s = judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
    (store, s)
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
            signed_in("s-late", MIDNIGHT - 15 * MIN, "AWS Account Federation"),
            signed_in("s-early", MIDNIGHT + 4 * MIN, "AWS Account Federation"),
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

/// Alice's IAM Identity Center portal sign-in (UserAuthentication) at `t`.
fn portal_sign_in(t: i64) -> AwsEvent {
    AwsEvent {
        event_id: "portal".into(),
        time_ms: t,
        kind: Some(AwsEventKind::UserAuthentication),
        account_id: Some("111122223333".into()),
        outcome: Outcome::Success,
        user_name: Some(USER.into()),
        source_ip: Some("198.51.100.7".into()),
        credential_type: Some("ExternalIdP".into()),
        ..Default::default()
    }
}

/// Alice's Identity Center console sign-in `c-ic` at `t` (a permission set's role, no SAML
/// provider), from 198.51.100.7 with Firefox.
fn identity_center_login(t: i64) -> AwsEvent {
    let role = "AWSReservedSSO_Admin_0123456789abcdef";
    AwsEvent {
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/{role}/{USER}")),
        role_name: Some(role.into()),
        saml_provider_arn: None,
        ..saml_login("c-ic", t)
    }
}

/// Alice's SSO `s-ic` to the Identity Center application at `t`.
fn identity_center_sso(t: i64) -> IdpEvent {
    IdpEvent { app_name: Some("AWS IAM Identity Center".into()), ..sso("s-ic", t) }
}

/// An IAM Identity Center console session opened at 00:30 from a portal sign-in made at 23:00
/// the evening before, its IdP sign-in (`s-ic`, from `network`) at 22:59; and an SSO of Alice's
/// three days earlier from AS3741 in Ireland, her baseline. Judged with the default slices.
fn identity_center_after_midnight(network: (u32, &str)) -> VerdictRecord {
    let (asn, country) = network;
    let ic = IdpEvent { asn: Some(asn), country: Some(country.into()), ..identity_center_sso(MIDNIGHT - 61 * MIN) };
    let idp = [vec![sso("s-base", MIDNIGHT - 3 * DAY)], sign_in(ic).to_vec()].concat();
    let mut store =
        store_with(&idp, &[portal_sign_in(MIDNIGHT - 60 * MIN), identity_center_login(MIDNIGHT + 30 * MIN)]);
    let cfg = Compiled::new(&Config::default()).unwrap();
    judge_with(&mut store, &cfg, None, i64::MAX - 1, &JudgeOptions::default(), &mut |_, _| {}).unwrap();
    verdict_of(&store, "c-ic")
}

/// The IdP sign-in is looked for around the portal sign-in, before the slice that holds the
/// console login.
#[test]
fn an_identity_center_session_finds_its_idp_sign_in_before_the_slice() {
    let v = identity_center_after_midnight((3741, "IE"));
    assert_eq!(v.verdict, Verdict::Enforced, "{}", v.explanation);
    assert!(v.evidence.iter().any(|e| e.id == "s-ic"), "{:?}", v.evidence);
}

/// A slice whose IdP span reaches back before its day reads its own SSO baseline (the one
/// carried from slice to slice starts at the day): the sign-in from Alice's usual network is
/// not new, one from elsewhere is.
#[test]
fn an_identity_center_session_before_the_slice_has_its_baseline() {
    let usual = identity_center_after_midnight((3741, "IE")).risk.signals;
    assert!(!usual.contains(&Signal::NewAsn) && !usual.contains(&Signal::NewCountry), "{usual:?}");
    let elsewhere = identity_center_after_midnight((64500, "BR")).risk.signals;
    assert!(elsewhere.contains(&Signal::NewAsn) && elsewhere.contains(&Signal::NewCountry), "{elsewhere:?}");
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
        let (store, s) = judged_in_slices(&[], &logins, slice_sessions);
        assert_eq!(s.sessions, 4);
        verdict_of(&store, "c-new").risk.signals
    };
    let whole = signals(4_000);
    assert!(whole.contains(&Signal::NewIp), "{whole:?}");
    for n in [1, 2, 3] {
        assert_eq!(signals(n), whole, "slices of {n}");
    }
}

/// The SSO baseline carried from slice to slice aggregates only what no later slice can reach
/// back to. An Identity Center session reaches back to its portal sign-in, up to 12 hours before
/// the console login: here one at 12:00 from a portal sign-in at 02:01, whose IdP sign-in
/// (02:00) came from Brazil, where Alice had never signed in before (she did again at 03:00). A
/// slice judged in between (05:01) must not have aggregated the SSOs of 02:00 and 03:00 into its
/// baseline, or Brazil would look known to the sign-in at 02:00.
#[test]
fn an_identity_center_session_reaching_back_past_earlier_slices_keeps_its_sso_baseline() {
    let h = 60 * MIN;
    let brazil = |e: IdpEvent| IdpEvent { asn: Some(64500), country: Some("BR".into()), ..e };
    let ic_sso = brazil(identity_center_sso(MIDNIGHT + 2 * h));
    let idp = [
        vec![sso("s-base", MIDNIGHT - 3 * DAY), brazil(sso("s-later", MIDNIGHT + 3 * h))],
        sign_in(ic_sso).to_vec(),
        sign_in(brazil(sso("s-mid", MIDNIGHT + 5 * h))).to_vec(),
    ]
    .concat();
    let aws = [
        portal_sign_in(MIDNIGHT + 2 * h + MIN),
        saml_login("c-mid", MIDNIGHT + 5 * h + MIN),
        identity_center_login(MIDNIGHT + 12 * h),
    ];
    for slice_sessions in [4_000, 1] {
        let (store, s) = judged_in_slices(&idp, &aws, slice_sessions);
        assert_eq!(s.slices, if slice_sessions == 1 { 2 } else { 1 });
        let v = verdict_of(&store, "c-ic");
        assert_eq!(v.verdict, Verdict::Enforced, "slices of {slice_sessions}: {}", v.explanation);
        assert!(v.evidence.iter().any(|e| e.id == "s-ic"), "{:?}", v.evidence);
        let signals = &v.risk.signals;
        assert!(
            signals.contains(&Signal::NewAsn) && signals.contains(&Signal::NewCountry),
            "slices of {slice_sessions}: {signals:?}"
        );
    }
}

/// An Identity Center session that names no known user and has no portal sign-in looks back a
/// whole portal session (12 hours) for sign-ins to AWS it cannot be tied to. The hours before its
/// slice are read by id only, for every user; how many sign-ins its explanation counts and which
/// it names do not depend on the slicing (here: one slice, or `c-mid` and `c-ic` apart).
#[test]
fn an_unmapped_identity_center_session_names_the_same_sign_ins_whatever_the_slices() {
    let h = 60 * MIN;
    let failed = IdpEvent { outcome: Outcome::Failure, ..sso("s-failed", MIDNIGHT + 3 * h) };
    let idp = [
        sign_in(sso("s-2h", MIDNIGHT + 2 * h)).to_vec(),
        sign_in(sso("s-5h", MIDNIGHT + 5 * h)).to_vec(),
        vec![failed],
    ]
    .concat();
    let mallory = AwsEvent {
        arn: Some("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/mallory".into()),
        session_name: Some("mallory".into()),
        ..identity_center_login(MIDNIGHT + 12 * h)
    };
    let aws = [saml_login("c-mid", MIDNIGHT + 5 * h + MIN), mallory];
    let explanation = |slice_sessions: u64| {
        let (store, s) = judged_in_slices(&idp, &aws, slice_sessions);
        assert_eq!(s.slices, if slice_sessions == 1 { 2 } else { 1 });
        let v = verdict_of(&store, "c-ic");
        assert_eq!(
            (v.verdict, v.reason),
            (Verdict::Unknown, Some(UnknownReason::IdentityUnmapped)),
            "{}",
            v.explanation
        );
        v.explanation
    };
    let whole = explanation(4_000);
    assert!(whole.contains("2 sign-in(s)") && whole.contains("(s-2h, s-5h)"), "{whole}");
    assert_eq!(explanation(1), whole);
}

/// Before its slice, an Identity Center session's IdP sign-in is read for the users the session
/// names, with every other SSO there of the same login: here the session names Alice by e-mail,
/// her SSOs log her in as `alice`, and the one at 01:55 carries no e-mail. It came from Brazil
/// too, so the sign-in at 02:00 behind the session is not from a new country; without it in the
/// snapshot, Brazil would look new.
#[test]
fn an_identity_center_session_reads_the_whole_login_of_the_user_it_names() {
    let h = 60 * MIN;
    let brazil = |e: IdpEvent| IdpEvent { asn: Some(64500), country: Some("BR".into()), ..e };
    let as_alice = |e: IdpEvent, email: Option<&str>| IdpEvent {
        user: UserKeys { login: Some("alice".into()), email: email.map(Into::into), ..Default::default() },
        ..e
    };
    let idp = [
        vec![as_alice(sso("s-base", MIDNIGHT - 3 * DAY), Some(USER))],
        vec![brazil(as_alice(sso("s-early", MIDNIGHT + 2 * h - 5 * MIN), None))],
        sign_in(brazil(as_alice(identity_center_sso(MIDNIGHT + 2 * h), Some(USER)))).to_vec(),
    ]
    .concat();
    let aws = [portal_sign_in(MIDNIGHT + 2 * h + MIN), identity_center_login(MIDNIGHT + 12 * h)];
    for slice_sessions in [4_000, 1] {
        let (store, _) = judged_in_slices(&idp, &aws, slice_sessions);
        let v = verdict_of(&store, "c-ic");
        assert_eq!(v.verdict, Verdict::Enforced, "slices of {slice_sessions}: {}", v.explanation);
        assert!(v.evidence.iter().any(|e| e.id == "s-ic"), "{:?}", v.evidence);
        let signals = &v.risk.signals;
        assert!(
            !signals.contains(&Signal::NewCountry) && !signals.contains(&Signal::NewAsn),
            "slices of {slice_sessions}: {signals:?}"
        );
    }
}

/// A failed SSO is no baseline. Alice tried from Brazil before `c-mid` and failed, so her sign-in
/// from Brazil for `c-mid` still comes from a new network; had the try succeeded, Brazil would be
/// known. Two timings, each judged in one slice and in slices of one session:
/// - hours apart (03:00 tried, `c-early` at 03:01, `c-mid` at 05:01): the second slice reads the
///   try from the store;
/// - minutes apart (02:49:30 tried, `c-early` at 03:01, `c-mid` at 03:04): the try lies in the
///   first slice's span and before the second's, which takes it from what the first loaded.
#[test]
fn a_failed_sso_is_no_baseline_whatever_the_slices() {
    let (h, sec) = (60 * MIN, 1_000);
    let brazil = |e: IdpEvent| IdpEvent { asn: Some(64500), country: Some("BR".into()), ..e };
    let timings = [
        (MIDNIGHT + 3 * h, MIDNIGHT + 3 * h, MIDNIGHT + 3 * h + MIN, MIDNIGHT + 5 * h + MIN),
        (
            MIDNIGHT + 2 * h + 49 * MIN + 30 * sec,
            MIDNIGHT + 2 * h + 49 * MIN + 45 * sec,
            MIDNIGHT + 3 * h + MIN,
            MIDNIGHT + 3 * h + 4 * MIN,
        ),
    ];
    for (tried_at, early_sso, early, mid) in timings {
        for (outcome, new) in [(Outcome::Failure, true), (Outcome::Success, false)] {
            let tried = IdpEvent { outcome, ..brazil(sso("s-tried", tried_at)) };
            let idp = [
                vec![sso("s-base", MIDNIGHT - 3 * DAY), tried],
                sign_in(sso("s-early", early_sso)).to_vec(),
                sign_in(brazil(sso("s-mid", mid - MIN))).to_vec(),
            ]
            .concat();
            let aws = [saml_login("c-early", early), saml_login("c-mid", mid)];
            for slice_sessions in [4_000, 1] {
                let (store, s) = judged_in_slices(&idp, &aws, slice_sessions);
                assert_eq!(s.slices, if slice_sessions == 1 { 2 } else { 1 });
                let v = verdict_of(&store, "c-mid");
                assert_eq!(v.verdict, Verdict::Enforced, "slices of {slice_sessions}: {}", v.explanation);
                assert!(v.evidence.iter().any(|e| e.id == "s-mid"), "{:?}", v.evidence);
                let signals = &v.risk.signals;
                assert_eq!(
                    (signals.contains(&Signal::NewAsn), signals.contains(&Signal::NewCountry)),
                    (new, new),
                    "{outcome:?} at {tried_at}, slices of {slice_sessions}: {signals:?}"
                );
            }
        }
    }
}
