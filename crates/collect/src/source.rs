//! The configured source instances, behind one interface for the engine.

use std::sync::Arc;

use trailproof_http::{ApiStats, ConnectOptions, HttpError, Page, TokenSource};
use trailproof_ingest::{Format, ImportOptions};
use trailproof_model::config::{CollectConfig, EntraSource, GoogleSource, OktaSource};
use trailproof_model::{Millis, Source};
use trailproof_source_entra::fetch::{self as entra, EntraApi};
use trailproof_source_google::fetch::{self as google, GoogleApi};
use trailproof_source_okta::fetch::{self as okta, OktaApi};
use url::Url;

/// One configured source, before connecting.
#[derive(Debug, Clone)]
pub enum Configured {
    Okta(OktaSource),
    Entra(EntraSource),
    Google(GoogleSource),
}

/// The coverage scope of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRule {
    Fixed(String),
    /// Taken from the records (Google `my_customer`, an Entra tenant given as a domain).
    Learn,
}

fn looks_like_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn host_of(url: &str) -> String {
    Url::parse(url.trim()).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| url.trim().to_string())
}

impl Configured {
    pub fn source(&self) -> Source {
        match self {
            Configured::Okta(_) => Source::Okta,
            Configured::Entra(_) => Source::Entra,
            Configured::Google(_) => Source::Google,
        }
    }

    fn name(&self) -> &str {
        match self {
            Configured::Okta(c) => &c.name,
            Configured::Entra(c) => &c.name,
            Configured::Google(c) => &c.name,
        }
    }

    /// `okta:<name>`, else a name derived from the org host / tenant / customer.
    pub fn label(&self) -> String {
        let name = self.name().trim();
        let name = if !name.is_empty() {
            name.to_string()
        } else {
            match self {
                Configured::Okta(c) => host_of(&c.url),
                Configured::Entra(c) => c.tenant_id.trim().to_string(),
                Configured::Google(c) if google::names_customer(&c.customer_id) => c.customer_id.trim().to_string(),
                Configured::Google(c) => c.admin_email.rsplit('@').next().unwrap_or("").to_string(),
            }
        };
        format!("{}:{name}", self.source())
    }

    /// The scope its checkpoints are stored under: the org host, the tenant, the customer.
    pub fn checkpoint_scope(&self) -> String {
        match self {
            Configured::Okta(c) => host_of(&c.url).to_ascii_lowercase(),
            Configured::Entra(c) => c.tenant_id.trim().to_ascii_lowercase(),
            Configured::Google(c) if google::names_customer(&c.customer_id) => c.customer_id.trim().to_string(),
            Configured::Google(c) => format!("my_customer:{}", c.admin_email.trim().to_ascii_lowercase()),
        }
    }

    /// The coverage scope, as the parsers name the records' scope: Okta `*` (or `scope`),
    /// Entra the tenant id, Google the customer id.
    pub fn scope_rule(&self) -> ScopeRule {
        match self {
            Configured::Okta(c) => {
                ScopeRule::Fixed(if c.scope.trim().is_empty() { "*".into() } else { c.scope.trim().to_string() })
            }
            Configured::Entra(c) if looks_like_guid(c.tenant_id.trim()) => {
                ScopeRule::Fixed(c.tenant_id.trim().to_ascii_lowercase())
            }
            Configured::Entra(_) => ScopeRule::Learn,
            Configured::Google(c) if google::names_customer(&c.customer_id) => {
                ScopeRule::Fixed(c.customer_id.trim().to_string())
            }
            Configured::Google(_) => ScopeRule::Learn,
        }
    }

    /// How long after their time the source's records are taken to be all readable: coverage
    /// ends this long before now, and each run reads again from there.
    pub fn settling_ms(&self, cfg: &CollectConfig) -> Millis {
        let configured = match self {
            Configured::Okta(c) => c.settling_minutes,
            Configured::Entra(c) => c.settling_minutes,
            Configured::Google(c) => c.settling_minutes,
        };
        Millis::from(cfg.settling_minutes(self.source(), configured)) * 60_000
    }

    /// How requests are paced, in words (for `check`), and how to change it.
    pub fn pacing(&self) -> String {
        match self {
            Configured::Okta(c) => match c.requests_per_minute.unwrap_or(okta::DEFAULT_REQUESTS_PER_MINUTE) {
                0 => "not paced (requests_per_minute = 0): the org's System Log limit is shared with its other \
                      readers"
                    .into(),
                n => format!(
                    "{n} requests/minute to /api/v1/logs (the org-wide limit, shared with the org's other log \
                     readers, is 20 to 120 by org type; Okta warns at 60 % or 90 % of it): raise \
                     requests_per_minute to half of your org's limit for a long backfill"
                ),
            },
            Configured::Entra(c) => match c.requests_per_10s.unwrap_or(entra::DEFAULT_REQUESTS_PER_10S) {
                0 => "not paced (requests_per_10s = 0)".into(),
                n => {
                    format!("{n} requests per 10 s to Graph sign-in logs (Graph allows 5 per 10 s per app and tenant)")
                }
            },
            Configured::Google(c) => match c.requests_per_minute.unwrap_or(google::DEFAULT_REQUESTS_PER_MINUTE) {
                0 => "not paced (requests_per_minute = 0)".into(),
                n => format!(
                    "{n} requests/minute to the Reports API (Google's default quota: 2,400 per minute per user and \
                     project)"
                ),
            },
        }
    }

    pub fn connect(&self, opts: &ConnectOptions) -> Result<Conn, HttpError> {
        Ok(match self {
            Configured::Okta(c) => Conn::Okta(okta::connect(c, opts)?),
            Configured::Entra(c) => Conn::Entra(entra::connect(c, opts)?),
            Configured::Google(c) => Conn::Google(google::connect(c, opts)?),
        })
    }
}

