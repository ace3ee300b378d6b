//! trailproof configuration (TOML), as plain data. The binary reads the file; the correlator and
//! the collectors take these values. Every field has a default, so an empty file (or none) works.
//! `config/trailproof.example.toml` documents each key.

use serde::{Deserialize, Serialize};

use crate::Source;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// IdP instances and how AWS sessions map to them.
    pub idp: Vec<IdpConfig>,
    pub identity: IdentityConfig,
    pub windows: Windows,
    pub allowlist: Allowlist,
    pub score: ScoreWeights,
    /// Live collection (`trailproof collect`).
    pub collect: CollectConfig,
    /// The scheduled batch (`trailproof run`).
    pub run: RunConfig,
    /// File imports (`trailproof import`).
    pub import: ImportConfig,
    /// Ticketing and chat sinks for verdicts (`trailproof notify`, the last stage of `run`).
    pub notify: Vec<NotifySink>,
    /// How long records are kept (`trailproof prune`, the last stage of `run` when enabled).
    pub retention: RetentionConfig,
}

/// `[retention]`: how many days of records a scheduled run keeps. Off by default, so a store
/// built by hand (an investigation's import of old logs) is never pruned behind its user's back:
/// only `trailproof run` with `enabled = true`, or `trailproof prune`, removes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Prune at the end of each `trailproof run`.
    pub enabled: bool,
    /// Console sessions older than this many days are no longer judged again, and the records
    /// no later judgement can need are removed (verdicts and the records they cite stay).
    pub keep_days: u32,
    /// Verdicts of sessions older than this many days are removed, with their earlier versions
    /// and the records only they cite (at least `keep_days`; a verdict a notification sink has
    /// not sent yet stays). Absent: verdicts stay until removed on purpose, and the store grows
    /// by each judged session's verdict and evidence (some 10 KB) for as long as it runs.
    pub verdict_keep_days: Option<u32>,
}

