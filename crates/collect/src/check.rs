//! `trailproof check`: per configured source, is the configuration complete, is the server
//! reachable, are the credentials accepted, may they read the logs?

use std::time::{Duration, Instant};

use trailproof_http::{ConnectOptions, HttpError, Page, RetryPolicy, same_origin};
use trailproof_model::Source;
use trailproof_model::config::{CollectConfig, Config};
use url::Url;

use crate::join::join_all;
use crate::report::Reporter;
use crate::source::{Configured, Conn, config_hint, configured};

/// What a check line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// The configuration entry and its secrets (variables set, files readable, keys valid).
    Config,
    /// How requests are paced and how long records are given to settle (informational).
    Pacing,
    /// The server answers HTTP at all.
    Reachability,
    /// The credentials are accepted (a token is issued, the API token is valid).
    Credentials,
    /// The credentials may read the sign-in logs (one minimal request).
    Permission,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Config => "configuration",
            CheckKind::Pacing => "pacing",
            CheckKind::Reachability => "reachability",
            CheckKind::Credentials => "credentials",
            CheckKind::Permission => "permission",
        }
    }
}

/// One line of `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// `okta:main`, ...
    pub source: String,
    pub kind: CheckKind,
    pub ok: bool,
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl std::fmt::Display for CheckResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<20} {:<14} {:<4} {}",
            self.source,
            self.kind.as_str(),
            if self.ok { "ok" } else { "FAIL" },
            self.detail
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "\n{:<20} {:<14} fix: {fix}", "", "")?;
        }
        Ok(())
    }
}

struct Lines<'a> {
    source: String,
    out: Vec<CheckResult>,
    reporter: &'a dyn Reporter,
}

impl Lines<'_> {
    fn push(&mut self, kind: CheckKind, ok: bool, detail: String, fix: Option<&str>) {
        let r = CheckResult { source: self.source.clone(), kind, ok, detail, fix: fix.map(str::to_string) };
        self.reporter.check(&r);
        self.out.push(r);
    }
}

/// Checks every configured Okta, Entra and Google source (concurrently) and reports each line
/// to `reporter` as it is known. A source stops at its first failed step. Quick: at most two
/// retries per request, 20 s timeouts.
pub async fn check(cfg: &Config, reporter: &dyn Reporter) -> Vec<CheckResult> {
    let sources = configured(&cfg.collect, None);
    let policy = RetryPolicy {
        max_retries: cfg.collect.max_retries.min(2),
        initial: Duration::from_millis(cfg.collect.retry_initial_ms),
        max: Duration::from_millis(cfg.collect.retry_max_ms.min(5_000)),
        max_server_wait: Duration::from_secs(10),
    };
    let timeout = Duration::from_secs(u64::from(cfg.collect.request_timeout_seconds.clamp(1, 20)));
    let opts = ConnectOptions { timeout, policy, observer: None, page_size: None };
    let runs = sources.iter().map(|c| check_one(c, &cfg.collect, &opts, reporter));
    let mut out: Vec<CheckResult> = join_all(runs.collect()).await.into_iter().flatten().collect();
    for s in crate::elastic::streams(&cfg.collect, None) {
        out.extend(crate::elastic::check_stream(&s, &cfg.collect).await);
    }
    out
}