/// Every configured Okta, Entra and Google source (CloudTrail is collected elsewhere).
pub fn configured(cfg: &CollectConfig, only: Option<Source>) -> Vec<Configured> {
    let mut out = Vec::new();
    if only.is_none_or(|s| s == Source::Okta) {
        out.extend(cfg.okta.iter().cloned().map(Configured::Okta));
    }
    if only.is_none_or(|s| s == Source::Entra) {
        out.extend(cfg.entra.iter().cloned().map(Configured::Entra));
    }
    if only.is_none_or(|s| s == Source::Google) {
        out.extend(cfg.google.iter().cloned().map(Configured::Google));
    }
    out
}

/// A connected source.
#[derive(Debug)]
pub enum Conn {
    Okta(OktaApi),
    Entra(EntraApi),
    Google(GoogleApi),
}

impl Conn {
    /// Paged queries per time window (Google: login, then saml; Entra: interactive, then
    /// non-interactive sign-ins).
    pub fn queries(&self) -> usize {
        match self {
            Conn::Google(_) => google::APPLICATIONS.len(),
            Conn::Entra(a) => a.queries(),
            Conn::Okta(_) => 1,
        }
    }

    /// The first page of query `q` for the window `[from, to)`.
    pub fn window_url(&self, q: usize, from: Millis, to: Millis) -> Url {
        match self {
            // `until` is exclusive.
            Conn::Okta(a) => a.bounded_url(from, to),
            // Both ends inclusive: the record at exactly `to` is read again by the next window
            // (deduplicated), and the claim stops at `to - 1`.
            Conn::Entra(a) => a.query_url(q, from, to),
            Conn::Google(a) => a.window_url(google::APPLICATIONS.get(q).copied().unwrap_or("login"), from, to),
        }
    }

    /// A stored cursor of query `q`, if it still points at the configured server.
    pub fn resume_url(&self, q: usize, stored: &str) -> Option<Url> {
        match self {
            Conn::Okta(a) => a.resume_url(stored),
            Conn::Entra(a) => a.resume_url(stored),
            Conn::Google(a) => a.resume_url(google::APPLICATIONS.get(q).copied().unwrap_or("login"), stored),
        }
    }

    pub async fn page(&self, url: &Url) -> Result<Page, HttpError> {
        match self {
            Conn::Okta(a) => a.page(url).await,
            Conn::Entra(a) => a.page(url).await,
            Conn::Google(a) => a.page(url).await,
        }
    }

    pub fn stats(&self) -> ApiStats {
        match self {
            Conn::Okta(a) => a.stats(),
            Conn::Entra(a) => a.stats(),
            Conn::Google(a) => a.stats(),
        }
    }

    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        match self {
            Conn::Okta(a) => a.token_source(),
            Conn::Entra(a) => a.token_source(),
            Conn::Google(a) => a.token_source(),
        }
    }

    pub fn fix_hint(&self, e: &HttpError) -> Option<&'static str> {
        match self {
            Conn::Okta(a) => okta::fix_hint(e, a.auth_kind()),
            Conn::Entra(_) => entra::fix_hint(e),
            Conn::Google(_) => google::fix_hint(e),
        }
    }

    /// How `ingest_page` reads this source's pages.
    pub fn import_options(&self) -> ImportOptions {
        match self {
            Conn::Okta(_) => ImportOptions::new(Source::Okta),
            Conn::Entra(_) => {
                let mut o = ImportOptions::new(Source::Entra);
                o.format = Format::Entra(trailproof_source_entra::Format::Graph);
                o
            }
            Conn::Google(_) => ImportOptions::new(Source::Google),
        }
    }
}

/// The hint for a configuration error, before a connection exists.
pub fn config_hint(c: &Configured, e: &HttpError) -> Option<&'static str> {
    match c {
        Configured::Okta(_) => okta::fix_hint(e, okta::AuthKind::ApiToken),
        Configured::Entra(_) => entra::fix_hint(e),
        Configured::Google(_) => google::fix_hint(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_scopes() {
        let o = Configured::Okta(OktaSource { url: "https://Example.okta.com".into(), ..Default::default() });
        assert_eq!(o.label(), "okta:example.okta.com");
        assert_eq!(o.checkpoint_scope(), "example.okta.com");
        assert_eq!(o.scope_rule(), ScopeRule::Fixed("*".into()));
        let e = Configured::Entra(EntraSource {
            name: "corp".into(),
            tenant_id: "00000000-0000-0000-0000-0000000E1A00".into(),
            ..Default::default()
        });
        assert_eq!(e.label(), "entra:corp");
        assert_eq!(e.scope_rule(), ScopeRule::Fixed("00000000-0000-0000-0000-0000000e1a00".into()));
        let e = Configured::Entra(EntraSource { tenant_id: "contoso.onmicrosoft.com".into(), ..Default::default() });
        assert_eq!(e.scope_rule(), ScopeRule::Learn);
        let g = Configured::Google(GoogleSource {
            customer_id: "my_customer".into(),
            admin_email: "Admin@Example.com".into(),
            ..Default::default()
        });
        assert_eq!(g.label(), "google:Example.com");
        assert_eq!(g.checkpoint_scope(), "my_customer:admin@example.com");
        assert_eq!(g.scope_rule(), ScopeRule::Learn);
        let g = Configured::Google(GoogleSource { customer_id: "C01".into(), ..Default::default() });
        assert_eq!(g.scope_rule(), ScopeRule::Fixed("C01".into()));
    }
}