impl RetentionConfig {
    /// Whether verdicts may be kept `verdict_days` while records are kept `keep_days`: a verdict
    /// goes only once its session is sealed (never judged again), so never fewer days.
    pub fn check_verdict_days(keep_days: u32, verdict_days: Option<u32>) -> Result<(), String> {
        match verdict_days {
            Some(v) if v < keep_days => Err(format!(
                "verdicts would be kept {v} days, fewer than the {keep_days} days of records kept: a session's \
                 verdict may only go once the session is sealed; keep verdicts at least {keep_days} days \
                 ([retention] verdict_keep_days, or prune --keep-verdict-days)"
            )),
            Some(0) => Err("verdict_keep_days must be at least 1".into()),
            _ => Ok(()),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { enabled: false, keep_days: 30, verdict_keep_days: None }
    }
}

/// One `[[notify]]` sink. Which verdicts it takes: those in `verdicts` whose risk severity is at
/// least `min_severity`. Secrets (Jira API token, ServiceNow password, PagerDuty routing key,
/// Slack webhook URL, webhook HMAC key) come from `secret_env` or `secret_file`, never from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySink {
    /// A unique name: the sink's delivery state in the database is kept under it.
    pub name: String,
    /// jira, servicenow, pagerduty, slack, webhook or elasticsearch.
    pub kind: String,
    /// Base URL: Jira site, ServiceNow instance, PagerDuty Events API (default
    /// https://events.pagerduty.com), webhook endpoint. Slack's webhook URL is a secret.
    pub url: String,
    pub verdicts: Vec<String>,
    /// low, medium, high or critical.
    pub min_severity: String,
    /// When a session with an open ticket is judged `enforced` after all (late IdP records):
    /// resolve the incident (ServiceNow) or the alert (PagerDuty), close the Jira issue through
    /// `close_transition` (without one, a closing comment only: the issue stays open), post a
    /// closing message (Slack) or send a `close` delivery (webhook).
    pub close_on_enforced: bool,
    /// Jira: the workflow transition (its name, e.g. "Done", or its id) that closes an issue. Empty:
    /// closing adds a comment and reports it as a comment, not as a closed issue.
    pub close_transition: String,
    /// Jira, ServiceNow: what to do when the ticket of a session is gone at the service (an update
    /// answers 404: deleted, or no longer visible to the account). `recreate` (default): record it
    /// and open a new ticket if the verdict still calls for one; `skip`: record it and leave the
    /// session alone from then on.
    pub on_gone: String,
    /// Jira: how long a just-created issue may take to show in search (Atlassian: from seconds to
    /// minutes). Before a create is sent again after a timeout or a 5xx, trailproof searches for
    /// the issue until this long after the first create was sent.
    pub search_lag_seconds: u32,
    pub secret_env: String,
    pub secret_file: String,
    /// Jira: the account e-mail for Cloud basic auth (API token as the secret); empty: the
    /// secret is a bearer token (Jira Server/Data Center personal access token).
    /// ServiceNow: the user name (password as the secret).
    pub user: String,
    /// Jira project key.
    pub project: String,
    /// Jira issue type.
    pub issue_type: String,
    /// Extra Jira labels.
    pub labels: Vec<String>,
    /// ServiceNow assignment group (sys_id or name).
    pub assignment_group: String,
    /// Requests per minute to this sink, evenly spaced (no bursts; 0: no pacing). Slack is never
    /// sent more than one message a second (its documented limit), whatever this says.
    pub requests_per_minute: u32,
    /// Retries of one request after a timeout, a connection error, a 429 or a 5xx (PagerDuty: at
    /// most 3 on a 429, 30 s apart, as PagerDuty advises).
    pub max_retries: u32,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// The longest wait a service may ask for (`Retry-After`, `X-RateLimit-Reset`); it is waited
    /// in full. A longer one stops the sink for this run with its queue kept.
    pub max_wait_seconds: u32,
    pub request_timeout_seconds: u32,
    /// Only verdicts stored after this sink first ran are sent (so adding a sink does not file
    /// the whole history); set true to send every stored verdict once.
    pub backfill: bool,
    /// Elasticsearch (`kind = "elasticsearch"`): the data stream every verdict version is
    /// written to as an ECS document (`verdicts` and `min_severity` do not apply: every version
    /// is written, so the latest is always there). Never `.alerts-*` or another hidden index.
    pub data_stream: String,
    /// Elasticsearch: also write an `event.kind: alert` copy of each verdict other than
    /// `enforced` whose severity is at least this (low, medium, high, critical; empty: no copy),
    /// into `alert_data_stream`, which Elastic's prebuilt "External Alerts" rule reads.
    pub alert_min_severity: String,
    /// Elasticsearch: the data stream of the alert copies (a `logs-*` name: the External Alerts
    /// rule reads `logs-*`).
    pub alert_data_stream: String,
    /// Elasticsearch: verdict versions per `_bulk` request.
    pub batch_size: u32,
    /// Elasticsearch: a PEM file of the CA(s) to trust instead of the system's roots.
    pub ca_file: String,
    /// Elasticsearch: Kibana's base URL, for `alert_tags` / `case_comment` (empty: Kibana is not
    /// called). Only Kibana's APIs are used: the alert indices are never written.
    pub kibana_url: String,
    /// Elasticsearch: Kibana's API key (env var / file); both empty: the Elasticsearch secret.
    pub kibana_secret_env: String,
    pub kibana_secret_file: String,
    /// Elasticsearch: the Kibana space of the detection rule's alerts (default "default").
    pub kibana_space: String,
    /// Elasticsearch: tag the security alerts of the same source event (`event.id`) with the
    /// verdict (`trailproof:<verdict>`), replacing trailproof's earlier verdict tag.
    pub alert_tags: bool,
    /// Elasticsearch: comment each verdict version once on every Kibana case holding such an alert.
    pub case_comment: bool,
    /// Elasticsearch: how long after a verdict version is written its alert is still looked for
    /// (the rule may not have fired yet); later, the version is given up quietly.
    pub alert_wait_hours: u32,
}

