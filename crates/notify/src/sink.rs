//! One configured sink: built from its `[[notify]]` entry (Vector style), it knows which verdicts
//! it takes and how to create, update and close a ticket at its service.

use crate::NotifyError;
use crate::text;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::time::Duration;
use trailproof_http::Secret;
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jira,
    ServiceNow,
    PagerDuty,
    Slack,
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Close,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Close => "close",
        }
    }
}

pub struct Sink {
    cfg: NotifySink,
    kind: Kind,
    secret: Secret,
    base: String,
    verdicts: Vec<Verdict>,
    min_severity: Severity,
    client: reqwest::Client,
    limiter: Option<DefaultDirectRateLimiter>,
}

/// `min_severity`; empty means low.
fn severity(s: &str) -> Option<Severity> {
    if s.trim().is_empty() { Some(Severity::Low) } else { Severity::parse(s) }
}

impl Sink {
    pub fn build(cfg: &NotifySink) -> Result<Sink, NotifyError> {
        let err = |why: String| NotifyError::Config { name: cfg.name.clone(), why };
        if cfg.name.trim().is_empty() {
            return Err(NotifyError::Config { name: "(unnamed)".into(), why: "needs a name".into() });
        }
        let kind = match cfg.kind.trim().to_ascii_lowercase().as_str() {
            "jira" => Kind::Jira,
            "servicenow" => Kind::ServiceNow,
            "pagerduty" => Kind::PagerDuty,
            "slack" => Kind::Slack,
            "webhook" => Kind::Webhook,
            other => return Err(err(format!("kind {other:?}: use jira, servicenow, pagerduty, slack or webhook"))),
        };
        let mut verdicts = Vec::new();
        for v in &cfg.verdicts {
            let found = Verdict::ALL.into_iter().find(|x| x.as_str() == v.trim());
            verdicts.push(found.ok_or_else(|| {
                err(format!("verdicts: {v:?} is not one of enforced, not_enforced, no_idp_login, unknown"))
            })?);
        }
        let min_severity = severity(&cfg.min_severity)
            .ok_or_else(|| err(format!("min_severity {:?}: use low, medium, high or critical", cfg.min_severity)))?;
        let what = match kind {
            Kind::Jira => "Jira API token",
            Kind::ServiceNow => "ServiceNow password",
            Kind::PagerDuty => "PagerDuty routing key",
            Kind::Slack => "Slack webhook URL",
            Kind::Webhook => "webhook signing key",
        };
        let secret =
            trailproof_http::secret::load(what, "secret_env", &cfg.secret_env, "secret_file", &cfg.secret_file)
                .map_err(|e| err(e.to_string()))?;
        let mut base = cfg.url.trim().trim_end_matches('/').to_string();
        if kind == Kind::PagerDuty && base.is_empty() {
            base = "https://events.pagerduty.com".into();
        }
        if kind == Kind::Slack {
            base = secret.expose().trim().to_string();
        }
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(err(match kind {
                Kind::Slack => "the Slack webhook URL (the secret) must start with https://".into(),
                _ => format!("url {:?} must start with https:// (or http:// for a local test server)", cfg.url),
            }));
        }
        match kind {
            Kind::Jira if cfg.project.trim().is_empty() => return Err(err("a Jira sink needs `project`".into())),
            Kind::ServiceNow if cfg.user.trim().is_empty() => {
                return Err(err("a ServiceNow sink needs `user` (its password is the secret)".into()));
            }
            _ => {}
        }
        let timeout = Duration::from_secs(u64::from(cfg.request_timeout_seconds.max(1)));
        let client = trailproof_http::client(timeout).map_err(|e| err(e.to_string()))?;
        let limiter = NonZeroU32::new(cfg.requests_per_minute).map(|n| RateLimiter::direct(Quota::per_minute(n)));
        Ok(Sink { cfg: cfg.clone(), kind, secret, base, verdicts, min_severity, client, limiter })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn backfill(&self) -> bool {
        self.cfg.backfill
    }

