//! The data the correlator judges: everything it needs about a time range, as plain values.
//! The store builds it with set-based queries (crates/store `snapshot`); tests build it by hand.

use crate::{AwsEvent, Idp, IdpEvent, Millis, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A coverage interval (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageSpan {
    pub source: Source,
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
}

/// What a principal did before the judged range (for the "new" signals), aggregated so memory
/// follows the number of principals, not the number of past sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorSessions {
    pub sessions: u64,
    pub ips: BTreeSet<String>,
    pub user_agents: BTreeSet<String>,
    pub roles: BTreeSet<String>,
}

/// A user's earlier SSOs to AWS applications (for new_asn / new_country), aggregated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorSsos {
    pub ssos: u64,
    pub asns: BTreeSet<u32>,
    pub countries: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Judge only ConsoleLogins with `start <= time < end`; the others in `console_logins` are
    /// neighbours (bursts, "earlier in the baseline"). `None`: judge all.
    pub range: Option<(Millis, Millis)>,
    /// ConsoleLogins to judge and their neighbours (success and failure; only successes in the
    /// range get verdicts).
    pub console_logins: Vec<AwsEvent>,
    /// Successful ConsoleLogins before the range, for baselines (new IP, new role, ...), one by one
    /// (hand-built snapshots); the store fills `prior_sessions` instead.
    pub history: Vec<AwsEvent>,
    /// Per principal key (see the engine's `principal_key`), the baseline before the range.
    pub prior_sessions: BTreeMap<String, PriorSessions>,
    /// Per (provider, folded user), the AWS-app SSOs of the baseline before the range.
    pub prior_ssos: BTreeMap<(Idp, String), PriorSsos>,
    /// The AssumeRoleWithSAML and GetFederationToken calls that issued the range's sessions, their
    /// GetSigninToken calls, and the Identity Center portal sign-ins (UserAuthentication) before them.
    pub aws_related: Vec<AwsEvent>,
    /// IdP events: SSOs to AWS apps in the span the range's windows cover, the events of the IdP
    /// sessions those SSOs belong to up to the span's end, and Google `login` events of their
    /// users.
    pub idp: Vec<IdpEvent>,
    /// Folded user keys (login, email, app user name) seen in any stored event, per provider.
    /// Shared: loaded once per run and handed to every slice's snapshot without a copy.
    pub known_users: Arc<BTreeMap<Idp, BTreeSet<String>>>,
    /// Providers with any stored events or coverage.
    pub providers_present: BTreeSet<Idp>,
    pub coverage: Vec<CoverageSpan>,
}

impl Snapshot {
    /// Whether `[start, end]` lies inside one coverage interval of `source` (in `scope`, or in any
    /// scope when `scope` is `None`).
    pub fn covers(&self, source: Source, scope: Option<&str>, start: Millis, end: Millis) -> bool {
        self.coverage
            .iter()
            .any(|c| c.source == source && scope.is_none_or(|s| s == c.scope) && c.start_ms <= start && end <= c.end_ms)
    }
}
