//! What the generator remembers to label console sessions: AWS-app SSOs, Okta session events,
//! Google sign-ins, and the console logins waiting for their label. Labels are computed from
//! these by the rules of docs/judging.md, over the records as written (dropped ones excluded).

use std::collections::BTreeMap;

use trailproof_model::verdict::{
    Evidence, Identity, IdentitySource, Label, LabelRisk, MatchedBy, SessionPath, Signal, UnknownReason, Verdict,
};
use trailproof_model::{Idp, MfaClaim, Source, fold};

use crate::time::{DAY, HOUR, MIN};
use crate::world::{BROKER_CIDR, CORP_CIDR, Ip, World};

/// A sign-in to an AWS application whose outcome is success or unknown (an AWS sign-in,
/// judging.md §4).
#[derive(Debug, Clone)]
pub struct SsoRec {
    pub idp: Idp,
    /// IdP clock.
    pub t: i64,
    pub id: String,
    pub ip: Ip,
    pub stored: bool,
    pub session: Option<String>,
    /// Entra and AD FS: the MFA claim the record carries.
    pub claim: Option<MfaClaim>,
    /// The record states no outcome (Entra `"status": {}`).
    pub unknown_outcome: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessKind {
    Start,
    /// A factor event with `mfa = verified`.
    Factor,
    Upstream,
}

#[derive(Debug, Clone)]
pub struct SessRec {
    pub t: i64,
    pub id: String,
    pub kind: SessKind,
    pub stored: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GKind {
    Success(MfaClaim),
    Verification,
}

#[derive(Debug, Clone)]
pub struct GLogin {
    pub t: i64,
    pub id: String,
    pub kind: GKind,
    pub ip: Ip,
    pub stored: bool,
}

/// A successful Identity Center portal sign-in (`UserAuthentication`), CloudTrail clock.
#[derive(Debug, Clone)]
pub struct PortalRec {
    pub t: i64,
    pub id: String,
    pub ip: Ip,
    /// The user name as the event gives it.
    pub user_name: String,
    /// `additionalEventData.CredentialType`.
    pub credential_type: String,
    /// When the `UserAuthentication` names no user (2025 shape, Identity Center's directory):
    /// the `CredentialChallenge` of the same `AuthWorkflowID` that does.
    pub named_by: Option<String>,
}

/// The federated side of a console login, for identity matching.
#[derive(Debug, Clone)]
pub struct Fed {
    /// The IdPs judging.md §2 searches for this session.
    pub searched: Vec<Idp>,
    pub session_name: String,
    pub subject: Option<String>,
    pub source_identity: Option<String>,
}

/// A successful console login waiting for its label.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub id: String,
    /// CloudTrail time.
    pub t: i64,
    pub ip: Ip,
    pub path: SessionPath,
    pub scenario: String,
    pub principal_key: String,
    pub fed: Option<Fed>,
    /// `aws_native`: (identity user, MFAUsed).
    pub native: Option<(String, Option<bool>)>,
    /// AWS-side evidence, the console login first.
    pub evidence: Vec<Evidence>,
    pub signin_token_ip: Option<Ip>,
    /// What the scenario was built to produce.
    pub expect: Option<(Verdict, Option<UnknownReason>)>,
}

#[derive(Default)]
pub struct Tracker {
    /// AWS-app SSOs by (provider, folded user login).
    pub ssos: BTreeMap<(Idp, String), Vec<SsoRec>>,
    /// Identity Center portal sign-ins by folded user name.
    pub portal: BTreeMap<String, Vec<PortalRec>>,
    pub okta_sessions: BTreeMap<String, Vec<SessRec>>,
    pub google_logins: BTreeMap<String, Vec<GLogin>>,
    /// Pending console logins by day.
    pub pending: BTreeMap<i64, Vec<PendingLogin>>,
    /// Successful console logins of recent days: (principal key, time, ip), for bursts.
    pub recent: Vec<(String, i64, Ip)>,
}

const TIE_MS: i64 = 60_000;
/// The engine's defaults (docs/judging.md, notation): window before / after the anchor, skew.
const BEFORE: i64 = 10 * MIN;
const AFTER: i64 = 2 * MIN;
const SKEW: i64 = 2 * MIN;
/// `identity_center_session_hours` (default 12).
const IC_SESSION: i64 = 12 * HOUR;

fn ev(source: Source, id: &str, role: &str) -> Evidence {
    Evidence { source, id: id.to_string(), role: role.to_string() }
}

pub fn idp_source(p: Idp) -> Source {
    p.source()
}

fn identity_source(p: Idp) -> IdentitySource {
    IdentitySource::of(p)
}

fn in_cidr(ip: &Ip, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let (Ok(bits), Ip::V4(o)) = (bits.parse::<u32>(), ip) else { return false };
    let parts: Vec<u8> = net.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() != 4 || bits > 32 {
        return false;
    }
    let a = u32::from_be_bytes(*o);
    let n = u32::from_be_bytes([parts[0], parts[1], parts[2], parts[3]]);
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    a & mask == n & mask
}

pub fn allowlisted(ip: &Ip) -> bool {
    in_cidr(ip, CORP_CIDR) || in_cidr(ip, BROKER_CIDR)
}

/// IPv4 /24, IPv6 /48.
fn network(ip: &Ip) -> String {
    match ip {
        Ip::V4(o) => format!("{}.{}.{}", o[0], o[1], o[2]),
        Ip::V6(s) => format!("{:x}:{:x}:{:x}", s[0], s[1], s[2]),
    }
}

/// The MFA finding of one candidate (judging.md §5): verdict, reason, extra evidence.
struct Finding {
    verdict: Verdict,
    reason: Option<UnknownReason>,
    evidence: Vec<Evidence>,
}

impl Finding {
    fn unknown() -> Finding {
        Finding { verdict: Verdict::Unknown, reason: Some(UnknownReason::IdpLogsNotCollected), evidence: vec![] }
    }
}

impl Tracker {
    pub fn add_sso(&mut self, login: &str, rec: SsoRec) {
        self.ssos.entry((rec.idp, fold(login))).or_default().push(rec);
    }

