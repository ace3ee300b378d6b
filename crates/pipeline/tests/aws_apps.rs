//! Which IdP applications are AWS applications is one rule (`Compiled::is_aws_app`, the
//! correlate crate). The store reads the SSOs the judging takes with that rule: an SSO the rule
//! calls AWS is never left out by the store's reading (before, the store matched configured
//! names with a fold of its own, and left out names with capital letters outside ASCII).

mod common;

use common::{DAY, MIN, saml_login, sign_in, sso};
use trailproof_correlate::Compiled;
use trailproof_model::IdpEvent;
use trailproof_model::config::Config;
use trailproof_model::verdict::Verdict;
use trailproof_pipeline::judge;
use trailproof_store::Store;

/// 2026-11-02T00:00:00Z.
const T: i64 = 1_793_577_600_000 + 9 * 60 * MIN;

/// The verdict on Alice's console sign-in 40 s after her SSO to `app` (a factor verified in
/// its Okta session), with `config` (TOML).
fn verdict_with(app: &str, config: &str) -> Verdict {
    let [factor, sso] = sign_in(IdpEvent { app_name: Some(app.into()), ..sso("sso-1", T) });
    let mut store: Store =
        common::store_with(&[factor, sso], &[saml_login("login-1", T + 40_000)], Some((T - DAY, T + DAY)));
    let cfg: Config = toml::from_str(config).unwrap();
    let cfg = Compiled::new(&cfg).unwrap();
    judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {}).unwrap();
    let v = store.verdicts_for("login-1").unwrap();
    assert_eq!(v.len(), 1, "{v:?}");
    v[0].verdict
}

fn okta_app(names: &str) -> String {
    format!("[[idp]]\nname = \"Okta\"\nkind = \"okta\"\naws_app_names = [{names}]\n")
}

#[test]
fn an_sso_to_a_configured_application_is_read_whatever_the_letters_of_its_name() {
    // Names without "AWS" in them, so the default pattern (which the other providers, not
    // configured here, still use) does not take them: a German tenant's application, a Cyrillic
    // one, and one the IdP logs with a space at its end (configured names are trimmed).
    for (configured, logged) in [
        ("\"Cloud-Überwachung\"", "Cloud-Überwachung"),
        ("\"cloud-überwachung\"", "CLOUD-ÜBERWACHUNG"),
        ("\"Облачная консоль\"", "Облачная консоль"),
        ("\"Production Console\"", "Production Console "),
    ] {
        assert_eq!(verdict_with(logged, &okta_app(configured)), Verdict::Enforced, "{configured} / {logged:?}");
    }
}

#[test]
fn an_sso_to_another_application_is_not_taken() {
    assert_ne!(verdict_with("Payroll", &okta_app("\"Cloud-Überwachung\"")), Verdict::Enforced);
    // With nothing configured, names like AWS are taken, and others not.
    assert_eq!(verdict_with("Amazon Web Services", ""), Verdict::Enforced);
    assert_ne!(verdict_with("Payroll", ""), Verdict::Enforced);
}

/// The "new ASN" signal rests on the user's earlier SSOs to AWS applications only, whether those
/// lie in the session's slice or before it (read as the store's aggregates). Before the store
/// read SSOs with the engine's rule, an Okta SSO to "Amazon Business" (not Okta's configured AWS
/// application, but like AWS by the default pattern Entra still needed) entered Okta's
/// aggregates and hid a new ASN, in slices of one session only.
#[test]
fn a_non_aws_application_is_no_baseline_whatever_the_slices() {
    use trailproof_model::verdict::Signal;
    const DAY1: i64 = T - DAY;
    let to = |id: &str, t: i64, app_id: &str, app: &str, asn: u32| IdpEvent {
        app_id: Some(app_id.into()),
        app_name: Some(app.into()),
        asn: Some(asn),
        session_id: None,
        ..sso(id, t)
    };
    let config = "[[idp]]\nname = \"Okta\"\nkind = \"okta\"\naws_app_ids = [\"0oaAWS\"]\n";
    for slice_sessions in [1, 2] {
        let mut store: Store = common::store_with(
            &[
                to("aws-day1", DAY1 - 3_000, "0oaAWS", "AWS Account Federation", 3741),
                to("amazon-business", DAY1 + 3_600_000, "0oaBIZ", "Amazon Business", 64500),
                to("aws-day2", T - 3_000, "0oaAWS", "AWS Account Federation", 64500),
            ],
            &[saml_login("c1", DAY1), saml_login("c2", T)],
            None,
        );
        let cfg = Compiled::new(&toml::from_str(config).unwrap()).unwrap();
        let opts = trailproof_pipeline::JudgeOptions { slice_sessions, ..Default::default() };
        trailproof_pipeline::judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
        let v = store.verdicts_for("c2").unwrap().remove(0);
        assert!(v.risk.signals.contains(&Signal::NewAsn), "slices of {slice_sessions}: {:?}", v.risk.signals);
    }
}