impl Default for NotifySink {
    fn default() -> Self {
        NotifySink {
            name: String::new(),
            kind: String::new(),
            url: String::new(),
            verdicts: vec!["not_enforced".into(), "no_idp_login".into(), "unknown".into()],
            min_severity: "low".into(),
            close_on_enforced: true,
            close_transition: String::new(),
            on_gone: "recreate".into(),
            search_lag_seconds: 60,
            secret_env: String::new(),
            secret_file: String::new(),
            user: String::new(),
            project: String::new(),
            issue_type: "Task".into(),
            labels: vec!["trailproof".into()],
            assignment_group: String::new(),
            requests_per_minute: 60,
            max_retries: 6,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            max_wait_seconds: 600,
            request_timeout_seconds: 30,
            backfill: false,
            data_stream: "logs-trailproof.verdict-default".into(),
            alert_min_severity: String::new(),
            alert_data_stream: "logs-trailproof.alert-default".into(),
            batch_size: 500,
            ca_file: String::new(),
            kibana_url: String::new(),
            kibana_secret_env: String::new(),
            kibana_secret_file: String::new(),
            kibana_space: "default".into(),
            alert_tags: false,
            case_comment: false,
            alert_wait_hours: 24,
        }
    }
}

/// What `trailproof run` does after collecting: which sessions it re-judges, which reports it
/// writes where, and which findings make it exit with the findings code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Re-judge the ConsoleLogins of this many hours back on each run, so that IdP records which
    /// arrive late change the verdicts they concern (a new verdict version).
    pub rejudge_hours: u32,
    /// The reports cover the sessions of this many hours back.
    pub report_hours: u32,
    /// Report formats to write each run: table, json, ndjson, csv, md, html.
    pub report_formats: Vec<String>,
    /// Directory for the reports (relative to the working directory). Each run writes
    /// `report-<UTC time>.<ext>` and replaces `latest.<ext>`.
    pub report_dir: String,
    /// Exit with the findings code (4) when a session of the report window has a risk severity at
    /// or above this: low, medium, high, critical; "none" never does.
    pub fail_on_severity: String,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            rejudge_hours: 72,
            report_hours: 24,
            report_formats: vec!["html".into(), "json".into()],
            report_dir: "trailproof-reports".into(),
            fail_on_severity: "high".into(),
        }
    }
}

/// `[import]`: how `trailproof import` judges record times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// How many hours past the present a record's time may lie (clocks and exports skew). A
    /// later record is quarantined as implausible and vouches no coverage; no import records
    /// coverage past the present in any case.
    pub future_skew_hours: u32,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig { future_skew_hours: 24 }
    }
}

/// Where and how `trailproof collect` reads each source. Secrets are never written here: a key
/// names the environment variable (`*_env`) or file (`*_file`) that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Deprecated (one overlap for every source, before each source had its settling time): a
    /// floor under every source's `settling_minutes`. 0 (the default) leaves each source's own
    /// settling time alone; set `settling_minutes` per source instead. See docs/source-lag.md.
    pub overlap_minutes: u32,
    /// Where a source's first incremental run starts when it has no checkpoint.
    pub initial_lookback_hours: u32,
    /// Give up on a request after this many retries (5xx, connection errors, 429).
    pub max_retries: u32,
    /// First retry delay after a 5xx, a connection error or an unreadable body, in
    /// milliseconds; doubled on each further retry (with jitter) up to `retry_max_ms`. A
    /// `Retry-After` or `X-Rate-Limit-Reset` from the server takes precedence.
    pub retry_initial_ms: u64,
    /// Longest backoff delay between two retries, in milliseconds.
    pub retry_max_ms: u64,
    /// Give up on one HTTP request (connect, send, read the whole body) after this many seconds;
    /// it then counts as a failed attempt and is retried.
    pub request_timeout_seconds: u32,
    pub okta: Vec<OktaSource>,
    pub entra: Vec<EntraSource>,
    pub google: Vec<GoogleSource>,
    pub cloudtrail: Vec<CloudTrailSource>,
    /// `[[collect.elasticsearch]]`: the four sources read from an Elasticsearch / OpenSearch
    /// cluster the Elastic integrations write to.
    pub elasticsearch: Vec<ElasticSource>,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            overlap_minutes: 0,
            initial_lookback_hours: 24,
            max_retries: 6,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            request_timeout_seconds: 60,
            okta: vec![],
            entra: vec![],
            google: vec![],
            cloudtrail: vec![],
            elasticsearch: vec![],
        }
    }
}

/// What a source's own documentation says about how late its records can appear, and the
/// settling time trailproof waits by default before it counts a stretch of time as covered.
/// docs/source-lag.md is the long form, with the pages quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLag {
    pub source: Source,
    /// The default `settling_minutes`.
    pub default_settling_minutes: u32,
    /// The bound the vendor documents, in its words; `None` when its documentation promises none
    /// (trailproof's default is then a choice, and `status` says so).
    pub documented_bound: Option<&'static str>,
    /// What the vendor documents, briefly.
    pub documented: &'static str,
    /// The pages it is read from.
    pub pages: &'static [&'static str],
}

