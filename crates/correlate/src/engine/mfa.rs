//! docs/judging.md §5: what the chosen sign-in says about MFA, per IdP, and CloudTrail's own
//! MFAUsed for IAM users and root.

use super::*;

/// docs/judging.md §5, aws_native: CloudTrail's own MFAUsed.
pub(super) fn judge_native<'a>(c: &AwsEvent, story: &mut Story) -> Judged<'a> {
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

impl<'a> Index<'a> {
    /// docs/judging.md §5, Okta.
    pub(super) fn okta_mfa(&self, sso: &'a IdpEvent, scope: Option<&str>) -> MfaFinding<'a> {
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
    pub(super) fn entra_mfa(&self, sso: &'a IdpEvent) -> MfaFinding<'a> {
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
    pub(super) fn adfs_mfa(&self, sso: &'a IdpEvent) -> MfaFinding<'a> {
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
    pub(super) fn google_mfa(&self, sso: &'a IdpEvent, user: &str) -> MfaFinding<'a> {
        let lo = sso.time_ms - self.cfg.google_lookback_ms;
        let logins: Vec<&IdpEvent> = self
            .google_logins
            .get(user)
            .map(|v| v.iter().copied().filter(|e| e.time_ms >= lo && e.time_ms <= sso.time_ms).collect())
            .unwrap_or_default();
        let successes: Vec<&IdpEvent> = logins
            .iter()
            .copied()
            .filter(|e| GoogleLogin::of(e) == Some(GoogleLogin::Success) && e.outcome == Outcome::Success)
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
                matches!(GoogleLogin::of(e), Some(GoogleLogin::Verification | GoogleLogin::Challenge))
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
    pub(super) fn mfa_of(&self, cand: &Candidate<'a>, searched: &[Searched]) -> MfaFinding<'a> {
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

    pub(super) fn provider_mfa(&self, cand: &Candidate<'a>, searched: &[Searched]) -> MfaFinding<'a> {
        let scope = searched.iter().find(|s| s.provider == cand.event.provider).and_then(|s| s.scope.as_deref());
        match cand.event.provider {
            Idp::Okta => self.okta_mfa(cand.event, scope),
            Idp::Entra => self.entra_mfa(cand.event),
            Idp::Google => self.google_mfa(cand.event, &cand.user),
            Idp::Adfs => self.adfs_mfa(cand.event),
        }
    }
}
