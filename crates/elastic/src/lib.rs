//! The one Elasticsearch / OpenSearch client of trailproof, on the shared HTTP plumbing
//! (`trailproof-http`: rustls, its retry policy with `Retry-After`, pacing, secret redaction).
//! A thin raw-JSON client: the few APIs trailproof needs, no generated bindings.
//!
//! | what | Elasticsearch 8 / 9 | OpenSearch 2.x |
//! |---|---|---|
//! | flavour | `GET /` → `version.number` ([`Client::info`]) | `GET /` → `version.distribution: "opensearch"` |
//! | open a point in time | `POST /<index>/_pit?keep_alive=1m` → `{"id"}` | `POST /<index>/_search/point_in_time?keep_alive=1m` → `{"pit_id"}` |
//! | close it | `DELETE /_pit {"id"}` | `DELETE /_search/point_in_time {"pit_id":[…]}` |
//! | page | `POST /_search {pit, sort, search_after}`, the `_shard_doc` tiebreaker | the same body; `_id` as the tiebreaker |
//! | write | `POST /_bulk` (NDJSON), per-item results ([`Client::bulk`]) | the same |
//!
//! Pages: the Elastic pages, elastic.co/docs/api/doc/elasticsearch/operation/operation-open-point-in-time
//! ("The open point in time request and each subsequent search request can return different
//! identifiers; always use the most recently received ID for the next search request"),
//! …/operation-close-point-in-time, elastic.co/guide/en/elasticsearch/reference/8.17/paginate-search-results.html
//! (`search_after` with a PIT; "we no longer recommend using the scroll API for deep
//! pagination"; a PIT search gets the `_shard_doc` tiebreaker, elastic/elasticsearch#68833), and
//! …/operation-bulk (NDJSON, `Content-Type: application/x-ndjson`, a final newline; "the response
//! … errors … items" per action). OpenSearch: opensearch-project/documentation-website
//! `_api-reference/search-apis/point-in-time-api.md` and docs.aws.amazon.com/opensearch-service/latest/developerguide/pit.html
//! (2.4+, Amazon OpenSearch Service 2.5+). OpenSearch adding a tiebreaker by itself is
//! UNCONFIRMED, so its sort names `_id` (a PIT-independent key: a reopened PIT resumes exactly).
//!
//! # Expired points in time
//!
//! A PIT lives `keep_alive` after its last use; a search on one that is gone answers 404 with a
//! `search_context_missing_exception` root cause (the error body's exact shape is UNCONFIRMED;
//! the type is Elasticsearch's `SearchContextMissingException`). [`Client::scan_page`] then opens
//! a new PIT and resumes after the last sort values read: on OpenSearch exactly (the `_id`
//! tiebreaker means the same in every PIT); on Elasticsearch, `_shard_doc` values belong to
//! their PIT, so it resumes from the last primary sort value itself (`[v − 1, i64::MAX]`), which
//! reads the documents sharing that value again (the store deduplicates them) and loses none.
//!
//! # Secrets
//!
//! An API key (`Authorization: ApiKey <base64(id:key)>`, elastic.co/docs/api/doc/elasticsearch/authentication)
//! or a user and password (Basic) come from an environment variable or a file and are
//! registered with [`trailproof_http::redact`] in every form they travel in (the key, its
//! base64, the header, Basic's base64 of `user:password`), so no error, log line or report shows
//! them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_http::{Api, ApiStats, Auth, HttpError, Observer, Pacer, RetryPolicy, Secret};
use url::Url;

mod bulk;
pub use bulk::{BulkAction, BulkItem, BulkOp, BulkOutcome, BulkResult};

