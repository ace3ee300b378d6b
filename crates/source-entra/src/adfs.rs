//! What one AD FS sign-in (`ADFSSignInLogs`) proves about MFA. The rules are stated in the crate
//! docs ("AD FS sign-ins"); the vocabulary comes from Microsoft's pages cited there.
//!
//! Connect Health writes AD FS's own sign-ins into Entra's sign-in schema. Each row names the
//! method AD FS used in `authenticationDetails[].authenticationMethod` /
//! `authenticationMethodDetail` (the real Elastic test record: `Password` / `Forms
//! Authentication`). The method names Microsoft documents for these rows are `Forms`,
//! `Windows`, `Certificate`, `WindowsHelloForBusiness`, `Device`, `Federated`, `SSO`,
//! `Multifactor`, `Azure MFA` and `ADFSExternalAuthenticationProvider`
//! (MicrosoftDocs/entra-docs `docs/identity/hybrid/connect/how-to-connect-health-ad-fs-sign-in.md`,
//! "Authentication Method Information"); the built-in providers' names are `Forms
//! Authentication`, `Windows Authentication`, `Certificate Authentication`, `Device
//! Authentication`, `Microsoft Passport Authentication` and `Azure MFA` / `AzureMfaAuthentication`
//! (learn.microsoft.com/powershell/module/adfs/get-adfsauthenticationprovider). Only `Password` /
//! `Forms Authentication` is confirmed in a real exported record; how the other names are spelt
//! in `authenticationMethod` / `authenticationMethodDetail` is UNCONFIRMED, so they are matched
//! as case-insensitive words.
//!
//! `authenticationRequirement` is **not** read: the same page says Connect Health writes single
//! factor there "for AD FS sign-ins regardless of the sign-in" (a known issue).

use crate::mfa::{Step, contains_ci, is_second_factor_method};
use trailproof_model::{MfaClaim, Outcome};

/// Words of a method that checks a second factor or is strong on its own: Azure MFA
/// (`Azure MFA`, `AzureMfaAuthentication`, "Microsoft Entra multifactor authentication"), an
/// external MFA adapter (`ADFSExternalAuthenticationProvider`, "external authentication
/// provider"), certificate / smart card authentication, Windows Hello for Business (Microsoft
/// Passport), and AD FS's MFA claim `http://schemas.microsoft.com/claims/multipleauthn`. The
/// Entra second-factor words (notification, OATH, phone, FIDO, ...) count too.
const STRONG_WORDS: &[&str] = &[
    "azure mfa",
    "azuremfa",
    "mfa",
    "multi-factor",
    "multifactor authentication",
    "externalauthenticationprovider",
    "external authentication",
    "certificate",
    "smartcard",
    "smart card",
    "windowshello",
    "windows hello",
    "passport",
    "multipleauthn",
];

/// A first factor only: `Password`, `Forms` / `Forms Authentication`, `Windows` / `Windows
/// Authentication` / `Integrated Windows Authentication` (not Windows Hello).
fn is_primary(m: &str) -> bool {
    let m = m.trim();
    contains_ci(m, "password")
        || contains_ci(m, "forms")
        || (contains_ci(m, "windows") && !contains_ci(m, "hello"))
        || contains_ci(m, "integrated")
}

fn is_strong(m: &str) -> bool {
    // `Multifactor` alone is an SSO token that carried MFA (see `is_carried`), not a fresh step.
    !is_carried(m) && (STRONG_WORDS.iter().any(|w| contains_ci(m, w)) || is_second_factor_method(m))
}

/// `Multifactor`: "a single sign-on token has an MFA and that was used for authentication".
fn is_carried(m: &str) -> bool {
    let m = m.trim();
    m.eq_ignore_ascii_case("multifactor") || m.eq_ignore_ascii_case("multi-factor")
}

/// `Federated`: "AD FS did not do the authentication but sent it to a third party identity
/// provider".
fn is_federated(m: &str) -> bool {
    m.trim().eq_ignore_ascii_case("federated")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Strong,
    Carried,
    Upstream,
    Primary,
    FailedStrong,
    /// `SSO` (a token without MFA), `Device` (no user authentication), unknown names, and steps
    /// without `succeeded`.
    Other,
}

fn classify(s: &Step) -> StepKind {
    let names: Vec<&str> = [s.method, s.method_detail].into_iter().flatten().filter(|n| !n.trim().is_empty()).collect();
    let any = |f: fn(&str) -> bool| names.iter().any(|n| f(n));
    match s.succeeded {
        Some(true) if any(is_federated) => StepKind::Upstream,
        Some(true) if any(is_strong) => StepKind::Strong,
        Some(true) if any(is_carried) => StepKind::Carried,
        Some(true) if !names.is_empty() && names.iter().all(|n| is_primary(n)) => StepKind::Primary,
        Some(false) if any(is_strong) => StepKind::FailedStrong,
        _ => StepKind::Other,
    }
}

