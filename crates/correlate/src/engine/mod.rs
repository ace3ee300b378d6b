use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use trailproof_model::snapshot::{IdpPlan, PriorSessions, PriorSsos, SeenMap, Snapshot, UserLookups};
use trailproof_model::verdict::{
    Evidence, Identity, IdentitySource, MatchedBy, MfaInfo, Risk, SessionPath, Severity, Signal, UnknownReason,
    Verdict, VerdictRecord,
};
use trailproof_model::{
    AwsEvent, AwsEventKind, GoogleLogin, Idp, IdpEvent, IdpEventKind, MfaClaim, Millis, Outcome, Source, fold,
    format_ms,
};

use crate::config::Compiled;
use crate::explain::{Links, Story};

mod candidates;
mod identity;
mod identity_center;
mod mfa;
mod path;
mod signals;

use identity_center::directory_credentials;
use mfa::judge_native;

const MIN: Millis = 60_000;
const SAML_LOOKBACK: Millis = 12 * 60 * MIN;
const FEDERATION_LOOKBACK: Millis = 36 * 60 * MIN;
const SIGNIN_TOKEN_LOOKBACK: Millis = 15 * MIN;
const TIE_MS: Millis = 60_000;
const GOOGLE_SIGNIN_GROUP: Millis = 10 * MIN;

/// Judges every successful ConsoleLogin of the snapshot. Records come out sorted by time, then
/// ConsoleLogin event id.
pub fn correlate(snap: &Snapshot, cfg: &Compiled) -> Vec<VerdictRecord> {
    let ix = Index::new(snap, cfg);
    let logins = judged(snap);
    // The judgements are independent reads of the index: split them across the cores. Chunks
    // are contiguous, so the output keeps the (time, event id) order.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if threads < 2 || logins.len() < PARALLEL_MIN {
        return logins.into_iter().map(|c| ix.judge(c)).collect();
    }
    let chunk = logins.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let ix = &ix;
        let handles: Vec<_> = logins
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|c| ix.judge(c)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(logins.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// Below this many sessions, judging on one thread is faster than starting others.
const PARALLEL_MIN: usize = 2_000;

/// The ConsoleLogins a snapshot's verdicts are for: the successful ones in its range (all of them
/// without a range), in (time, event id) order, each once. The others are neighbours, loaded for
/// the burst and baseline signals of these; their own windows may reach outside what was loaded.
fn judged(snap: &Snapshot) -> Vec<&AwsEvent> {
    let in_range = |t: Millis| snap.range.is_none_or(|(from, to)| from <= t && t < to);
    let mut logins: Vec<&AwsEvent> =
        snap.console_logins.iter().filter(|c| c.outcome == Outcome::Success && in_range(c.time_ms)).collect();
    logins.sort_by(|a, b| (a.time_ms, &a.event_id).cmp(&(b.time_ms, &b.event_id)));
    logins.dedup_by(|a, b| a.event_id == b.event_id);
    logins
}

/// What IdP events the snapshot's judged ConsoleLogins need (docs/judging.md §3–§4), or `None`
/// when none is judged: every SSO to an AWS application from the window before the first login
/// to the end of the last window, and, where an Identity Center window is anchored on a portal
/// sign-in made before that (up to a portal session earlier), the SSOs of the users that session
/// names, or every SSO of that window when it names no known user.
///
/// Reads only the AWS side of the snapshot (the ConsoleLogins and `aws_related`): the store loads
/// those first, then the IdP events of the plan. Reading the hours before a slice per user, not
/// for the whole organisation, keeps what a slice holds proportional to its sessions.
pub fn idp_plan(snap: &Snapshot, cfg: &Compiled) -> Option<IdpPlan> {
    let ix = Index::new(snap, cfg);
    let logins = judged(snap);
    let near_lo = logins.first()?.time_ms - cfg.before_ms - cfg.skew_ms;
    let mut plan = IdpPlan { near_lo, hi: near_lo, far_lo: near_lo, keys: BTreeSet::new(), anyone: Vec::new() };
    for c in logins {
        let chain = ix.chain(c);
        let path = ix.path(c, &chain);
        let w = ix.window(c, path);
        plan.hi = plan.hi.max(w.hi);
        if w.lo >= near_lo || path == SessionPath::AwsNative {
            continue;
        }
        let searched = ix.searched_idps(c, path, &chain);
        if searched.is_empty() || w.portal.is_some_and(|p| directory_credentials(p).is_some()) {
            // Judged without IdP events: no IdP to search, or Identity Center's own directory
            // signed the user in (docs/judging.md §5a).
            continue;
        }
        plan.far_lo = plan.far_lo.min(w.lo);
        let users = ix.users(c, path, &chain, &searched);
        if users.is_empty() {
            plan.anyone.push((w.lo, w.hi.min(near_lo - 1)));
        }
        plan.keys.extend(users.into_iter().map(|(p, u, _)| (p, u)));
    }
    Some(plan)
}

fn provider_source(p: Idp) -> Source {
    p.source()
}

fn identity_source(p: Idp) -> IdentitySource {
    IdentitySource::of(p)
}

fn rank(m: MatchedBy) -> u8 {
    match m {
        MatchedBy::SourceIdentity => 0,
        MatchedBy::SamlSubject => 1,
        MatchedBy::Email | MatchedBy::Username => 2,
        MatchedBy::LocalPart => 3,
        MatchedBy::Alias => 4,
        MatchedBy::Rule => 5,
        MatchedBy::Prefix => 6,
        MatchedBy::AwsPrincipal => 7,
    }
}

fn user_keys(e: &IdpEvent) -> impl Iterator<Item = String> + '_ {
    [&e.user.login, &e.user.email, &e.user.app_username].into_iter().flatten().map(|k| fold(k))
}

