//! docs/judging.md §3: the IdP users a session's keys name.

use super::*;

impl<'a> Index<'a> {
    /// docs/judging.md §3: the users of the searched IdPs the session's keys name, strongest
    /// first.
    pub(super) fn users(
        &self,
        c: &AwsEvent,
        path: SessionPath,
        chain: &Chain<'_>,
        searched: &[Searched],
    ) -> Vec<(Idp, String, MatchedBy)> {
        let mut users: Vec<(Idp, String, MatchedBy)> = Vec::new();
        for s in searched {
            for (u, m) in self.match_users(s.provider, c, chain, path) {
                if !users.iter().any(|(p, x, _)| *p == s.provider && *x == u) {
                    users.push((s.provider, u, m));
                }
            }
        }
        users.sort_by(|a, b| (rank(a.2), a.0, &a.1).cmp(&(rank(b.2), b.0, &b.1)));
        users
    }

    /// docs/judging.md §3: the known users of `p` that the session's keys name, strongest first.
    pub(super) fn match_users(
        &self,
        p: Idp,
        c: &AwsEvent,
        chain: &Chain<'_>,
        path: SessionPath,
    ) -> Vec<(String, MatchedBy)> {
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
        if !sn.contains('@') {
            // Unique: a second key with the prefix is enough to tell.
            let mut locals = self.known.starting_with(p, &format!("{sn}@"), 2);
            if locals.len() == 1 {
                push(locals.remove(0), MatchedBy::LocalPart, &mut out);
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
        if (cut == 32 && path == SessionPath::FederationBroker) || cut == 64 {
            // `sn` itself sorts first among the keys it starts: three tell a unique longer one.
            let mut longer: Vec<String> =
                self.known.starting_with(p, &sn, 3).into_iter().filter(|u| *u != sn).take(2).collect();
            if longer.len() == 1 {
                push(longer.remove(0), MatchedBy::Prefix, &mut out);
            }
        }
        out
    }
}
