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
/// follows the number of principals, not the number of past sessions. Each value is kept with
/// the time it was last seen, so a login's baseline is exactly the baseline window before it,
/// whichever range the login is judged in.
#[derive(Debug, Clone, Default, PartialEq, Eq, get_size2::GetSize)]
pub struct PriorSessions {
    pub sessions: u64,
    /// The latest earlier session.
    pub last_ms: Millis,
    pub ips: SeenMap<String>,
    pub user_agents: SeenMap<String>,
    pub roles: SeenMap<String>,
}

/// What IdP events a slice reads (the engine's `idp_plan`, the store's `add_idp`): every SSO to an
/// AWS application in the near span `[near_lo, hi]`, which holds the windows of the slice's
/// sessions around their own logins; and before it, `[far_lo, near_lo)`, where only Identity
/// Center windows anchored on earlier portal sign-ins lie, the SSOs of the users those sessions
/// name (`keys`: provider and folded user key; with every other SSO of their logins) and all
/// SSOs in the `anyone` windows of sessions that name no known user. So what a slice reads follows
/// its sessions, not the hours an Identity Center session may reach back over the whole
/// organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpPlan {
    pub near_lo: Millis,
    pub hi: Millis,
    /// `far_lo >= near_lo`: nothing before the near span.
    pub far_lo: Millis,
    pub keys: BTreeSet<(Idp, String)>,
    /// Windows (both ends inclusive) before `near_lo` where every user's SSOs are listed by id
    /// (`Snapshot::far_signins`).
    pub anyone: Vec<(Millis, Millis)>,
}

impl IdpPlan {
    /// Every SSO in `[lo, hi]`, nothing read per user.
    pub fn span(lo: Millis, hi: Millis) -> Self {
        IdpPlan { near_lo: lo, hi, far_lo: lo, keys: BTreeSet::new(), anyone: Vec::new() }
    }
}

/// What identity matching asks of the known users for a slice's sessions (the engine's
/// `user_lookups`): whether each of `keys` is known to its provider, and the first `n` known keys
/// of a provider that start with each of `prefixes`. The store answers with those keys only, so a
/// slice holds the keys its sessions name, not every user of the organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLookups {
    pub keys: BTreeSet<(Idp, String)>,
    pub prefixes: BTreeMap<(Idp, String), usize>,
}

/// An SSO to an AWS application, by id (see [`Snapshot::far_signins`]).
#[derive(Debug, Clone, PartialEq, Eq, get_size2::GetSize)]
pub struct FarSignin {
    pub time_ms: Millis,
    pub provider: Idp,
    pub event_id: String,
    pub outcome: crate::Outcome,
}

/// A user's earlier SSOs to AWS applications (for new_asn / new_country), aggregated like
/// [`PriorSessions`]. Serializable: the store keeps a day's worth of them packed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, get_size2::GetSize)]
pub struct PriorSsos {
    pub ssos: u64,
    pub last_ms: Millis,
    pub asns: SeenMap<u32>,
    pub countries: SeenMap<String>,
}

/// Each value seen with the time it was last seen. Up to [`SeenMap::SMALL`] values in a sorted
/// `Vec`, more in a B-tree: an identity's baseline mostly holds one to three values, a B-tree
/// node is allocated for eleven, and the store keeps one baseline per user of the organisation for
/// a day of slices; but a `Vec` inserts in linear time, and a principal with many distinct values
/// (user agents are the caller's to choose) must not make aggregating quadratic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeenMap<K: Ord> {
    Small(litemap::LiteMap<K, Millis>),
    Large(BTreeMap<K, Millis>),
}

impl<K: Ord> Default for SeenMap<K> {
    fn default() -> Self {
        SeenMap::Small(litemap::LiteMap::new())
    }
}

impl<K: Ord> SeenMap<K> {
    /// Above this many values, a B-tree.
    pub const SMALL: usize = 32;

    /// When `value` was last seen.
    pub fn get<Q: Ord + ?Sized>(&self, value: &Q) -> Option<&Millis>
    where
        K: std::borrow::Borrow<Q>,
    {
        match self {
            SeenMap::Small(m) => m.get(value),
            SeenMap::Large(m) => m.get(value),
        }
    }

    /// Notes `value` as seen at `t` (keeping the latest time).
    pub fn seen(&mut self, value: K, t: Millis) {
        let at = match self {
            SeenMap::Small(m) if m.len() >= Self::SMALL && m.get(&value).is_none() => {
                let mut large: BTreeMap<K, Millis> = std::mem::take(m).into_iter().collect();
                large.insert(value, t);
                *self = SeenMap::Large(large);
                return;
            }
            SeenMap::Small(m) => m.entry(value).or_insert(t),
            SeenMap::Large(m) => m.entry(value).or_insert(t),
        };
        *at = (*at).max(t);
    }

