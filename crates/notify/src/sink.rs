//! One configured sink: built from its `[[notify]]` entry (Vector style), it knows which verdicts
//! it takes and how to look up, create, update and close a ticket at its service. The vendor
//! pages each behaviour follows are cited next to it; docs/ticket-sinks.md has the whole picture.

use crate::NotifyError;
use crate::call::{CallErr, Check, Replay, any_body};
use crate::classify::{self, Failure, Op};
use crate::sign;
use crate::text;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use trailproof_http::{Pacer, RetryPolicy, Secret};
use trailproof_model::Millis;
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
    /// Comment (Jira), work note (ServiceNow), a new message (Slack, webhook); PagerDuty: trigger
    /// again (the severity rose, or the alert was resolved by trailproof).
    Update,
    Close,
    /// PagerDuty: a change of an open alert that must not page again (a change event).
    Note,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Close => "close",
            Action::Note => "note",
        }
    }
}

/// What `on_gone` says to do with a session whose ticket is gone at the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnGone {
    Recreate,
    Skip,
}

/// What a successful send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Done {
    /// The session has a ticket; `found`: it was there already (created by a call whose answer
    /// was lost), not created now.
    Created {
        id: Option<String>,
        found: bool,
    },
    Updated,
    Closed,
    /// A close that could only add a comment or a message: the ticket stays open.
    CloseCommented(String),
    /// PagerDuty: a change event instead of a new page.
    Noted,
    /// Nothing was sent, and why.
    NotSent(String),
}

pub struct Sink {
    cfg: NotifySink,
    pub(crate) kind: Kind,
    secret: Secret,
    /// Jira Cloud and ServiceNow: the `Authorization: Basic …` value, whose base64 is registered
    /// for redaction (`trailproof_http::basic_auth`).
    basic: Option<Secret>,
    base: String,
    verdicts: Vec<Verdict>,
    min_severity: Severity,
    on_gone: OnGone,
    client: reqwest::Client,
    pub(crate) pacer: Pacer,
    pub(crate) policy: RetryPolicy,
    /// Webhook: the HMAC key.
    hook_key: Vec<u8>,
    /// Jira: which search answers (0 not known yet, 1 Cloud's `/search/jql`, 2 Server's `/search`).
    jira_search: AtomicU8,
}

/// `min_severity`; empty means low.
fn severity(s: &str) -> Option<Severity> {
    if s.trim().is_empty() { Some(Severity::Low) } else { Severity::parse(s) }
}

