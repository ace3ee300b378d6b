//! Configuration compiled for the engine: regexes built, CIDRs parsed, names folded.

use ipnet::IpNet;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use trailproof_model::config::{Config, ScoreWeights};
use trailproof_model::{AwsAppRule, Idp, Millis, fold};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("[[idp]] {name:?}: kind {kind:?} is not one of okta, entra, google, adfs")]
    IdpKind { name: String, kind: String },
    #[error("{what}: {pattern:?} is not a valid regular expression: {why}")]
    Regex { what: &'static str, pattern: String, why: String },
    #[error("allowlist.cidrs: {0:?} is not a CIDR (e.g. 10.0.0.0/8) or an IP address")]
    Cidr(String),
}

#[derive(Debug, Clone)]
pub struct IdpRule {
    pub name: String,
    pub provider: Idp,
    pub scope: Option<String>,
    pub saml_provider_arns: BTreeSet<String>,
    pub identity_center: bool,
    pub broker_issuer_arns: BTreeSet<String>,
    pub role_arns: BTreeSet<String>,
}

/// Which applications at the IdPs are AWS applications: per provider, the ids and folded names
/// its `[[idp]]` entries configure; a provider with none takes the names the default pattern
/// matches (`(?i)aws|amazon`). The one place this rule is written: the store reads SSOs with it
/// too ([`Compiled::aws_app_rule`]).
#[derive(Debug)]
struct AwsApps {
    /// (provider, ids, folded names) of each `[[idp]]` entry that names its applications.
    configured: Vec<(Idp, BTreeSet<String>, BTreeSet<String>)>,
    default_app: Regex,
}

impl AwsApps {
    fn configures(&self, provider: Idp) -> bool {
        self.configured.iter().any(|(p, _, _)| *p == provider)
    }

    fn is_aws_app(&self, provider: Idp, app_id: Option<&str>, app_name: Option<&str>) -> bool {
        if !self.configures(provider) {
            return app_name.is_some_and(|n| self.default_app.is_match(n));
        }
        self.configured.iter().filter(|(p, _, _)| *p == provider).any(|(_, ids, names)| {
            app_id.is_some_and(|id| ids.contains(id)) || app_name.is_some_and(|n| names.contains(&fold(n)))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Compiled {
    pub idps: Vec<IdpRule>,
    pub aliases: BTreeMap<String, String>,
    pub rules: Vec<(Regex, String)>,
    pub before_ms: Millis,
    pub after_ms: Millis,
    pub skew_ms: Millis,
    pub google_lookback_ms: Millis,
    pub baseline_ms: Millis,
    pub burst_ms: Millis,
    pub identity_center_session_ms: Millis,
    pub allow_cidrs: Vec<IpNet>,
    pub allow_asns: BTreeSet<u32>,
    pub allow_user_agents: Vec<Regex>,
    pub weights: ScoreWeights,
    aws_apps: Arc<AwsApps>,
}

const MIN: Millis = 60_000;

impl Compiled {
    pub fn new(c: &Config) -> Result<Compiled, ConfigError> {
        let mut idps = Vec::new();
        let mut configured = Vec::new();
        for i in &c.idp {
            let provider = Idp::parse(&fold(&i.kind))
                .ok_or_else(|| ConfigError::IdpKind { name: i.name.clone(), kind: i.kind.clone() })?;
            idps.push(IdpRule {
                name: if i.name.is_empty() { provider.as_str().to_string() } else { i.name.clone() },
                provider,
                scope: (!i.scope.is_empty()).then(|| i.scope.clone()),
                saml_provider_arns: i.saml_provider_arns.iter().cloned().collect(),
                identity_center: i.identity_center,
                broker_issuer_arns: i.broker_issuer_arns.iter().cloned().collect(),
                role_arns: i.role_arns.iter().cloned().collect(),
            });
            if !i.aws_app_ids.is_empty() || !i.aws_app_names.is_empty() {
                let names = i.aws_app_names.iter().map(|n| fold(n)).collect();
                configured.push((provider, i.aws_app_ids.iter().cloned().collect(), names));
            }
        }
        let re = |what: &'static str, p: &str| {
            Regex::new(p).map_err(|e| ConfigError::Regex { what, pattern: p.to_string(), why: e.to_string() })
        };
        let mut rules = Vec::new();
        for r in &c.identity.rules {
            rules.push((re("identity.rules", &r.pattern)?, r.replace.clone()));
        }
        let mut allow_cidrs = Vec::new();
        for s in &c.allowlist.cidrs {
            let net = s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::Cidr(s.clone()))?;
            allow_cidrs.push(net);
        }
        let mut allow_user_agents = Vec::new();
        for p in &c.allowlist.user_agents {
            allow_user_agents.push(re("allowlist.user_agents", p)?);
        }
        let w = &c.windows;
        Ok(Compiled {
            idps,
            aliases: c.identity.aliases.iter().map(|a| (fold(&a.aws), fold(&a.idp))).collect(),
            rules,
            before_ms: w.before_minutes as Millis * MIN,
            after_ms: w.after_minutes as Millis * MIN,
            skew_ms: w.skew_minutes as Millis * MIN,
            google_lookback_ms: w.google_lookback_days as Millis * 24 * 60 * MIN,
            baseline_ms: w.baseline_days as Millis * 24 * 60 * MIN,
            burst_ms: w.burst_minutes as Millis * MIN,
            identity_center_session_ms: w.identity_center_session_hours as Millis * 60 * MIN,
            allow_cidrs,
            allow_asns: c.allowlist.asns.iter().copied().collect(),
            allow_user_agents,
            weights: c.score.clone(),
            aws_apps: Arc::new(AwsApps {
                configured,
                default_app: Regex::new("(?i)aws|amazon").map_err(|e| ConfigError::Regex {
                    what: "built-in AWS app pattern",
                    pattern: "(?i)aws|amazon".into(),
                    why: e.to_string(),
                })?,
            }),
        })
    }

    /// Whether an `[[idp]]` entry of this provider names its AWS application(s) (`aws_app_ids` or
    /// `aws_app_names`); if none does, the default pattern `(?i)aws|amazon` over names is used.
    pub fn configures_aws_apps(&self, provider: Idp) -> bool {
        self.aws_apps.configures(provider)
    }

    /// Is this IdP application the AWS application (for the given provider's rules)?
    pub fn is_aws_app(&self, provider: Idp, app_id: Option<&str>, app_name: Option<&str>) -> bool {
        self.aws_apps.is_aws_app(provider, app_id, app_name)
    }

    /// [`Compiled::is_aws_app`] for the store, which reads the SSOs to AWS applications with it.
    pub fn aws_app_rule(&self) -> AwsAppRule {
        let apps = Arc::clone(&self.aws_apps);
        AwsAppRule::new(move |provider, app_id, app_name| apps.is_aws_app(provider, app_id, app_name))
    }

    pub fn allowlisted_ip(&self, ip: &str) -> bool {
        ip.parse::<IpAddr>().is_ok_and(|a| self.allow_cidrs.iter().any(|n| n.contains(&a)))
    }
}
