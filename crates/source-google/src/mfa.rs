//! MFA reading rules for Google `login` events (formats.md 4.3). See the crate docs for the
//! rules in prose; the tests in `tests.rs` pin each one.

use crate::params::Parameters;
use trailproof_model::{MfaClaim, Outcome};

/// `login_challenge_method` values that are **not** a second factor: first factors
/// (`password`), knowledge questions, location and bot checks, federation markers, and values
/// that name no factor at all. Every other method counts as a second factor — the documented
/// ones are `backup_code`, `google_authenticator`, `google_prompt`, `idv_any_phone`,
/// `idv_preregistered_phone`, `internal_two_factor`, `offline_otp`, `security_key`,
/// `security_key_otp`, and the newer `passkey`, `device_prompt`, `cross_device`, `rescue_code`
/// [formats.md 4.3; policy choice stated there].
///
/// `idv_preregistered_email` (a code mailed to the recovery address) is listed here: Google's
/// 2-Step Verification does not offer e-mail as a second factor, and an e-mail code is not
/// accepted as MFA by the usual standards.
pub const NON_FACTOR_METHODS: &[&str] = &[
    "password",
    "none",
    "login_location",
    "knowledge_employee_id",
    "knowledge_preregistered_email",
    "knowledge_preregistered_phone",
    "idv_preregistered_email",
    "captcha",
    "saml",
    "reauth",
    "other",
    "unknown",
];

/// Non-factor methods that do not say which factor was used: `none` (no challenge was shown),
/// `other` and `unknown` (some challenge, unnamed — it may have been a second factor). A login
/// whose methods are only these, or that lists `other`/`unknown` beside a first factor, proves
/// neither MFA nor its absence.
pub const UNINFORMATIVE_METHODS: &[&str] = &["none", "other", "unknown"];

fn eq_any(m: &str, list: &[&str]) -> bool {
    list.iter().any(|x| m.eq_ignore_ascii_case(x))
}

/// `login_challenge_method` values that **are** a second factor. An allowlist: a method name
/// Google adds later is neither a factor nor a non-factor until it is listed here, and a login
/// that shows only such a name beside a first factor proves nothing ([`MfaClaim::Silent`]) —
/// a parser never guesses MFA into existence.
pub const SECOND_FACTOR_METHODS: &[&str] = &[
    "backup_code",
    "google_authenticator",
    "google_prompt",
    "idv_any_phone",
    "idv_preregistered_phone",
    "internal_two_factor",
    "offline_otp",
    "security_key",
    "security_key_otp",
    "passkey",
    "device_prompt",
    "cross_device",
    "rescue_code",
];

/// Whether a `login_challenge_method` value counts as a second factor.
pub fn is_second_factor_method(method: &str) -> bool {
    eq_any(method.trim(), SECOND_FACTOR_METHODS)
}

/// A method that is neither a listed second factor nor a listed non-factor.
fn is_unrecognised_method(method: &str) -> bool {
    let m = method.trim();
    !m.is_empty() && !is_second_factor_method(m) && !eq_any(m, NON_FACTOR_METHODS)
}

/// `login_challenge_status` read as an outcome: "passed" / "Challenge Passed." → success,
/// "failed" / "Challenge Failed." → failure (any case), anything else → unknown.
pub fn challenge_outcome(status: Option<&str>) -> Outcome {
    let Some(s) = status else { return Outcome::Unknown };
    let s = s.trim().trim_end_matches('.').trim().to_ascii_lowercase();
    let s = s.strip_prefix("challenge ").unwrap_or(&s).trim();
    match s {
        "passed" => Outcome::Success,
        "failed" => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

/// The MFA claim of one event of application `login`.
pub(crate) fn login_claim(event_name: &str, p: &Parameters<'_>, methods: &[&str]) -> MfaClaim {
    if event_name == "logout" {
        return MfaClaim::Silent;
    }
    if p.str("login_type").is_some_and(|t| t.eq_ignore_ascii_case("saml")) {
        return MfaClaim::Upstream;
    }
    let second = methods.iter().any(|m| is_second_factor_method(m));
    let is_2f = p.bool("is_second_factor");
    match event_name {
        "login_success" => {
            if second || is_2f == Some(true) {
                MfaClaim::Verified
            } else if methods.iter().any(|m| m.eq_ignore_ascii_case("saml")) {
                MfaClaim::Upstream
            } else if methods.iter().any(|m| eq_any(m, &["other", "unknown"]) || is_unrecognised_method(m)) {
                MfaClaim::Silent
            } else if methods.iter().any(|m| !eq_any(m, UNINFORMATIVE_METHODS)) {
                MfaClaim::SingleFactor
            } else {
                MfaClaim::Silent
            }
        }
        "login_failure" => {
            if second || is_2f == Some(true) {
                MfaClaim::Failed
            } else {
                MfaClaim::Silent
            }
        }
        "login_verification" | "login_challenge" => {
            let status = challenge_outcome(p.str("login_challenge_status"));
            let step_is_second = match is_2f {
                Some(b) => b,
                None => second,
            };
            match (step_is_second, status) {
                (true, Outcome::Success) => MfaClaim::Verified,
                (true, Outcome::Failure) => MfaClaim::Failed,
                _ => MfaClaim::Silent,
            }
        }
        _ => MfaClaim::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrecognised_method_is_not_taken_as_a_second_factor() {
        assert!(!is_second_factor_method("quantum_handshake"));
        assert!(is_unrecognised_method("quantum_handshake"));
        assert!(!is_unrecognised_method("password"));
        assert!(!is_unrecognised_method("security_key"));
    }

    #[test]
    fn second_factor_methods() {
        for m in [
            "passkey",
            "security_key",
            "google_prompt",
            "google_authenticator",
            "idv_any_phone",
            "idv_preregistered_phone",
            "backup_code",
            "offline_otp",
            "internal_two_factor",
            "security_key_otp",
            "device_prompt",
            "cross_device",
            "rescue_code",
            "SECURITY_KEY",
        ] {
            assert!(is_second_factor_method(m), "{m} should be a second factor");
        }
        for m in NON_FACTOR_METHODS {
            assert!(!is_second_factor_method(m), "{m} should not be a second factor");
        }
        assert!(!is_second_factor_method(""));
        assert!(!is_second_factor_method(" Password "));
    }

    #[test]
    fn challenge_status_spellings() {
        assert_eq!(challenge_outcome(Some("passed")), Outcome::Success);
        assert_eq!(challenge_outcome(Some("Challenge Passed.")), Outcome::Success);
        assert_eq!(challenge_outcome(Some("PASSED")), Outcome::Success);
        assert_eq!(challenge_outcome(Some("failed")), Outcome::Failure);
        assert_eq!(challenge_outcome(Some("Challenge Failed.")), Outcome::Failure);
        assert_eq!(challenge_outcome(Some("Challenge Abandoned.")), Outcome::Unknown);
        assert_eq!(challenge_outcome(None), Outcome::Unknown);
    }
}
