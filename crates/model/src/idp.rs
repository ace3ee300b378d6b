//! The IdP side: one [`IdpEvent`] per sign-in relevant Okta, Entra ID or Google Workspace event.

use crate::{Millis, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, get_size2::GetSize)]
#[serde(rename_all = "lowercase")]
pub enum Idp {
    Okta,
    Entra,
    Google,
    /// Active Directory Federation Services, read from Entra's `ADFSSignInLogs`.
    Adfs,
}

impl Idp {
    pub const ALL: [Idp; 4] = [Idp::Okta, Idp::Entra, Idp::Google, Idp::Adfs];

    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::Google => "google",
            Idp::Adfs => "adfs",
        }
    }

    pub fn parse(s: &str) -> Option<Idp> {
        Idp::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The source (and coverage) this IdP's sign-ins are stored under.
    pub fn source(self) -> crate::Source {
        match self {
            Idp::Okta => crate::Source::Okta,
            Idp::Entra => crate::Source::Entra,
            Idp::Google => crate::Source::Google,
            Idp::Adfs => crate::Source::Adfs,
        }
    }
}

/// What an IdP event says happened, in the terms the correlator reasons with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, get_size2::GetSize)]
#[serde(rename_all = "snake_case")]
pub enum IdpEventKind {
    /// The user was signed in to an application (Okta `user.authentication.sso`, an Entra
    /// sign-in to an app, a Google `saml` login). For AWS this is the SAML assertion.
    AppSso,
    /// An IdP session began (Okta `user.session.start`).
    SessionStart,
    /// A factor was checked and passed (Okta `auth_via_mfa` / `verify` success).
    FactorVerified,
    /// A factor was checked and failed.
    FactorFailed,
    /// A sign-on policy was evaluated (Okta `policy.evaluate_sign_on`).
    PolicyEvaluated,
    /// A sign-in to the IdP itself (Google `login` application: login_success, login_failure,
    /// login_verification, login_challenge).
    Login,
    /// The user authenticated through another IdP (Okta `auth_via_IDP`).
    UpstreamAuth,
    /// The session ended (Okta `user.session.end`, Google `logout`).
    SessionEnd,
}

impl IdpEventKind {
    pub const ALL: [IdpEventKind; 8] = [
        IdpEventKind::AppSso,
        IdpEventKind::SessionStart,
        IdpEventKind::FactorVerified,
        IdpEventKind::FactorFailed,
        IdpEventKind::PolicyEvaluated,
        IdpEventKind::Login,
        IdpEventKind::UpstreamAuth,
        IdpEventKind::SessionEnd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdpEventKind::AppSso => "app_sso",
            IdpEventKind::SessionStart => "session_start",
            IdpEventKind::FactorVerified => "factor_verified",
            IdpEventKind::FactorFailed => "factor_failed",
            IdpEventKind::PolicyEvaluated => "policy_evaluated",
            IdpEventKind::Login => "login",
            IdpEventKind::UpstreamAuth => "upstream_auth",
            IdpEventKind::SessionEnd => "session_end",
        }
    }

    pub fn parse(s: &str) -> Option<IdpEventKind> {
        IdpEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What this one record proves about multi-factor authentication, read by the source parser
/// under that source's rules (see each source crate's docs). The correlator combines the
/// claims of the records of one IdP session; a parser never guesses: when the record does not
/// say, the claim is [`MfaClaim::Silent`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default, get_size2::GetSize,
)]
#[serde(rename_all = "snake_case")]
pub enum MfaClaim {
    /// The record says nothing about MFA (an Okta SSO event, a Google SAML event).
    #[default]
    Silent,
    /// The record shows a non-password factor that succeeded in this sign-in.
    Verified,
    /// MFA was required and satisfied by an earlier sign-in (Entra "Previously satisfied" /
    /// "MFA requirement satisfied by claim in the token").
    Carried,
    /// The record shows a sign-in that completed with a single factor (Entra
    /// `singleFactorAuthentication`, Google password-only login, Okta password-only verify).
    SingleFactor,
    /// A second factor was attempted and failed or was denied.
    Failed,
    /// The factor happened at another IdP that this log cannot see (Google `login_type=saml`,
    /// Okta `auth_via_IDP`, Entra federated token issuer without an MFA claim).
    Upstream,
}

