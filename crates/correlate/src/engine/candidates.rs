//! docs/judging.md §4: the window, the candidates, and what no candidate means.

use super::*;

impl<'a> Index<'a> {
    /// docs/judging.md §4: the candidate window. For Identity Center the console login can come
    /// hours after the portal sign-in: the window is anchored on the user's latest portal sign-in
    /// (UserAuthentication) within the portal session length, or, without one, spans the whole
    /// session length before the login.
    pub(super) fn window(&self, c: &'a AwsEvent, path: SessionPath) -> Window<'a> {
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
    pub(super) fn candidates(&self, w: &Window<'_>, users: &[(Idp, String, MatchedBy)]) -> Vec<Candidate<'a>> {
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

    pub(super) fn covered(&self, searched: &[Searched], lo: Millis, hi: Millis) -> bool {
        !searched.is_empty()
            && searched.iter().all(|s| self.snap.covers(provider_source(s.provider), s.scope.as_deref(), lo, hi))
    }

    /// docs/judging.md §4, "No candidate": a known AWS application, then identity only where it
    /// matters, then coverage.
    pub(super) fn no_candidate(
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
                    let ids: Vec<&str> = others.iter().take(5).map(|(_, _, id)| *id).collect();
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
}
