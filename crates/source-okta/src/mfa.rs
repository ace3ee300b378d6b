//! Reading what an Okta factor event says about MFA (formats.md 2.2).

use trailproof_model::MfaClaim;

/// What one authenticator name (a `debugData.factor`, an `AuthenticatorEnrollment` method or
/// display name, a `credentialType`) says about the kind of authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthClass {
    /// The Okta password (`PASSWORD`, `Password`, `OKTA_PASSWORD`, `password_as_factor`).
    Password,
    /// A knowledge factor other than the password (security question). Not MFA evidence.
    Knowledge,
    /// Any other named authenticator: Okta Verify, WebAuthn, TOTP, SMS, e-mail...
    Factor,
    /// A name that does not identify an authenticator (`credentialType` IWA, ASSERTION,
    /// OKTA_CLIENT_SESSION, ...): it neither proves nor contradicts a second factor.
    Neutral,
}

/// Words that mark a one-time code even when the name also says "password" ("One-time password").
const OTP_WORDS: &[&str] = &["one", "time", "onetime", "otp", "totp", "hotp", "passcode"];

/// Classifies an authenticator name from `debugData.factor` or an `AuthenticatorEnrollment`
/// target. Case and separators do not matter: `PASSWORD`, `Password`, `okta_password` are the
/// password; `One-time password` is not.
pub(crate) fn classify_name(name: &str) -> AuthClass {
    let mut password = false;
    let mut otp = false;
    let mut question = false;
    for tok in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()) {
        let tok = tok.to_ascii_lowercase();
        match tok.as_str() {
            "password" | "oktapassword" => password = true,
            "question" | "securityquestion" => question = true,
            t if OTP_WORDS.contains(&t) => otp = true,
            _ => {}
        }
    }
    if password && !otp {
        AuthClass::Password
    } else if question {
        AuthClass::Knowledge
    } else {
        AuthClass::Factor
    }
}

/// Classifies `authenticationContext.credentialType`, whose documented values are a closed list
/// (formats.md 2.1): only PASSWORD, and the one-time-code types OTP / SMS / EMAIL, name an
/// authenticator; the rest (ASSERTION, IWA, OAUTH2, JWT, CERTIFICATE, DEVICE_UDID,
/// OKTA_CLIENT_SESSION, PRE_SHARED_SYMMETRIC_KEY, unknown values) do not tell which factor ran.
pub(crate) fn classify_credential_type(ct: &str) -> AuthClass {
    if ct.eq_ignore_ascii_case("PASSWORD") {
        AuthClass::Password
    } else if ["OTP", "SMS", "EMAIL"].iter().any(|k| ct.eq_ignore_ascii_case(k)) {
        AuthClass::Factor
    } else {
        AuthClass::Neutral
    }
}

/// The authenticator names a factor event carries, in order of preference.
#[derive(Debug, Default)]
pub(crate) struct FactorEvidence<'r> {
    /// `debugContext.debugData.factor`.
    pub debug_factor: Option<&'r str>,
    /// Each `AuthenticatorEnrollment` target: (`detailEntry.methodTypeUsed`, `displayName`).
    pub enrollments: Vec<(Option<&'r str>, Option<&'r str>)>,
    /// `authenticationContext.credentialType`.
    pub credential_type: Option<&'r str>,
}

impl<'r> FactorEvidence<'r> {
    /// The one name that best says which factor ran: the debug factor, else the first
    /// enrollment's method, else its display name, else the credential type.
    pub(crate) fn name(&self) -> Option<&'r str> {
        self.debug_factor.or_else(|| self.enrollments.iter().find_map(|(m, d)| m.or(*d))).or(self.credential_type)
    }

    /// Every name present, with its class, without duplicates (first spelling kept).
    fn all(&self) -> Vec<(&'r str, AuthClass)> {
        let mut out: Vec<(&'r str, AuthClass)> = Vec::new();
        let mut push = |s: &'r str, c: AuthClass| {
            if !out.iter().any(|(o, _)| o.eq_ignore_ascii_case(s)) {
                out.push((s, c));
            }
        };
        if let Some(f) = self.debug_factor {
            push(f, classify_name(f));
        }
        for (m, d) in &self.enrollments {
            for s in [m, d].into_iter().flatten() {
                push(s, classify_name(s));
            }
        }
        if let Some(c) = self.credential_type {
            push(c, classify_credential_type(c));
        }
        out
    }

    /// The claim of a *successful* `auth_via_mfa` / `verify` event and the factors it shows.
    ///
    /// - every name that identifies an authenticator says password → `SingleFactor`, `["Password"]`;
    /// - they name a non-password, non-knowledge factor and nothing says password →
    ///   `Verified`, `[name]`;
    /// - nothing identifies the authenticator, or the names contradict each other, or the
    ///   factor is a knowledge factor (security question) → `Silent` (never a guessed
    ///   `Verified`), with every name seen as the factors.
    pub(crate) fn success_claim(&self) -> (MfaClaim, Vec<String>) {
        let all = self.all();
        let has = |c: AuthClass| all.iter().any(|(_, k)| *k == c);
        let (pw, factor, knowledge) = (has(AuthClass::Password), has(AuthClass::Factor), has(AuthClass::Knowledge));
        if pw && !factor && !knowledge {
            return (MfaClaim::SingleFactor, vec!["Password".to_owned()]);
        }
        if factor && !pw && !knowledge {
            // `name()` prefers the debug factor and enrollment names, which are never neutral;
            // without them it is the credential type, which then is the factor seen.
            return (MfaClaim::Verified, self.name().map(|n| vec![n.to_owned()]).unwrap_or_default());
        }
        (
            MfaClaim::Silent,
            all.into_iter().filter(|(_, k)| *k != AuthClass::Neutral).map(|(s, _)| s.to_owned()).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_spellings_are_password() {
        for s in ["password", "PASSWORD", "Password", "OKTA_PASSWORD", "OktaPassword", "password_as_factor"] {
            assert_eq!(classify_name(s), AuthClass::Password, "{s}");
        }
    }

    #[test]
    fn one_time_password_is_not_the_password() {
        for s in ["One-time password", "ONE_TIME_PASSWORD", "OTP password", "Passwordless", "token:software:totp"] {
            assert_eq!(classify_name(s), AuthClass::Factor, "{s}");
        }
    }

    #[test]
    fn security_question_is_knowledge() {
        assert_eq!(classify_name("Security Question"), AuthClass::Knowledge);
        assert_eq!(classify_name("QUESTION"), AuthClass::Knowledge);
    }

    #[test]
    fn credential_types_that_name_no_authenticator_are_neutral() {
        assert_eq!(classify_credential_type("PASSWORD"), AuthClass::Password);
        assert_eq!(classify_credential_type("OTP"), AuthClass::Factor);
        assert_eq!(classify_credential_type("sms"), AuthClass::Factor);
        for s in ["IWA", "ASSERTION", "OKTA_CLIENT_SESSION", "CERTIFICATE", "SOMETHING_NEW"] {
            assert_eq!(classify_credential_type(s), AuthClass::Neutral, "{s}");
        }
    }
}