    pub fn add_session(&mut self, session: &str, rec: SessRec) {
        self.okta_sessions.entry(session.to_string()).or_default().push(rec);
    }

    pub fn add_portal(&mut self, rec: PortalRec) {
        self.portal.entry(fold(&rec.user_name)).or_default().push(rec);
    }

    /// Whether `[lo, hi]` holds a stored AWS sign-in (success or unknown outcome) of one of
    /// `idps`, by anyone (judging.md §4, "No candidate" 2).
    pub fn any_aws_sign_in(&self, idps: &[Idp], lo: i64, hi: i64) -> bool {
        self.ssos
            .iter()
            .filter(|((p, _), _)| idps.contains(p))
            .any(|(_, v)| v.iter().any(|s| s.stored && s.t >= lo && s.t <= hi))
    }

    /// The stored AWS sign-ins of `idps` in `[lo, hi]`, in key order.
    pub fn aws_sign_ins(&self, idps: &[Idp], lo: i64, hi: i64) -> Vec<&SsoRec> {
        self.ssos
            .iter()
            .filter(|((p, _), _)| idps.contains(p))
            .flat_map(|(_, v)| v.iter().filter(|s| s.stored && s.t >= lo && s.t <= hi))
            .collect()
    }

    /// judging.md §4: the user's latest portal sign-in within the portal session before `t`.
    fn portal_sign_in(&self, session_name: &str, t: i64) -> Option<&PortalRec> {
        self.portal
            .get(&fold(session_name))?
            .iter()
            .filter(|r| r.t <= t + SKEW && r.t >= t - IC_SESSION)
            .max_by(|a, b| (a.t, &a.id).cmp(&(b.t, &b.id)))
    }

    pub fn add_google_login(&mut self, login: &str, rec: GLogin) {
        self.google_logins.entry(fold(login)).or_default().push(rec);
    }

