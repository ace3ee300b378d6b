//! Configuration compiled for the engine: regexes built, CIDRs parsed, names folded.

use ipnet::IpNet;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use trailproof_model::config::{Config, ScoreWeights};
use trailproof_model::{Idp, Millis, fold};

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
    pub aws_app_ids: BTreeSet<String>,
    pub aws_app_names: BTreeSet<String>,
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
    default_app: Regex,
}

const MIN: Millis = 60_000;

impl Compiled {
    pub fn new(c: &Config) -> Result<Compiled, ConfigError> {
        let mut idps = Vec::new();
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
                aws_app_ids: i.aws_app_ids.iter().cloned().collect(),
                aws_app_names: i.aws_app_names.iter().map(|n| fold(n)).collect(),
            });
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
            default_app: Regex::new("(?i)aws|amazon").map_err(|e| ConfigError::Regex {
                what: "built-in AWS app pattern",
                pattern: "(?i)aws|amazon".into(),
                why: e.to_string(),
            })?,
        })
    }

    /// Whether an `[[idp]]` entry of this provider names its AWS application(s) (`aws_app_ids` or
    /// `aws_app_names`); if none does, the default pattern `(?i)aws|amazon` over names is used.
    pub fn configures_aws_apps(&self, provider: Idp) -> bool {
        self.idps.iter().any(|r| r.provider == provider && (!r.aws_app_ids.is_empty() || !r.aws_app_names.is_empty()))
    }

    /// Is this IdP application the AWS application (for the given provider's rules)?
    pub fn is_aws_app(&self, provider: Idp, app_id: Option<&str>, app_name: Option<&str>) -> bool {
        let rules: Vec<&IdpRule> = self
            .idps
            .iter()
            .filter(|r| r.provider == provider && (!r.aws_app_ids.is_empty() || !r.aws_app_names.is_empty()))
            .collect();
        if rules.is_empty() {
            return app_name.is_some_and(|n| self.default_app.is_match(n));
        }
        rules.iter().any(|r| {
            app_id.is_some_and(|id| r.aws_app_ids.contains(id))
                || app_name.is_some_and(|n| r.aws_app_names.contains(&fold(n)))
        })
    }

    pub fn allowlisted_ip(&self, ip: &str) -> bool {
        ip.parse::<IpAddr>().is_ok_and(|a| self.allow_cidrs.iter().any(|n| n.contains(&a)))
    }

    /// All app ids and names configured, and whether some provider relies on the default name
    /// pattern: the store's pre-filter.
    pub fn aws_apps(&self) -> (Vec<String>, Vec<String>, bool) {
        let mut ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        for r in &self.idps {
            ids.extend(r.aws_app_ids.iter().cloned());
            names.extend(r.aws_app_names.iter().cloned());
        }
        let default_needed = !Idp::ALL.iter().all(|p| self.configures_aws_apps(*p));
        (ids.into_iter().collect(), names.into_iter().collect(), default_needed)
    }
}