    pub fn closes_on_enforced(&self) -> bool {
        self.cfg.close_on_enforced
    }

    /// Whether a new ticket is opened for this verdict.
    pub fn takes(&self, r: &VerdictRecord) -> bool {
        self.verdicts.contains(&r.verdict) && r.risk.severity >= self.min_severity
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.kind {
            Kind::Jira if self.cfg.user.trim().is_empty() => rb.bearer_auth(self.secret.expose()),
            Kind::Jira | Kind::ServiceNow => rb.basic_auth(self.cfg.user.trim(), Some(self.secret.expose())),
            _ => rb,
        }
    }

    /// Sends one request with pacing and retries; the response of a 2xx.
    async fn call(&self, what: &str, mk: &dyn Fn() -> reqwest::RequestBuilder) -> Result<Value, CallError> {
        let initial = Duration::from_millis(self.cfg.retry_initial_ms.max(1));
        let max = Duration::from_millis(self.cfg.retry_max_ms.max(self.cfg.retry_initial_ms).max(1));
        let mut delay = initial;
        let mut last = String::new();
        for attempt in 0..=self.cfg.max_retries {
            if attempt > 0 {
                tracing::debug!(sink = %self.cfg.name, attempt, "retrying {what}: {last}");
            }
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            // Exponential backoff with up to 25 % jitter, so sinks that failed together do not
            // retry in lockstep.
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::from(d.subsec_nanos()) % 250)
                .unwrap_or(0);
            let mut wait = delay + delay * (jitter as u32) / 1000;
            match self.auth(mk()).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| trailproof_http::parse_retry_after(v, std::time::SystemTime::now()));
                    let body = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
                    }
                    let snippet: String = text::clean(&body).chars().take(200).collect();
                    last = format!("{what}: HTTP {status}: {snippet}");
                    if !(status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error()) {
                        return Err(CallError { status: Some(status.as_u16()), message: last });
                    }
                    if let Some(ra) = retry_after {
                        wait = ra.min(Duration::from_secs(120));
                    }
                }
                Err(e) => {
                    last =
                        format!("{what}: {}", if e.is_timeout() { "timed out".to_string() } else { connect_error(&e) });
                }
            }
            if attempt < self.cfg.max_retries {
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(max);
            }
        }
        Err(CallError {
            status: None,
            message: format!("gave up after {} attempts; last: {last}", self.cfg.max_retries + 1),
        })
    }

    /// Creates, updates or closes the session's ticket; returns the service's id for it.
    pub async fn send(
        &self,
        action: Action,
        r: &VerdictRecord,
        key: &str,
        external_id: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        match self.kind {
            Kind::Jira => self.jira(action, r, key, external_id).await,
            Kind::ServiceNow => self.servicenow(action, r, key, external_id).await,
            Kind::PagerDuty => self.pagerduty(action, r, key).await,
            Kind::Slack => self.slack(action, r).await.map(|_| None),
            Kind::Webhook => self.webhook(action, r, key).await.map(|_| None),
        }
    }

    fn lead(action: Action, r: &VerdictRecord) -> String {
        match action {
            Action::Create => text::title(r),
            Action::Update => {
                format!("trailproof re-judged this session (late records): now {}.", text::verdict_words(r.verdict))
            }
            Action::Close => "trailproof re-judged this session: MFA was enforced after all. Closing.".to_string(),
        }
    }

    async fn jira(
        &self,
        action: Action,
        r: &VerdictRecord,
        key: &str,
        held: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        let label = format!("trailproof-{}", key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"));
        let body = {
            let mut s = format!("{}\n\n", text::jira(&Self::lead(action, r)));
            for (k, v) in text::fields(r) {
                s.push_str(&format!("*{k}:* {}\n", text::jira(&v)));
            }
            s
        };
        let issue = match held {
            Some(k) => Some(k.to_string()),
            None => {
                // A run killed after creating but before recording: find it by its label.
                // Jira Cloud: the enhanced search (`/search/jql`; `/search` answers 410 Gone there
                // since 2025). Jira Server / Data Center: `/search` (no `/search/jql`: 404).
                let jql = format!("labels = \"{label}\"");
                let pairs = [("jql", jql.as_str()), ("fields", "key"), ("maxResults", "1")];
                let cloud = with_query(&format!("{}/rest/api/2/search/jql", self.base), &pairs)?;
                let found = match self.call("Jira search", &|| self.client.get(cloud.clone())).await {
                    Err(CallError { status: Some(404 | 405 | 410), .. }) => {
                        let server = with_query(&format!("{}/rest/api/2/search", self.base), &pairs)?;
                        self.call("Jira search", &|| self.client.get(server.clone())).await?
                    }
                    other => other?,
                };
                found["issues"][0]["key"].as_str().map(str::to_string)
            }
        };
        match (action, issue) {
            (Action::Create, Some(k)) => Ok(Some(k)),
            (Action::Create, None) => {
                let mut labels: Vec<String> = self.cfg.labels.clone();
                labels.push(label.clone());
                let payload = json!({"fields": {
                    "project": {"key": self.cfg.project.trim()},
                    "summary": text::clean(&text::title(r)),
                    "description": body,
                    "issuetype": {"name": self.cfg.issue_type.trim()},
                    "labels": labels,
                }});
                let url = format!("{}/rest/api/2/issue", self.base);
                let created = self.call("Jira create issue", &|| self.client.post(&url).json(&payload)).await?;
                Ok(created["key"].as_str().map(str::to_string))
            }
            (_, Some(k)) => {
                let url = format!("{}/rest/api/2/issue/{}/comment", self.base, k);
                let payload = json!({"body": body});
                self.call("Jira comment", &|| self.client.post(&url).json(&payload)).await?;
                Ok(Some(k))
            }
            (_, None) => Err(CallError { status: None, message: format!("Jira: no issue labelled {label} to update") }),
        }
    }

    async fn servicenow(
        &self,
        action: Action,
        r: &VerdictRecord,
        key: &str,
        held: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        // Only characters that cannot act in an encoded query (`^` separates its terms).
        let correlation: String = format!("trailproof:{key}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || ":-_.".contains(c) { c } else { '_' })
            .collect();
        let table = format!("{}/api/now/table/incident", self.base);
        let sys_id = match held {
            Some(s) => Some(s.to_string()),
            None => {
                let q = format!("correlation_id={correlation}");
                let url = with_query(
                    &table,
                    &[("sysparm_query", q.as_str()), ("sysparm_fields", "sys_id"), ("sysparm_limit", "1")],
                )?;
                let found = self.call("ServiceNow query", &|| self.client.get(url.clone())).await?;
                found["result"][0]["sys_id"].as_str().map(str::to_string)
            }
        };
        let notes = text::servicenow(&text::plain(r, &Self::lead(action, r)));
        match (action, sys_id) {
            (Action::Create, Some(s)) => Ok(Some(s)),
            (Action::Create, None) => {
                let (urgency, impact) = match r.risk.severity {
                    Severity::Critical | Severity::High => ("1", "2"),
                    Severity::Medium => ("2", "2"),
                    Severity::Low => ("3", "3"),
                };
                let mut payload = json!({
                    "short_description": text::clean(&text::title(r)),
                    "description": notes,
                    "correlation_id": correlation,
                    "correlation_display": "trailproof",
                    "urgency": urgency,
                    "impact": impact,
                    "category": "security",
                });
                if !self.cfg.assignment_group.trim().is_empty() {
                    payload["assignment_group"] = self.cfg.assignment_group.trim().into();
                }
                let created =
                    self.call("ServiceNow create incident", &|| self.client.post(&table).json(&payload)).await?;
                Ok(created["result"]["sys_id"].as_str().map(str::to_string))
            }
            (action, Some(s)) => {
                let url = format!("{table}/{s}");
                let mut payload = json!({"work_notes": notes});
                if action == Action::Close {
                    payload["state"] = "6".into();
                    payload["close_code"] = "Resolved by caller".into();
                    payload["close_notes"] = "trailproof: MFA was enforced for this session after all.".into();
                }
                self.call("ServiceNow update incident", &|| self.client.patch(&url).json(&payload)).await?;
                Ok(Some(s))
            }
            (_, None) => Err(CallError {
                status: None,
                message: format!("ServiceNow: no incident with correlation_id {correlation} to update"),
            }),
        }
    }

    async fn pagerduty(&self, action: Action, r: &VerdictRecord, key: &str) -> Result<Option<String>, CallError> {
        let dedup = format!("trailproof:{key}");
        let payload = if action == Action::Close {
            json!({"routing_key": self.secret.expose(), "event_action": "resolve", "dedup_key": dedup})
        } else {
            let sev = match r.risk.severity {
                Severity::Critical => "critical",
                Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low => "info",
            };
            let details: serde_json::Map<String, Value> =
                text::fields(r).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
            json!({
                "routing_key": self.secret.expose(),
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": {
                    "summary": text::title(r).chars().take(1000).collect::<String>(),
                    "source": "trailproof",
                    "severity": sev,
                    "component": text::clean(r.account_id.as_deref().unwrap_or("aws")),
                    "class": r.verdict.as_str(),
                    "custom_details": details,
                },
            })
        };
        let url = format!("{}/v2/enqueue", self.base);
        self.call("PagerDuty enqueue", &|| self.client.post(&url).json(&payload)).await?;
        Ok(Some(dedup))
    }

    async fn slack(&self, action: Action, r: &VerdictRecord) -> Result<(), CallError> {
        let mut s = format!("*{}*\n", text::slack(&Self::lead(action, r)));
        for (k, v) in text::fields(r) {
            s.push_str(&format!("*{k}:* {}\n", text::slack(&v)));
        }
        let payload = json!({"text": s, "unfurl_links": false, "unfurl_media": false});
        self.call("Slack webhook", &|| self.client.post(&self.base).json(&payload)).await?;
        Ok(())
    }

    async fn webhook(&self, action: Action, r: &VerdictRecord, key: &str) -> Result<(), CallError> {
        let body = serde_json::to_vec(&json!({
            "dedup_key": key,
            "action": action.as_str(),
            "version": r.version,
            "sink": self.cfg.name,
            "title": text::title(r),
            "text": text::plain(r, &Self::lead(action, r)),
            "verdict": r,
        }))
        .map_err(|e| CallError { status: None, message: e.to_string() })?;
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let sig = sign(self.secret.expose().as_bytes(), &body);
        let delivery = format!("{key}/v{}/{}", r.version, action.as_str());
        self.call("webhook", &|| {
            self.client
                .post(&self.base)
                .header("content-type", "application/json")
                .header("x-trailproof-signature", format!("sha256={sig}"))
                .header("x-trailproof-timestamp", ts.to_string())
                .header("x-trailproof-delivery", delivery.as_str())
                .body(body.clone())
        })
        .await?;
        Ok(())
    }
}

/// Hex HMAC-SHA256 of `body` under `key`: the `X-Trailproof-Signature: sha256=…` header.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> Result<url::Url, CallError> {
    url::Url::parse_with_params(base, pairs)
        .map_err(|e| CallError { status: None, message: format!("bad url {base:?}: {e}") })
}

/// A failed call: the HTTP status when the service answered one that is not retried, and what to
/// tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub status: Option<u16>,
    pub message: String,
}

impl CallError {
    /// The service understood the request and refused this one ticket (bad field content, too
    /// large): the session is recorded as rejected and the sink moves on. Authentication,
    /// permission, URL and rate problems (401, 403, 404, 405, 410, and everything retried) stop
    /// the sink instead, with its queue kept.
    pub fn rejects_only_this_ticket(&self) -> bool {
        matches!(self.status, Some(400 | 413 | 422))
    }
}

fn connect_error(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() { "cannot connect".to_string() } else { "request failed".to_string() };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}