async fn check_one(
    c: &Configured,
    collect: &CollectConfig,
    opts: &ConnectOptions,
    reporter: &dyn Reporter,
) -> Vec<CheckResult> {
    let mut lines = Lines { source: c.label(), out: Vec::new(), reporter };
    let conn = match c.connect(opts) {
        Ok(conn) => conn,
        Err(e) => {
            let kind = if matches!(e, HttpError::Secret(_)) { CheckKind::Credentials } else { CheckKind::Config };
            lines.push(kind, false, e.to_string(), config_hint(c, &e));
            return lines.out;
        }
    };
    lines.push(CheckKind::Config, true, describe_config(c), None);
    lines.push(CheckKind::Pacing, true, describe_pacing(c, collect), None);

    // Reachability: the API host and, when different, the token endpoint's host.
    let mut hosts: Vec<Url> = vec![api_base(&conn)];
    if let Some(ts) = conn.token_source()
        && !same_origin(&hosts[0], ts.url())
    {
        hosts.push(ts.url().clone());
    }
    for h in hosts {
        let t = Instant::now();
        let mut root = h.clone();
        root.set_path("/");
        root.set_query(None);
        let api = match &conn {
            Conn::Okta(a) => a.api(),
            Conn::Entra(a) => a.api(),
            Conn::Google(a) => a.api(),
        };
        match api.reach(&root).await {
            Ok(status) => lines.push(
                CheckKind::Reachability,
                true,
                format!("{} answered (HTTP {status}) in {} ms", origin(&root), t.elapsed().as_millis()),
                None,
            ),
            Err(why) => {
                lines.push(
                    CheckKind::Reachability,
                    false,
                    format!("{}: {why}", origin(&root)),
                    Some("check the URL in the configuration, DNS, the proxy and the firewall"),
                );
                return lines.out;
            }
        }
    }

    // Credentials: an OAuth token, when the source uses one.
    if let Some(ts) = conn.token_source() {
        match ts.token().await {
            Ok(_) => {
                lines.push(CheckKind::Credentials, true, format!("access token issued by {}", ts.url().path()), None)
            }
            Err(e) => {
                lines.push(CheckKind::Credentials, false, e.to_string(), conn.fix_hint(&e));
                return lines.out;
            }
        }
    }

    // Permission: one minimal read per query.
    let now = trailproof_model::now_ms();
    let probes: Vec<(String, Url)> = match &conn {
        Conn::Okta(a) => vec![("System Log".into(), a.probe_url(now))],
        Conn::Entra(a) => vec![("sign-in logs (beta)".into(), a.probe_url(now))],
        Conn::Google(a) => trailproof_source_google::fetch::APPLICATIONS
            .iter()
            .map(|app| (format!("{app} activities"), a.probe_url(app, now)))
            .collect(),
    };
    for (what, url) in probes {
        let r: Result<Page, HttpError> = conn.page(&url).await;
        match r {
            Ok(p) => {
                if conn.token_source().is_none() {
                    lines.push(CheckKind::Credentials, true, "API token accepted".into(), None);
                }
                lines.push(
                    CheckKind::Permission,
                    true,
                    format!("read {what}: {} record(s) of the last hour from {}", p.records, p.path),
                    None,
                );
            }
            Err(e) => {
                let kind = if matches!(e, HttpError::Unauthorized { .. }) && conn.token_source().is_none() {
                    CheckKind::Credentials
                } else {
                    CheckKind::Permission
                };
                lines.push(kind, false, e.to_string(), conn.fix_hint(&e));
                return lines.out;
            }
        }
    }
    lines.out
}

fn origin(u: &Url) -> String {
    let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?"));
    if let Some(p) = u.port() {
        s.push_str(&format!(":{p}"));
    }
    s
}

fn api_base(conn: &Conn) -> Url {
    match conn {
        Conn::Okta(a) => a.base().clone(),
        Conn::Entra(a) => a.graph().clone(),
        Conn::Google(a) => a.reports().clone(),
    }
}

fn describe_config(c: &Configured) -> String {
    match c {
        Configured::Okta(o) if !o.client_id.trim().is_empty() => {
            format!("service app {} with the key in {}", o.client_id.trim(), o.private_key_file.trim())
        }
        Configured::Okta(o) if !o.token_env.trim().is_empty() => format!("API token from ${}", o.token_env.trim()),
        Configured::Okta(o) => format!("API token from {}", o.token_file.trim()),
        Configured::Entra(e) if !e.certificate_key_file.trim().is_empty() => {
            format!("app {} with a certificate ({})", e.client_id.trim(), e.certificate_key_file.trim())
        }
        Configured::Entra(e) if !e.client_secret_env.trim().is_empty() => {
            format!("app {} with the secret from ${}", e.client_id.trim(), e.client_secret_env.trim())
        }
        Configured::Entra(e) => {
            format!("app {} with the secret from {}", e.client_id.trim(), e.client_secret_file.trim())
        }
        Configured::Google(g) => {
            format!("service account key {} impersonating {}", g.service_account_key_file.trim(), g.admin_email.trim())
        }
    }
}

/// The pacing line: requests per period, and how long records are given to settle.
fn describe_pacing(c: &Configured, collect: &CollectConfig) -> String {
    let settling = c.settling_ms(collect) / 60_000;
    let lag = trailproof_model::config::source_lag(c.source());
    let documented = match lag.and_then(|l| l.documented_bound) {
        Some(b) => format!("{} documents {b}", c.source()),
        None => format!("{} documents no bound", c.source()),
    };
    let mut s = format!(
        "{}; coverage ends {settling} min before now (settling_minutes; {documented}; see docs/source-lag.md)",
        c.pacing()
    );
    if let Configured::Entra(e) = c {
        match (e.non_interactive.unwrap_or(true), e.app_ids.iter().any(|a| !a.trim().is_empty())) {
            (true, true) => s.push_str("; reads interactive and non-interactive sign-ins to app_ids"),
            (true, false) => s.push_str(
                "; reads non-interactive sign-ins to every application (set app_ids to the AWS applications: \
                 there are many)",
            ),
            (false, _) => s.push_str(
                "; non_interactive = false: sign-ins without a new factor (single sign-on from an Entra-joined \
                 PC) are not read, so their console sessions are judged as if no sign-in were found",
            ),
        }
    }
    s
}

/// The sources `check` would look at, by kind (for the CLI's "nothing configured" message).
pub fn configured_kinds(cfg: &Config) -> Vec<Source> {
    configured(&cfg.collect, None).iter().map(Configured::source).collect()
}
