//! Never a false `enforced`: removing IdP evidence (a factor event, a session start, a Google
//! login) or cutting coverage short can move a verdict to not_enforced, no_idp_login or unknown,
//! never to enforced. Random organisations, random deletions.

use proptest::prelude::*;
use trailproof_correlate::{Compiled, correlate};
use trailproof_model::config::Config;
use trailproof_model::snapshot::{CoverageSpan, Snapshot};
use trailproof_model::verdict::Verdict;
use trailproof_model::{
    AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, UserKeys, fold,
};

const T: i64 = 1_793_527_200_000;
const MIN: i64 = 60_000;

#[derive(Debug, Clone)]
struct Sess {
    user: u8,
    provider: u8,
    mfa: u8,
    start_off: i64,
    sso_off: i64,
    login_off: i64,
}

fn arb_sess() -> impl Strategy<Value = Sess> {
    (0u8..6, 0u8..4, 0u8..4, 1i64..600, 0i64..180, 0i64..120).prop_map(
        |(user, provider, mfa, start_off, sso_off, login_off)| Sess {
            user,
            provider,
            mfa,
            start_off,
            sso_off,
            login_off,
        },
    )
}

fn ev(p: Idp, id: String, t: i64, kind: IdpEventKind, user: &str) -> IdpEvent {
    IdpEvent {
        provider: p,
        tenant: None,
        event_id: id,
        time_ms: t,
        kind,
        native_type: match (p, kind) {
            (Idp::Google, IdpEventKind::Login) => "login/login_success".into(),
            _ => "x".into(),
        },
        outcome: Outcome::Success,
        outcome_reason: None,
        user: UserKeys { login: Some(user.into()), ..Default::default() },
        app_id: None,
        app_name: None,
        session_id: None,
        source_ip: Some("198.51.100.7".into()),
        user_agent: None,
        asn: None,
        as_org: None,
        country: None,
        mfa: MfaClaim::Silent,
        factors: vec![],
        auth_requirement: None,
    }
}

fn build(sessions: &[Sess]) -> Snapshot {
    let mut s = Snapshot::default();
    for (i, x) in sessions.iter().enumerate() {
        let user = format!("user{}@example.com", x.user);
        let p = [Idp::Okta, Idp::Entra, Idp::Google, Idp::Adfs][x.provider as usize];
        let login_t = T + i as i64 * 3 * MIN + x.login_off * 1000;
        let sso_t = login_t - x.sso_off * 1000;
        let sid = format!("s{i}");
        let claim = [MfaClaim::Verified, MfaClaim::SingleFactor, MfaClaim::Carried, MfaClaim::Silent][x.mfa as usize];
        let mut sso = ev(p, format!("sso{i}"), sso_t, IdpEventKind::AppSso, &user);
        sso.app_name = Some("AWS".into());
        match p {
            Idp::Okta => {
                sso.session_id = Some(sid.clone());
                let mut st = ev(p, format!("start{i}"), sso_t - x.start_off * MIN, IdpEventKind::SessionStart, &user);
                st.session_id = Some(sid.clone());
                s.idp.push(st);
                if claim == MfaClaim::Verified {
                    let mut f = ev(
                        p,
                        format!("factor{i}"),
                        sso_t - x.start_off * MIN + 5_000,
                        IdpEventKind::FactorVerified,
                        &user,
                    );
                    f.session_id = Some(sid.clone());
                    f.mfa = MfaClaim::Verified;
                    s.idp.push(f);
                }
            }
            Idp::Entra | Idp::Adfs => sso.mfa = claim,
            Idp::Google => {
                // The sign-in (login_success) and, for a 2SV sign-in, its second-factor step
                // (login_verification) as a separate event: the factor event is what may be lost.
                let lt = sso_t - x.start_off * MIN;
                let mut l = ev(p, format!("glogin{i}"), lt, IdpEventKind::Login, &user);
                l.mfa = if claim == MfaClaim::Verified { MfaClaim::Silent } else { claim };
                s.idp.push(l);
                if claim == MfaClaim::Verified {
                    let mut v = ev(p, format!("gverify{i}"), lt - 30_000, IdpEventKind::Login, &user);
                    v.native_type = "login/login_verification".into();
                    v.mfa = MfaClaim::Verified;
                    s.idp.push(v);
                }
            }
        }
        s.idp.push(sso);
        s.console_logins.push(AwsEvent {
            event_id: format!("c{i:03}"),
            time_ms: login_t,
            kind: Some(AwsEventKind::ConsoleLogin),
            outcome: Outcome::Success,
            principal_type: Some("AssumedRole".into()),
            arn: Some(format!("arn:aws:sts::111122223333:assumed-role/R/{user}")),
            role_name: Some("R".into()),
            session_name: Some(user.clone()),
            saml_provider_arn: Some("arn:aws:iam::111122223333:saml-provider/X".into()),
            source_ip: Some("198.51.100.7".into()),
            ..Default::default()
        });
        std::sync::Arc::make_mut(&mut s.known_users).entry(p).or_default().insert(fold(&user));
        s.providers_present.insert(p);
    }
    for src in [Source::Okta, Source::Entra, Source::Google, Source::Adfs] {
        s.coverage.push(CoverageSpan {
            source: src,
            scope: "*".into(),
            start_ms: T - 2000 * MIN,
            end_ms: T + 2000 * MIN,
        });
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn removing_evidence_never_creates_enforced(
        sessions in prop::collection::vec(arb_sess(), 1..12),
        drop_mask in any::<u64>(),
        unknown_mask in any::<u64>(),
        cut_coverage in any::<bool>(),
        cut_at in 0i64..3000,
    ) {
        let cfg = Compiled::new(&Config::default()).unwrap();
        let full = build(&sessions);
        let before = correlate(&full, &cfg);
        let mut reduced = full.clone();
        // Drop factor events and session starts by mask (never the SSOs, nor Google's
        // login_success records: see docs/judging.md §5 on why a lost Google sign-in cannot be
        // detected).
        let mut n = 0;
        reduced.idp.retain(|e| {
            if e.kind == IdpEventKind::AppSso || e.native_type == "login/login_success" { return true; }
            n += 1;
            drop_mask & (1 << (n % 64)) == 0
        });
        // Losing a sign-in's outcome (an Entra record with an empty `status`) is losing evidence too.
        for (i, e) in reduced.idp.iter_mut().filter(|e| e.kind == IdpEventKind::AppSso).enumerate() {
            if unknown_mask & (1 << (i % 64)) != 0 {
                e.outcome = trailproof_model::Outcome::Unknown;
            }
        }
        if cut_coverage {
            for c in &mut reduced.coverage { c.start_ms = T - 2000 * MIN + cut_at * MIN; }
        }
        let after = correlate(&reduced, &cfg);
        prop_assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            if a.verdict == Verdict::Enforced {
                prop_assert_eq!(b.verdict, Verdict::Enforced, "{} became enforced after removing evidence: {}", a.console_login_event_id, a.explanation);
            }
        }
    }
}