    pub fn add_pending(&mut self, day: i64, p: PendingLogin) {
        self.pending.entry(day).or_default().push(p);
    }

    /// Forgets what no later label can need.
    pub fn prune(&mut self, before: i64) {
        for v in self.ssos.values_mut() {
            v.retain(|s| s.t >= before - DAY);
        }
        self.ssos.retain(|_, v| !v.is_empty());
        for v in self.portal.values_mut() {
            v.retain(|s| s.t >= before - DAY);
        }
        self.portal.retain(|_, v| !v.is_empty());
        self.okta_sessions.retain(|_, v| v.iter().any(|s| s.t >= before - 2 * DAY));
        for v in self.google_logins.values_mut() {
            v.retain(|s| s.t >= before - 15 * DAY);
        }
        self.recent.retain(|(_, t, _)| *t >= before - DAY);
    }

    fn okta_finding(&self, w: &World, sso: &SsoRec) -> Finding {
        let Some(sid) = sso.session.as_deref() else { return Finding::unknown() };
        let events: Vec<&SessRec> = self
            .okta_sessions
            .get(sid)
            .map(|v| v.iter().filter(|e| e.stored && e.t <= sso.t).collect())
            .unwrap_or_default();
        let latest =
            |k: SessKind| events.iter().filter(|e| e.kind == k).max_by(|a, b| (a.t, &a.id).cmp(&(b.t, &b.id))).copied();
        if let Some(f) = latest(SessKind::Factor) {
            return Finding {
                verdict: Verdict::Enforced,
                reason: None,
                evidence: vec![ev(Source::Okta, &f.id, "mfa_factor")],
            };
        }
        if latest(SessKind::Upstream).is_some() {
            return Finding::unknown();
        }
        if let Some(s) = latest(SessKind::Start)
            && w.covered(Idp::Okta, s.t, sso.t)
        {
            return Finding { verdict: Verdict::NotEnforced, reason: None, evidence: vec![] };
        }
        Finding::unknown()
    }

    fn google_finding(&self, user: &str, sso: &SsoRec) -> Finding {
        let lo = sso.t - 14 * DAY;
        let logins: Vec<&GLogin> = self
            .google_logins
            .get(user)
            .map(|v| v.iter().filter(|e| e.stored && e.t >= lo && e.t <= sso.t).collect())
            .unwrap_or_default();
        let mut successes: Vec<&GLogin> =
            logins.iter().copied().filter(|e| matches!(e.kind, GKind::Success(_))).collect();
        successes.sort_by(|a, b| (a.t, &a.id).cmp(&(b.t, &b.id)));
        let Some(mut chosen) = successes.last().copied() else { return Finding::unknown() };
        if chosen.ip != sso.ip
            && let Some(alt) =
                successes.iter().rev().skip(1).take_while(|e| chosen.t - e.t <= TIE_MS).find(|e| e.ip == sso.ip)
        {
            chosen = alt;
        }
        let group: Vec<&GLogin> = logins
            .iter()
            .copied()
            .filter(|e| e.kind == GKind::Verification && e.t >= chosen.t - 10 * MIN && e.t <= chosen.t)
            .collect();
        let chosen_claim = match chosen.kind {
            GKind::Success(c) => c,
            GKind::Verification => MfaClaim::Verified,
        };
        if chosen_claim == MfaClaim::Verified || !group.is_empty() {
            return Finding {
                verdict: Verdict::Enforced,
                reason: None,
                evidence: vec![ev(Source::Google, &chosen.id, "idp_login")],
            };
        }
        if chosen_claim == MfaClaim::Upstream {
            return Finding::unknown();
        }
        if chosen_claim == MfaClaim::SingleFactor {
            return Finding { verdict: Verdict::NotEnforced, reason: None, evidence: vec![] };
        }
        Finding::unknown()
    }

