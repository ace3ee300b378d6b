//! Local emulators of the APIs trailproof collects from, serving a simulated data directory
//! over the real protocols with reproducible faults, so the real collectors can be tested end
//! to end without any cloud account.
//!
//! # Data directory (written by `trailproof simulate`)
//! - `okta/*.json`: JSON arrays of Okta LogEvents.
//! - `entra/*.json`: Graph beta pages `{"value":[signIn...]}`.
//! - `google/login-*.json`, `google/saml-*.json`: Reports pages `{"items":[activity...]}`; the
//!   application is `id.applicationName`, else the file-name prefix.
//! - `AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`: `{"Records":[...]}`; the
//!   region is the record's `awsRegion`, else the path's.
//!
//! Any file may also be NDJSON or gzip (`.json.gz`). Records are split with
//! `trailproof_jsonrec::Splitter`, served byte for byte as written, deduplicated on the native
//! id (Okta `uuid`, signIn `id`, `id.uniqueQualifier`+`id.time`, `eventID`). Records that are
//! not JSON objects or lack their id/time are skipped and counted in [`LoadStats`].
//!
//! # Endpoints
//! | endpoint | protocol notes |
//! |---|---|
//! | `GET /api/v1/logs` | Okta System Log (formats.md 2.3): `since`, `until`, `after`, `filter` (SCIM: `eq ne co sw ew gt ge lt le pr`, `and`/`or`/`not`, dotted paths), `q`, `limit` (≤1000, default 100), `sortOrder`. `Link: rel="self"` always, `rel="next"` when more; with no `until` (polling) `next` is always present and follows persistence order, so late events appear behind it. `X-Rate-Limit-Limit/Remaining/Reset` on every response. Auth `SSWS <okta_token>` or `Bearer <token>`; 401 `E0000011`. |
//! | `POST /oauth2/v1/token` | Okta client_credentials with a private_key_jwt `client_assertion` (verified when `okta_client_public_key_pem` is set), scope `okta.logs.read`. |
//! | `POST /{tenant}/oauth2/v2.0/token` | Microsoft identity platform client_credentials with `client_secret`, scope `https://graph.microsoft.com/.default`; AADSTS errors. |
//! | `GET /beta/auditLogs/signIns`, `GET /v1.0/auditLogs/signIns` | Graph: `$filter` (OData subset, e.g. `createdDateTime ge … and appId eq '…'`), `$top` (≤1000), `$orderby`, `$skiptoken` via `@odata.nextLink`, newest first, interactive sign-ins only unless `signInEventTypes` is filtered on; v1.0 drops the beta-only fields. |
//! | `POST /token` | Google JWT-bearer grant; RS256 assertion verified against `google_public_key_pem`; scope must include `admin.reports.audit.readonly`. |
//! | `GET /admin/reports/v1/activity/users/{userKey}/applications/{app}` | Reports `activities.list`: `startTime`, `endTime`, `eventName`, `filters`, `actorIpAddress`, `maxResults` (≤1000), `pageToken`; newest first; `items` omitted when empty. |
//! | `POST /` | CloudTrail `LookupEvents` (AWS JSON 1.1, `X-Amz-Target`): one lookup attribute at most, `MaxResults` ≤ 50, newest first, `NextToken` bound to its request; region from the SigV4 credential scope (signature not verified). |
//! | `GET /`, `/{index}/_pit`, `/_pit`, `/{index}/_search/point_in_time`, `/_search/point_in_time`, `/_search`, `/{index}/_search`, `/_bulk` | Elasticsearch 8 (or OpenSearch 2, [`ElasticConfig::flavour`]) over the same records as ECS documents in the Elastic integrations' data streams: point in time, `search_after`, `_bulk` with per-item errors (see [`elastic`]). Auth `ApiKey <key>` or Basic. |
//! | `[/s/{space}]/api/detection_engine/signals/{search,tags}`, `/api/cases/alerts/{id}`, `/api/cases/{id}/comments` | Kibana's Security APIs over alerts and cases a test seeds (see [`kibana`]): `kbn-xsrf`, `ApiKey`, spaces. |
//! | `/_emulator/stats`, `/_emulator/clock` | test control: request counters and load stats; read, advance (`POST /_emulator/clock/advance?by=5m`) or set (`POST /_emulator/clock/set?to=RFC3339`) the clock. |
//!
//! # Clock and late events
//! The emulator has its own [`Clock`] ([`ClockMode::Wall`], `Frozen(t)` or `Running(t)`;
//! [`ClockMode::parse`] reads `wall`, `frozen:RFC3339`, `running:RFC3339`). An
//! event is visible once `clock ≥ event time + late + seeded jitter`. That rule applies when
//! `late_events` is set or the clock is emulated (frozen, running or moved); with the wall
//! clock and no late events every loaded record is visible. Bounded queries (Graph, Reports,
//! LookupEvents, Okta with `until`) see the data as of their first page (the cursor pins it);
//! Okta polling sees new events on every request. Tokens expire by the same clock. Entra
//! sign-ins are served as they are at that time (before or after `complete:` completes them).
//!
//! # Faults (`--fault`, see [`Faults::parse`])
//! | spec | effect |
//! |---|---|
//! | `429:P` / `429:burst=N[,every=M][,after=K]` | throttling in the vendor's shape (CloudTrail: HTTP 400 `ThrottlingException`) with `Retry-After: 1` |
//! | `5xx:P[,status=S]` / `5xx:burst=N[,every=M][,after=K][,status=S]` | server errors (default 503) in the vendor's shape |
//! | `slow:200ms` | delay every response |
//! | `drop:P` | close the connection without a response |
//! | `trunc:P[,mode=close\|cut]` | `close`: full `Content-Length`, half the body, then close; `cut`: a complete response with half the JSON |
//! | `ttl:30s` | minted access tokens expire after this (401 afterwards) |
//! | `late:5m[,jitter=10m][,on=entra+google]` | records become visible 5 min (+ a seeded share of 10 min) after their time; `on=` limits it to those logs (default all) |
//! | `lag:documented` | each log's records appear with the lag its vendor documents ([`documented_lag_ms`]: Entra up to 2 h, 99 % within 5 min; Google SAML within an hour, rarely later; Okta near real time; CloudTrail about 5 min on average) |
//! | `complete:30m` | Entra: a sign-in with a second factor is listed without its MFA steps (one factor) until 30 min after it first appears, then complete, same `id` (Microsoft aggregates MFA steps onto the original sign-in for up to two hours) |
//! | `pit-expire:burst=1,every=5,after=2` | Elasticsearch: the point in time a search names is gone (404 `search_context_missing_exception`) |
//! | `bulk-reject:P` / `bulk-reject:burst=…` | Elasticsearch `_bulk`: items refused with 429 `es_rejected_execution_exception` (the request still answers 200) |
//! | `on:okta+entra+google+cloudtrail+elastic+tokens` | which endpoints the request faults hit (default: the four data endpoints) |
//!
//! `P` is a probability (`0.2` or `20%`). Bursts are exact: request `n` (counted per endpoint
//! from 0) fails when `n ≥ after` and `(n − after) mod every < N` (`every` defaults to 10·N).
//! Probabilistic decisions use a PCG stream seeded from (seed, endpoint, fault kind, n), so the
//! n-th request of an endpoint meets the same fault in every run with the same seed. Several
//! specs may share one string separated by `;`.
//!
//! # Rate limits ([`RateLimits`], enforced when `rate_limits` is on; counted always)
//! Okta 50/min org-wide (429 `E0000047`); Graph 5 per 10 s per app (429 + `Retry-After`);
//! Reports 2,400/min (HTTP 503 as the Reports API's limits page says, `Retry-After`); a `429:`
//! fault on Google answers as the Admin SDK documents an exceeded rate, 403
//! `userRateLimitExceeded`; LookupEvents 2/s per region (400 `ThrottlingException`,
//! `x-amzn-errortype` header and `__type`).
//!
//! # What the emulated services do that the collectors must cope with
//! Each is cited where it is implemented:
//! - records appear late, per log (`late:`, `lag:documented`; `faults.rs`), and bounded queries
//!   see the data as of their first page: an Okta bounded request misses events not yet
//!   persisted ("Not all events for the specified time range may be present — events may be
//!   delayed", System Log API), while Okta polling follows persistence time and sees them
//!   behind its `next` link (`okta.rs`); a polling request always carries a `next` link, and
//!   its page is empty once caught up;
//! - Entra sign-ins change after they are first listed (`complete:`; `data.rs`);
//! - Graph lists non-interactive user sign-ins only when `signInEventTypes` asks for them
//!   (`entra.rs`, `data.rs`);
//! - Google over quota answers 403 or 503 (above).
//!
//! # S3
//! Not emulated: `scripts/moto-s3.sh` runs moto's S3 server; see [`moto`].

