use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use trailproof_model::snapshot::{PriorSessions, PriorSsos, Snapshot};
use trailproof_model::verdict::{
    Evidence, Identity, IdentitySource, MatchedBy, MfaInfo, Risk, SessionPath, Severity, Signal, UnknownReason,
    Verdict, VerdictRecord,
};
use trailproof_model::{
    AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Millis, Outcome, Source, fold, format_ms,
};

use crate::config::Compiled;
use crate::explain::{Links, Story};

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

/// The span of time in which the IdP sign-ins behind the snapshot's judged ConsoleLogins may lie:
/// the union of their candidate windows (docs/judging.md §3), or `None` when none is judged.
///
/// Reads only the AWS side of the snapshot (the ConsoleLogins and `aws_related`): the store loads
/// those first, then the IdP events of this span. An Identity Center window is anchored on the
/// portal sign-in, which can be hours before the slice that holds the console login.
pub fn idp_span(snap: &Snapshot, cfg: &Compiled) -> Option<(Millis, Millis)> {
    let ix = Index::new(snap, cfg);
    judged(snap).into_iter().fold(None, |span, c| {
        let chain = ix.chain(c);
        let w = ix.window(c, ix.path(c, &chain));
        Some(span.map_or((w.lo, w.hi), |(lo, hi): (Millis, Millis)| (lo.min(w.lo), hi.max(w.hi))))
    })
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
    /// Every AWS sign-in per provider, by time: who signed in to AWS in a window (§4, rule 2).
    aws_signins: HashMap<Idp, Vec<&'a IdpEvent>>,
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
    known: &'a BTreeMap<Idp, BTreeSet<String>>,
    alias_targets: BTreeSet<String>,
}

fn by_time<T>(v: &mut [&T], key: impl Fn(&T) -> (Millis, &str)) {
    v.sort_by(|a, b| key(a).cmp(&key(b)));
}

impl<'a> Index<'a> {
    fn new(snap: &'a Snapshot, cfg: &'a Compiled) -> Index<'a> {
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
            known: &snap.known_users,
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
                    ix.aws_signins.entry(e.provider).or_default().push(e);
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
        for v in ix
            .ssos
            .values_mut()
            .chain(ix.aws_signins.values_mut())
            .chain(ix.sessions.values_mut())
            .chain(ix.google_logins.values_mut())
        {
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

    /// The AWS sign-ins of the searched IdPs, by anyone, in `[lo, hi]`.
    fn aws_signins_between(&self, searched: &[Searched], lo: Millis, hi: Millis) -> Vec<&'a IdpEvent> {
        let mut out: Vec<&'a IdpEvent> = Vec::new();
        for s in searched {
            let v = self.aws_signins.get(&s.provider).map(Vec::as_slice).unwrap_or(&[]);
            let from = v.partition_point(|e| e.time_ms < lo);
            out.extend(v[from..].iter().take_while(|e| e.time_ms <= hi).copied());
        }
        out.sort_by(|a, b| (a.time_ms, a.provider, &a.event_id).cmp(&(b.time_ms, b.provider, &b.event_id)));
        out.dedup_by(|a, b| a.provider == b.provider && a.event_id == b.event_id);
        out
    }