/// What went wrong talking to the cluster. Texts name the method and URL path, never a
/// credential (they pass through [`trailproof_http::redact`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ElasticError {
    #[error("{0}")]
    Config(String),
    /// Retries used up, a server wait too long, a transport failure (from `trailproof-http`).
    #[error(transparent)]
    Http(HttpError),
    #[error("{method} {path} was not authorized (HTTP 401): {message}")]
    Unauthorized { method: &'static str, path: String, message: String },
    /// The cluster refused the request (a 4xx other than 401, 408 and 429).
    #[error("{method} {path} was refused (HTTP {status}): {message}")]
    Refused { method: &'static str, path: String, status: u16, error_type: Option<String>, message: String },
    /// The point in time is gone (expired or closed); [`Client::scan_page`] reopens it.
    #[error("{path}: the point in time expired or was closed ({message})")]
    PitExpired { path: String, message: String },
    /// A response that is not what the API documents.
    #[error("{path}: {why}")]
    Protocol { path: String, why: String },
}

impl ElasticError {
    /// True when a later attempt may succeed without a change of configuration.
    pub fn is_transient(&self) -> bool {
        match self {
            ElasticError::Http(h) => h.is_transient(),
            ElasticError::PitExpired { .. } => true,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ElasticError::Unauthorized { .. } => Some(401),
            ElasticError::Refused { status, .. } => Some(*status),
            ElasticError::Http(h) => h.status(),
            _ => None,
        }
    }
}

fn map_err(method: &'static str, e: HttpError) -> ElasticError {
    match e {
        HttpError::Unauthorized { path, error } => ElasticError::Unauthorized { method, path, message: error.message },
        HttpError::Refused { path, status, error } => {
            ElasticError::Refused { method, path, status, error_type: error.code, message: error.message }
        }
        other => ElasticError::Http(other),
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Credentials {
    None,
    /// An API key: the `encoded` value Elasticsearch returns (base64 of `id:api_key`), or
    /// `id:api_key` itself (encoded here).
    ApiKey(Secret),
    /// HTTP Basic.
    Basic {
        user: String,
        password: Secret,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::ApiKey(_) => f.write_str("ApiKey(***)"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}:***)"),
        }
    }
}

impl Credentials {
    /// The `Authorization` header value, registered for redaction in every form.
    fn header(&self) -> Option<Secret> {
        match self {
            Credentials::None => None,
            Credentials::ApiKey(k) => {
                let key = k.expose().trim();
                let encoded = if key.contains(':') {
                    use base64::Engine;
                    // `id:api_key` as printed by some tools: the header carries its base64,
                    // which contains neither part as text, so it is registered on its own.
                    Secret::new(base64::engine::general_purpose::STANDARD.encode(key)).expose().to_string()
                } else {
                    key.to_string()
                };
                Some(Secret::new(format!("ApiKey {encoded}")))
            }
            Credentials::Basic { user, password } => Some(trailproof_http::basic_auth(user, password)),
        }
    }
}

/// Which server answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Flavour {
    Elasticsearch { version: String },
    OpenSearch { version: String },
}

impl Flavour {
    pub fn is_opensearch(&self) -> bool {
        matches!(self, Flavour::OpenSearch { .. })
    }

    pub fn version(&self) -> &str {
        match self {
            Flavour::Elasticsearch { version } | Flavour::OpenSearch { version } => version,
        }
    }

    /// The sort key that makes the order total: `_shard_doc` (Elasticsearch adds it to a PIT
    /// search anyway, elastic/elasticsearch#68833), `_id` on OpenSearch.
    pub fn tiebreaker(&self) -> Value {
        match self {
            Flavour::Elasticsearch { .. } => json!({"_shard_doc": "asc"}),
            Flavour::OpenSearch { .. } => json!({"_id": "asc"}),
        }
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flavour::Elasticsearch { version } => write!(f, "Elasticsearch {version}"),
            Flavour::OpenSearch { version } => write!(f, "OpenSearch {version}"),
        }
    }
}

/// What `GET /` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster_name: Option<String>,
    pub flavour: Flavour,
}

/// How to reach a cluster.
#[derive(Clone)]
pub struct ConnectConfig {
    /// `https://host:9200` (a path prefix of a proxy is kept).
    pub url: String,
    pub credentials: Credentials,
    /// PEM bundle of the CA(s) to trust instead of the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    pub policy: RetryPolicy,
    pub observer: Option<Observer>,
    /// Requests per second; 0 = not paced.
    pub requests_per_second: u32,
    /// Skip `GET /` and take this flavour (a proxy that hides `/`).
    pub flavour: Option<Flavour>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            url: String::new(),
            credentials: Credentials::None,
            ca_pem: None,
            timeout: Duration::from_secs(60),
            policy: RetryPolicy::default(),
            observer: None,
            requests_per_second: 0,
            flavour: None,
        }
    }
}