    /// judging.md §5 "AD FS": the claims of every row of the chosen row's sign-in (its
    /// correlation id), read together.
    fn adfs_finding(&self, user: &str, sso: &SsoRec) -> Finding {
        let rows: Vec<&SsoRec> = match &sso.session {
            Some(sid) => self
                .ssos
                .get(&(Idp::Adfs, user.to_string()))
                .map(|v| v.iter().filter(|r| r.stored && r.session.as_ref() == Some(sid)).collect())
                .unwrap_or_default(),
            None => vec![sso],
        };
        let with = |c: MfaClaim| rows.iter().copied().filter(move |r| r.claim == Some(c));
        let others = |c: MfaClaim| -> Vec<Evidence> {
            with(c).filter(|r| r.id != sso.id).map(|r| ev(Source::Adfs, &r.id, "mfa_factor")).collect()
        };
        for c in [MfaClaim::Verified, MfaClaim::Carried] {
            if with(c).next().is_some() {
                return Finding { verdict: Verdict::Enforced, reason: None, evidence: others(c) };
            }
        }
        if with(MfaClaim::Upstream).next().is_some() {
            return Finding::unknown();
        }
        if with(MfaClaim::SingleFactor).next().is_some() {
            return Finding { verdict: Verdict::NotEnforced, reason: None, evidence: vec![] };
        }
        Finding::unknown()
    }

    fn finding(&self, w: &World, user: &str, sso: &SsoRec) -> Finding {
        let not_enforced = || Finding { verdict: Verdict::NotEnforced, reason: None, evidence: vec![] };
        let f = match sso.idp {
            Idp::Okta => self.okta_finding(w, sso),
            Idp::Entra => match sso.claim {
                Some(MfaClaim::Verified | MfaClaim::Carried) => {
                    Finding { verdict: Verdict::Enforced, reason: None, evidence: vec![] }
                }
                Some(MfaClaim::SingleFactor) => not_enforced(),
                _ => Finding::unknown(),
            },
            Idp::Google => self.google_finding(user, sso),
            Idp::Adfs => self.adfs_finding(user, sso),
        };
        // judging.md §5, "A chosen sign-in of unknown outcome": a not_enforced finding stands,
        // anything else is idp_outcome_unknown; never enforced.
        if sso.unknown_outcome && f.verdict != Verdict::NotEnforced {
            return Finding {
                verdict: Verdict::Unknown,
                reason: Some(UnknownReason::IdpOutcomeUnknown),
                evidence: vec![],
            };
        }
        f
    }

    /// judging.md §3 over the simulated directory: the first rule that maps the session's keys
    /// to a known user of `p`.
    fn match_user(w: &World, p: Idp, path: SessionPath, f: &Fed) -> Option<(String, MatchedBy)> {
        let known = &w.known[crate::world::idp_index(p)];
        if let Some(si) = f.source_identity.as_deref().map(fold).filter(|s| known.contains(s)) {
            return Some((si, MatchedBy::SourceIdentity));
        }
        if let Some(sub) = f.subject.as_deref().map(fold).filter(|s| known.contains(s)) {
            return Some((sub, MatchedBy::SamlSubject));
        }
        let sn = fold(&f.session_name);
        if sn.is_empty() {
            return None;
        }
        if known.contains(&sn) {
            return Some((sn.clone(), if sn.contains('@') { MatchedBy::Email } else { MatchedBy::Username }));
        }
        if !sn.contains('@') {
            let prefix = format!("{sn}@");
            let locals: Vec<&String> =
                known.range(prefix.clone()..).take_while(|k| k.starts_with(&prefix)).take(2).collect();
            if locals.len() == 1 {
                return Some((locals[0].clone(), MatchedBy::LocalPart));
            }
        }
        if let Some((_, target)) = w.aliases.iter().find(|(a, _)| fold(a) == sn) {
            return Some((fold(target), MatchedBy::Alias));
        }
        let n = sn.chars().count();
        if (n == 32 && path == SessionPath::FederationBroker) || n == 64 {
            let longer: Vec<&String> =
                known.range(sn.clone()..).take_while(|k| k.starts_with(&sn)).filter(|k| **k != sn).take(2).collect();
            if longer.len() == 1 {
                return Some((longer[0].clone(), MatchedBy::Prefix));
            }
        }
        None
    }