impl MfaClaim {
    pub const ALL: [MfaClaim; 6] = [
        MfaClaim::Silent,
        MfaClaim::Verified,
        MfaClaim::Carried,
        MfaClaim::SingleFactor,
        MfaClaim::Failed,
        MfaClaim::Upstream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MfaClaim::Silent => "silent",
            MfaClaim::Verified => "verified",
            MfaClaim::Carried => "carried",
            MfaClaim::SingleFactor => "single_factor",
            MfaClaim::Failed => "failed",
            MfaClaim::Upstream => "upstream",
        }
    }

    pub fn parse(s: &str) -> Option<MfaClaim> {
        MfaClaim::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The keys an IdP event names its user by. Matching folds case (see [`crate::fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, get_size2::GetSize)]
pub struct UserKeys {
    /// IdP login: Okta `actor.alternateId`, Entra `userPrincipalName`, Google `actor.email`.
    pub login: Option<String>,
    /// An e-mail address when the source gives one apart from the login.
    pub email: Option<String>,
    /// The IdP's immutable user id: Okta `actor.id`, Entra `userId`, Google `actor.profileId`.
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    /// The user name the app received, when the event names it (Okta `AppUser` target).
    pub app_username: Option<String>,
}

/// One sign-in relevant IdP event, normalized. Fields a record does not carry are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, get_size2::GetSize)]
pub struct IdpEvent {
    pub provider: Idp,
    /// Entra tenant id, Google customer id; Okta events do not name their org (`None`).
    pub tenant: Option<String>,
    /// Unique within the provider: Okta `uuid`, Entra `id`, Google
    /// `<id.applicationName>/<id.time>/<id.uniqueQualifier>` plus `#<n>` for the n-th event of a
    /// multi-event activity (the application keeps a login and a saml activity with the same time
    /// and qualifier apart).
    pub event_id: String,
    pub time_ms: Millis,
    pub kind: IdpEventKind,
    /// The source's own event name: Okta `eventType`, `signIn` for Entra, Google
    /// `<application>/<event name>` (e.g. `login/login_success`, `saml/login_success`).
    pub native_type: String,
    pub outcome: Outcome,
    /// Failure reason or policy result as the source words it.
    pub outcome_reason: Option<String>,
    pub user: UserKeys,
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    /// IdP session id: Okta `authenticationContext.externalSessionId`, Entra `sessionId`.
    pub session_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    pub country: Option<String>,
    pub mfa: MfaClaim,
    /// The factors/methods this record shows as used, in the source's words
    /// (`OKTA_VERIFY_PUSH`, `Mobile app notification`, `security_key`, `Password`...).
    pub factors: Vec<String>,
    /// Entra `authenticationRequirement` (`multiFactorAuthentication` / `singleFactorAuthentication`).
    pub auth_requirement: Option<String>,
}

/// Which IdP applications are AWS applications (by provider, application id and display name as
/// logged). The rule is the correlate crate's (`Compiled::is_aws_app`); a store that reads the
/// SSOs the judging takes only asks it, for each application it holds, so what the store reads
/// and what the engine takes cannot drift apart.
#[derive(Clone)]
pub struct AwsAppRule(std::sync::Arc<AppPredicate>);

/// (provider, application id, display name) -> is it an AWS application.
type AppPredicate = dyn Fn(Idp, Option<&str>, Option<&str>) -> bool + Send + Sync;

impl AwsAppRule {
    pub fn new(rule: impl Fn(Idp, Option<&str>, Option<&str>) -> bool + Send + Sync + 'static) -> AwsAppRule {
        AwsAppRule(std::sync::Arc::new(rule))
    }

    /// Whether an SSO of `provider` to this application is one to an AWS application.
    pub fn is_aws_app(&self, provider: Idp, app_id: Option<&str>, app_name: Option<&str>) -> bool {
        (self.0)(provider, app_id, app_name)
    }
}

impl std::fmt::Debug for AwsAppRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsAppRule(..)")
    }
}

/// The events of Google's `login` application a judgement tells apart (docs/judging.md §5,
/// Google): the parser writes them as the [`IdpEventKind::Login`] events whose `native_type` is
/// `login/<event name>` (the application, then the Reports API's event name), and the engine
/// reads them back with [`GoogleLogin::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoogleLogin {
    Success,
    Failure,
    /// A step of the sign-in (a second factor, or a check Google asked for).
    Verification,
    /// A challenge Google put to the user (its method and status say what).
    Challenge,
}

impl GoogleLogin {
    pub const ALL: [GoogleLogin; 4] =
        [GoogleLogin::Success, GoogleLogin::Failure, GoogleLogin::Verification, GoogleLogin::Challenge];

    /// The event's name in the Reports API (`events[].name`).
    pub fn event_name(self) -> &'static str {
        match self {
            GoogleLogin::Success => "login_success",
            GoogleLogin::Failure => "login_failure",
            GoogleLogin::Verification => "login_verification",
            GoogleLogin::Challenge => "login_challenge",
        }
    }

    /// The event named `name` in the Reports API's `login` application.
    pub fn from_event_name(name: &str) -> Option<GoogleLogin> {
        GoogleLogin::ALL.into_iter().find(|g| g.event_name() == name)
    }

    /// Which of them `e` is: `None` for anything but a Google `login` event.
    pub fn of(e: &IdpEvent) -> Option<GoogleLogin> {
        if e.provider != Idp::Google || e.kind != IdpEventKind::Login {
            return None;
        }
        e.native_type.strip_prefix("login/").and_then(GoogleLogin::from_event_name)
    }
}

#[cfg(test)]
mod google_login_tests {
    use super::GoogleLogin;

    #[test]
    fn an_event_is_found_by_its_reports_api_name() {
        for g in GoogleLogin::ALL {
            assert_eq!(GoogleLogin::from_event_name(g.event_name()), Some(g));
        }
        assert_eq!(GoogleLogin::from_event_name("logout"), None);
    }
}
