//! docs/judging.md §7: risk signals and the score.

use super::*;

impl<'a> Index<'a> {
    /// docs/judging.md §7.
    pub(super) fn signals(
        &self,
        c: &AwsEvent,
        verdict: Verdict,
        chosen: Option<&IdpEvent>,
        chain: &Chain<'_>,
    ) -> Vec<Signal> {
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
                        agg: &dyn Fn(&PriorSessions) -> &SeenMap<String>,
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

    pub(super) fn risk(&self, verdict: Verdict, signals: &[Signal]) -> Risk {
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