/// One [`SourceLag`] per collected source. AD FS records arrive in Entra's exports (imported,
/// not collected), so it has none.
pub const SOURCE_LAGS: [SourceLag; 4] = [
    SourceLag {
        source: Source::Entra,
        default_settling_minutes: 120,
        documented_bound: Some("up to 2 hours"),
        documented: "\"It may take up to two hours for some sign-in records to show up\"; MFA steps are aggregated \
                     onto the original sign-in afterwards: \"Data might take up to two hours to fully aggregate, \
                     but rarely takes that long\" (95 % of sign-ins within 2 min, 99 % within 5 min)",
        pages: &[
            "https://learn.microsoft.com/entra/identity/monitoring-health/concept-sign-ins",
            "https://learn.microsoft.com/entra/identity/monitoring-health/reports-faq",
            "https://learn.microsoft.com/entra/identity/monitoring-health/reference-reports-latencies",
        ],
    },
    SourceLag {
        source: Source::Google,
        default_settling_minutes: 240,
        documented_bound: None,
        documented: "per-report lag times (SAML entries \"usually appear within an hour\"), and \"a small chance \
                     that ... log event data for some events will be delayed beyond\" them; \"in rare cases, \
                     events might not be reported\"",
        pages: &["https://support.google.com/a/answer/7061566", "https://support.google.com/a/answer/7007375"],
    },
    SourceLag {
        source: Source::Okta,
        default_settling_minutes: 30,
        documented_bound: None,
        documented: "\"near real-time\"; polling requests follow persistence time \"to avoid skipping records due \
                     to system delays\"; bounded requests (since and until) may miss delayed events: \"Such \
                     delays are rare but possible\"",
        pages: &["https://developer.okta.com/docs/reference/api/system-log/"],
    },
    SourceLag {
        source: Source::Cloudtrail,
        default_settling_minutes: 60,
        documented_bound: None,
        documented: "\"CloudTrail typically delivers logs within an average of about 5 minutes of an API call. This \
                     time is not guaranteed.\"",
        pages: &["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/get-and-view-cloudtrail-log-files.html"],
    },
];

/// The [`SourceLag`] of a collected source (`None` for AD FS).
pub fn source_lag(source: Source) -> Option<&'static SourceLag> {
    SOURCE_LAGS.iter().find(|l| l.source == source)
}