    /// judging.md §2–§5a for a federated session: the verdict, reason, identity and the chosen
    /// IdP sign-in's IP; the IdP-side evidence is appended to `evidence`.
    fn federated(
        &self,
        w: &World,
        p: &PendingLogin,
        fed: &Fed,
        evidence: &mut Vec<Evidence>,
    ) -> (Verdict, Option<UnknownReason>, Option<Identity>, Option<Ip>) {
        // §4: the window, anchored on the Identity Center portal sign-in when there is one.
        let (anchor, anchor_ip, lo, hi) = if p.path == SessionPath::IdentityCenter {
            match self.portal_sign_in(&fed.session_name, p.t) {
                Some(portal) => {
                    evidence.push(ev(Source::Cloudtrail, &portal.id, "identity_center_sign_in"));
                    if let Some(ch) = &portal.named_by {
                        evidence.push(ev(Source::Cloudtrail, ch, "identity_center_sign_in"));
                    }
                    let types: Vec<&str> =
                        portal.credential_type.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
                    if !types.is_empty() && !types.contains(&"EXTERNAL_IDP") {
                        return Self::identity_center_own(portal, &types);
                    }
                    (portal.t, portal.ip, portal.t - BEFORE - SKEW, portal.t + AFTER + SKEW)
                }
                None => (p.t, p.ip, p.t - IC_SESSION - SKEW, p.t + AFTER + SKEW),
            }
        } else {
            (p.t, p.ip, p.t - BEFORE - SKEW, p.t + AFTER + SKEW)
        };
        if fed.searched.is_empty() {
            return (Verdict::Unknown, Some(UnknownReason::IdpNotConfigured), None, None);
        }
        let covered = fed.searched.iter().all(|idp| w.covered(*idp, lo, hi));
        let matched =
            fed.searched.iter().find_map(|idp| Self::match_user(w, *idp, p.path, fed).map(|(u, m)| (*idp, u, m)));
        let Some((idp, user, m)) = matched else {
            // §4 "No candidate" 2: identity only where it matters.
            return if self.any_aws_sign_in(&fed.searched, lo, hi) {
                (Verdict::Unknown, Some(UnknownReason::IdentityUnmapped), None, None)
            } else if covered {
                (Verdict::NoIdpLogin, None, None, None)
            } else {
                (Verdict::Unknown, Some(UnknownReason::IdpLogsNotCollected), None, None)
            };
        };
        let identity = Some(Identity { idp: identity_source(idp), user: user.clone(), matched_by: m });
        // Rank: IP equal to the anchor's, then distance in time (the outcome does not rank).
        let key = |s: &SsoRec| (s.ip != anchor_ip, (s.t - anchor).abs());
        let mut cands: Vec<&SsoRec> = self
            .ssos
            .get(&(idp, user.clone()))
            .map(|v| v.iter().filter(|s| s.stored && s.t >= lo && s.t <= hi).collect())
            .unwrap_or_default();
        cands.sort_by(|a, b| (key(a), a.t, &a.id).cmp(&(key(b), b.t, &b.id)));
        let Some(best) = cands.first().copied() else {
            return if covered {
                (Verdict::NoIdpLogin, None, identity, None)
            } else {
                (Verdict::Unknown, Some(UnknownReason::IdpLogsNotCollected), identity, None)
            };
        };
        let finding = self.finding(w, &user, best);
        let (bip, bd) = key(best);
        let rivals: Vec<&SsoRec> = cands
            .iter()
            .skip(1)
            .copied()
            .filter(|r| {
                let (rip, rd) = key(r);
                rip == bip && rd - bd <= TIE_MS
            })
            .filter(|r| self.finding(w, &user, r).verdict != finding.verdict)
            .collect();
        evidence.push(ev(idp_source(idp), &best.id, "idp_sso"));
        if rivals.is_empty() {
            evidence.extend(finding.evidence);
            (finding.verdict, finding.reason, identity, Some(best.ip))
        } else {
            for r in rivals {
                evidence.push(ev(idp_source(idp), &r.id, "conflicting_candidate"));
            }
            (Verdict::Unknown, Some(UnknownReason::ConflictingCandidates), identity, Some(best.ip))
        }
    }

