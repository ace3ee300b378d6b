//! The verdict record: what trailproof states about one console session. Its JSON keys are
//! stable (reports, tickets and the simulator's labels use them); add fields, never rename.
//! docs/judging.md gives the rules that produce each value.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPath {
    Saml,
    IdentityCenter,
    FederationBroker,
    RoleBroker,
    AwsNative,
}

impl SessionPath {
    pub const ALL: [SessionPath; 5] = [
        SessionPath::Saml,
        SessionPath::IdentityCenter,
        SessionPath::FederationBroker,
        SessionPath::RoleBroker,
        SessionPath::AwsNative,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SessionPath::Saml => "saml",
            SessionPath::IdentityCenter => "identity_center",
            SessionPath::FederationBroker => "federation_broker",
            SessionPath::RoleBroker => "role_broker",
            SessionPath::AwsNative => "aws_native",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Enforced,
    NotEnforced,
    NoIdpLogin,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [Verdict::Enforced, Verdict::NotEnforced, Verdict::NoIdpLogin, Verdict::Unknown];
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Enforced => "enforced",
            Verdict::NotEnforced => "not_enforced",
            Verdict::NoIdpLogin => "no_idp_login",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Why a verdict is `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    IdpLogsNotCollected,
    IdentityUnmapped,
    ConflictingCandidates,
    IdpNotConfigured,
    /// An IAM user / root ConsoleLogin without `MFAUsed`.
    AwsMfaFieldMissing,
    /// The only IdP sign-ins in the window state no outcome (an Entra record with an empty
    /// `status`), and what they carry does not settle MFA.
    IdpOutcomeUnknown,
    /// No AWS application is configured for a searched IdP and none was ever seen in its
    /// sign-ins, so the absence of an AWS sign-in proves nothing.
    AwsAppUnknown,
}

impl UnknownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::IdpLogsNotCollected => "idp_logs_not_collected",
            UnknownReason::IdentityUnmapped => "identity_unmapped",
            UnknownReason::ConflictingCandidates => "conflicting_candidates",
            UnknownReason::IdpNotConfigured => "idp_not_configured",
            UnknownReason::AwsMfaFieldMissing => "aws_mfa_field_missing",
            UnknownReason::IdpOutcomeUnknown => "idp_outcome_unknown",
            UnknownReason::AwsAppUnknown => "aws_app_unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    NoMfa,
    NoIdpLogin,
    TokenRelay,
    IdpIpMismatch,
    NewIp,
    NewAsn,
    NewCountry,
    NewUserAgent,
    NewRole,
    MultiNetworkBurst,
    AllowlistedNetwork,
    AllowlistedUserAgent,
}

impl Signal {
    pub const ALL: [Signal; 12] = [
        Signal::NoMfa,
        Signal::NoIdpLogin,
        Signal::TokenRelay,
        Signal::IdpIpMismatch,
        Signal::NewIp,
        Signal::NewAsn,
        Signal::NewCountry,
        Signal::NewUserAgent,
        Signal::NewRole,
        Signal::MultiNetworkBurst,
        Signal::AllowlistedNetwork,
        Signal::AllowlistedUserAgent,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::NoMfa => "no_mfa",
            Signal::NoIdpLogin => "no_idp_login",
            Signal::TokenRelay => "token_relay",
            Signal::IdpIpMismatch => "idp_ip_mismatch",
            Signal::NewIp => "new_ip",
            Signal::NewAsn => "new_asn",
            Signal::NewCountry => "new_country",
            Signal::NewUserAgent => "new_user_agent",
            Signal::NewRole => "new_role",
            Signal::MultiNetworkBurst => "multi_network_burst",
            Signal::AllowlistedNetwork => "allowlisted_network",
            Signal::AllowlistedUserAgent => "allowlisted_user_agent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// The configuration spelling (any case, surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Severity> {
        let s = s.trim();
        Severity::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Which IdP (or `aws` for native sessions, `identity_center` for IAM Identity Center's own
/// directory) the identity was matched at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    Okta,
    Entra,
    Google,
    Adfs,
    Aws,
    IdentityCenter,
}

impl IdentitySource {
    pub fn of(p: crate::Idp) -> IdentitySource {
        match p {
            crate::Idp::Okta => IdentitySource::Okta,
            crate::Idp::Entra => IdentitySource::Entra,
            crate::Idp::Google => IdentitySource::Google,
            crate::Idp::Adfs => IdentitySource::Adfs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    SourceIdentity,
    SamlSubject,
    Email,
    Username,
    LocalPart,
    Alias,
    Rule,
    Prefix,
    AwsPrincipal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub idp: IdentitySource,
    pub user: String,
    pub matched_by: MatchedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaInfo {
    pub factors: Vec<String>,
    /// RFC 3339 time of the factor (or of the sign-in that carried it).
    pub at: Option<String>,
    pub carried_from_earlier_signin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `cloudtrail`, `okta`, `entra`, `google`.
    pub source: crate::Source,
    pub id: String,
    /// See docs/judging.md §6.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub score: u8,
    pub severity: Severity,
    pub signals: Vec<Signal>,
}

/// One verdict record (issue "correlation engine" lists the keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub console_login_event_id: String,
    pub account_id: Option<String>,
    pub arn: Option<String>,
    pub session_name: Option<String>,
    /// RFC 3339.
    pub time: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub path: SessionPath,
    pub verdict: Verdict,
    pub reason: Option<UnknownReason>,
    pub identity: Option<Identity>,
    pub mfa: Option<MfaInfo>,
    pub evidence: Vec<Evidence>,
    pub risk: Risk,
    pub explanation: String,
    pub version: u32,
}

/// The simulator's label for one console session: the subset of [`VerdictRecord`] keys that the
/// ground truth fixes. `signals` are the signals that must be present (the engine may add others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub console_login_event_id: String,
    pub path: SessionPath,
    pub verdict: Verdict,
    pub reason: Option<UnknownReason>,
    pub identity: Option<Identity>,
    /// Evidence the verdict must cite (the engine may cite more).
    pub evidence: Vec<Evidence>,
    pub risk: LabelRisk,
    /// The simulator's scenario name (see crates/simulate/README.md).
    pub scenario: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRisk {
    pub signals: Vec<Signal>,
}

#[cfg(test)]
mod severity_tests {
    use super::Severity;

    /// `as_str` is the serde name, so configuration, reports and stored JSON agree.
    #[test]
    fn severity_names_are_the_serde_names_and_parse_back() {
        for v in Severity::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
            assert_eq!(Severity::parse(&format!(" {} ", v.as_str().to_uppercase())), Some(v));
        }
        assert_eq!(Severity::parse("severe"), None);
    }
}