/// The MFA claim of one AD FS sign-in.
///
/// - failed: a strong step that did not succeed → [`MfaClaim::Failed`], else
///   [`MfaClaim::Silent`];
/// - succeeded or of unknown outcome (read on its facts, as Entra's, D1): a strong step →
///   [`MfaClaim::Verified`]; else a `Federated` step → [`MfaClaim::Upstream`]; else a
///   `Multifactor` step → [`MfaClaim::Carried`]; else, when every succeeded step is a first
///   factor (and there is one) → [`MfaClaim::SingleFactor`]; else [`MfaClaim::Silent`].
pub(crate) fn read(outcome: Outcome, steps: &[Step]) -> MfaClaim {
    let kinds: Vec<StepKind> = steps.iter().map(classify).collect();
    let has = |k: StepKind| kinds.contains(&k);
    if outcome == Outcome::Failure {
        return if has(StepKind::FailedStrong) { MfaClaim::Failed } else { MfaClaim::Silent };
    }
    if has(StepKind::Strong) {
        return MfaClaim::Verified;
    }
    if has(StepKind::Upstream) {
        return MfaClaim::Upstream;
    }
    if has(StepKind::Carried) {
        return MfaClaim::Carried;
    }
    let succeeded: Vec<StepKind> =
        steps.iter().zip(&kinds).filter(|(s, _)| s.succeeded == Some(true)).map(|(_, k)| *k).collect();
    if !succeeded.is_empty() && succeeded.iter().all(|k| *k == StepKind::Primary) {
        return MfaClaim::SingleFactor;
    }
    MfaClaim::Silent
}

/// The factors an AD FS sign-in shows: each succeeded step's method detail where it has one
/// (`Forms Authentication` is more specific than `Password`), else its method; de-duplicated.
pub(crate) fn factors(steps: &[Step]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in steps.iter().filter(|s| s.succeeded == Some(true)) {
        let name = s.method_detail.filter(|d| !d.trim().is_empty()).or(s.method.filter(|m| !m.trim().is_empty()));
        if let Some(n) = name.map(str::trim)
            && !out.iter().any(|f| f == n)
        {
            out.push(n.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(method: &'static str, detail: &'static str, ok: Option<bool>) -> Step<'static> {
        let o = |s: &'static str| if s.is_empty() { None } else { Some(s) };
        Step { method: o(method), method_detail: o(detail), succeeded: ok, ..Default::default() }
    }

    #[test]
    fn forms_password_only_is_single_factor() {
        let s = [st("Password", "Forms Authentication", Some(true))];
        assert_eq!(read(Outcome::Success, &s), MfaClaim::SingleFactor);
        assert_eq!(read(Outcome::Unknown, &s), MfaClaim::SingleFactor);
        assert_eq!(factors(&s), ["Forms Authentication"]);
        for m in ["Forms", "Windows", "Integrated Windows Authentication", "Windows Authentication"] {
            assert_eq!(read(Outcome::Success, &[st(m, "", Some(true))]), MfaClaim::SingleFactor, "{m}");
        }
    }

    #[test]
    fn azure_mfa_certificate_hello_and_external_adapters_are_verified() {
        for m in [
            "Azure MFA",
            "AzureMFA",
            "AzureMfaAuthentication",
            "Microsoft Entra multifactor authentication",
            "ADFSExternalAuthenticationProvider",
            "Certificate",
            "Certificate Authentication",
            "WindowsHelloForBusiness",
            "Microsoft Passport Authentication",
            "http://schemas.microsoft.com/claims/multipleauthn",
        ] {
            let s = [st("Password", "Forms Authentication", Some(true)), st(m, "", Some(true))];
            assert_eq!(read(Outcome::Success, &s), MfaClaim::Verified, "{m}");
            let s = [st("", m, Some(true))];
            assert_eq!(read(Outcome::Success, &s), MfaClaim::Verified, "detail {m}");
        }
    }

    #[test]
    fn multifactor_sso_is_carried_federated_is_upstream() {
        assert_eq!(read(Outcome::Success, &[st("Multifactor", "", Some(true))]), MfaClaim::Carried);
        assert_eq!(read(Outcome::Success, &[st("Federated", "", Some(true))]), MfaClaim::Upstream);
    }

    #[test]
    fn sso_device_and_unknown_names_prove_nothing() {
        for m in ["SSO", "Device", "Some future provider"] {
            assert_eq!(read(Outcome::Success, &[st(m, "", Some(true))]), MfaClaim::Silent, "{m}");
            let s = [st("Password", "Forms Authentication", Some(true)), st(m, "", Some(true))];
            assert_eq!(read(Outcome::Success, &s), MfaClaim::Silent, "Forms + {m}");
        }
        assert_eq!(read(Outcome::Success, &[]), MfaClaim::Silent);
        assert_eq!(read(Outcome::Success, &[st("Password", "Forms Authentication", None)]), MfaClaim::Silent);
    }

    #[test]
    fn failures() {
        let s = [st("Password", "Forms Authentication", Some(true)), st("Azure MFA", "", Some(false))];
        assert_eq!(read(Outcome::Failure, &s), MfaClaim::Failed);
        let s = [st("Password", "Forms Authentication", Some(false))];
        assert_eq!(read(Outcome::Failure, &s), MfaClaim::Silent);
        assert!(factors(&s).is_empty());
    }
}