    /// judging.md §5a: Identity Center's own directory signed the user in; the portal sign-in's
    /// credential types decide.
    fn identity_center_own(
        portal: &PortalRec,
        types: &[&str],
    ) -> (Verdict, Option<UnknownReason>, Option<Identity>, Option<Ip>) {
        let matched_by = if portal.user_name.contains('@') { MatchedBy::Email } else { MatchedBy::Username };
        let identity =
            Some(Identity { idp: IdentitySource::IdentityCenter, user: portal.user_name.clone(), matched_by });
        let (verdict, reason) = if types.iter().any(|t| matches!(*t, "TOTP" | "WEBAUTHN")) {
            (Verdict::Enforced, None)
        } else if types.iter().all(|t| *t == "PASSWORD") {
            (Verdict::NotEnforced, None)
        } else {
            (Verdict::Unknown, Some(UnknownReason::AwsMfaFieldMissing))
        };
        (verdict, reason, identity, None)
    }

    /// The label of one console login (docs/judging.md §1–§7).
    pub fn label(&self, w: &World, p: &PendingLogin) -> Label {
        let mut evidence = p.evidence.clone();
        let mut signals: Vec<Signal> = Vec::new();
        let (verdict, reason, identity, chosen_ip) = if let Some((user, mfa_used)) = &p.native {
            let identity =
                Some(Identity { idp: IdentitySource::Aws, user: user.clone(), matched_by: MatchedBy::AwsPrincipal });
            match mfa_used {
                Some(true) => (Verdict::Enforced, None, identity, None),
                Some(false) => (Verdict::NotEnforced, None, identity, None),
                None => (Verdict::Unknown, Some(UnknownReason::AwsMfaFieldMissing), identity, None),
            }
        } else if let Some(fed) = &p.fed {
            self.federated(w, p, fed, &mut evidence)
        } else {
            (Verdict::Unknown, Some(UnknownReason::IdpNotConfigured), None, None)
        };
        match verdict {
            Verdict::NotEnforced => signals.push(Signal::NoMfa),
            Verdict::NoIdpLogin => signals.push(Signal::NoIdpLogin),
            _ => {}
        }
        if let Some(tip) = &p.signin_token_ip
            && *tip != p.ip
            && !allowlisted(tip)
        {
            signals.push(Signal::TokenRelay);
        }
        if let Some(cip) = chosen_ip
            && cip != p.ip
        {
            signals.push(Signal::IdpIpMismatch);
        }
        let mut nets: Vec<String> = self
            .recent
            .iter()
            .filter(|(k, t, _)| *k == p.principal_key && (t - p.t).abs() <= 15 * MIN)
            .map(|(_, _, ip)| network(ip))
            .collect();
        nets.sort();
        nets.dedup();
        if nets.len() >= 2 {
            signals.push(Signal::MultiNetworkBurst);
        }
        if allowlisted(&p.ip) {
            signals.push(Signal::AllowlistedNetwork);
        }
        signals.sort();
        Label {
            console_login_event_id: p.id.clone(),
            path: p.path,
            verdict,
            reason,
            identity,
            evidence,
            risk: LabelRisk { signals },
            scenario: p.scenario.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(allowlisted(&Ip::V4([203, 0, 113, 17])));
        assert!(allowlisted(&Ip::V4([198, 51, 100, 21])));
        assert!(!allowlisted(&Ip::V4([198, 51, 100, 40])));
        assert!(!allowlisted(&Ip::V4([34, 118, 52, 77])));
        assert!(!allowlisted(&Ip::V6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])));
    }
}