/// A network for burst detection: IPv4 /24, IPv6 /48.
fn network(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_string(),
    }
}

pub(crate) struct Index<'a> {
    snap: &'a Snapshot,
    cfg: &'a Compiled,
    /// AssumeRoleWithSAML and GetFederationToken by the ARN they issued.
    issued: HashMap<&'a str, Vec<&'a AwsEvent>>,
    /// GetSigninToken by the caller's ARN.
    signin_tokens: HashMap<&'a str, Vec<&'a AwsEvent>>,
    /// Identity Center portal sign-ins (UserAuthentication) by folded user name.
    portal_sign_ins: HashMap<String, Vec<&'a AwsEvent>>,
    /// The CredentialChallenge that names the user of a sign-in sequence, by AuthWorkflowID:
    /// since 2025 a UserAuthentication of Identity Center's own directory names no user; the
    /// sequence's password (or e-mail OTP) challenge does.
    named_by: HashMap<&'a str, &'a AwsEvent>,
    /// AWS sign-ins (SSOs to AWS apps, outcome success or unknown) by (provider, folded user key).
    ssos: HashMap<(Idp, String), Vec<&'a IdpEvent>>,
    /// Every AWS sign-in (outcome not a failure) per provider, as (time, event id) in time order:
    /// who signed in to AWS in a window (§4, rule 2). Also those `far_signins` lists.
    aws_signins: HashMap<Idp, Vec<(Millis, &'a str)>>,
    /// Providers with an SSO to an AWS application in the snapshot, whatever its outcome.
    aws_app_in_snapshot: BTreeSet<Idp>,
    /// The rows of one AD FS sign-in (one per step, sharing its correlation id), by that id.
    adfs_signins: HashMap<&'a str, Vec<&'a IdpEvent>>,
    /// Non-SSO events of an IdP session.
    sessions: HashMap<(Idp, &'a str), Vec<&'a IdpEvent>>,
    /// Google `login` application events by folded user.
    google_logins: HashMap<String, Vec<&'a IdpEvent>>,
    /// Successful console logins (history and range) by principal key.
    principals: HashMap<String, Vec<&'a AwsEvent>>,
    /// Known users per provider (alias targets apart).
    known: &'a (dyn Known + Sync),
    alias_targets: BTreeSet<String>,
}

fn by_time<T>(v: &mut [&T], key: impl Fn(&T) -> (Millis, &str)) {
    v.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// What identity matching asks of the known users (docs/judging.md §3).
pub(crate) trait Known {
    /// Whether `key` is a folded user key of `p`.
    fn contains(&self, p: Idp, key: &str) -> bool;
    /// The first `n` keys of `p` (in byte order) that start with `prefix`.
    fn starting_with(&self, p: Idp, prefix: &str, n: usize) -> Vec<String>;
}

impl Known for BTreeMap<Idp, BTreeSet<String>> {
    fn contains(&self, p: Idp, key: &str) -> bool {
        self.get(&p).is_some_and(|s| s.contains(key))
    }

    fn starting_with(&self, p: Idp, prefix: &str, n: usize) -> Vec<String> {
        let Some(keys) = self.get(&p) else { return Vec::new() };
        use std::ops::Bound;
        keys.range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|k| k.starts_with(prefix))
            .take(n)
            .cloned()
            .collect()
    }
}

/// Notes what identity matching asks, answering that nobody is known (see [`user_lookups`]).
#[derive(Default)]
struct Recorder(std::sync::Mutex<UserLookups>);

impl Known for Recorder {
    fn contains(&self, p: Idp, key: &str) -> bool {
        if let Ok(mut l) = self.0.lock() {
            l.keys.insert((p, key.to_string()));
        }
        false
    }

    fn starting_with(&self, p: Idp, prefix: &str, n: usize) -> Vec<String> {
        if let Ok(mut l) = self.0.lock() {
            let at = l.prefixes.entry((p, prefix.to_string())).or_insert(n);
            *at = (*at).max(n);
        }
        Vec::new()
    }
}

/// The known-user keys identity matching asks about for the snapshot's judged ConsoleLogins
/// (docs/judging.md §3). Reads only the AWS side of the snapshot; the store answers with
/// [`Snapshot::known_users`] holding those keys, before [`idp_plan`] and [`correlate`] run.
/// Each question matching can ask is asked (none depends on another's answer), so the keys
/// answered are all it reads.
pub fn user_lookups(snap: &Snapshot, cfg: &Compiled) -> UserLookups {
    let rec = Recorder::default();
    let ix = Index::with_known(snap, cfg, &rec);
    for c in judged(snap) {
        let chain = ix.chain(c);
        let path = ix.path(c, &chain);
        if path != SessionPath::AwsNative {
            ix.users(c, path, &chain, &ix.searched_idps(c, path, &chain));
        }
    }
    drop(ix);
    rec.0.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> Index<'a> {
    fn new(snap: &'a Snapshot, cfg: &'a Compiled) -> Index<'a> {
        Index::with_known(snap, cfg, &*snap.known_users)
    }

    fn with_known(snap: &'a Snapshot, cfg: &'a Compiled, known: &'a (dyn Known + Sync)) -> Index<'a> {
        let mut ix = Index {
            snap,
            cfg,
            issued: HashMap::new(),
            signin_tokens: HashMap::new(),
            portal_sign_ins: HashMap::new(),
            named_by: HashMap::new(),
            ssos: HashMap::new(),
            aws_signins: HashMap::new(),
            aws_app_in_snapshot: BTreeSet::new(),
            adfs_signins: HashMap::new(),
            sessions: HashMap::new(),
            google_logins: HashMap::new(),
            principals: HashMap::new(),
            known,
            alias_targets: cfg.aliases.values().cloned().collect(),
        };
        for e in &snap.aws_related {
            if e.kind == Some(AwsEventKind::CredentialChallenge)
                && e.user_name.is_some()
                && let Some(wf) = e.auth_workflow_id.as_deref()
            {
                ix.named_by.entry(wf).or_insert(e);
            }
        }
        for e in &snap.aws_related {
            match e.kind {
                Some(AwsEventKind::AssumeRoleWithSaml | AwsEventKind::GetFederationToken) => {
                    if let Some(a) = e.issued_arn.as_deref() {
                        ix.issued.entry(a).or_default().push(e);
                    }
                }
                Some(AwsEventKind::GetSigninToken) => {
                    if let Some(a) = e.arn.as_deref() {
                        ix.signin_tokens.entry(a).or_default().push(e);
                    }
                }
                Some(AwsEventKind::UserAuthentication) if e.outcome == Outcome::Success => {
                    if let Some(u) = ix.portal_user(e) {
                        ix.portal_sign_ins.entry(fold(u)).or_default().push(e);
                    }
                }
                _ => {}
            }
        }
        for e in &snap.idp {
            if e.kind == IdpEventKind::AppSso {
                let aws = cfg.is_aws_app(e.provider, e.app_id.as_deref(), e.app_name.as_deref());
                if aws {
                    ix.aws_app_in_snapshot.insert(e.provider);
                }
                // A sign-in whose record states no outcome is judged on what it carries: it is a
                // candidate too (docs/judging.md §4).
                if aws && e.outcome != Outcome::Failure {
                    let keys: BTreeSet<String> = user_keys(e).collect();
                    for k in keys {
                        ix.ssos.entry((e.provider, k)).or_default().push(e);
                    }
                    ix.aws_signins.entry(e.provider).or_default().push((e.time_ms, &e.event_id));
                    if e.provider == Idp::Adfs
                        && let Some(sid) = e.session_id.as_deref()
                    {
                        ix.adfs_signins.entry(sid).or_default().push(e);
                    }
                }
            } else if let Some(sid) = e.session_id.as_deref() {
                ix.sessions.entry((e.provider, sid)).or_default().push(e);
            }
            if e.provider == Idp::Google && matches!(e.kind, IdpEventKind::Login) {
                let keys: BTreeSet<String> = user_keys(e).collect();
                for k in keys {
                    ix.google_logins.entry(k).or_default().push(e);
                }
            }
        }
        for c in snap.history.iter().chain(snap.console_logins.iter()).filter(|c| c.outcome == Outcome::Success) {
            ix.principals.entry(principal_key(c)).or_default().push(c);
        }
        for v in ix.issued.values_mut().chain(ix.signin_tokens.values_mut()).chain(ix.portal_sign_ins.values_mut()) {
            by_time(v, |e| (e.time_ms, &e.event_id));
            v.dedup_by(|a, b| a.event_id == b.event_id);
        }
        for v in ix.principals.values_mut() {
            by_time(v, |e| (e.time_ms, &e.event_id));
            v.dedup_by(|a, b| a.event_id == b.event_id);
        }
        for f in snap.far_signins.iter().filter(|f| f.outcome != Outcome::Failure) {
            ix.aws_signins.entry(f.provider).or_default().push((f.time_ms, &f.event_id));
        }
        for v in ix.aws_signins.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        for v in ix.ssos.values_mut().chain(ix.sessions.values_mut()).chain(ix.google_logins.values_mut()) {
            by_time(v, |e| (e.time_ms, &e.event_id));
        }
        ix
    }

    /// The user of a portal sign-in: its own user name, else that of the challenge of the same
    /// sign-in sequence that names it.
    fn portal_user(&self, p: &'a AwsEvent) -> Option<&'a str> {
        p.user_name.as_deref().or_else(|| self.naming_challenge(p).and_then(|c| c.user_name.as_deref()))
    }

    /// The CredentialChallenge naming the user of a portal sign-in that names none itself.
    fn naming_challenge(&self, p: &AwsEvent) -> Option<&'a AwsEvent> {
        if p.user_name.is_some() {
            return None;
        }
        p.auth_workflow_id.as_deref().and_then(|wf| self.named_by.get(wf).copied())
    }

    /// Whether `p`'s AWS application can be told from its others (docs/judging.md §4, rule 1):
    /// configured, or recognised by the default pattern in some sign-in `p` has logged.
    fn aws_app_known(&self, p: Idp) -> bool {
        self.cfg.configures_aws_apps(p)
            || self.aws_app_in_snapshot.contains(&p)
            || self
                .snap
                .app_names
                .get(&p)
                .is_some_and(|names| names.iter().any(|n| self.cfg.is_aws_app(p, None, Some(n))))
    }

    /// The AWS sign-ins of the searched IdPs, by anyone, in `[lo, hi]`: (time, provider, event
    /// id), in that order, each once.
    fn aws_signins_between(&self, searched: &[Searched], lo: Millis, hi: Millis) -> Vec<(Millis, Idp, &'a str)> {
        let mut out: Vec<(Millis, Idp, &'a str)> = Vec::new();
        for s in searched {
            let v = self.aws_signins.get(&s.provider).map(Vec::as_slice).unwrap_or(&[]);
            let from = v.partition_point(|(t, _)| *t < lo);
            out.extend(v[from..].iter().take_while(|(t, _)| *t <= hi).map(|(t, id)| (*t, s.provider, *id)));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn is_known(&self, p: Idp, u: &str) -> bool {
        self.known.contains(p, u) || self.alias_targets.contains(u)
    }
}

/// The key under which a principal's console sessions are compared for "new" signals and bursts:
/// the folded session name for federated sessions, the folded ARN (or user name) otherwise.
pub fn principal_key(c: &AwsEvent) -> String {
    match c.principal_type.as_deref() {
        Some("IAMUser" | "Root") => fold(c.arn.as_deref().or(c.user_name.as_deref()).unwrap_or(&c.event_id)),
        _ => fold(c.session_name.as_deref().or(c.arn.as_deref()).unwrap_or(&c.event_id)),
    }
}

/// The chain of AWS records behind a ConsoleLogin.
struct Chain<'a> {
    saml: Option<&'a AwsEvent>,
    federation: Option<&'a AwsEvent>,
    signin_token: Option<&'a AwsEvent>,
}

/// What one IdP login says about MFA.
struct MfaFinding<'a> {
    verdict: Verdict,
    reason: Option<UnknownReason>,
    mfa: Option<MfaInfo>,
    /// IdP records cited, with their role.
    evidence: Vec<(&'a IdpEvent, &'static str)>,
    note: String,
}

impl<'a> MfaFinding<'a> {
    fn unknown(note: String, evidence: Vec<(&'a IdpEvent, &'static str)>) -> Self {
        MfaFinding {
            verdict: Verdict::Unknown,
            reason: Some(UnknownReason::IdpLogsNotCollected),
            mfa: None,
            evidence,
            note,
        }
    }
}

/// What the federated rules concluded for one session.
struct Judged<'a> {
    verdict: Verdict,
    reason: Option<UnknownReason>,
    identity: Option<Identity>,
    mfa: Option<MfaInfo>,
    chosen: Option<&'a IdpEvent>,
}

impl Judged<'_> {
    fn unknown(reason: UnknownReason) -> Self {
        Judged { verdict: Verdict::Unknown, reason: Some(reason), identity: None, mfa: None, chosen: None }
    }
}