    /// The values in order, each with when it was last seen.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&K, &Millis)> + '_> {
        match self {
            SeenMap::Small(m) => Box::new(m.iter()),
            SeenMap::Large(m) => Box::new(m.iter()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SeenMap::Small(m) => m.len(),
            SeenMap::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PriorSessions {
    /// Adds one earlier session at `t`.
    pub fn add(&mut self, t: Millis, ip: Option<String>, user_agent: Option<String>, role: Option<String>) {
        self.last_ms = if self.sessions == 0 { t } else { self.last_ms.max(t) };
        self.sessions += 1;
        for (m, v) in [(&mut self.ips, ip), (&mut self.user_agents, user_agent), (&mut self.roles, role)] {
            if let Some(v) = v {
                m.seen(v, t);
            }
        }
    }
}

impl PriorSsos {
    /// Adds one earlier SSO at `t`.
    pub fn add(&mut self, t: Millis, asn: Option<u32>, country: Option<&str>) {
        self.last_ms = if self.ssos == 0 { t } else { self.last_ms.max(t) };
        self.ssos += 1;
        if let Some(a) = asn {
            self.asns.seen(a, t);
        }
        if let Some(c) = country {
            self.countries.seen(c.to_string(), t);
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &PriorSsos) {
        if other.ssos == 0 {
            return;
        }
        self.last_ms = if self.ssos == 0 { other.last_ms } else { self.last_ms.max(other.last_ms) };
        self.ssos += other.ssos;
        for (a, t) in other.asns.iter() {
            self.asns.seen(*a, *t);
        }
        for (c, t) in other.countries.iter() {
            self.countries.seen(c.clone(), *t);
        }
    }
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
    /// The SSOs to AWS applications in the plan's `anyone` windows that `idp` does not hold, by
    /// id only: a session that names no known user is told how many sign-ins it cannot be tied
    /// to, not judged on them (docs/judging.md §4, "No candidate").
    pub far_signins: Vec<FarSignin>,
    /// Folded user keys (login, email, app user name) seen in any stored event, per provider:
    /// all of them, or (when judging a slice) at least those its sessions' `UserLookups` ask for.
    pub known_users: Arc<BTreeMap<Idp, BTreeSet<String>>>,
    /// Providers with any stored events or coverage.
    pub providers_present: BTreeSet<Idp>,
    /// Folded names of the applications each provider's stored sign-ins went to (at any time):
    /// whether an IdP's AWS application can be recognised at all (docs/judging.md §4). Shared
    /// like `known_users`.
    pub app_names: Arc<BTreeMap<Idp, BTreeSet<String>>>,
    /// CloudTrail scopes (`ACCOUNT/REGION`, `*` when a record names none) in which IAM Identity
    /// Center sign-in events were ever logged (docs/judging.md §5a).
    pub identity_center_scopes: Arc<BTreeSet<String>>,
    pub coverage: Vec<CoverageSpan>,
}

/// About the heap a value holds: each entry's key and time, and what its key holds.
impl<K: Ord + get_size2::GetSize> get_size2::GetSize for SeenMap<K> {
    fn get_heap_size_with_tracker<T: get_size2::GetSizeTracker>(&self, tracker: T) -> (usize, T) {
        (self.iter().map(|(k, _)| std::mem::size_of::<(K, Millis)>() + k.get_heap_size()).sum(), tracker)
    }
}

impl Snapshot {
    /// About the bytes its events and baselines take, as values and what they hold (the
    /// collections' own overhead aside): what a slice of the day holds while it is judged, and
    /// what the pipeline sizes its slices by. The shared sets (`known_users`, `app_names`, ...)
    /// are not counted.
    pub fn heap_bytes(&self) -> usize {
        use get_size2::GetSize;
        self.console_logins.get_heap_size()
            + self.history.get_heap_size()
            + self.aws_related.get_heap_size()
            + self.idp.get_heap_size()
            + self.far_signins.get_heap_size()
            + self.prior_sessions.get_heap_size()
            + self.prior_ssos.get_heap_size()
    }

    /// Whether `[start, end]` lies inside one coverage interval of `source` (in `scope`, or in any
    /// scope when `scope` is `None`).
    pub fn covers(&self, source: Source, scope: Option<&str>, start: Millis, end: Millis) -> bool {
        self.coverage
            .iter()
            .any(|c| c.source == source && scope.is_none_or(|s| s == c.scope) && c.start_ms <= start && end <= c.end_ms)
    }
}

#[cfg(test)]
mod heap_bytes_tests {
    use super::*;

    /// What a slice is sized by counts each event with what its strings hold, and the baselines
    /// with their keys and values.
    #[test]
    fn heap_bytes_counts_events_strings_and_baselines() {
        let mut snap = Snapshot::default();
        assert_eq!(snap.heap_bytes(), 0);
        let login = AwsEvent { user_agent: Some("x".repeat(10_000)), ..Default::default() };
        snap.console_logins.push(login.clone());
        let one = snap.heap_bytes();
        assert!(one >= 10_000 + std::mem::size_of::<AwsEvent>(), "{one}");
        snap.aws_related.push(login);
        assert!(snap.heap_bytes() >= one + 10_000, "{}", snap.heap_bytes());
        let before = snap.heap_bytes();
        let mut prior = PriorSessions::default();
        prior.add(1, Some("203.0.113.9".repeat(100)), None, None);
        snap.prior_sessions.insert("arn".to_string(), prior);
        assert!(snap.heap_bytes() >= before + 1_100, "{}", snap.heap_bytes());
    }
}

#[cfg(test)]
mod seen_map_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Small or large, a `SeenMap` answers as a B-tree of each value's latest time does.
        #[test]
        fn a_seen_map_keeps_each_values_latest_time(seen in prop::collection::vec((0u16..200, 0i64..1_000), 0..300)) {
            let mut m: SeenMap<u16> = SeenMap::default();
            let mut model: BTreeMap<u16, Millis> = BTreeMap::new();
            for (v, t) in seen {
                m.seen(v, t);
                let at = model.entry(v).or_insert(t);
                *at = (*at).max(t);
                prop_assert_eq!(matches!(m, SeenMap::Large(_)), model.len() > SeenMap::<u16>::SMALL);
            }
            prop_assert_eq!(m.len(), model.len());
            prop_assert!(m.iter().map(|(k, t)| (*k, *t)).eq(model.iter().map(|(k, t)| (*k, *t))));
            for v in 0..200u16 {
                prop_assert_eq!(m.get(&v), model.get(&v));
            }
        }
    }
}