    fn is_known(&self, p: Idp, u: &str) -> bool {
        self.known.get(&p).is_some_and(|s| s.contains(u)) || self.alias_targets.contains(u)
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

/// docs/judging.md §5, aws_native: CloudTrail's own MFAUsed.
fn judge_native<'a>(c: &AwsEvent, story: &mut Story) -> Judged<'a> {
    let identity = Some(Identity {
        idp: IdentitySource::Aws,
        user: c.user_name.clone().or_else(|| c.arn.clone()).unwrap_or_default(),
        matched_by: MatchedBy::AwsPrincipal,
    });
    match c.mfa_used {
        Some(true) => {
            story.note(
                "CloudTrail records MFAUsed = Yes for this IAM user/root sign-in, which AWS itself checked.".into(),
            );
            Judged {
                verdict: Verdict::Enforced,
                reason: None,
                identity,
                mfa: Some(MfaInfo {
                    factors: vec!["aws_mfa".into()],
                    at: Some(format_ms(c.time_ms)),
                    carried_from_earlier_signin: false,
                }),
                chosen: None,
            }
        }
        Some(false) => {
            story.note(
                "CloudTrail records MFAUsed = No for this IAM user/root sign-in, which AWS itself checked.".into(),
            );
            Judged { verdict: Verdict::NotEnforced, reason: None, identity, mfa: None, chosen: None }
        }
        None => {
            story.note("The ConsoleLogin record has no MFAUsed field, so AWS's own MFA check cannot be read.".into());
            Judged { identity, ..Judged::unknown(UnknownReason::AwsMfaFieldMissing) }
        }
    }
}

/// Identity Center credential types that are a second factor (docs/judging.md §5a): an
/// authenticator app and a security key / built-in authenticator.
const IC_SECOND_FACTORS: &[&str] = &["TOTP", "WEBAUTHN"];

/// A credential type as compared: upper case, letters and digits only (`EXTERNAL_IDP`,
/// `ExternalIdP` and `external-idp` are one type).
fn credential_key(t: &str) -> String {
    t.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The credential types of a portal sign-in made by Identity Center's own directory, as written;
/// `None` when an external IdP made it (`EXTERNAL_IDP`) or the event does not say.
fn directory_credentials(p: &AwsEvent) -> Option<Vec<String>> {
    let types: Vec<String> =
        p.credential_type.as_deref()?.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    (!types.is_empty() && !types.iter().any(|t| credential_key(t) == "EXTERNALIDP")).then_some(types)
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
    fn chain(&self, c: &'a AwsEvent) -> Chain<'a> {
        let Some(arn) = c.arn.as_deref() else {
            return Chain { saml: None, federation: None, signin_token: None };
        };
        let issued = self.issued.get(arn).map(Vec::as_slice).unwrap_or(&[]);
        let latest = |kind: AwsEventKind, lookback: Millis| {
            issued
                .iter()
                .rev()
                .find(|e| {
                    e.kind == Some(kind)
                        && e.time_ms <= c.time_ms + self.cfg.skew_ms
                        && e.time_ms >= c.time_ms - lookback
                })
                .copied()
        };
        let tokens = self.signin_tokens.get(arn).map(Vec::as_slice).unwrap_or(&[]);
        Chain {
            saml: latest(AwsEventKind::AssumeRoleWithSaml, SAML_LOOKBACK),
            federation: latest(AwsEventKind::GetFederationToken, FEDERATION_LOOKBACK),
            signin_token: tokens
                .iter()
                .rev()
                .find(|e| e.time_ms <= c.time_ms + self.cfg.skew_ms && e.time_ms >= c.time_ms - SIGNIN_TOKEN_LOOKBACK)
                .copied(),
        }
    }

    /// docs/judging.md §1.
    fn path(&self, c: &AwsEvent, chain: &Chain<'_>) -> SessionPath {
        match c.principal_type.as_deref() {
            Some("IAMUser" | "Root") => SessionPath::AwsNative,
            Some("AssumedRole") => {
                if c.role_name.as_deref().is_some_and(|r| r.starts_with("AWSReservedSSO_")) {
                    SessionPath::IdentityCenter
                } else if c.saml_provider_arn.is_some() || chain.saml.is_some() {
                    SessionPath::Saml
                } else {
                    SessionPath::RoleBroker
                }
            }
            Some("FederatedUser") => SessionPath::FederationBroker,
            _ => SessionPath::AwsNative,
        }
    }

    /// docs/judging.md §2.
    fn searched_idps(&self, c: &AwsEvent, path: SessionPath, chain: &Chain<'_>) -> Vec<Searched> {
        let cfg = self.cfg;
        let saml_arn = c.saml_provider_arn.as_deref().or(chain.saml.and_then(|a| a.saml_provider_arn.as_deref()));
        let issuers: Vec<&str> =
            [c.session_issuer_arn.as_deref(), chain.federation.and_then(|f| f.session_issuer_arn.as_deref())]
                .into_iter()
                .flatten()
                .collect();
        let mapped: Vec<Searched> = cfg
            .idps
            .iter()
            .filter(|r| match path {
                SessionPath::Saml => saml_arn.is_some_and(|a| r.saml_provider_arns.contains(a)),
                SessionPath::IdentityCenter => r.identity_center,
                SessionPath::FederationBroker => issuers.iter().any(|i| r.broker_issuer_arns.contains(*i)),
                SessionPath::RoleBroker => {
                    issuers.iter().any(|i| r.role_arns.contains(*i))
                        || c.role_name
                            .as_deref()
                            .is_some_and(|role| r.role_arns.iter().any(|ra| ra.rsplit('/').next() == Some(role)))
                }
                SessionPath::AwsNative => false,
            })
            .map(|r| Searched { provider: r.provider, scope: r.scope.clone() })
            .collect();
        if !mapped.is_empty() {
            return mapped;
        }
        if !cfg.idps.is_empty() {
            return cfg.idps.iter().map(|r| Searched { provider: r.provider, scope: r.scope.clone() }).collect();
        }
        self.snap.providers_present.iter().map(|p| Searched { provider: *p, scope: None }).collect()
    }

    /// docs/judging.md §3: the known users of `p` that the session's keys name, strongest first.
    fn match_users(&self, p: Idp, c: &AwsEvent, chain: &Chain<'_>, path: SessionPath) -> Vec<(String, MatchedBy)> {
        let mut out: Vec<(String, MatchedBy)> = Vec::new();
        let push = |u: String, m: MatchedBy, out: &mut Vec<(String, MatchedBy)>| {
            if !out.iter().any(|(x, _)| *x == u) {
                out.push((u, m));
            }
        };
        let source_identity = c.source_identity.as_deref().or(chain.saml.and_then(|a| a.source_identity.as_deref()));
        if let Some(si) = source_identity.map(fold).filter(|s| self.is_known(p, s)) {
            push(si, MatchedBy::SourceIdentity, &mut out);
        }
        if let Some(subj) = chain.saml.and_then(|a| a.saml_subject.as_deref()).map(fold).filter(|s| self.is_known(p, s))
        {
            push(subj, MatchedBy::SamlSubject, &mut out);
        }
        let Some(sn) = c.session_name.as_deref().map(fold).filter(|s| !s.is_empty()) else {
            return out;
        };
        if self.is_known(p, &sn) {
            let m = if sn.contains('@') { MatchedBy::Email } else { MatchedBy::Username };
            push(sn.clone(), m, &mut out);
        }
        let known = self.known.get(&p);
        if !sn.contains('@')
            && let Some(k) = known
        {
            let prefix = format!("{sn}@");
            let locals: Vec<&String> = k.range(prefix.clone()..).take_while(|u| u.starts_with(&prefix)).collect();
            if locals.len() == 1 {
                push(locals[0].clone(), MatchedBy::LocalPart, &mut out);
            }
        }
        if let Some(target) = self.cfg.aliases.get(&sn) {
            push(target.clone(), MatchedBy::Alias, &mut out);
        }
        for (re, rep) in &self.cfg.rules {
            if re.is_match(&sn) {
                let u = fold(&re.replace(&sn, rep.as_str()));
                if self.is_known(p, &u) {
                    push(u, MatchedBy::Rule, &mut out);
                }
            }
        }
        let cut = sn.chars().count();
        if ((cut == 32 && path == SessionPath::FederationBroker) || cut == 64)
            && let Some(k) = known
        {
            let longer: Vec<&String> =
                k.range(sn.clone()..).take_while(|u| u.starts_with(&sn)).filter(|u| **u != sn).take(2).collect();
            if longer.len() == 1 {
                push(longer[0].clone(), MatchedBy::Prefix, &mut out);
            }
        }
        out
    }

    /// docs/judging.md §4: the candidate window. For Identity Center the console login can come
    /// hours after the portal sign-in: the window is anchored on the user's latest portal sign-in
    /// (UserAuthentication) within the portal session length, or, without one, spans the whole
    /// session length before the login.
    fn window(&self, c: &'a AwsEvent, path: SessionPath) -> Window<'a> {
        let cfg = self.cfg;
        let around = |t: Millis, ip: Option<&'a str>, portal| Window {
            anchor: t,
            ip,
            lo: t - cfg.before_ms - cfg.skew_ms,
            hi: t + cfg.after_ms + cfg.skew_ms,
            portal,
        };
        if path != SessionPath::IdentityCenter {
            return around(c.time_ms, c.source_ip.as_deref(), None);
        }
        let portal = c.session_name.as_deref().map(fold).and_then(|u| {
            self.portal_sign_ins.get(&u).and_then(|v| {
                v.iter()
                    .rev()
                    .find(|e| {
                        e.time_ms <= c.time_ms + cfg.skew_ms && e.time_ms >= c.time_ms - cfg.identity_center_session_ms
                    })
                    .copied()
            })
        });
        match portal {
            Some(p) => around(p.time_ms, p.source_ip.as_deref().or(c.source_ip.as_deref()), Some(p)),
            None => Window {
                lo: c.time_ms - cfg.identity_center_session_ms - cfg.skew_ms,
                ..around(c.time_ms, c.source_ip.as_deref(), None)
            },
        }
    }

    /// docs/judging.md §4: candidate SSOs in the window, best first.
    fn candidates(&self, w: &Window<'_>, users: &[(Idp, String, MatchedBy)]) -> Vec<Candidate<'a>> {
        let (lo, hi) = (w.lo, w.hi);
        let mut out: Vec<Candidate<'a>> = Vec::new();
        for (p, u, m) in users {
            for e in self.ssos.get(&(*p, u.clone())).map(Vec::as_slice).unwrap_or(&[]) {
                if e.time_ms < lo || e.time_ms > hi {
                    continue;
                }
                if let Some(prev) =
                    out.iter_mut().find(|x| x.event.provider == e.provider && x.event.event_id == e.event_id)
                {
                    if rank(*m) < rank(prev.matched_by) {
                        prev.matched_by = *m;
                        prev.user = u.clone();
                    }
                    continue;
                }
                out.push(Candidate {
                    event: e,
                    user: u.clone(),
                    matched_by: *m,
                    ip_equal: e.source_ip.is_some() && e.source_ip.as_deref() == w.ip,
                    distance: (e.time_ms - w.anchor).abs(),
                });
            }
        }
        out.sort_by(|a, b| {
            // The outcome does not rank: a closer sign-in that states no outcome is more likely
            // this session's than a farther successful one (docs/judging.md §4).
            let key = |c: &Candidate<'a>| (rank(c.matched_by), !c.ip_equal, c.distance, c.event.time_ms);
            (key(a), &a.event.event_id).cmp(&(key(b), &b.event.event_id))
        });
        out
    }

    fn covered(&self, searched: &[Searched], lo: Millis, hi: Millis) -> bool {
        !searched.is_empty()
            && searched.iter().all(|s| self.snap.covers(provider_source(s.provider), s.scope.as_deref(), lo, hi))
    }

    /// docs/judging.md §5, Okta.
    fn okta_mfa(&self, sso: &'a IdpEvent, scope: Option<&str>) -> MfaFinding<'a> {
        let Some(sid) = sso.session_id.as_deref() else {
            return MfaFinding::unknown(
                "The Okta SSO names no session, so the factors behind it cannot be found.".into(),
                vec![],
            );
        };
        let events: Vec<&IdpEvent> = self
            .sessions
            .get(&(Idp::Okta, sid))
            .map(|v| v.iter().copied().filter(|e| e.time_ms <= sso.time_ms).collect())
            .unwrap_or_default();
        let start = events
            .iter()
            .rev()
            .find(|e| e.kind == IdpEventKind::SessionStart && e.outcome == Outcome::Success)
            .copied();
        let mut evidence: Vec<(&IdpEvent, &'static str)> = Vec::new();
        if let Some(s) = start {
            evidence.push((s, "idp_session_start"));
        }
        if let Some(f) =
            events.iter().rev().find(|e| e.kind == IdpEventKind::FactorVerified && e.mfa == MfaClaim::Verified).copied()
        {
            evidence.push((f, "mfa_factor"));
            let note = format!(
                "In Okta session {sid}, factor {} was verified at {} (event {}), at or before the SSO.",
                list(&f.factors),
                format_ms(f.time_ms),
                f.event_id
            );
            return MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo {
                    factors: f.factors.clone(),
                    at: Some(format_ms(f.time_ms)),
                    carried_from_earlier_signin: false,
                }),
                evidence,
                note,
            };
        }
        if let Some(u) = events.iter().find(|e| e.kind == IdpEventKind::UpstreamAuth).copied() {
            evidence.push((u, "idp_login"));
            return MfaFinding::unknown(
                format!(
                    "Okta session {sid} was authenticated by another IdP (event {}), whose factors are not in these logs.",
                    u.event_id
                ),
                evidence,
            );
        }
        if let Some(s) = start {
            if self.snap.covers(Source::Okta, scope, s.time_ms, sso.time_ms) {
                return MfaFinding {
                    verdict: Verdict::NotEnforced,
                    reason: None,
                    mfa: None,
                    evidence,
                    note: format!(
                        "Okta session {sid} began at {} (event {}) and the Okta logs are complete from then to the SSO, yet no non-password factor was verified in it.",
                        format_ms(s.time_ms),
                        s.event_id
                    ),
                };
            }
            return MfaFinding::unknown(
                format!(
                    "No verified factor was found in Okta session {sid}, but the Okta logs between its start and the SSO are incomplete."
                ),
                evidence,
            );
        }
        MfaFinding::unknown(
            format!(
                "No verified factor was found in Okta session {sid}, and its start is not in the collected Okta logs, so the factor may be in records not held."
            ),
            evidence,
        )
    }

    /// docs/judging.md §5, Entra.
    fn entra_mfa(&self, sso: &'a IdpEvent) -> MfaFinding<'a> {
        let at = Some(format_ms(sso.time_ms));
        let factors: Vec<String> = sso.factors.clone();
        match sso.mfa {
            MfaClaim::Verified => MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo { factors: factors.clone(), at, carried_from_earlier_signin: false }),
                evidence: vec![],
                note: format!("The Entra sign-in required multi-factor authentication and it was completed ({}).", list(&factors)),
            },
            MfaClaim::Carried => MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo { factors: factors.clone(), at, carried_from_earlier_signin: true }),
                evidence: vec![],
                note: "The Entra sign-in required multi-factor authentication and it was satisfied by a claim from an earlier sign-in (\"Previously satisfied\"): MFA was enforced, though not prompted again.".into(),
            },
            MfaClaim::SingleFactor => MfaFinding {
                verdict: Verdict::NotEnforced,
                reason: None,
                mfa: None,
                evidence: vec![],
                note: format!("The Entra sign-in completed with single-factor authentication ({}).", list(&factors)),
            },
            MfaClaim::Upstream => MfaFinding::unknown("The Entra sign-in's MFA was satisfied by an external provider whose logs are not collected.".into(), vec![]),
            _ => MfaFinding::unknown(
                "The Entra sign-in record does not say how authentication was completed (authenticationDetails missing: collect the Graph beta endpoint).".into(),
                vec![],
            ),
        }
    }

    /// docs/judging.md §5, AD FS: the claims of every row of the sign-in (Connect Health writes
    /// one row per step, sharing the correlation id: Forms, then Azure MFA, then Multifactor).
    fn adfs_mfa(&self, sso: &'a IdpEvent) -> MfaFinding<'a> {
        let own = [sso];
        let rows: &[&'a IdpEvent] =
            sso.session_id.as_deref().and_then(|sid| self.adfs_signins.get(sid)).map(Vec::as_slice).unwrap_or(&own);
        let sign_in = |claim: MfaClaim| rows.iter().copied().filter(move |e| e.mfa == claim);
        let at = |e: &IdpEvent| Some(format_ms(e.time_ms));
        let factors = |claim: MfaClaim| {
            let mut f: Vec<String> = Vec::new();
            for e in sign_in(claim) {
                for x in &e.factors {
                    if !f.contains(x) {
                        f.push(x.clone());
                    }
                }
            }
            f
        };
        let others = |claim: MfaClaim| -> Vec<(&'a IdpEvent, &'static str)> {
            sign_in(claim).filter(|e| e.event_id != sso.event_id).map(|e| (e, "mfa_factor")).collect()
        };
        let steps = if rows.len() > 1 { format!(" ({} rows of one AD FS sign-in)", rows.len()) } else { String::new() };
        if let Some(v) = sign_in(MfaClaim::Verified).next() {
            let f = factors(MfaClaim::Verified);
            return MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo { factors: f.clone(), at: at(v), carried_from_earlier_signin: false }),
                evidence: others(MfaClaim::Verified),
                note: format!("The AD FS sign-in{steps} passed a second factor ({}).", list(&f)),
            };
        }
        if let Some(c) = sign_in(MfaClaim::Carried).next() {
            return MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo {
                    factors: factors(MfaClaim::Carried),
                    at: at(c),
                    carried_from_earlier_signin: true,
                }),
                evidence: others(MfaClaim::Carried),
                note: format!(
                    "The AD FS sign-in{steps} used a single sign-on token that had multi-factor authentication (\"Multifactor\"): MFA was enforced, though not prompted again."
                ),
            };
        }
        if sign_in(MfaClaim::Upstream).next().is_some() {
            return MfaFinding::unknown(
                format!("AD FS sent the sign-in{steps} to another identity provider, whose logs are not collected."),
                vec![],
            );
        }
        if sign_in(MfaClaim::SingleFactor).next().is_some() {
            let f = factors(MfaClaim::SingleFactor);
            return MfaFinding {
                verdict: Verdict::NotEnforced,
                reason: None,
                mfa: None,
                evidence: vec![],
                note: format!("The AD FS sign-in{steps} completed with its first factor only ({}).", list(&f)),
            };
        }
        MfaFinding::unknown(
            format!("The AD FS sign-in{steps} does not say which authentication methods were used."),
            vec![],
        )
    }