/// A connected cluster.
pub struct Client {
    base: Url,
    api: Api,
    flavour: Mutex<Option<Flavour>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).finish()
    }
}

fn json_ok(body: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map(|_| ()).map_err(|e| e.to_string())
}

/// A search page is accepted only when every shard answered: a page with failed shards may
/// lack records, and accepting it would claim coverage for them. Asked again (by the retry
/// rules) until it is whole.
fn whole_search(body: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Shards {
        #[serde(default)]
        failed: u64,
    }
    #[derive(Deserialize)]
    struct Resp {
        #[serde(rename = "_shards")]
        shards: Option<Shards>,
    }
    let r: Resp = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    match r.shards {
        Some(s) if s.failed > 0 => Err(format!("{} shards failed to answer; the page may lack records", s.failed)),
        _ => Ok(()),
    }
}

const JSON: &str = "application/json";

impl Client {
    pub fn connect(cfg: &ConnectConfig) -> Result<Client, ElasticError> {
        let base = trailproof_http::base_url("the Elasticsearch url", &cfg.url)
            .map_err(|e| ElasticError::Config(e.to_string()))?;
        let http = trailproof_http::client_with_ca(cfg.timeout, cfg.ca_pem.as_deref())
            .map_err(|e| ElasticError::Config(e.to_string()))?;
        let pacer = Arc::new(if cfg.requests_per_second == 0 {
            Pacer::unlimited()
        } else {
            Pacer::new(cfg.requests_per_second, Duration::from_secs(1))
        });
        let auth = match cfg.credentials.header() {
            Some(h) => Auth::Header(h),
            None => Auth::None,
        };
        let api = Api::new(http, pacer, cfg.policy, auth).with_observer(cfg.observer.clone());
        Ok(Client { base, api, flavour: Mutex::new(cfg.flavour.clone()) })
    }

