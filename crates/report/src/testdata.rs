//! Verdict records for the tests: a plain one and one full of attacker-controlled text.

use trailproof_model::Source;
use trailproof_model::verdict::{
    Evidence, Identity, IdentitySource, MatchedBy, MfaInfo, Risk, SessionPath, Severity, Signal, Verdict, VerdictRecord,
};

pub fn record(id: &str, verdict: Verdict) -> VerdictRecord {
    VerdictRecord {
        console_login_event_id: id.into(),
        account_id: Some("111122223333".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/Admin/alice-{id}@example.com")),
        session_name: Some(format!("alice-{id}@example.com")),
        time: "2026-11-02T10:15:32Z".into(),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("Mozilla/5.0 Firefox/131.0".into()),
        path: SessionPath::Saml,
        verdict,
        reason: None,
        identity: Some(Identity {
            idp: IdentitySource::Okta,
            user: "alice@example.com".into(),
            matched_by: MatchedBy::Email,
        }),
        mfa: (verdict == Verdict::Enforced).then(|| MfaInfo {
            factors: vec!["okta_verify_push".into()],
            at: Some("2026-11-02T10:14:58Z".into()),
            carried_from_earlier_signin: false,
        }),
        evidence: vec![
            Evidence { source: Source::Cloudtrail, id: id.into(), role: "console_login".into() },
            Evidence { source: Source::Okta, id: format!("okta-sso-{id}"), role: "idp_sso".into() },
        ],
        risk: Risk { score: 0, severity: Severity::Low, signals: vec![] },
        explanation: format!("Console sign-in {id}: MFA was enforced."),
        version: 1,
    }
}

/// A not_enforced session whose log-derived strings carry markup, terminal escapes, formulas and
/// Markdown table breakers.
pub fn hostile(id: &str) -> VerdictRecord {
    VerdictRecord {
        session_name: Some("=HYPERLINK(\"http://evil\")|<b>x</b>\x1b[2J`rm`".into()),
        user_agent: Some("<script>alert(1)</script>".into()),
        arn: Some("arn:aws:sts::111122223333:assumed-role/Admin/<img src=x onerror=alert(2)>".into()),
        verdict: Verdict::NotEnforced,
        mfa: None,
        risk: Risk { score: 60, severity: Severity::High, signals: vec![Signal::NoMfa, Signal::NewIp] },
        explanation: "Console sign-in </script><script>alert(3)</script>: MFA was not enforced.".into(),
        ..record(id, Verdict::NotEnforced)
    }
}
