//! trailproof configuration (TOML), as plain data. The binary reads the file; the correlator and
//! the collectors take these values. Every field has a default, so an empty file (or none) works.
//! `config/trailproof.example.toml` documents each key.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// IdP instances and how AWS sessions map to them.
    pub idp: Vec<IdpConfig>,
    pub identity: IdentityConfig,
    pub windows: Windows,
    pub allowlist: Allowlist,
    pub score: ScoreWeights,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdpConfig {
    /// A name for messages and reports.
    pub name: String,
    /// `okta`, `entra` or `google`.
    pub kind: String,
    /// Coverage scope in the store (`*` for Okta, tenant id for Entra, customer id for Google).
    /// Empty: any scope of this provider.
    pub scope: String,
    /// SAML provider ARNs whose sign-ins this IdP asserts.
    pub saml_provider_arns: Vec<String>,
    /// IAM Identity Center uses this IdP as its external identity source.
    pub identity_center: bool,
    /// IAM users/roles that call GetFederationToken for users of this IdP (custom brokers).
    pub broker_issuer_arns: Vec<String>,
    /// Roles whose sessions are brokered for users of this IdP (AssumeRole + GetSigninToken).
    pub role_arns: Vec<String>,
    /// The AWS application(s) at the IdP (Okta app instance id, Entra appId).
    pub aws_app_ids: Vec<String>,
    /// The AWS application(s) by display name. With neither ids nor names, names matching
    /// `(?i)aws|amazon` are taken.
    pub aws_app_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub aliases: Vec<Alias>,
    pub rules: Vec<Rule>,
}

/// AWS session name → IdP login.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Alias {
    pub aws: String,
    pub idp: String,
}

/// Regex over the session name and its replacement (`$1` etc.), giving an IdP login.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub pattern: String,
    pub replace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Windows {
    pub before_minutes: u32,
    pub after_minutes: u32,
    pub skew_minutes: u32,
    pub google_lookback_days: u32,
    pub baseline_days: u32,
    pub burst_minutes: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            before_minutes: 10,
            after_minutes: 2,
            skew_minutes: 2,
            google_lookback_days: 14,
            baseline_days: 30,
            burst_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Allowlist {
    /// CIDRs of corporate networks, VPN egress and brokers.
    pub cidrs: Vec<String>,
    pub asns: Vec<u32>,
    /// Regexes over the user agent (automation).
    pub user_agents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    pub base_enforced: i32,
    pub base_unknown: i32,
    pub base_not_enforced: i32,
    pub base_no_idp_login: i32,
    pub token_relay: i32,
    pub idp_ip_mismatch: i32,
    pub new_ip: i32,
    pub new_asn: i32,
    pub new_country: i32,
    pub new_user_agent: i32,
    pub new_role: i32,
    pub multi_network_burst: i32,
    pub allowlisted_network: i32,
    pub allowlisted_user_agent: i32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            base_enforced: 0,
            base_unknown: 30,
            base_not_enforced: 60,
            base_no_idp_login: 80,
            token_relay: 30,
            idp_ip_mismatch: 10,
            new_ip: 5,
            new_asn: 10,
            new_country: 15,
            new_user_agent: 5,
            new_role: 5,
            multi_network_burst: 20,
            allowlisted_network: -15,
            allowlisted_user_agent: -10,
        }
    }
}