    pub fn stats(&self) -> ApiStats {
        self.api.stats()
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `base` + `path` (the base's own path kept as a prefix); `query` pairs appended.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.base.clone();
        let prefix = u.path().trim_end_matches('/').to_string();
        u.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query.iter());
        }
        u
    }

    async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<(&'static str, &[u8])>,
        validate: &(dyn Fn(&[u8]) -> Result<(), String> + Sync),
    ) -> Result<Vec<u8>, ElasticError> {
        let name = match method {
            Method::GET => "GET",
            Method::DELETE => "DELETE",
            Method::PUT => "PUT",
            _ => "POST",
        };
        self.api.send(method, url, body, validate).await.map(|r| r.body).map_err(|e| map_err(name, e))
    }

    /// `GET /`: the cluster's name and flavour (and caches the flavour).
    pub async fn info(&self) -> Result<ClusterInfo, ElasticError> {
        let url = self.url("/", &[]);
        let body = self.call(Method::GET, &url, None, &json_ok).await?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ElasticError::Protocol { path: "/".into(), why: format!("unreadable answer: {e}") })?;
        let version = v.pointer("/version/number").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
            ElasticError::Protocol {
                path: "/".into(),
                why: "the answer has no version.number: not Elasticsearch or OpenSearch".into(),
            }
        })?;
        let flavour = if v.pointer("/version/distribution").and_then(Value::as_str) == Some("opensearch") {
            Flavour::OpenSearch { version }
        } else {
            Flavour::Elasticsearch { version }
        };
        *self.flavour.lock().unwrap_or_else(|p| p.into_inner()) = Some(flavour.clone());
        Ok(ClusterInfo { cluster_name: v.get("cluster_name").and_then(Value::as_str).map(str::to_string), flavour })
    }

    /// The flavour, asking `GET /` once.
    pub async fn flavour(&self) -> Result<Flavour, ElasticError> {
        if let Some(f) = self.flavour.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(f);
        }
        Ok(self.info().await?.flavour)
    }

    /// Opens a point in time on `index` (a pattern or a comma list) for `keep_alive` (`5m`).
    pub async fn open_pit(&self, index: &str, keep_alive: &str) -> Result<String, ElasticError> {
        let fl = self.flavour().await?;
        let index = index.trim();
        if index.is_empty() || index.contains(['/', '?', '#', ' ']) {
            return Err(ElasticError::Config(format!("index pattern {index:?} is not usable in a URL path")));
        }
        let (path, field) = if fl.is_opensearch() {
            (format!("{index}/_search/point_in_time"), "pit_id")
        } else {
            (format!("{index}/_pit"), "id")
        };
        let url = self.url(&path, &[("keep_alive", keep_alive)]);
        let body = self.call(Method::POST, &url, None, &json_ok).await?;
        pit_id_of(&body, field).map_err(|why| ElasticError::Protocol { path: url.path().into(), why })
    }

    /// Closes a point in time. One that is already gone is not an error.
    pub async fn close_pit(&self, id: &str) -> Result<(), ElasticError> {
        let fl = self.flavour().await?;
        let (url, body) = if fl.is_opensearch() {
            (self.url("_search/point_in_time", &[]), json!({"pit_id": [id]}))
        } else {
            (self.url("_pit", &[]), json!({"id": id}))
        };
        let bytes = body.to_string().into_bytes();
        match self.call(Method::DELETE, &url, Some((JSON, &bytes)), &json_ok).await {
            Ok(_) => Ok(()),
            Err(ElasticError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One `POST /_search` with `body` (which names a PIT). A 404 naming a missing search
    /// context is [`ElasticError::PitExpired`].
    pub async fn search(&self, body: &Value) -> Result<SearchPage, ElasticError> {
        let url = self.url("_search", &[]);
        let bytes = body.to_string().into_bytes();
        let raw = match self.call(Method::POST, &url, Some((JSON, &bytes)), &whole_search).await {
            Ok(b) => b,
            Err(ElasticError::Refused { status: 404, path, message, error_type, .. })
                if error_type.as_deref() == Some("search_context_missing_exception")
                    || message.contains("search_context_missing_exception") =>
            {
                return Err(ElasticError::PitExpired { path, message });
            }
            Err(e) => return Err(e),
        };
        SearchPage::parse(raw).map_err(|why| ElasticError::Protocol { path: url.path().into(), why })
    }

    /// One page of a [`Scan`]: opens the PIT if the cursor has none, searches after the cursor,
    /// moves the cursor (the latest PIT id, the last sort values), reopens an expired PIT once
    /// per call. When the page is the last, the PIT is closed and `done` is set.
    pub async fn scan_page(&self, scan: &Scan, cursor: &mut Cursor) -> Result<ScanPage, ElasticError> {
        let fl = self.flavour().await?;
        let mut reopened = false;
        let mut reopens = 0;
        loop {
            let pit = match &cursor.pit_id {
                Some(p) => p.clone(),
                None => {
                    let p = self.open_pit(&scan.index, &scan.keep_alive).await?;
                    cursor.pit_id = Some(p.clone());
                    p
                }
            };
            let body = scan.body(&fl, &pit, cursor.search_after.as_deref());
            match self.search(&body).await {
                Ok(page) => {
                    if let Some(id) = &page.pit_id {
                        cursor.pit_id = Some(id.clone());
                    }
                    if let Some(last) = page.hits.last() {
                        cursor.search_after = Some(last.sort.clone());
                    }
                    let done = page.hits.len() < scan.size as usize;
                    if done
                        && let Some(id) = cursor.pit_id.take()
                        && let Err(e) = self.close_pit(&id).await
                    {
                        tracing::debug!("closing the point in time failed (it expires by itself): {e}");
                    }
                    return Ok(ScanPage { page, done, reopened });
                }
                Err(ElasticError::PitExpired { .. }) if reopens < 5 => {
                    reopens += 1;
                    tracing::info!(index = %scan.index, "the point in time expired; opening a new one and resuming after the last sort values");
                    reopened = true;
                    cursor.pit_id = None;
                    cursor.search_after = cursor.search_after.take().and_then(|sa| resume_after(&fl, sa));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The `search_after` for a new PIT from the last sort values of an old one: unchanged on
/// OpenSearch (`_id` means the same in every PIT); on Elasticsearch the `_shard_doc` value is
/// the old PIT's, so the primary value less one with the largest tiebreaker: every document
/// from that primary value on is read (again).
fn resume_after(fl: &Flavour, sa: Vec<Value>) -> Option<Vec<Value>> {
    if fl.is_opensearch() {
        return Some(sa);
    }
    // With `format: epoch_millis` the sort value comes back as a string.
    let first = sa.first().and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))?;
    Some(vec![json!(first.saturating_sub(1)), json!(i64::MAX)])
}

/// A paged read of one index pattern: a filter, an ascending sort on one field, the fields to
/// return.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub index: String,
    /// `bool.filter` clauses (`term`, `terms`, `range`, `exists`).
    pub filter: Vec<Value>,
    /// The primary sort field, ascending (`event.ingested`).
    pub sort_field: String,
    /// `_source.includes`; empty: the whole document.
    pub includes: Vec<String>,
    pub size: u32,
    pub keep_alive: String,
}

impl Scan {
    /// The `_search` body for one page.
    pub fn body(&self, fl: &Flavour, pit: &str, search_after: Option<&[Value]>) -> Value {
        let mut b = json!({
            "size": self.size,
            "track_total_hits": false,
            "query": {"bool": {"filter": self.filter}},
            "pit": {"id": pit, "keep_alive": self.keep_alive},
            // `format` makes the date sort value epoch milliseconds on both flavours.
            "sort": [{self.sort_field.as_str(): {"order": "asc", "format": "epoch_millis"}}, fl.tiebreaker()],
        });
        if !self.includes.is_empty() {
            b["_source"] = json!({"includes": self.includes});
        }
        if let Some(sa) = search_after {
            b["search_after"] = Value::Array(sa.to_vec());
        }
        b
    }
}

/// Where a [`Scan`] is: kept in a collector's checkpoint with the page it follows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
}

/// One page of a scan.
#[derive(Debug, Clone)]
pub struct ScanPage {
    pub page: SearchPage,
    /// The last page (fewer hits than asked for); the PIT is closed.
    pub done: bool,
    /// An expired PIT was reopened for this page.
    pub reopened: bool,
}

/// What trailproof reads of one hit (the body keeps the whole hit).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub index: String,
    pub id: String,
    pub sort: Vec<Value>,
    /// `_source` carries `event.original` (the raw record the integration kept).
    pub has_original: bool,
    /// `event.ingested`, epoch ms, when the sort gives it.
    pub sort_ms: Option<i64>,
}

/// A `_search` response: the body as received (the ingest path reads the hits from it) and the
/// hits' metadata.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub body: Vec<u8>,
    pub pit_id: Option<String>,
    pub hits: Vec<Hit>,
}

/// The point in time's id in the answer that opened it (`id`; OpenSearch: `pit_id`).
fn pit_id_of(body: &[u8], field: &str) -> Result<String, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("the answer has no {field}"))
}