struct Candidate<'a> {
    event: &'a IdpEvent,
    user: String,
    matched_by: MatchedBy,
    ip_equal: bool,
    distance: Millis,
}

/// Where the IdP sign-in behind a session is looked for (docs/judging.md §4).
struct Window<'a> {
    /// Candidates are ranked by distance to this time and IP equality with `ip`.
    anchor: Millis,
    ip: Option<&'a str>,
    lo: Millis,
    hi: Millis,
    /// The Identity Center portal sign-in the window is anchored on, if any.
    portal: Option<&'a AwsEvent>,
}

struct Searched {
    provider: Idp,
    scope: Option<String>,
}

impl<'a> Index<'a> {
    fn judge(&self, c: &'a AwsEvent) -> VerdictRecord {
        let chain = self.chain(c);
        let path = self.path(c, &chain);
        let mut story = Story::new(c, path);
        let mut evidence =
            vec![Evidence { source: Source::Cloudtrail, id: c.event_id.clone(), role: "console_login".into() }];
        for (e, role) in [
            (chain.saml, "assume_role_with_saml"),
            (chain.federation, "get_federation_token"),
            (chain.signin_token, "get_signin_token"),
        ] {
            if let Some(e) = e
                && path != SessionPath::AwsNative
            {
                evidence.push(Evidence { source: Source::Cloudtrail, id: e.event_id.clone(), role: role.into() });
                story.aws_link(role, e);
            }
        }

        story.missing_links(
            path,
            Links {
                saml: chain.saml.is_some(),
                federation: chain.federation.is_some(),
                signin_token: chain.signin_token.is_some(),
            },
        );
        let Judged { verdict, reason, identity, mfa, chosen } = if path == SessionPath::AwsNative {
            judge_native(c, &mut story)
        } else {
            self.judge_federated(c, path, &chain, &mut story, &mut evidence)
        };
        story.verdict(verdict, reason);

        let signals = self.signals(c, verdict, chosen, &chain);
        let risk = self.risk(verdict, &signals);
        VerdictRecord {
            console_login_event_id: c.event_id.clone(),
            account_id: c.account_id.clone(),
            arn: c.arn.clone(),
            session_name: c.session_name.clone(),
            time: format_ms(c.time_ms),
            source_ip: c.source_ip.clone(),
            user_agent: c.user_agent.clone(),
            path,
            verdict,
            reason,
            identity,
            mfa,
            evidence,
            risk,
            explanation: story.finish(),
            version: 1,
        }
    }