impl CollectConfig {
    /// A source's settling time in minutes: its own `settling_minutes`, else the default of
    /// [`SOURCE_LAGS`], and never less than the deprecated `overlap_minutes`.
    pub fn settling_minutes(&self, source: Source, configured: Option<u32>) -> u32 {
        let default = source_lag(source).map_or(0, |l| l.default_settling_minutes);
        configured.unwrap_or(default).max(self.overlap_minutes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OktaSource {
    pub name: String,
    /// `https://example.okta.com` (or an emulator's address).
    pub url: String,
    /// API token (SSWS): the environment variable or file that holds it.
    pub token_env: String,
    pub token_file: String,
    /// OAuth 2.0 service app instead of an API token: client id and the PEM private key file
    /// for the private_key_jwt client assertion (scope okta.logs.read).
    pub client_id: String,
    pub private_key_file: String,
    /// Coverage scope to record (default `*`).
    pub scope: String,
    /// Requests per minute for /api/v1/logs. The limit is org-wide and shared with the org's
    /// other System Log readers: 20 (Developer free), 25 (Developer paid, One App), 50
    /// (Enterprise), 120 (Workforce Identity). Default 10, half of the smallest: raise it to
    /// half of your org's limit for a long backfill. 0: no pacing.
    pub requests_per_minute: Option<u32>,
    /// How long after their time the org's events are taken to be all readable (coverage ends
    /// this long before now; see [`SOURCE_LAGS`]). Default 30.
    pub settling_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntraSource {
    pub name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret_env: String,
    pub client_secret_file: String,
    /// Certificate credential instead of a secret: PEM private key and the certificate's
    /// thumbprint (x5t) for the client assertion.
    pub certificate_key_file: String,
    pub certificate_thumbprint: String,
    /// Default `https://login.microsoftonline.com`.
    pub authority_url: String,
    /// Default `https://graph.microsoft.com`.
    pub graph_url: String,
    /// Only sign-ins to these applications (`appId eq '…'`); empty: sign-ins to every application.
    pub app_ids: Vec<String>,
    /// Also read non-interactive user sign-ins (single sign-on from an Entra-joined PC, a
    /// token carried from an earlier sign-in). Default true. With `app_ids` only those to the
    /// listed applications are read; without, every non-interactive sign-in of the tenant (many:
    /// set `app_ids`). false: interactive sign-ins only, and a console session whose Entra
    /// sign-in was non-interactive is judged as if it had none.
    pub non_interactive: Option<bool>,
    /// Requests per 10 seconds (default 5, Graph's documented limit for sign-in logs). 0: no pacing.
    pub requests_per_10s: Option<u32>,
    /// How long after their `createdDateTime` sign-ins are taken to be all readable and complete
    /// (coverage ends this long before now). Default 120: Microsoft documents up to two hours.
    pub settling_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleSource {
    pub name: String,
    /// `my_customer` or `C0…`; also the coverage scope.
    pub customer_id: String,
    /// Service account JSON key file (domain-wide delegation).
    pub service_account_key_file: String,
    /// The admin user to impersonate (`sub` of the JWT).
    pub admin_email: String,
    /// Default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// Default `https://admin.googleapis.com`.
    pub reports_url: String,
    /// Requests per minute (default 60; Google's default quota is 2,400 per minute per user and
    /// project). 0: no pacing.
    pub requests_per_minute: Option<u32>,
    /// How long after their time activities are taken to be all readable (coverage ends this
    /// long before now). Default 240; Google documents typical lag times, not a bound.
    pub settling_minutes: Option<u32>,
}

/// `[[collect.elasticsearch]]` (`kind = "elasticsearch"`): CloudTrail, Okta, Entra ID and Google
/// Workspace as the Elastic integrations store them, read from Elasticsearch 8/9 or OpenSearch 2.x
/// with point-in-time paging. Empty index patterns take the integrations' defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticSource {
    pub name: String,
    /// Optional: `"elasticsearch"` (the only kind here; accepted for readability).
    pub kind: String,
    /// `https://host:9200`.
    pub url: String,
    /// API key (the `encoded` value, or `id:api_key`): the environment variable or file holding it.
    pub api_key_env: String,
    pub api_key_file: String,
    /// Basic authentication instead of an API key.
    pub user: String,
    pub password_env: String,
    pub password_file: String,
    /// PEM file of the CA that signed the cluster's certificate (self-managed clusters).
    pub ca_file: String,
    /// `""` (ask `GET /`), `"elasticsearch"` or `"opensearch"`.
    pub flavour: String,
    /// Which sources to read: `cloudtrail`, `okta`, `entra`, `google` (default all four).
    pub sources: Vec<String>,
    /// Index patterns (defaults: `logs-aws.cloudtrail-*`, `logs-okta.system-*`,
    /// `logs-azure.signinlogs-*`, `logs-google_workspace.login-*,logs-google_workspace.saml-*`).
    pub cloudtrail_index: String,
    pub okta_index: String,
    pub entra_index: String,
    pub google_index: String,
    /// Each run reads `event.ingested` again from this long before where the last run stopped
    /// (index refresh, ingest-node clocks). Default 5.
    pub overlap_minutes: Option<u32>,
    /// Documents per page (default 1000, at most 10,000).
    pub page_size: Option<u32>,
    /// Requests per second to the cluster; 0 or unset: not paced.
    pub requests_per_second: Option<u32>,
    /// Per-source settling times (minutes), else each source's default (`SOURCE_LAGS`).
    pub cloudtrail_settling_minutes: Option<u32>,
    pub okta_settling_minutes: Option<u32>,
    pub entra_settling_minutes: Option<u32>,
    pub google_settling_minutes: Option<u32>,
    /// How long a point in time is kept between two pages (default `5m`).
    pub keep_alive: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudTrailSource {
    pub name: String,
    /// `lookup` (LookupEvents API), `s3` (trail bucket) or `directory` (a local trail tree).
    pub mode: String,
    /// Regions to read (lookup: one call stream per region; s3: the region folders).
    pub regions: Vec<String>,
    /// Named profile from the AWS config files; empty: the default credential chain.
    pub profile: String,
    /// Role to assume before reading.
    pub role_arn: String,
    /// Endpoint override (emulators, S3-compatible servers).
    pub endpoint_url: String,
    /// s3: bucket, optional key prefix before `AWSLogs/`, organization id for org trails, accounts.
    pub bucket: String,
    pub prefix: String,
    pub org_id: String,
    pub accounts: Vec<String>,
    /// directory: the path of the trail tree.
    pub directory: String,
    /// lookup: requests per second per region (default 1, half of the documented 2 per second
    /// per account and region, which every reader of the account's event history shares). 0: no
    /// pacing.
    pub requests_per_second: Option<u32>,
    /// lookup and s3: how long after their time events are taken to be all delivered (coverage
    /// ends this long before now; s3 also reads files delivered up to this long after a range).
    /// Default 60; CloudTrail documents about 5 minutes on average, not guaranteed.
    pub settling_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdpConfig {
    /// A name for messages and reports.
    pub name: String,
    /// `okta`, `entra`, `google` or `adfs`.
    pub kind: String,
    /// Coverage scope in the store (`*` for Okta, tenant id for Entra, customer id for Google).
    /// Empty: any scope of this provider.
    pub scope: String,
    /// SAML provider ARNs whose sign-ins this IdP asserts.
    pub saml_provider_arns: Vec<String>,
    /// IAM Identity Center uses this IdP as its external identity source.
    pub identity_center: bool,
    /// IAM users/roles that call GetFederationToken for users of this IdP (custom brokers).
    pub broker_issuer_arns: Vec<String>,
    /// Roles whose sessions are brokered for users of this IdP (AssumeRole + GetSigninToken).
    pub role_arns: Vec<String>,
    /// The AWS application(s) at the IdP (Okta app instance id, Entra appId).
    pub aws_app_ids: Vec<String>,
    /// The AWS application(s) by display name. With neither ids nor names, names matching
    /// `(?i)aws|amazon` are taken.
    pub aws_app_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub aliases: Vec<Alias>,
    pub rules: Vec<Rule>,
}

/// AWS session name → IdP login.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Alias {
    pub aws: String,
    pub idp: String,
}

/// Regex over the session name and its replacement (`$1` etc.), giving an IdP login.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub pattern: String,
    pub replace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Windows {
    pub before_minutes: u32,
    pub after_minutes: u32,
    pub skew_minutes: u32,
    pub google_lookback_days: u32,
    pub baseline_days: u32,
    pub burst_minutes: u32,
    /// IAM Identity Center: how long an access-portal session lasts. A console login can come
    /// this long after the portal sign-in (and the IdP SSO) behind it.
    pub identity_center_session_hours: u32,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            before_minutes: 10,
            after_minutes: 2,
            skew_minutes: 2,
            google_lookback_days: 14,
            baseline_days: 30,
            burst_minutes: 15,
            identity_center_session_hours: 12,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Allowlist {
    /// CIDRs of corporate networks, VPN egress and brokers.
    pub cidrs: Vec<String>,
    pub asns: Vec<u32>,
    /// Regexes over the user agent (automation).
    pub user_agents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    pub base_enforced: i32,
    pub base_unknown: i32,
    pub base_not_enforced: i32,
    pub base_no_idp_login: i32,
    pub token_relay: i32,
    pub idp_ip_mismatch: i32,
    pub new_ip: i32,
    pub new_asn: i32,
    pub new_country: i32,
    pub new_user_agent: i32,
    pub new_role: i32,
    pub multi_network_burst: i32,
    pub allowlisted_network: i32,
    pub allowlisted_user_agent: i32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            base_enforced: 0,
            base_unknown: 30,
            base_not_enforced: 60,
            base_no_idp_login: 80,
            token_relay: 30,
            idp_ip_mismatch: 10,
            new_ip: 5,
            new_asn: 10,
            new_country: 15,
            new_user_agent: 5,
            new_role: 5,
            multi_network_burst: 20,
            allowlisted_network: -15,
            allowlisted_user_agent: -10,
        }
    }
}