/// `event.original` in a `_source`, nested or dotted.
fn has_original(source: &Value) -> bool {
    matches!(trailproof_model::ecs::lookup(source, "event.original"), Some(Value::String(s)) if !s.trim().is_empty())
}

impl SearchPage {
    fn parse(body: Vec<u8>) -> Result<SearchPage, String> {
        let v: Value = serde_json::from_slice(&body).map_err(|e| format!("unreadable search answer: {e}"))?;
        let hits = v
            .pointer("/hits/hits")
            .and_then(Value::as_array)
            .ok_or_else(|| "the search answer has no hits.hits".to_string())?;
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let sort = h
                .get("sort")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| "a hit has no sort values".to_string())?;
            out.push(Hit {
                index: h.get("_index").and_then(Value::as_str).unwrap_or("").to_string(),
                id: h.get("_id").and_then(Value::as_str).unwrap_or("").to_string(),
                sort_ms: sort.first().and_then(|s| s.as_i64().or_else(|| s.as_str().and_then(|t| t.parse().ok()))),
                sort,
                has_original: h.get("_source").is_some_and(has_original),
            });
        }
        Ok(SearchPage { pit_id: v.get("pit_id").and_then(Value::as_str).map(str::to_string), hits: out, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_body_has_pit_sort_tiebreaker_and_source_filter() {
        let s = Scan {
            index: "logs-okta.system-*".into(),
            filter: vec![json!({"range": {"event.ingested": {"gte": 1}}})],
            sort_field: "event.ingested".into(),
            includes: vec!["okta".into(), "event.original".into()],
            size: 500,
            keep_alive: "5m".into(),
        };
        let es = Flavour::Elasticsearch { version: "8.17.0".into() };
        let b = s.body(&es, "PIT1", Some(&[json!(5), json!(9)]));
        assert_eq!(b["pit"], json!({"id": "PIT1", "keep_alive": "5m"}));
        assert_eq!(b["sort"][1], json!({"_shard_doc": "asc"}));
        assert_eq!(b["search_after"], json!([5, 9]));
        assert_eq!(b["_source"]["includes"], json!(["okta", "event.original"]));
        assert!(b.get("index").is_none() && b.get("scroll").is_none());
        let os = Flavour::OpenSearch { version: "2.19.0".into() };
        assert_eq!(s.body(&os, "P", None)["sort"][1], json!({"_id": "asc"}));
    }

    #[test]
    fn resuming_in_a_new_pit() {
        let es = Flavour::Elasticsearch { version: "8".into() };
        assert_eq!(resume_after(&es, vec![json!(1000), json!(17)]), Some(vec![json!(999), json!(i64::MAX)]));
        assert_eq!(resume_after(&es, vec![json!("1000"), json!(17)]), Some(vec![json!(999), json!(i64::MAX)]));
        let os = Flavour::OpenSearch { version: "2".into() };
        assert_eq!(resume_after(&os, vec![json!(1000), json!("abc")]), Some(vec![json!(1000), json!("abc")]));
    }

    #[test]
    fn api_key_header_forms_are_redacted() {
        let c = Credentials::ApiKey(Secret::new("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="));
        let h = c.header().unwrap();
        assert_eq!(h.expose(), "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
        assert_eq!(trailproof_http::redact(&format!("echo: {}", h.expose())), "echo: ***");
        let c = Credentials::ApiKey(Secret::new("my-key-id:my-secret-api-key"));
        let h = c.header().unwrap();
        let b64 = h.expose().trim_start_matches("ApiKey ").to_string();
        assert_eq!(trailproof_http::redact(&format!("proxy echo {b64}")), "proxy echo ***");
        assert_eq!(format!("{c:?}"), "ApiKey(***)");
    }

    #[test]
    fn pages_read_sort_values_and_original() {
        let body = br#"{"pit_id":"P2","_shards":{"total":1,"successful":1,"failed":0},"hits":{"hits":[
            {"_index":".ds-logs-okta.system-default-1","_id":"a","_source":{"event":{"original":"{}"}},"sort":[1700000000000,4]},
            {"_index":".ds-logs-okta.system-default-1","_id":"b","_source":{"okta":{}},"sort":[1700000000001,5]}]}}"#;
        let p = SearchPage::parse(body.to_vec()).unwrap();
        assert_eq!(p.pit_id.as_deref(), Some("P2"));
        assert_eq!(p.hits.len(), 2);
        assert!(p.hits[0].has_original && !p.hits[1].has_original);
        assert_eq!(p.hits[1].sort_ms, Some(1_700_000_000_001));
        assert!(whole_search(br#"{"_shards":{"failed":1},"hits":{"hits":[]}}"#).is_err());
    }

    /// The answer Elasticsearch documents for `POST /<index>/_pit` (fixtures/api/elastic).
    #[test]
    fn the_published_open_point_in_time_answer_gives_its_id() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/api/elastic/open-point-in-time-response.json");
        let body = std::fs::read(p).unwrap();
        let id = pit_id_of(&body, "id").unwrap();
        assert!(id.starts_with("46ToAwMDaWR5") && id.ends_with("gAAAAA="), "{id}");
        assert_eq!(pit_id_of(&body, "pit_id").unwrap_err(), "the answer has no pit_id");
        assert!(whole_search(&body).is_ok(), "no shard failed");
    }
}