    /// docs/judging.md §2–§5a for a federated session (every path but `aws_native`).
    fn judge_federated(
        &self,
        c: &'a AwsEvent,
        path: SessionPath,
        chain: &Chain<'a>,
        story: &mut Story,
        evidence: &mut Vec<Evidence>,
    ) -> Judged<'a> {
        let searched = self.searched_idps(c, path, chain);
        let w = self.window(c, path);
        if let Some(p) = w.portal {
            evidence.push(Evidence {
                source: Source::Cloudtrail,
                id: p.event_id.clone(),
                role: "identity_center_sign_in".into(),
            });
            if let Some(ch) = self.naming_challenge(p) {
                evidence.push(Evidence {
                    source: Source::Cloudtrail,
                    id: ch.event_id.clone(),
                    role: "identity_center_sign_in".into(),
                });
                story.note(format!(
                    "The portal sign-in names no user; the {} challenge {} of the same sign-in (AuthWorkflowID {}) names {}.",
                    ch.credential_type.as_deref().unwrap_or("first"),
                    ch.event_id,
                    ch.auth_workflow_id.as_deref().unwrap_or_default(),
                    ch.user_name.as_deref().unwrap_or_default()
                ));
            }
            story.note(format!(
                "The user's IAM Identity Center portal sign-in (UserAuthentication {}, credential {}) was at {}.",
                p.event_id,
                p.credential_type.as_deref().unwrap_or("not stated"),
                format_ms(p.time_ms)
            ));
        }
        if path == SessionPath::IdentityCenter {
            if let Some(p) = w.portal
                && let Some(types) = directory_credentials(p)
            {
                return self.identity_center_directory(c, p, &types, story);
            }
            if w.portal.is_none() && searched.is_empty() {
                return self.identity_center_without_sign_in(c, story);
            }
        }
        if searched.is_empty() {
            story.note(
                "No identity provider is configured or present in the store to check this federated sign-in against."
                    .into(),
            );
            return Judged::unknown(UnknownReason::IdpNotConfigured);
        }
        if w.portal.is_some() {
            story.note("Identity Center sent the user to an external IdP: its sign-in is looked for around the portal sign-in.".into());
        }
        let users = self.users(c, path, chain, &searched);
        let cands = self.candidates(&w, &users);
        let Some(best) = cands.first() else {
            return self.no_candidate(&searched, &users, &w, story);
        };
        let mut j = Judged {
            identity: Some(Identity {
                idp: identity_source(best.event.provider),
                user: best.user.clone(),
                matched_by: best.matched_by,
            }),
            chosen: Some(best.event),
            ..Judged::unknown(UnknownReason::IdpLogsNotCollected)
        };
        let finding = self.mfa_of(best, &searched);
        let rivals: Vec<(&Candidate<'a>, MfaFinding<'a>)> = cands
            .iter()
            .skip(1)
            .filter(|r| {
                rank(r.matched_by) == rank(best.matched_by)
                    && r.ip_equal == best.ip_equal
                    && r.distance - best.distance <= TIE_MS
            })
            .map(|r| (r, self.mfa_of(r, &searched)))
            .filter(|(_, f)| f.verdict != finding.verdict)
            .collect();
        evidence.push(Evidence {
            source: provider_source(best.event.provider),
            id: best.event.event_id.clone(),
            role: "idp_sso".into(),
        });
        story.sso(best.event, best.matched_by, &best.user);
        if rivals.is_empty() {
            (j.verdict, j.reason, j.mfa) = (finding.verdict, finding.reason, finding.mfa);
            for (e, role) in finding.evidence {
                evidence.push(Evidence {
                    source: provider_source(e.provider),
                    id: e.event_id.clone(),
                    role: role.into(),
                });
            }
            story.note(finding.note);
        } else {
            j.reason = Some(UnknownReason::ConflictingCandidates);
            for (r, _) in &rivals {
                evidence.push(Evidence {
                    source: provider_source(r.event.provider),
                    id: r.event.event_id.clone(),
                    role: "conflicting_candidate".into(),
                });
            }
            story.note(format!(
                "Another sign-in of the same user ({}) is just as close to the console login and tells a different story about MFA; trailproof will not guess which one this session came from.",
                rivals.iter().map(|(r, _)| r.event.event_id.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        j
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "no named factor".into() } else { v.join(", ") }
}
