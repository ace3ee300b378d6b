//! What one sign-in record proves about MFA. The rules are stated in the crate docs.

use trailproof_model::{MfaClaim, Outcome};

/// One `authenticationDetails[]` step, as far as the rules need it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Step<'a> {
    pub method: Option<&'a str>,
    /// `authenticationMethodDetail`; read by the AD FS rules only.
    pub method_detail: Option<&'a str>,
    pub succeeded: Option<bool>,
    pub result_detail: Option<&'a str>,
    pub step_requirement: Option<&'a str>,
}

/// The facts of one record the MFA rules read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Facts<'a> {
    pub outcome: Outcome,
    /// `status.errorCode` / `ResultType`, as text.
    pub error_code: Option<&'a str>,
    pub requirement: Option<&'a str>,
    pub steps: &'a [Step<'a>],
    /// `status.failureReason`, `status.additionalDetails`, `ResultDescription`.
    pub status_texts: [Option<&'a str>; 3],
    pub token_issuer_type: Option<&'a str>,
    pub mfa_detail_method: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requirement {
    Multi,
    Single,
    /// Absent (v1.0, exports that dropped the column) or a value we do not know.
    Unknown,
}

fn requirement(r: Option<&str>) -> Requirement {
    match r.map(str::trim) {
        Some(r) if r.eq_ignore_ascii_case("multiFactorAuthentication") => Requirement::Multi,
        Some(r) if r.eq_ignore_ascii_case("singleFactorAuthentication") => Requirement::Single,
        _ => Requirement::Unknown,
    }
}

/// ASCII case-insensitive substring test; `needle` must be lower case.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

fn opt_contains(s: Option<&str>, needle: &str) -> bool {
    s.is_some_and(|s| contains_ci(s, needle))
}

/// Methods that name a second factor or a method strong enough to satisfy MFA on its own
/// (passwordless). Matched as case-insensitive substrings of `authenticationMethod` /
/// `mfaDetail.authMethod`: `Mobile app notification`, `Microsoft Authenticator App`,
/// `OATH verification code`, `Software OATH token`, `Text message`, `SMS`, `Voice`,
/// `Phone call`, `Passwordless phone sign-in`, `FIDO2 security key`, `Passkey`,
/// `Windows Hello for Business`, `X.509 Certificate`, `Certificate-based authentication`,
/// `Temporary Access Pass`, `Hardware token`.
const SECOND_FACTOR_WORDS: &[&str] = &[
    "notification",
    "authenticator",
    "oath",
    "verification code",
    "sms",
    "text message",
    "voice",
    "phone",
    "fido",
    "security key",
    "passkey",
    "windows hello",
    "x.509",
    "certificate",
    "temporary access pass",
    "hardware token",
    "software token",
];

pub(crate) fn is_second_factor_method(m: &str) -> bool {
    SECOND_FACTOR_WORDS.iter().any(|w| contains_ci(m, w))
}

fn is_password(m: &str) -> bool {
    m.trim().eq_ignore_ascii_case("password")
}

/// `Previously satisfied` / `Satisfied by token`: the requirement was met by a claim in the token
/// from an earlier sign-in.
fn is_carry_method(m: &str) -> bool {
    let m = m.trim();
    m.eq_ignore_ascii_case("previously satisfied") || m.eq_ignore_ascii_case("satisfied by token")
}

fn is_external_detail(d: &str) -> bool {
    contains_ci(d, "external provider")
}

fn is_carry_detail(d: &str) -> bool {
    contains_ci(d, "satisfied by claim in the token") || contains_ci(d, "mfa requirement satisfied by claim")
}

fn is_fresh_mfa_detail(d: &str) -> bool {
    contains_ci(d, "mfa completed") || contains_ci(d, "mfa successfully completed")
}

fn is_mfa_step_requirement(r: &str) -> bool {
    contains_ci(r, "multifactor") || contains_ci(r, "multi-factor") || contains_ci(r, "mfa")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    /// A second factor (or passwordless method) checked and passed in this sign-in.
    Fresh,
    /// The MFA requirement met by a claim in the token (an earlier sign-in's MFA).
    CarriedMfa,
    /// The first-factor requirement met by a claim (`First factor requirement satisfied by claim
    /// in the token`): says nothing about MFA.
    CarriedFirstFactor,
    /// Met by a claim from an external (federated) provider.
    Upstream,
    /// A second factor attempted and not passed (denied, timed out, wrong code).
    FailedSecondFactor,
    /// Anything else (password, unknown primary methods, interrupts, unknown result).
    Other,
}

fn classify(s: &Step) -> StepKind {
    let method = s.method.map(str::trim).filter(|m| !m.is_empty());
    let detail = s.result_detail;
    match s.succeeded {
        Some(true) => {
            if opt_contains(detail, "external provider") {
                return StepKind::Upstream;
            }
            if method.is_some_and(is_carry_method) || detail.is_some_and(is_carry_detail) {
                let first_factor = opt_contains(detail, "first factor")
                    || (s.step_requirement.is_some_and(|r| contains_ci(r, "primary")) && !opt_contains(detail, "mfa"));
                return if first_factor { StepKind::CarriedFirstFactor } else { StepKind::CarriedMfa };
            }
            if detail.is_some_and(is_fresh_mfa_detail) {
                return StepKind::Fresh;
            }
            match method {
                Some(m) if is_second_factor_method(m) => StepKind::Fresh,
                // An unlisted method on a step Entra itself labels as the MFA step.
                Some(m) if !is_password(m) && s.step_requirement.is_some_and(is_mfa_step_requirement) => {
                    StepKind::Fresh
                }
                _ => StepKind::Other,
            }
        }
        Some(false) => {
            if opt_contains(detail, "mfa denied") {
                return StepKind::FailedSecondFactor;
            }
            // "MFA required in Azure AD" on an unsucceeded step is the interrupt that leads to
            // the prompt (error 50074/50076), not an attempt that failed.
            if opt_contains(detail, "required") {
                return StepKind::Other;
            }
            let second = method.is_some_and(|m| !is_carry_method(m) && is_second_factor_method(m))
                || (method.is_none_or(|m| !is_password(m)) && s.step_requirement.is_some_and(is_mfa_step_requirement));
            if second { StepKind::FailedSecondFactor } else { StepKind::Other }
        }
        None => StepKind::Other,
    }
}

/// AADSTS500121: "Authentication failed during strong authentication request".
const MFA_FAILED_CODES: &[&str] = &["500121"];

/// Reads the MFA claim of one record. See the crate docs for the rules and their order.
pub(crate) fn read(f: &Facts) -> MfaClaim {
    let req = requirement(f.requirement);
    let kinds: Vec<StepKind> = f.steps.iter().map(classify).collect();
    let has = |k: StepKind| kinds.contains(&k);
    let status_has = |needle: &str| f.status_texts.iter().any(|t| opt_contains(*t, needle));

    match f.outcome {
        Outcome::Failure => {
            let mfa_failed = has(StepKind::FailedSecondFactor)
                || status_has("mfa denied")
                || f.error_code.is_some_and(|c| MFA_FAILED_CODES.contains(&c.trim()));
            return if req != Requirement::Single && mfa_failed { MfaClaim::Failed } else { MfaClaim::Silent };
        }
        // D1: a sign-in of unknown outcome (an empty or missing `status`, no `resultType`) is
        // read on the facts it carries, as a successful one is; the correlator knows that its
        // outcome is unknown.
        Outcome::Unknown | Outcome::Success => {}
    }

    if req == Requirement::Single {
        return MfaClaim::SingleFactor;
    }
    if has(StepKind::Fresh) {
        return MfaClaim::Verified;
    }
    if has(StepKind::Upstream) {
        return MfaClaim::Upstream;
    }
    if has(StepKind::CarriedMfa) {
        return MfaClaim::Carried;
    }
    // Record-level wording (status.additionalDetails often repeats the deciding step).
    if f.status_texts.iter().any(|t| t.is_some_and(is_external_detail)) {
        return MfaClaim::Upstream;
    }
    if f.status_texts.iter().flatten().any(|t| is_carry_detail(t) && !contains_ci(t, "first factor")) {
        return MfaClaim::Carried;
    }
    if f.status_texts.iter().any(|t| t.is_some_and(is_fresh_mfa_detail)) {
        return MfaClaim::Verified;
    }
    // A token issued by a federated IdP (AD FS) and no Entra-side MFA step: the factor, if any,
    // was checked where this log cannot see.
    if f.token_issuer_type.is_some_and(|t| contains_ci(t, "adfederationservices")) {
        return MfaClaim::Upstream;
    }
    // Deprecated mfaDetail: weaker evidence, used only when nothing above spoke.
    if f.mfa_detail_method.is_some_and(is_second_factor_method) {
        return MfaClaim::Verified;
    }
    MfaClaim::Silent
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: Option<&str> = Some("multiFactorAuthentication");
    const SINGLE: Option<&str> = Some("singleFactorAuthentication");

    fn step(method: &'static str, ok: bool, detail: &'static str, req: &'static str) -> Step<'static> {
        let o = |s: &'static str| if s.is_empty() { None } else { Some(s) };
        Step {
            method: o(method),
            method_detail: None,
            succeeded: Some(ok),
            result_detail: o(detail),
            step_requirement: o(req),
        }
    }

    fn pw() -> Step<'static> {
        step("Password", true, "Correct password", "Primary authentication")
    }

    fn ok(req: Option<&'static str>, steps: &'static [Step<'static>]) -> Facts<'static> {
        Facts { outcome: Outcome::Success, error_code: Some("0"), requirement: req, steps, ..Default::default() }
    }

    fn leak(v: Vec<Step<'static>>) -> &'static [Step<'static>] {
        Vec::leak(v)
    }

    #[test]
    fn fresh_push_after_password_is_verified() {
        let s = leak(vec![
            pw(),
            step("Mobile app notification", true, "MFA successfully completed", "Multifactor authentication"),
        ]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Verified);
    }

    #[test]
    fn mfa_completed_in_azure_ad_detail_without_method_is_verified() {
        let s = leak(vec![pw(), step("", true, "MFA completed in Azure AD", "")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Verified);
    }

    #[test]
    fn previously_satisfied_is_carried() {
        let s = leak(vec![step(
            "Previously satisfied",
            true,
            "MFA requirement satisfied by claim in the token",
            "Multifactor authentication",
        )]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Carried);
    }

    #[test]
    fn satisfied_by_token_method_is_carried_not_verified() {
        let s = leak(vec![step("Satisfied by token", true, "", "")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Carried);
    }

    #[test]
    fn claim_in_token_detail_with_other_method_is_carried() {
        let s = leak(vec![pw(), step("", true, "mfa requirement satisfied by claim in the token", "")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Carried);
    }

    #[test]
    fn carried_plus_fresh_second_factor_is_verified() {
        let s = leak(vec![
            step("Previously satisfied", true, "MFA requirement satisfied by claim in the token", ""),
            step("FIDO2 security key", true, "", "Multifactor authentication"),
        ]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Verified);
    }

    #[test]
    fn first_factor_satisfied_by_claim_is_not_mfa() {
        // The Elastic sample: "Previously satisfied" for the *first* factor.
        let s = leak(vec![step(
            "Previously satisfied",
            true,
            "First factor requirement satisfied by claim in the token",
            "Primary authentication",
        )]);
        assert_eq!(read(&ok(SINGLE, s)), MfaClaim::SingleFactor);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Silent);
        assert_eq!(read(&ok(None, s)), MfaClaim::Silent);
    }

    #[test]
    fn external_provider_claim_is_upstream() {
        let s = leak(vec![step(
            "Previously satisfied",
            true,
            "MFA requirement satisfied by claim provided by external provider",
            "Multifactor authentication",
        )]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Upstream);
    }

    #[test]
    fn federated_token_issuer_without_mfa_step_is_upstream() {
        let s = leak(vec![]);
        let f = Facts { token_issuer_type: Some("ADFederationServices"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Upstream);
        let f = Facts { token_issuer_type: Some("AzureAD"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Silent);
    }

    #[test]
    fn denied_push_on_failed_sign_in_is_failed() {
        let s = leak(vec![
            pw(),
            step(
                "Mobile app notification",
                false,
                "MFA denied; user declined the authentication",
                "Multifactor authentication",
            ),
        ]);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("500121"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Failed);
    }

    #[test]
    fn failed_second_factor_step_without_wording_is_failed() {
        let s = leak(vec![pw(), step("OATH verification code", false, "", "")]);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("500121"), ..ok(None, s) };
        assert_eq!(read(&f), MfaClaim::Failed);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("50000"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Failed);
    }

    #[test]
    fn mfa_denied_in_status_only_is_failed() {
        let s = leak(vec![]);
        let f = Facts {
            outcome: Outcome::Failure,
            error_code: Some("500121"),
            status_texts: [
                Some("Authentication failed during strong authentication request."),
                Some("MFA denied; user did not respond to mobile app notification"),
                None,
            ],
            ..ok(MULTI, s)
        };
        assert_eq!(read(&f), MfaClaim::Failed);
    }

    #[test]
    fn mfa_required_interrupt_is_not_a_failed_factor() {
        let s = leak(vec![pw(), step("Mobile app notification", false, "MFA required in Azure AD", "")]);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("50074"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Silent);
    }

    #[test]
    fn wrong_password_is_silent_not_failed() {
        let s = leak(vec![step("Password", false, "Invalid username or password", "Primary authentication")]);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("50126"), ..ok(SINGLE, s) };
        assert_eq!(read(&f), MfaClaim::Silent);
        let f = Facts { outcome: Outcome::Failure, error_code: Some("50126"), ..ok(MULTI, s) };
        assert_eq!(read(&f), MfaClaim::Silent);
    }

    #[test]
    fn multi_factor_without_details_is_silent() {
        assert_eq!(read(&ok(MULTI, leak(vec![]))), MfaClaim::Silent);
    }

    #[test]
    fn multi_factor_with_password_step_only_is_silent() {
        assert_eq!(read(&ok(MULTI, leak(vec![pw()]))), MfaClaim::Silent);
    }

    #[test]
    fn single_factor_success_is_single_factor_even_with_a_strong_method() {
        assert_eq!(read(&ok(SINGLE, leak(vec![pw()]))), MfaClaim::SingleFactor);
        let s = leak(vec![step("FIDO2 security key", true, "", "Primary authentication")]);
        assert_eq!(read(&ok(SINGLE, s)), MfaClaim::SingleFactor);
    }

    #[test]
    fn single_factor_requirement_beats_status_claim_wording() {
        // Panther's record: singleFactorAuthentication with status.additionalDetails "MFA
        // requirement satisfied by claim in the token": the requirement decides.
        let f = Facts {
            status_texts: [None, Some("MFA requirement satisfied by claim in the token"), None],
            ..ok(SINGLE, leak(vec![pw()]))
        };
        assert_eq!(read(&f), MfaClaim::SingleFactor);
    }

    #[test]
    fn requirement_is_case_insensitive() {
        assert_eq!(read(&ok(Some("SingleFactorAuthentication"), leak(vec![]))), MfaClaim::SingleFactor);
    }

    #[test]
    fn no_requirement_is_silent() {
        assert_eq!(read(&ok(None, leak(vec![]))), MfaClaim::Silent);
        assert_eq!(read(&ok(None, leak(vec![pw()]))), MfaClaim::Silent);
    }

    #[test]
    fn status_claim_wording_without_requirement_is_carried() {
        let f = Facts {
            status_texts: [None, Some("MFA requirement satisfied by claim in the token"), None],
            ..ok(None, leak(vec![]))
        };
        assert_eq!(read(&f), MfaClaim::Carried);
        let f = Facts {
            status_texts: [None, Some("First factor requirement satisfied by claim in the token"), None],
            ..ok(None, leak(vec![]))
        };
        assert_eq!(read(&f), MfaClaim::Silent);
    }

    #[test]
    fn mfa_detail_second_factor_is_weak_verified() {
        let f = Facts { mfa_detail_method: Some("PhoneAppNotification"), ..ok(None, leak(vec![])) };
        // "PhoneAppNotification" contains "phone" and "notification".
        assert_eq!(read(&f), MfaClaim::Verified);
        let f = Facts { mfa_detail_method: Some("Password"), ..ok(None, leak(vec![])) };
        assert_eq!(read(&f), MfaClaim::Silent);
        let f = Facts { mfa_detail_method: Some("PhoneAppNotification"), ..ok(SINGLE, leak(vec![])) };
        assert_eq!(read(&f), MfaClaim::SingleFactor);
        let f = Facts {
            outcome: Outcome::Failure,
            error_code: Some("50126"),
            mfa_detail_method: Some("PhoneAppNotification"),
            ..ok(None, leak(vec![]))
        };
        assert_eq!(read(&f), MfaClaim::Silent);
    }

    /// D1: an unknown outcome is read on the facts the record carries, as a success is.
    #[test]
    fn unknown_outcome_is_read_on_its_facts() {
        let unknown = |req, s| Facts { outcome: Outcome::Unknown, error_code: None, ..ok(req, s) };
        let s = leak(vec![step("Mobile app notification", true, "", "")]);
        assert_eq!(read(&unknown(MULTI, s)), MfaClaim::Verified);
        assert_eq!(read(&unknown(SINGLE, leak(vec![pw()]))), MfaClaim::SingleFactor);
        let s = leak(vec![step("Previously satisfied", true, "MFA requirement satisfied by claim in the token", "")]);
        assert_eq!(read(&unknown(MULTI, s)), MfaClaim::Carried);
        let s = leak(vec![step("", true, "MFA requirement satisfied by claim provided by external provider", "")]);
        assert_eq!(read(&unknown(MULTI, s)), MfaClaim::Upstream);
        assert_eq!(read(&unknown(MULTI, leak(vec![pw()]))), MfaClaim::Silent);
        assert_eq!(read(&unknown(None, leak(vec![]))), MfaClaim::Silent);
    }

    #[test]
    fn step_without_succeeded_is_not_evidence() {
        let s = leak(vec![Step { method: Some("Mobile app notification"), ..Default::default() }]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Silent);
    }

    #[test]
    fn passwordless_phone_sign_in_counts_as_second_factor() {
        let s = leak(vec![step("Passwordless phone sign-in", true, "", "Primary authentication")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Verified);
    }

    #[test]
    fn unlisted_method_counts_only_on_an_mfa_step() {
        let s = leak(vec![pw(), step("Email OTP", true, "", "Primary authentication")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Silent);
        let s = leak(vec![pw(), step("Some future method", true, "", "Multifactor authentication")]);
        assert_eq!(read(&ok(MULTI, s)), MfaClaim::Verified);
    }
}