/// Slack: "In general we allow applications that integrate with Slack to send no more than one
/// message per second" and "Continuing to send messages after being rate limited runs the risk
/// of having your application permanently disabled" (api.slack.com/docs/rate-limits). So never
/// more than this, whatever `requests_per_minute` says.
pub const SLACK_MAX_PER_MINUTE: u32 = 60;
/// PagerDuty Events API v2: "a limit of approximately 120 calls/minute per integration key"
/// (Events API Rate Limits).
pub const PAGERDUTY_MAX_PER_MINUTE: u32 = 120;

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
        let on_gone = match cfg.on_gone.trim().to_ascii_lowercase().as_str() {
            "" | "recreate" => OnGone::Recreate,
            "skip" => OnGone::Skip,
            other => return Err(err(format!("on_gone {other:?}: use recreate or skip"))),
        };
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
        let hook_key = if kind == Kind::Webhook { sign::webhook_key(secret.expose()).map_err(err)? } else { vec![] };
        let timeout = Duration::from_secs(u64::from(cfg.request_timeout_seconds.max(1)));
        let client = trailproof_http::client(timeout).map_err(|e| err(e.to_string()))?;
        let per_minute = match kind {
            Kind::Slack if cfg.requests_per_minute == 0 => SLACK_MAX_PER_MINUTE,
            Kind::Slack => cfg.requests_per_minute.min(SLACK_MAX_PER_MINUTE),
            Kind::PagerDuty => cfg.requests_per_minute.min(PAGERDUTY_MAX_PER_MINUTE),
            _ => cfg.requests_per_minute,
        };
        // Evenly spaced, no burst (`Pacer`: a governor quota with a burst of one).
        let pacer = Pacer::new(per_minute, Duration::from_secs(60));
        let initial = Duration::from_millis(cfg.retry_initial_ms.max(1));
        let policy = RetryPolicy {
            max_retries: cfg.max_retries,
            initial,
            max: Duration::from_millis(cfg.retry_max_ms).max(initial),
            max_server_wait: Duration::from_secs(u64::from(cfg.max_wait_seconds)),
        };
        let basic = match kind {
            Kind::Jira if cfg.user.trim().is_empty() => None,
            Kind::Jira | Kind::ServiceNow => Some(trailproof_http::basic_auth(cfg.user.trim(), &secret)),
            _ => None,
        };
        Ok(Sink {
            cfg: cfg.clone(),
            kind,
            secret,
            basic,
            base,
            verdicts,
            min_severity,
            on_gone,
            client,
            pacer,
            policy,
            hook_key,
            jira_search: AtomicU8::new(0),
        })
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

    pub fn on_gone(&self) -> OnGone {
        self.on_gone
    }

    /// The spacing of this sink's requests, if paced.
    pub fn interval(&self) -> Option<Duration> {
        self.pacer.interval()
    }

    /// Whether a new ticket is opened for this verdict.
    pub fn takes(&self, r: &VerdictRecord) -> bool {
        self.verdicts.contains(&r.verdict) && r.risk.severity >= self.min_severity
    }

    /// Whether tickets can be looked up at the service (and so a create is marked before it is
    /// sent, and looked for before it is sent again).
    pub(crate) fn can_look_up(&self) -> bool {
        matches!(self.kind, Kind::Jira | Kind::ServiceNow)
    }

    pub(crate) fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.kind {
            Kind::Jira if self.cfg.user.trim().is_empty() => rb.bearer_auth(self.secret.expose()),
            // As `basic_auth` does: a sensitive header (never in reqwest's debug output). Base64
            // is always a valid header value.
            Kind::Jira | Kind::ServiceNow => match self.basic.as_ref().map(|b| HeaderValue::from_str(b.expose())) {
                Some(Ok(mut v)) => {
                    v.set_sensitive(true);
                    rb.header(reqwest::header::AUTHORIZATION, v)
                }
                _ => rb,
            },
            _ => rb,
        }
    }

    fn fail(&self, op: Op, what: &str, e: CallErr) -> Failure {
        match e {
            CallErr::Refused { status, body } => classify::refusal(self.kind, op, what, status, &body),
            CallErr::Unknown { why, .. } | CallErr::GaveUp(why) => Failure::Transient(why),
        }
    }

    fn lead(action: Action, r: &VerdictRecord) -> String {
        match action {
            Action::Create => text::title(r),
            Action::Update | Action::Note => {
                format!("trailproof re-judged this session (late records): now {}.", text::verdict_words(r.verdict))
            }
            Action::Close => "trailproof re-judged this session: MFA was enforced after all.".to_string(),
        }
    }

    /// How long a just-created ticket may take to show in a lookup. Jira's search "doesn't
    /// provide read-after-write consistency by default ... The delay might vary from a few
    /// seconds to minutes" (Jira Cloud, Search and reconcile); `reconcileIssues` needs the
    /// issue's id, which a lost answer does not give. ServiceNow's Table API query reads the
    /// table (no search index is documented in between): one query.
    fn lookup_lag(&self) -> Duration {
        match self.kind {
            Kind::Jira => Duration::from_secs(u64::from(self.cfg.search_lag_seconds)),
            _ => Duration::ZERO,
        }
    }

    /// Finds the session's ticket at the service (Jira by label, ServiceNow by
    /// `correlation_id`), other than `exclude` (a ticket known to be gone). `since_ms`: a create
    /// was sent then; the lookup is repeated until the lookup lag after it has passed. `None` for
    /// services that cannot be searched.
    pub(crate) async fn lookup(
        &self,
        key: &str,
        exclude: Option<&str>,
        since_ms: Option<Millis>,
    ) -> Result<Option<String>, Failure> {
        let until = since_ms.map(|t| {
            let lag = self.lookup_lag().as_millis() as i64;
            let left = (t + lag - trailproof_model::now_ms()).max(0) as u64;
            Instant::now() + Duration::from_millis(left)
        });
        self.lookup_until(key, exclude, until).await
    }

    async fn lookup_until(
        &self,
        key: &str,
        exclude: Option<&str>,
        until: Option<Instant>,
    ) -> Result<Option<String>, Failure> {
        if !self.can_look_up() {
            return Ok(None);
        }
        let poll = (self.lookup_lag() / 12).clamp(Duration::from_millis(500), Duration::from_secs(5));
        loop {
            let ids = match self.kind {
                Kind::Jira => self.jira_search(&jira_label(key)).await?,
                _ => self.servicenow_query(&correlation(key)).await?,
            };
            if let Some(id) = ids.into_iter().find(|id| Some(id.as_str()) != exclude) {
                return Ok(Some(id));
            }
            match until {
                Some(t) if Instant::now() < t => tokio::time::sleep(poll.min(t - Instant::now())).await,
                _ => return Ok(None),
            }
        }
    }

    /// Creates the session's ticket (or sends its first message / event), never twice: at Jira
    /// and ServiceNow, which offer no idempotency key, the ticket is looked up first, `mark`
    /// records that a create is being sent before each attempt, and after a timeout, a 5xx or a
    /// 2xx without the new ticket's id the ticket is looked up again (Jira: until the search lag
    /// has passed) before the create is sent again. PagerDuty deduplicates on `dedup_key`. The
    /// flag: a create may have reached the service (and the mark must stay).
    pub(crate) async fn create(
        &self,
        r: &VerdictRecord,
        key: &str,
        exclude: Option<&str>,
        since_ms: Option<Millis>,
        mark: &dyn Fn() -> Result<(), String>,
    ) -> (Result<Done, Failure>, bool) {
        let mut maybe_sent = false;
        let r = self.create_inner(r, key, exclude, since_ms, mark, &mut maybe_sent).await;
        (r, maybe_sent)
    }

    /// `maybe_sent`: set once a create may have reached the service (its outcome unknown).
    async fn create_inner(
        &self,
        r: &VerdictRecord,
        key: &str,
        exclude: Option<&str>,
        since_ms: Option<Millis>,
        mark: &dyn Fn() -> Result<(), String>,
        maybe_sent: &mut bool,
    ) -> Result<Done, Failure> {
        match self.kind {
            Kind::PagerDuty => {
                return self.pagerduty_trigger(r, key).await.map(|id| Done::Created { id, found: false });
            }
            Kind::Slack => {
                return self.slack(Action::Create, r, key).await.map(|_| Done::Created { id: None, found: false });
            }
            Kind::Webhook => {
                return self.webhook(Action::Create, r, key).await.map(|_| Done::Created { id: None, found: false });
            }
            Kind::Jira | Kind::ServiceNow => {}
        }
        if let Some(id) = self.lookup(key, exclude, since_ms).await? {
            return Ok(Done::Created { id: Some(id), found: true });
        }
        let what = match self.kind {
            Kind::Jira => "Jira create issue",
            _ => "ServiceNow create incident",
        };
        let mut last = String::new();
        for attempt in 0..=self.policy.max_retries {
            mark().map_err(|e| Failure::Transient(format!("recording the create of {key}: {e}")))?;
            let sent = Instant::now();
            let result = match self.kind {
                Kind::Jira => self.jira_create_once(r, key).await,
                _ => self.servicenow_create_once(r, key).await,
            };
            match result {
                Ok(id) => return Ok(Done::Created { id: Some(id), found: false }),
                Err(CallErr::Unknown { why, wait }) => {
                    *maybe_sent = true;
                    tracing::info!(sink = %self.name(), "{why}: looking for the ticket before creating it again");
                    last = why;
                    let until = sent + self.lookup_lag();
                    if let Some(id) = self.lookup_until(key, exclude, Some(until)).await? {
                        return Ok(Done::Created { id: Some(id), found: true });
                    }
                    if attempt == self.policy.max_retries {
                        break;
                    }
                    let w = wait.unwrap_or_else(|| self.policy.backoff(attempt));
                    if w > self.policy.max_server_wait {
                        return Err(Failure::Transient(format!(
                            "{last}; the service asks to wait {} s, more than max_wait_seconds = {}",
                            w.as_secs(),
                            self.policy.max_server_wait.as_secs()
                        )));
                    }
                    tokio::time::sleep(w).await;
                }
                Err(e) => return Err(self.fail(Op::Create, what, e)),
            }
        }
        Err(Failure::Transient(format!(
            "{what} for {key}: no answer that it was created after {} attempts, and no ticket found {} s after each; \
             it is looked for again before the next create (the last: {last})",
            self.policy.max_retries + 1,
            self.lookup_lag().as_secs()
        )))
    }

    /// A later verdict version: comment (Jira), work note (ServiceNow), trigger again
    /// (PagerDuty: the severity rose, or the alert was resolved), a new message (Slack, webhook).
    pub(crate) async fn update(&self, r: &VerdictRecord, key: &str, id: Option<&str>) -> Result<Done, Failure> {
        match self.kind {
            Kind::Jira => {
                let issue = self.held(id, key)?;
                self.jira_comment(issue, &jira_body(Action::Update, r)).await.map(|_| Done::Updated)
            }
            Kind::ServiceNow => {
                let sys_id = self.held(id, key)?;
                let notes = text::servicenow(&text::plain(r, &Self::lead(Action::Update, r)));
                self.servicenow_patch(sys_id, json!({"work_notes": notes})).await.map(|_| Done::Updated)
            }
            Kind::PagerDuty => self.pagerduty_trigger(r, key).await.map(|_| Done::Updated),
            Kind::Slack => self.slack(Action::Update, r, key).await.map(|_| Done::Updated),
            Kind::Webhook => self.webhook(Action::Update, r, key).await.map(|_| Done::Updated),
        }
    }

    /// The session turned out enforced: resolve (ServiceNow, PagerDuty), close through
    /// `close_transition` or else comment (Jira), a closing message (Slack), a `close` delivery
    /// (webhook).
    pub(crate) async fn close(&self, r: &VerdictRecord, key: &str, id: Option<&str>) -> Result<Done, Failure> {
        match self.kind {
            Kind::Jira => {
                let issue = self.held(id, key)?;
                self.jira_close(issue, r).await
            }
            Kind::ServiceNow => {
                let sys_id = self.held(id, key)?;
                let notes = text::servicenow(&text::plain(r, &Self::lead(Action::Close, r)));
                // Incident state 6 = Resolved.
                let payload = json!({
                    "work_notes": notes,
                    "state": "6",
                    "close_code": "Resolved by caller",
                    "close_notes": "trailproof: MFA was enforced for this session after all.",
                });
                self.servicenow_patch(sys_id, payload).await.map(|_| Done::Closed)
            }
            Kind::PagerDuty => self.pagerduty_resolve(key).await.map(|_| Done::Closed),
            Kind::Slack => self
                .slack(Action::Close, r, key)
                .await
                .map(|_| Done::CloseCommented("a Slack message cannot be closed: a closing message was posted".into())),
            Kind::Webhook => self.webhook(Action::Close, r, key).await.map(|_| Done::Closed),
        }
    }

    /// PagerDuty: a change of an open alert that does not call for a new page.
    pub(crate) async fn note(&self, r: &VerdictRecord, key: &str) -> Result<Done, Failure> {
        match self.kind {
            Kind::PagerDuty => self.pagerduty_change(r, key).await,
            _ => self.update(r, key, None).await,
        }
    }

    fn held<'a>(&self, id: Option<&'a str>, key: &str) -> Result<&'a str, Failure> {
        id.ok_or_else(|| {
            Failure::Transient(format!("no {} ticket is recorded for {key}", classify::service(self.kind)))
        })
    }

    // ---- Jira (REST API v2: Cloud and Data Center) ----

    /// Issues labelled `label`. Jira Cloud: the enhanced search (`/search/jql`; `/search`
    /// answers 410 Gone there since 2025). Jira Server / Data Center: `/search` (no
    /// `/search/jql`: 404).
    async fn jira_search(&self, label: &str) -> Result<Vec<String>, Failure> {
        let jql = format!("labels = \"{label}\"");
        let pairs = [("jql", jql.as_str()), ("fields", "key"), ("maxResults", "10")];
        let check: Check = &|b: &str| {
            let v: Value =
                serde_json::from_str(b).map_err(|_| "an `issues` list (the body is not JSON)".to_string())?;
            if v["issues"].is_array() { Ok(v) } else { Err("an `issues` list".into()) }
        };
        let cloud = with_query(&format!("{}/rest/api/2/search/jql", self.base), &pairs)?;
        let server = with_query(&format!("{}/rest/api/2/search", self.base), &pairs)?;
        let found = if self.jira_search.load(Ordering::Relaxed) == 2 {
            self.call("Jira search", Replay::Safe, check, &|| self.client.get(server.clone())).await
        } else {
            match self.call("Jira search", Replay::Safe, check, &|| self.client.get(cloud.clone())).await {
                Err(CallErr::Refused { status: 404 | 405 | 410, .. }) => {
                    let r = self.call("Jira search", Replay::Safe, check, &|| self.client.get(server.clone())).await;
                    if r.is_ok() {
                        self.jira_search.store(2, Ordering::Relaxed);
                    }
                    r
                }
                other => {
                    if other.is_ok() {
                        self.jira_search.store(1, Ordering::Relaxed);
                    }
                    other
                }
            }
        }
        .map_err(|e| self.fail(Op::Lookup, "Jira search", e))?;
        Ok(found["issues"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["key"].as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    async fn jira_create_once(&self, r: &VerdictRecord, key: &str) -> Result<String, CallErr> {
        let label = jira_label(key);
        let mut labels: Vec<String> = self.cfg.labels.clone();
        labels.push(label);
        let payload = json!({"fields": {
            "project": {"key": self.cfg.project.trim()},
            "summary": text::clean(&text::title(r)),
            "description": jira_body(Action::Create, r),
            "issuetype": {"name": self.cfg.issue_type.trim()},
            "labels": labels,
        }});
        let url = format!("{}/rest/api/2/issue", self.base);
        // Create issue: 201 with the new issue's `id`, `key` and `self`.
        let check: Check = &|b: &str| {
            let v: Value =
                serde_json::from_str(b).map_err(|_| "the new issue's `key` (the body is not JSON)".to_string())?;
            match v["key"].as_str() {
                Some(k) if !k.trim().is_empty() => Ok(v),
                _ => Err("the new issue's `key`".into()),
            }
        };
        let v =
            self.call("Jira create issue", Replay::Unsafe, check, &|| self.client.post(&url).json(&payload)).await?;
        Ok(v["key"].as_str().unwrap_or_default().to_string())
    }

    async fn jira_comment(&self, issue: &str, body: &str) -> Result<(), Failure> {
        let url = format!("{}/rest/api/2/issue/{}/comment", self.base, path_segment(issue));
        let payload = json!({"body": body});
        // Add comment: 201 with the comment (its `id`). A comment whose answer is lost is sent
        // again: Jira has no idempotency key, and a duplicate comment beats a lost one.
        let check: Check = &|b: &str| {
            let v: Value =
                serde_json::from_str(b).map_err(|_| "the comment's `id` (the body is not JSON)".to_string())?;
            if v.get("id").is_some() { Ok(v) } else { Err("the comment's `id`".into()) }
        };
        self.call("Jira comment", Replay::Safe, check, &|| self.client.post(&url).json(&payload))
            .await
            .map(|_| ())
            .map_err(|e| self.fail(Op::Update, &format!("Jira comment on {issue}"), e))
    }

    /// Closing a Jira issue: a closing comment, then the configured transition (Get transitions,
    /// then Transition issue). Without `close_transition`, or when that transition is not
    /// available from the issue's status, only the comment: reported as such.
    async fn jira_close(&self, issue: &str, r: &VerdictRecord) -> Result<Done, Failure> {
        let wanted = self.cfg.close_transition.trim();
        let mut body = jira_body(Action::Close, r);
        if wanted.is_empty() {
            body.push_str("\n(trailproof does not close this issue: no close_transition is configured.)\n");
        }
        self.jira_comment(issue, &body).await?;
        if wanted.is_empty() {
            return Ok(Done::CloseCommented(format!(
                "{issue}: commented, not closed (no close_transition is configured)"
            )));
        }
        let url = format!("{}/rest/api/2/issue/{}/transitions", self.base, path_segment(issue));
        let check: Check = &|b: &str| {
            let v: Value =
                serde_json::from_str(b).map_err(|_| "a `transitions` list (the body is not JSON)".to_string())?;
            if v["transitions"].is_array() { Ok(v) } else { Err("a `transitions` list".into()) }
        };
        let list = self
            .call("Jira transitions", Replay::Safe, check, &|| self.client.get(&url))
            .await
            .map_err(|e| self.fail(Op::Transition, &format!("Jira transitions of {issue}"), e))?;
        let id = list["transitions"].as_array().and_then(|a| {
            a.iter()
                .find(|t| {
                    t["id"].as_str() == Some(wanted)
                        || t["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                        || t["to"]["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                })
                .and_then(|t| t["id"].as_str().map(str::to_string))
        });
        let Some(id) = id else {
            return Ok(Done::CloseCommented(format!(
                "{issue}: commented, not closed (the transition {wanted:?} is not available from its status)"
            )));
        };
        let payload = json!({"transition": {"id": id}});
        self.call("Jira transition", Replay::Safe, &any_body, &|| self.client.post(&url).json(&payload))
            .await
            .map_err(|e| self.fail(Op::Transition, &format!("Jira transition {wanted:?} of {issue}"), e))?;
        Ok(Done::Closed)
    }

    // ---- ServiceNow (Table API, incident) ----

    async fn servicenow_query(&self, correlation: &str) -> Result<Vec<String>, Failure> {
        let q = format!("correlation_id={correlation}");
        let url = with_query(
            &format!("{}/api/now/table/incident", self.base),
            &[("sysparm_query", q.as_str()), ("sysparm_fields", "sys_id"), ("sysparm_limit", "10")],
        )?;
        let check: Check = &|b: &str| {
            let v: Value = serde_json::from_str(b).map_err(|_| "a `result` list (the body is not JSON)".to_string())?;
            if v["result"].is_array() { Ok(v) } else { Err("a `result` list".into()) }
        };
        let found = self
            .call("ServiceNow query", Replay::Safe, check, &|| self.client.get(url.clone()))
            .await
            .map_err(|e| self.fail(Op::Lookup, "ServiceNow query", e))?;
        Ok(found["result"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["sys_id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    }

    async fn servicenow_create_once(&self, r: &VerdictRecord, key: &str) -> Result<String, CallErr> {
        let (urgency, impact) = match r.risk.severity {
            Severity::Critical | Severity::High => ("1", "2"),
            Severity::Medium => ("2", "2"),
            Severity::Low => ("3", "3"),
        };
        let mut payload = json!({
            "short_description": text::clean(&text::title(r)),
            "description": text::servicenow(&text::plain(r, &Self::lead(Action::Create, r))),
            "correlation_id": correlation(key),
            "correlation_display": "trailproof",
            "urgency": urgency,
            "impact": impact,
            "category": "security",
        });
        if !self.cfg.assignment_group.trim().is_empty() {
            payload["assignment_group"] = self.cfg.assignment_group.trim().into();
        }
        let url = format!("{}/api/now/table/incident", self.base);
        // Table API POST: 201 {"result": {the record, with its sys_id}}. A 2xx without
        // `result.sys_id` is not a created incident (an instance that is asleep or behind a
        // login page answers 200 with HTML).
        let check: Check = &|b: &str| {
            let v: Value = serde_json::from_str(b).map_err(|_| "`result.sys_id` (the body is not JSON)".to_string())?;
            match v["result"]["sys_id"].as_str() {
                Some(s) if !s.trim().is_empty() => Ok(v),
                _ => Err("`result.sys_id`".into()),
            }
        };
        let v = self
            .call("ServiceNow create incident", Replay::Unsafe, check, &|| self.client.post(&url).json(&payload))
            .await?;
        Ok(v["result"]["sys_id"].as_str().unwrap_or_default().to_string())
    }

    async fn servicenow_patch(&self, sys_id: &str, payload: Value) -> Result<(), Failure> {
        let url = format!("{}/api/now/table/incident/{}", self.base, path_segment(sys_id));
        // Table API PATCH: 200 {"result": {the record}}. A work note sent twice (its answer
        // lost) is only a repeated note.
        let check: Check = &|b: &str| {
            let v: Value = serde_json::from_str(b).map_err(|_| "`result` (the body is not JSON)".to_string())?;
            if v["result"].is_object() { Ok(v) } else { Err("`result`".into()) }
        };
        self.call("ServiceNow update incident", Replay::Safe, check, &|| self.client.patch(&url).json(&payload))
            .await
            .map(|_| ())
            .map_err(|e| self.fail(Op::Update, &format!("ServiceNow update of incident {sys_id}"), e))
    }

    // ---- PagerDuty (Events API v2) ----

    /// `dedup_key` is PagerDuty's idempotency: "Submitting subsequent events for the same
    /// `dedup_key` will result in those events being applied to an open alert matching that
    /// `dedup_key`" (Send an Alert Event), so a retried trigger or resolve makes no second alert.
    fn pagerduty_dedup(key: &str) -> String {
        format!("trailproof:{key}")
    }

    /// 202 {"status": "success", "message": "Event processed", "dedup_key": ...}; anything else
    /// is not an accepted event (Send an Event, Events API v2).
    fn pagerduty_accepted(b: &str) -> Result<Value, String> {
        let v: Value =
            serde_json::from_str(b).map_err(|_| "\"status\": \"success\" (the body is not JSON)".to_string())?;
        if v["status"].as_str() == Some("success") { Ok(v) } else { Err("\"status\": \"success\"".into()) }
    }

    async fn pagerduty_enqueue(&self, payload: Value) -> Result<(), Failure> {
        let url = format!("{}/v2/enqueue", self.base);
        self.call("PagerDuty enqueue", Replay::Safe, &Self::pagerduty_accepted, &|| {
            self.client.post(&url).json(&payload)
        })
        .await
        .map(|_| ())
        .map_err(|e| self.fail(Op::Create, "PagerDuty enqueue", e))
    }

    async fn pagerduty_trigger(&self, r: &VerdictRecord, key: &str) -> Result<Option<String>, Failure> {
        let dedup = Self::pagerduty_dedup(key);
        let sev = match r.risk.severity {
            Severity::Critical => "critical",
            Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "info",
        };
        let details: serde_json::Map<String, Value> =
            text::fields(r).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        self.pagerduty_enqueue(json!({
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
        }))
        .await?;
        Ok(Some(dedup))
    }

    async fn pagerduty_resolve(&self, key: &str) -> Result<(), Failure> {
        self.pagerduty_enqueue(json!({
            "routing_key": self.secret.expose(),
            "event_action": "resolve",
            "dedup_key": Self::pagerduty_dedup(key),
        }))
        .await
    }

    /// The Events API v2 has no note on an alert: a `trigger` with the same `dedup_key` adds a
    /// log entry to an open alert without changing its title ("the incident's title will not
    /// change", PagerDuty Alerts) and, once a person resolved it, "a new incident will be
    /// created" — a page. So a change that does not raise the severity goes as a change event
    /// (`/v2/change/enqueue`: "Notifications can be sent? No"), shown on the service and on its
    /// incidents' "recent changes". "Change events cannot be sent to ruleset integration keys
    /// (these keys begin with the character R)": then nothing is sent.
    async fn pagerduty_change(&self, r: &VerdictRecord, key: &str) -> Result<Done, Failure> {
        if self.secret.expose().trim().starts_with('R') {
            return Ok(Done::NotSent(
                "PagerDuty takes no change events on a ruleset routing key (R…): the change was not sent".into(),
            ));
        }
        let mut details: serde_json::Map<String, Value> =
            text::fields(r).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        details.insert("dedup_key".into(), Value::String(Self::pagerduty_dedup(key)));
        let summary = format!("{} — {}", Self::lead(Action::Note, r), text::title(r));
        let payload = json!({
            "routing_key": self.secret.expose(),
            "payload": {
                "summary": summary.chars().take(1000).collect::<String>(),
                "source": "trailproof",
                "custom_details": details,
            },
        });
        let url = format!("{}/v2/change/enqueue", self.base);
        // 202 (the Events API's response codes); the body of a change event's answer is not
        // documented, so any 2xx is taken (unconfirmed). A duplicate change event is harmless.
        self.call("PagerDuty change event", Replay::Safe, &any_body, &|| self.client.post(&url).json(&payload))
            .await
            .map_err(|e| self.fail(Op::Create, "PagerDuty change event", e))?;
        Ok(Done::Noted)
    }

    // ---- Slack (incoming webhook) ----

    /// One message. A message cannot be looked up, and an incoming webhook takes no idempotency
    /// key: one whose answer is lost (a timeout, a 5xx) is sent again, so it may show twice —
    /// preferred to a finding never shown. Each carries its delivery id to make a duplicate
    /// recognisable.
    async fn slack(&self, action: Action, r: &VerdictRecord, key: &str) -> Result<(), Failure> {
        let mut s = format!("*{}*\n", text::slack(&Self::lead(action, r)));
        for (k, v) in text::fields(r) {
            s.push_str(&format!("*{k}:* {}\n", text::slack(&v)));
        }
        s.push_str(&format!("trailproof delivery {} v{}\n", text::slack(key), r.version));
        let payload = json!({"text": s, "unfurl_links": false, "unfurl_media": false});
        // Incoming webhooks answer 200 with the body `ok`; errors are 4xx with a code as the body.
        let check: Check = &|b: &str| if b.trim() == "ok" { Ok(Value::Null) } else { Err("the body `ok`".into()) };
        self.call("Slack webhook", Replay::Safe, check, &|| self.client.post(&self.base).json(&payload))
            .await
            .map(|_| ())
            .map_err(|e| self.fail(Op::Create, "Slack webhook", e))
    }

    // ---- Signed webhook (Standard Webhooks) ----

    async fn webhook(&self, action: Action, r: &VerdictRecord, key: &str) -> Result<(), Failure> {
        // The verdict object goes out with every string inert, as the JSON report does: a receiver
        // that prints `.verdict.session_name` raw must not replay an escape from a log.
        let verdict = trailproof_model::text::inert_value(r).unwrap_or(Value::Null);
        let body = serde_json::to_vec(&json!({
            "type": format!("trailproof.ticket.{}", action.as_str()),
            "dedup_key": text::clean(key),
            "action": action.as_str(),
            "version": r.version,
            "sink": self.cfg.name,
            "title": text::title(r),
            "text": text::plain(r, &Self::lead(action, r)),
            "verdict": verdict,
        }))
        .map_err(|e| Failure::Transient(e.to_string()))?;
        let delivery = format!("{key}/v{}/{}", r.version, action.as_str());
        let id = sign::delivery_id(&delivery);
        // An event id from a log may hold what no header can carry.
        let delivery = text::header_value(&delivery);
        let old = format!("sha256={}", sign::sign(&self.hook_key, &body));
        self.call("webhook", Replay::Safe, &any_body, &|| {
            // A fresh timestamp on every attempt, signed with the id and the body.
            let ts =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            self.client
                .post(&self.base)
                .header("content-type", "application/json")
                .header("webhook-id", id.as_str())
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sign::standard_signature(&self.hook_key, &id, ts, &body))
                .header("x-trailproof-signature", old.as_str())
                .header("x-trailproof-timestamp", ts.to_string())
                .header("x-trailproof-delivery", delivery.as_str())
                .body(body.clone())
        })
        .await
        .map(|_| ())
        .map_err(|e| self.fail(Op::Create, "webhook", e))
    }
}

/// The Jira label that finds a session's issue again.
pub(crate) fn jira_label(key: &str) -> String {
    format!("trailproof-{}", key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"))
}

/// The ServiceNow `correlation_id`: only characters that cannot act in an encoded query (`^`
/// separates its terms).
pub(crate) fn correlation(key: &str) -> String {
    format!("trailproof:{key}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ":-_.".contains(c) { c } else { '_' })
        .collect()
}

fn jira_body(action: Action, r: &VerdictRecord) -> String {
    let mut s = format!("{}\n\n", text::jira(&Sink::lead(action, r)));
    for (k, v) in text::fields(r) {
        s.push_str(&format!("*{k}:* {}\n", text::jira(&v)));
    }
    s
}

/// An id from a service, as one URL path segment.
fn path_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> Result<url::Url, Failure> {
    url::Url::parse_with_params(base, pairs).map_err(|e| Failure::Setup(format!("bad url {base:?}: {e}")))
}