mod clock;
mod cloudtrail;
mod data;
pub mod elastic;
mod entra;
mod faults;
mod google;
mod jwt;
pub mod kibana;
mod limits;
pub mod moto;
mod net;
mod odata;
mod okta;
mod scim;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::json;

pub use clock::{Clock, ClockMode};
pub use data::{LoadError, LoadStats};
pub use elastic::{DEFAULT_ELASTIC_API_KEY, DEFAULT_ELASTIC_PASSWORD, DEFAULT_ELASTIC_USER, ElasticConfig, EsFlavour};
pub use faults::{
    Decision, Endpoint, FaultParseError, Faults, Log, LogSet, ServerErrors, Targets, Trigger, TruncateMode,
    documented_lag_ms, parse_duration, parse_prob,
};
pub use kibana::{DEFAULT_KIBANA_API_KEY, KibanaRequest, KibanaState};
pub use limits::{Limit, RateLimits};
pub use moto::moto_available;

use server::{AppState, St, json_value, query_pairs};

/// The Entra app registration the token endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraApp {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
}

pub const DEFAULT_OKTA_TOKEN: &str = "emulator-okta-token";
pub const DEFAULT_ENTRA_TENANT: &str = "00000000-0000-0000-0000-0000000e1a00";
pub const DEFAULT_ENTRA_CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const DEFAULT_ENTRA_CLIENT_SECRET: &str = "emulator-entra-secret";
/// Re-exported scopes the token endpoints demand.
pub const GRAPH_SCOPE: &str = entra::GRAPH_DEFAULT_SCOPE;
pub const GOOGLE_REPORTS_SCOPE: &str = google::REPORTS_SCOPE;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The data directory (layout in the crate docs).
    pub data: PathBuf,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    pub faults: Faults,
    /// Seed of every fault decision and of late-event jitter.
    pub seed: u64,
    /// Accepted as `SSWS <token>` (and as a static `Bearer` token) on `/api/v1/logs`.
    pub okta_token: String,
    /// When set, the `iss`/`sub` of Okta client assertions must equal it.
    pub okta_client_id: Option<String>,
    /// Public key (PEM) that verifies Okta client assertions; unverified when absent.
    pub okta_client_public_key_pem: Option<String>,
    pub entra: EntraApp,
    /// False: Graph answers 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    pub entra_premium: bool,
    /// RS256 public key (PEM) that verifies Google JWT-bearer assertions; unverified when absent.
    pub google_public_key_pem: Option<String>,
    /// When set, the assertion's `iss` must equal it (the service account email).
    pub google_client_email: Option<String>,
    /// When set, the assertion's `sub` (impersonated admin) must equal it. Without `sub` the
    /// token is minted but the Reports API answers 403 (a service account is no admin).
    pub google_admin: Option<String>,
    /// When set, the SigV4 access key id must equal it.
    pub aws_access_key_id: Option<String>,
    /// Enforce the vendors' rate limits (headers are sent either way).
    pub rate_limits: bool,
    pub limits: RateLimits,
    pub clock: ClockMode,
    /// The Elasticsearch / OpenSearch emulation ([`elastic`]).
    pub elastic: ElasticConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            data: PathBuf::from("."),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Faults::default(),
            seed: 0,
            okta_token: DEFAULT_OKTA_TOKEN.into(),
            okta_client_id: None,
            okta_client_public_key_pem: None,
            entra: EntraApp {
                tenant: DEFAULT_ENTRA_TENANT.into(),
                client_id: DEFAULT_ENTRA_CLIENT_ID.into(),
                client_secret: DEFAULT_ENTRA_CLIENT_SECRET.into(),
            },
            entra_premium: true,
            google_public_key_pem: None,
            google_client_email: None,
            google_admin: None,
            aws_access_key_id: None,
            rate_limits: false,
            limits: RateLimits::default(),
            clock: ClockMode::Wall,
            elastic: ElasticConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot listen on {addr}: {err}")]
    Bind { addr: SocketAddr, err: std::io::Error },
    #[error("loading the data directory failed: {0}")]
    Join(String),
    #[error("moto: {0}")]
    Moto(String),
}