    /// docs/judging.md §5, Google.
    fn google_mfa(&self, sso: &'a IdpEvent, user: &str) -> MfaFinding<'a> {
        let lo = sso.time_ms - self.cfg.google_lookback_ms;
        let logins: Vec<&IdpEvent> = self
            .google_logins
            .get(user)
            .map(|v| v.iter().copied().filter(|e| e.time_ms >= lo && e.time_ms <= sso.time_ms).collect())
            .unwrap_or_default();
        let successes: Vec<&IdpEvent> = logins
            .iter()
            .copied()
            .filter(|e| e.native_type == "login/login_success" && e.outcome == Outcome::Success)
            .collect();
        let Some(mut chosen) = successes.last().copied() else {
            return MfaFinding::unknown(
                format!(
                    "No Google sign-in of {user} was found in the {} days before the SAML login.",
                    self.cfg.google_lookback_ms / (24 * 60 * MIN)
                ),
                vec![],
            );
        };
        if chosen.source_ip != sso.source_ip
            && let Some(alt) = successes
                .iter()
                .rev()
                .skip(1)
                .take_while(|e| chosen.time_ms - e.time_ms <= TIE_MS)
                .find(|e| e.source_ip.is_some() && e.source_ip == sso.source_ip)
        {
            chosen = alt;
        }
        let group: Vec<&IdpEvent> = logins
            .iter()
            .copied()
            .filter(|e| {
                (e.native_type == "login/login_verification" || e.native_type == "login/login_challenge")
                    && e.time_ms >= chosen.time_ms - GOOGLE_SIGNIN_GROUP
                    && e.time_ms <= chosen.time_ms
            })
            .collect();
        let mut evidence: Vec<(&IdpEvent, &'static str)> = vec![(chosen, "idp_login")];
        let verified: Vec<&IdpEvent> =
            std::iter::once(chosen).chain(group.iter().copied()).filter(|e| e.mfa == MfaClaim::Verified).collect();
        if !verified.is_empty() {
            let mut factors: Vec<String> = Vec::new();
            for e in std::iter::once(chosen).chain(group.iter().copied()) {
                for f in &e.factors {
                    if !factors.contains(f) {
                        factors.push(f.clone());
                    }
                }
            }
            for v in &verified {
                if v.event_id != chosen.event_id {
                    evidence.push((v, "idp_login"));
                }
            }
            return MfaFinding {
                verdict: Verdict::Enforced,
                reason: None,
                mfa: Some(MfaInfo {
                    factors: factors.clone(),
                    at: Some(format_ms(chosen.time_ms)),
                    carried_from_earlier_signin: chosen.time_ms + GOOGLE_SIGNIN_GROUP < sso.time_ms,
                }),
                evidence,
                note: format!(
                    "The Google sign-in behind it ({} at {}) passed a second factor ({}).",
                    chosen.event_id,
                    format_ms(chosen.time_ms),
                    list(&factors)
                ),
            };
        }
        if std::iter::once(chosen).chain(group.iter().copied()).any(|e| e.mfa == MfaClaim::Upstream) {
            return MfaFinding::unknown(
                format!(
                    "The Google sign-in behind it ({}) was federated to another IdP whose logs are not collected.",
                    chosen.event_id
                ),
                evidence,
            );
        }
        if chosen.mfa == MfaClaim::SingleFactor {
            return MfaFinding {
                verdict: Verdict::NotEnforced,
                reason: None,
                mfa: None,
                evidence,
                note: format!(
                    "The Google sign-in behind it ({} at {}) used only {}.",
                    chosen.event_id,
                    format_ms(chosen.time_ms),
                    list(&chosen.factors)
                ),
            };
        }
        MfaFinding::unknown(
            format!("The Google sign-in behind it ({}) does not say which challenges were passed.", chosen.event_id),
            evidence,
        )
    }

    /// docs/judging.md §5: what the chosen sign-in says, by its IdP's rule; for a sign-in whose
    /// record states no outcome, only a `not_enforced` finding stands.
    fn mfa_of(&self, cand: &Candidate<'a>, searched: &[Searched]) -> MfaFinding<'a> {
        let finding = self.provider_mfa(cand, searched);
        if cand.event.outcome == Outcome::Success {
            return finding;
        }
        let said = "The sign-in's record states no outcome (no status or result code)";
        if finding.verdict == Verdict::NotEnforced {
            return MfaFinding {
                note: format!("{said}; it shows a sign-in with one factor all the same. {}", finding.note),
                ..finding
            };
        }
        MfaFinding {
            verdict: Verdict::Unknown,
            reason: Some(UnknownReason::IdpOutcomeUnknown),
            mfa: None,
            evidence: finding.evidence,
            note: format!("{said}, so what it shows about MFA cannot prove this session had it. {}", finding.note),
        }
    }

    fn provider_mfa(&self, cand: &Candidate<'a>, searched: &[Searched]) -> MfaFinding<'a> {
        let scope = searched.iter().find(|s| s.provider == cand.event.provider).and_then(|s| s.scope.as_deref());
        match cand.event.provider {
            Idp::Okta => self.okta_mfa(cand.event, scope),
            Idp::Entra => self.entra_mfa(cand.event),
            Idp::Google => self.google_mfa(cand.event, &cand.user),
            Idp::Adfs => self.adfs_mfa(cand.event),
        }
    }

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
        let mut users: Vec<(Idp, String, MatchedBy)> = Vec::new();
        for s in &searched {
            for (u, m) in self.match_users(s.provider, c, chain, path) {
                if !users.iter().any(|(p, x, _)| *p == s.provider && *x == u) {
                    users.push((s.provider, u, m));
                }
            }
        }
        users.sort_by(|a, b| (rank(a.2), a.0, &a.1).cmp(&(rank(b.2), b.0, &b.1)));
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

    /// docs/judging.md §4, "No candidate": a known AWS application, then identity only where it
    /// matters, then coverage.
    fn no_candidate(
        &self,
        searched: &[Searched],
        users: &[(Idp, String, MatchedBy)],
        w: &Window<'_>,
        story: &mut Story,
    ) -> Judged<'a> {
        let (lo, hi) = (w.lo, w.hi);
        let identity =
            users.first().map(|(p, u, m)| Identity { idp: identity_source(*p), user: u.clone(), matched_by: *m });
        let unknown_apps: Vec<&str> =
            searched.iter().filter(|s| !self.aws_app_known(s.provider)).map(|s| s.provider.as_str()).collect();
        if !unknown_apps.is_empty() {
            story.note(format!(
                "No sign-in to an AWS application was found, but trailproof cannot tell which of {}'s applications is AWS: none is configured and none of its logged sign-ins went to an application named like AWS. Set aws_app_ids or aws_app_names for it in [[idp]].",
                unknown_apps.join(", ")
            ));
            return Judged { identity, ..Judged::unknown(UnknownReason::AwsAppUnknown) };
        }
        let who = match users.first() {
            Some((_, u, _)) => u.clone(),
            None => {
                let others = self.aws_signins_between(searched, lo, hi);
                if !others.is_empty() {
                    let ids: Vec<&str> = others.iter().take(5).map(|e| e.event_id.as_str()).collect();
                    story.note(format!(
                        "The session name matches no user known to {}, and the IdP logs hold {} sign-in(s) to AWS applications between {} and {} ({}{}) that it cannot be tied to; add an identity alias or rule if it belongs to someone.",
                        searched.iter().map(|s| s.provider.as_str()).collect::<Vec<_>>().join(", "),
                        others.len(),
                        format_ms(lo),
                        format_ms(hi),
                        ids.join(", "),
                        if others.len() > ids.len() { ", …" } else { "" }
                    ));
                    return Judged::unknown(UnknownReason::IdentityUnmapped);
                }
                story.note(format!(
                    "The session name matches no known user, but no identity mapping could matter: nobody signed in to an AWS application between {} and {}.",
                    format_ms(lo),
                    format_ms(hi)
                ));
                "anyone".to_string()
            }
        };
        if self.covered(searched, lo, hi) {
            story.note(format!(
                "The IdP logs are complete from {} to {} and hold no sign-in of {who} to an AWS application: this console session did not come through the IdP.",
                format_ms(lo),
                format_ms(hi)
            ));
            Judged {
                verdict: Verdict::NoIdpLogin,
                reason: None,
                identity,
                ..Judged::unknown(UnknownReason::IdpLogsNotCollected)
            }
        } else {
            story.note(format!(
                "No sign-in of {who} to an AWS application was found between {} and {}, but the IdP logs for that time are not complete.",
                format_ms(lo),
                format_ms(hi)
            ));
            Judged { identity, ..Judged::unknown(UnknownReason::IdpLogsNotCollected) }
        }
    }

    /// docs/judging.md §5a: the portal sign-in was Identity Center's own directory's.
    fn identity_center_directory(
        &self,
        c: &AwsEvent,
        p: &'a AwsEvent,
        types: &[String],
        story: &mut Story,
    ) -> Judged<'a> {
        let user = self.portal_user(p).or(c.session_name.as_deref()).unwrap_or_default().to_string();
        let matched_by = if user.contains('@') { MatchedBy::Email } else { MatchedBy::Username };
        let identity = Some(Identity { idp: IdentitySource::IdentityCenter, user, matched_by });
        let second: Vec<String> =
            types.iter().filter(|t| IC_SECOND_FACTORS.contains(&credential_key(t).as_str())).cloned().collect();
        if !second.is_empty() {
            story.note(format!(
                "Identity Center's own directory signed the user in and verified {} (a second factor), as its CloudTrail sign-in event records.",
                types.join(", ")
            ));
            return Judged {
                verdict: Verdict::Enforced,
                reason: None,
                identity,
                mfa: Some(MfaInfo {
                    factors: types.to_vec(),
                    at: Some(format_ms(p.time_ms)),
                    carried_from_earlier_signin: false,
                }),
                chosen: None,
            };
        }
        if types.iter().all(|t| credential_key(t) == "PASSWORD") {
            story.note("Identity Center's own directory signed the user in with a password only, as its CloudTrail sign-in event records.".into());
            return Judged { verdict: Verdict::NotEnforced, reason: None, identity, mfa: None, chosen: None };
        }
        story.note(format!(
            "Identity Center's own directory signed the user in with credential type {}, which trailproof does not know as a factor.",
            types.join(", ")
        ));
        Judged { identity, ..Judged::unknown(UnknownReason::AwsMfaFieldMissing) }
    }

    /// docs/judging.md §5a: an Identity Center session with no portal sign-in and no IdP to search.
    fn identity_center_without_sign_in(&self, c: &AwsEvent, story: &mut Story) -> Judged<'a> {
        let scopes = &self.snap.identity_center_scopes;
        if scopes.is_empty() {
            story.note("No identity provider is configured or present in the store, and the store holds no IAM Identity Center sign-in events to judge this session from.".into());
            return Judged::unknown(UnknownReason::IdpNotConfigured);
        }
        let (lo, hi) =
            (c.time_ms - self.cfg.identity_center_session_ms - self.cfg.skew_ms, c.time_ms + self.cfg.skew_ms);
        let list = scopes.iter().cloned().collect::<Vec<_>>().join(", ");
        if scopes.iter().all(|s| self.snap.covers(Source::Cloudtrail, Some(s), lo, hi)) {
            story.note(format!(
                "Identity Center signs its users in itself here (its sign-in events are logged in {list}); CloudTrail there is complete from {} to {} and holds no portal sign-in of this user: this console session did not come through Identity Center's sign-in.",
                format_ms(lo),
                format_ms(hi)
            ));
            return Judged { verdict: Verdict::NoIdpLogin, reason: None, identity: None, mfa: None, chosen: None };
        }
        story.note(format!(
            "No Identity Center portal sign-in of this user was found between {} and {}, but CloudTrail is not complete for that time in {list}, where Identity Center logs its sign-ins.",
            format_ms(lo),
            format_ms(hi)
        ));
        Judged::unknown(UnknownReason::IdpLogsNotCollected)
    }

    /// docs/judging.md §7.
    fn signals(&self, c: &AwsEvent, verdict: Verdict, chosen: Option<&IdpEvent>, chain: &Chain<'_>) -> Vec<Signal> {
        let cfg = self.cfg;
        let mut s = BTreeSet::new();
        match verdict {
            Verdict::NotEnforced => {
                s.insert(Signal::NoMfa);
            }
            Verdict::NoIdpLogin => {
                s.insert(Signal::NoIdpLogin);
            }
            _ => {}
        }
        let ip = c.source_ip.as_deref();
        if let (Some(t), Some(ip)) = (chain.signin_token, ip)
            && let Some(tip) = t.source_ip.as_deref()
            && tip != ip
            && !cfg.allowlisted_ip(tip)
        {
            s.insert(Signal::TokenRelay);
        }
        if let (Some(e), Some(ip)) = (chosen, ip)
            && e.source_ip.as_deref().is_some_and(|eip| eip != ip)
        {
            s.insert(Signal::IdpIpMismatch);
        }
        let key = principal_key(c);
        let mine = self.principals.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let earlier: Vec<&&AwsEvent> = mine
            .iter()
            .filter(|h| h.time_ms < c.time_ms && h.time_ms >= c.time_ms - cfg.baseline_ms && h.event_id != c.event_id)
            .collect();
        // Before the range, only what was seen within the baseline before this login counts.
        let since = c.time_ms - cfg.baseline_ms;
        let prior = self.snap.prior_sessions.get(&key).filter(|p| p.sessions > 0 && p.last_ms >= since);
        if !earlier.is_empty() || prior.is_some() {
            let seen = |f: &dyn Fn(&AwsEvent) -> Option<&str>,
                        agg: &dyn Fn(&PriorSessions) -> &BTreeMap<String, Millis>,
                        v: Option<&str>| {
                v.is_some_and(|v| {
                    earlier.iter().any(|h| f(h) == Some(v))
                        || prior.is_some_and(|p| agg(p).get(v).is_some_and(|t| *t >= since))
                })
            };
            if ip.is_some() && !seen(&|h| h.source_ip.as_deref(), &|p| &p.ips, ip) {
                s.insert(Signal::NewIp);
            }
            if c.user_agent.is_some()
                && !seen(&|h| h.user_agent.as_deref(), &|p| &p.user_agents, c.user_agent.as_deref())
            {
                s.insert(Signal::NewUserAgent);
            }
            if c.role_name.is_some() && !seen(&|h| h.role_name.as_deref(), &|p| &p.roles, c.role_name.as_deref()) {
                s.insert(Signal::NewRole);
            }
        }
        if let Some(e) = chosen {
            let since = e.time_ms - cfg.baseline_ms;
            let mut prior: Vec<&IdpEvent> = Vec::new();
            let mut agg: Vec<&PriorSsos> = Vec::new();
            for k in user_keys(e) {
                for p in self.ssos.get(&(e.provider, k.clone())).map(Vec::as_slice).unwrap_or(&[]) {
                    if p.outcome == Outcome::Success
                        && p.time_ms < e.time_ms
                        && p.time_ms >= e.time_ms - cfg.baseline_ms
                        && !prior.iter().any(|x| x.event_id == p.event_id)
                    {
                        prior.push(p);
                    }
                }
                if let Some(a) = self.snap.prior_ssos.get(&(e.provider, k)).filter(|a| a.ssos > 0 && a.last_ms >= since)
                {
                    agg.push(a);
                }
            }
            if !prior.is_empty() || !agg.is_empty() {
                if let Some(asn) = e.asn
                    && !prior.iter().any(|p| p.asn == Some(asn))
                    && !agg.iter().any(|a| a.asns.get(&asn).is_some_and(|t| *t >= since))
                {
                    s.insert(Signal::NewAsn);
                }
                if let Some(country) = e.country.as_deref()
                    && !prior.iter().any(|p| p.country.as_deref() == Some(country))
                    && !agg.iter().any(|a| a.countries.get(country).is_some_and(|t| *t >= since))
                {
                    s.insert(Signal::NewCountry);
                }
            }
            if e.asn.is_some_and(|a| cfg.allow_asns.contains(&a)) {
                s.insert(Signal::AllowlistedNetwork);
            }
        }
        let nets: BTreeSet<String> = mine
            .iter()
            .filter(|h| (h.time_ms - c.time_ms).abs() <= cfg.burst_ms)
            .filter_map(|h| h.source_ip.as_deref().map(network))
            .collect();
        if nets.len() >= 2 {
            s.insert(Signal::MultiNetworkBurst);
        }
        if ip.is_some_and(|ip| cfg.allowlisted_ip(ip)) {
            s.insert(Signal::AllowlistedNetwork);
        }
        if c.user_agent.as_deref().is_some_and(|ua| cfg.allow_user_agents.iter().any(|r| r.is_match(ua))) {
            s.insert(Signal::AllowlistedUserAgent);
        }
        s.into_iter().collect()
    }

    fn risk(&self, verdict: Verdict, signals: &[Signal]) -> Risk {
        let w = &self.cfg.weights;
        let mut score = match verdict {
            Verdict::Enforced => w.base_enforced,
            Verdict::Unknown => w.base_unknown,
            Verdict::NotEnforced => w.base_not_enforced,
            Verdict::NoIdpLogin => w.base_no_idp_login,
        };
        for sig in signals {
            score += match sig {
                Signal::NoMfa | Signal::NoIdpLogin => 0,
                Signal::TokenRelay => w.token_relay,
                Signal::IdpIpMismatch => w.idp_ip_mismatch,
                Signal::NewIp => w.new_ip,
                Signal::NewAsn => w.new_asn,
                Signal::NewCountry => w.new_country,
                Signal::NewUserAgent => w.new_user_agent,
                Signal::NewRole => w.new_role,
                Signal::MultiNetworkBurst => w.multi_network_burst,
                Signal::AllowlistedNetwork => w.allowlisted_network,
                Signal::AllowlistedUserAgent => w.allowlisted_user_agent,
            };
        }
        let score = score.clamp(0, 100) as u8;
        let severity = match score {
            0..25 => Severity::Low,
            25..50 => Severity::Medium,
            50..75 => Severity::High,
            _ => Severity::Critical,
        };
        Risk { score, severity, signals: signals.to_vec() }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "no named factor".into() } else { v.join(", ") }
}