/// Request counters and what was loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EmulatorStats {
    pub requests: std::collections::BTreeMap<&'static str, u64>,
    pub loaded: LoadStats,
    pub now_ms: i64,
}

/// A running emulator; dropping it stops the server.
pub struct RunningEmulator {
    addr: SocketAddr,
    state: St,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    pub fn requests(&self, ep: Endpoint) -> u64 {
        self.state.requests(ep)
    }

    pub fn stats(&self) -> EmulatorStats {
        stats_of(&self.state)
    }

    /// The Elasticsearch emulation's data streams and their loaded documents (builds them).
    pub fn elastic_streams(&self) -> std::collections::BTreeMap<String, usize> {
        elastic::stream_counts(&self.state)
    }

    /// The emulated Kibana's alerts, cases, keys and request log ([`kibana`]).
    pub fn kibana(&self) -> &KibanaState {
        &self.state.kibana
    }

    /// Stops accepting, lets in-flight requests finish (at most 2 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Runs until the server stops (for the CLI: race it with ctrl-c, then [`Self::shutdown`]).
    pub async fn wait(&mut self) {
        if let Some(task) = self.task.as_mut() {
            let _ = task.await;
            self.task = None;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn stats_of(st: &AppState) -> EmulatorStats {
    EmulatorStats {
        requests: Endpoint::ALL.iter().map(|e| (e.name(), st.requests(*e))).collect(),
        loaded: st.data.stats.clone(),
        now_ms: st.clock.now_ms(),
    }
}

/// Loads the data directory, binds `cfg.listen` and serves in the background.
pub async fn serve(cfg: EmulatorConfig) -> Result<RunningEmulator, EmulateError> {
    let (dir, faults, seed) = (cfg.data.clone(), cfg.faults.clone(), cfg.seed);
    let data = tokio::task::spawn_blocking(move || data::load(&dir, &faults, seed))
        .await
        .map_err(|e| EmulateError::Join(e.to_string()))??;
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.map_err(|err| EmulateError::Bind { addr: cfg.listen, err })?;
    let addr = listener.local_addr().map_err(|err| EmulateError::Bind { addr: cfg.listen, err })?;
    let mut cfg = cfg;
    cfg.listen = addr;
    let clock = Arc::new(Clock::new(cfg.clock));
    tracing::info!(
        %addr,
        okta = data.stats.okta,
        entra = data.stats.entra,
        google = data.stats.google,
        cloudtrail = data.stats.cloudtrail,
        skipped = data.stats.skipped,
        "emulator listening"
    );
    let state: St = Arc::new(AppState::new(cfg, data, clock));
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<net::Conn>();
        let result = axum::serve(net::KillableListener(listener), service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!("emulator stopped: {e}");
        }
    });
    Ok(RunningEmulator { addr, state, shutdown: Some(tx), task: Some(task) })
}

fn router(state: St) -> Router {
    Router::new()
        .route("/api/v1/logs", get(okta::logs))
        .route("/oauth2/v1/token", post(okta::token))
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/beta/auditLogs/signIns", get(entra::beta))
        .route("/v1.0/auditLogs/signIns", get(entra::v1))
        .route("/token", post(google::token))
        .route("/admin/reports/v1/activity/users/{user_key}/applications/{application}", get(google::activities))
        .route("/", get(elastic::info).post(cloudtrail::dispatch))
        .route("/{index}/_pit", post(elastic::es_open_pit))
        .route("/_pit", delete(elastic::es_close_pit))
        .route("/{index}/_search/point_in_time", post(elastic::os_open_pit))
        .route("/_search/point_in_time", delete(elastic::os_close_pit))
        .route("/_search", post(elastic::search).get(elastic::search))
        .route("/{index}/_search", post(elastic::index_search).get(elastic::index_search))
        .route("/_bulk", post(elastic::bulk))
        .route("/{index}/_bulk", post(elastic::bulk))
        .route("/_emulator/stats", get(admin_stats))
        .route("/_emulator/clock", get(admin_clock))
        .route("/_emulator/clock/advance", post(admin_advance))
        .route("/_emulator/clock/set", post(admin_set))
        .merge(kibana::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    json_value(StatusCode::NOT_FOUND, &json!({"error": format!("no emulated endpoint for {method} {}", uri.path())}))
}

async fn admin_stats(State(st): State<St>) -> Response {
    match serde_json::to_value(stats_of(&st)) {
        Ok(v) => json_value(StatusCode::OK, &v),
        Err(e) => json_value(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": e.to_string()})),
    }
}

fn clock_json(st: &AppState) -> Response {
    let now = st.clock.now_ms();
    json_value(StatusCode::OK, &json!({"now_ms": now, "now": trailproof_model::time::format_ms(now)}))
}

async fn admin_clock(State(st): State<St>) -> Response {
    clock_json(&st)
}

async fn admin_advance(State(st): State<St>, uri: Uri) -> Response {
    let q = query_pairs(uri.query());
    match server::get(&q, "by").map(parse_duration) {
        Some(Ok(d)) => {
            st.clock.advance(d);
            clock_json(&st)
        }
        Some(Err(e)) => json_value(StatusCode::BAD_REQUEST, &json!({"error": e})),
        None => json_value(StatusCode::BAD_REQUEST, &json!({"error": "missing ?by=DURATION (e.g. 5m)"})),
    }
}

async fn admin_set(State(st): State<St>, uri: Uri) -> Response {
    let q = query_pairs(uri.query());
    match server::get(&q, "to").map(trailproof_model::time::parse_time) {
        Some(Ok(t)) => {
            st.clock.set_ms(t);
            clock_json(&st)
        }
        Some(Err(e)) => json_value(StatusCode::BAD_REQUEST, &json!({"error": e})),
        None => json_value(StatusCode::BAD_REQUEST, &json!({"error": "missing ?to=RFC3339"})),
    }
}
