//! `[[collect.elasticsearch]]`: the four sources read from the data streams the Elastic
//! integrations write (`logs-aws.cloudtrail-*`, `logs-okta.system-*`, `logs-azure.signinlogs-*`,
//! `logs-google_workspace.{login,saml}-*`), through `trailproof-elastic`.
//!
//! One stream per source, concurrently with the other collectors. Each run:
//!
//! - reads documents whose `event.ingested` lies in `[from, now)`, `from` being where the last
//!   run stopped less `overlap_minutes` (records arrive late in Elastic: CloudTrail and the IdPs
//!   lag, and the integrations poll; the Elastic rule itself times on `event.ingested`); a
//!   backfill (`--since`/`--until`) reads `@timestamp` in that range instead;
//! - pushes the filters down (`bool.filter`: the data stream, the `event.action` / provider values
//!   the parsers keep, the time range) and asks only for the fields the parsers read
//!   (`_source.includes`), paging with a point in time and `search_after` (never `scroll`);
//! - hands each page to the same ingest path as every collector (`ingest_page`: the envelope
//!   layer opens `_source` and prefers `event.original`, else the source parser reads the ECS
//!   fields), one transaction per page with the checkpoint (the PIT cursor), so a kill resumes;
//! - claims coverage from the span queried and settled, never from the records' own span:
//!   `[start, now − settling)` per scope the records have named (kept in the checkpoint), once
//!   the whole span is read; the settling time is each source's (`SOURCE_LAGS`, or the
//!   `*_settling_minutes` of the entry). A record with `@timestamp` before `now − settling` was
//!   ingested before `now` (its lag is within the settling time), so it was read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_elastic::{Client, ConnectConfig, Credentials, Cursor, Flavour, Scan};
use trailproof_http::{Note, Observer, RetryPolicy};
use trailproof_ingest::ImportOptions;
use trailproof_model::config::{CollectConfig, ElasticSource};
use trailproof_model::time::format_ms;
use trailproof_model::{Millis, Source};

use crate::engine::{Ctx, NoteTx, note_text, stored_state};
use crate::state::{BACKFILL, INCREMENTAL, State};
use crate::writer::{self, Claim, Job};
use crate::{CoverageClaim, SourceReport};

pub const DEFAULT_CLOUDTRAIL_INDEX: &str = "logs-aws.cloudtrail-*";
pub const DEFAULT_OKTA_INDEX: &str = "logs-okta.system-*";
pub const DEFAULT_ENTRA_INDEX: &str = "logs-azure.signinlogs-*";
pub const DEFAULT_GOOGLE_INDEX: &str = "logs-google_workspace.login-*,logs-google_workspace.saml-*";
const DEFAULT_OVERLAP_MIN: u32 = 5;
const DEFAULT_PAGE: u32 = 1000;

/// Where one stream is (in the checkpoint's [`State::elastic`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ElasticState {
    /// The query in progress: `event.ingested` (or `@timestamp` for a backfill) in `[from, to)`.
    pub from: Millis,
    pub to: Millis,
    #[serde(default)]
    pub cursor: Cursor,
    /// Where the next run's query starts (`to − overlap` of the last completed query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from: Option<Millis>,
    /// Coverage scopes the records have named so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub active: bool,
}

/// One source of one cluster entry.
#[derive(Debug, Clone)]
pub struct Stream {
    pub entry: ElasticSource,
    pub source: Source,
}

fn or_default<'a>(s: &'a str, d: &'a str) -> &'a str {
    if s.trim().is_empty() { d } else { s.trim() }
}

impl Stream {
    pub fn label(&self) -> String {
        let name =
            if self.entry.name.trim().is_empty() { host(&self.entry.url) } else { self.entry.name.trim().to_string() };
        format!("elasticsearch:{name}/{}", self.source)
    }

    pub fn index(&self) -> String {
        let e = &self.entry;
        match self.source {
            Source::Cloudtrail => or_default(&e.cloudtrail_index, DEFAULT_CLOUDTRAIL_INDEX),
            Source::Okta => or_default(&e.okta_index, DEFAULT_OKTA_INDEX),
            Source::Entra => or_default(&e.entra_index, DEFAULT_ENTRA_INDEX),
            _ => or_default(&e.google_index, DEFAULT_GOOGLE_INDEX),
        }
        .to_string()
    }

    /// The checkpoint scope: the cluster and the index pattern.
    pub fn checkpoint_scope(&self) -> String {
        format!("es:{}/{}", host(&self.entry.url).to_ascii_lowercase(), self.index())
    }

    pub fn settling_ms(&self, cfg: &CollectConfig) -> Millis {
        let e = &self.entry;
        let configured = match self.source {
            Source::Cloudtrail => e.cloudtrail_settling_minutes,
            Source::Okta => e.okta_settling_minutes,
            Source::Entra => e.entra_settling_minutes,
            _ => e.google_settling_minutes,
        };
        Millis::from(cfg.settling_minutes(self.source, configured)) * 60_000
    }

    pub fn overlap_ms(&self) -> Millis {
        Millis::from(self.entry.overlap_minutes.unwrap_or(DEFAULT_OVERLAP_MIN)) * 60_000
    }

    /// The pushed-down filters besides the time range.
    pub fn filters(&self) -> Vec<Value> {
        match self.source {
            // The CloudTrail parser keeps sign-in and Identity Center events and the STS calls
            // that start federated sessions (its prefilter's list).
            Source::Cloudtrail => vec![
                json!({"term": {"data_stream.dataset": "aws.cloudtrail"}}),
                json!({"bool": {"should": [
                    {"terms": {"event.provider": ["signin.amazonaws.com", "sso.amazonaws.com"]}},
                    {"terms": {"event.action": ["GetFederationToken", "AssumeRoleWithSAML"]}}],
                    "minimum_should_match": 1}}),
            ],
            Source::Okta => vec![
                json!({"term": {"data_stream.dataset": "okta.system"}}),
                json!({"terms": {"event.action": trailproof_source_okta::KEPT_EVENT_TYPES}}),
            ],
            Source::Entra => vec![json!({"term": {"data_stream.dataset": "azure.signinlogs"}})],
            _ => vec![json!({"terms": {"data_stream.dataset": ["google_workspace.login", "google_workspace.saml"]}})],
        }
    }

    /// The fields the parsers read (`_source.includes`).
    pub fn includes(&self) -> Vec<String> {
        let mut v: Vec<&str> = vec!["@timestamp", "event", "data_stream.dataset", "tags"];
        v.extend(match self.source {
            Source::Cloudtrail => {
                &["aws.cloudtrail", "cloud", "source", "user_agent.original", "user.id", "user.name"][..]
            }
            Source::Okta => &["okta", "client", "user_agent.original", "source.ip"][..],
            Source::Entra => &["azure", "source.ip", "user_agent.original", "geo.country_iso_code"][..],
            _ => &["google_workspace", "source", "user", "organization.id"][..],
        });
        v.into_iter().map(str::to_string).collect()
    }
}

fn host(url: &str) -> String {
    url::Url::parse(url.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.trim().to_string())
}

/// Every configured stream (or only `only`'s source).
pub fn streams(cfg: &CollectConfig, only: Option<Source>) -> Vec<Stream> {
    let mut out = Vec::new();
    for e in &cfg.elasticsearch {
        let wanted: Vec<Source> = if e.sources.is_empty() {
            vec![Source::Cloudtrail, Source::Okta, Source::Entra, Source::Google]
        } else {
            e.sources.iter().filter_map(|s| Source::parse(s.trim())).collect()
        };
        for s in wanted {
            if only.is_none_or(|o| o == s) {
                out.push(Stream { entry: e.clone(), source: s });
            }
        }
    }
    out
}

/// Connects to the entry's cluster (secrets from env/file, never printed).
pub fn connect(e: &ElasticSource, cfg: &CollectConfig, observer: Option<Observer>) -> Result<Client, String> {
    use trailproof_http::secret::load;
    let credentials = if !e.api_key_env.trim().is_empty() || !e.api_key_file.trim().is_empty() {
        Credentials::ApiKey(
            load("Elasticsearch API key", "api_key_env", &e.api_key_env, "api_key_file", &e.api_key_file)
                .map_err(|x| x.to_string())?,
        )
    } else if !e.user.trim().is_empty() {
        let password =
            load("Elasticsearch password", "password_env", &e.password_env, "password_file", &e.password_file)
                .map_err(|x| x.to_string())?;
        Credentials::Basic { user: e.user.trim().to_string(), password }
    } else {
        return Err("set api_key_env or api_key_file (or user with password_env / password_file)".into());
    };
    let ca_pem = match e.ca_file.trim() {
        "" => None,
        f => Some(std::fs::read(f).map_err(|x| format!("cannot read ca_file {f}: {}", x.kind()))?),
    };
    let flavour = match e.flavour.trim().to_ascii_lowercase().as_str() {
        "" => None,
        "elasticsearch" => Some(Flavour::Elasticsearch { version: "configured".into() }),
        "opensearch" => Some(Flavour::OpenSearch { version: "configured".into() }),
        other => return Err(format!("flavour {other:?}: expected elasticsearch or opensearch")),
    };
    Client::connect(&ConnectConfig {
        url: e.url.clone(),
        credentials,
        ca_pem,
        timeout: Duration::from_secs(u64::from(cfg.request_timeout_seconds.max(1))),
        policy: RetryPolicy::from_config(cfg),
        observer,
        requests_per_second: e.requests_per_second.unwrap_or(0),
        flavour,
    })
    .map_err(|x| x.to_string())
}

/// Pacing and settling, in words (for `check`).
pub fn pacing(s: &Stream, cfg: &CollectConfig) -> String {
    let pace = match s.entry.requests_per_second.unwrap_or(0) {
        0 => "not paced (requests_per_second unset); 429 and Retry-After are honoured".to_string(),
        n => format!("{n} requests/second"),
    };
    format!(
        "{pace}; reads event.ingested from the last run less {} min; coverage up to now - {} min (settling)",
        s.overlap_ms() / 60_000,
        s.settling_ms(cfg) / 60_000
    )
}

/// Reads one stream. Never panics; failures end up in the report.
pub(crate) async fn run(s: &Stream, ctx: &Ctx<'_>, notes: NoteTx) -> SourceReport {
    let started = Instant::now();
    let backfill = ctx.opts.since.is_some();
    let mut rep = SourceReport::new(s.label(), s.source, if backfill { "backfill" } else { "incremental" });
    let observer: Observer = {
        let label = rep.label.clone();
        Arc::new(move |n: &Note| {
            let _ = notes.send((label.clone(), note_text(n)));
        })
    };
    let client = match connect(&s.entry, ctx.cfg, Some(observer)) {
        Ok(c) => c,
        Err(e) => {
            rep.error = Some(format!("{}: {e}; nothing was collected", rep.label));
            rep.fix = Some("see [[collect.elasticsearch]] in config/trailproof.example.toml".into());
            ctx.reporter.finished(&rep);
            return rep;
        }
    };
    let result = drive(s, &client, ctx, &mut rep, started).await;
    rep.http = client.stats();
    rep.elapsed = started.elapsed();
    if let Err(e) = result {
        rep.error = Some(format!(
            "{}: {}. Kept {} pages ({} new records); the next run resumes from the checkpoint",
            rep.label,
            e.trim_end_matches('.'),
            rep.pages,
            rep.counts.stored
        ));
    }
    let origin = format!(
        "collect {} ({}): {} read from event.original, {} from ECS fields",
        rep.label, rep.mode, rep.elastic_read.0, rep.elastic_read.1
    );
    ctx.writer.log(rep.source, origin, ctx.opts.now, rep.counts).await;
    ctx.reporter.finished(&rep);
    rep
}

async fn drive(
    s: &Stream,
    client: &Client,
    ctx: &Ctx<'_>,
    rep: &mut SourceReport,
    started: Instant,
) -> Result<(), String> {
    let opts = ctx.opts;
    let stream = if opts.since.is_some() { BACKFILL } else { INCREMENTAL };
    let ckpt_scope = s.checkpoint_scope();
    let stored = ctx.writer.checkpoint(s.source, &ckpt_scope, stream).await?;
    let mut st = stored_state(ctx, rep, stored.as_deref());
    let now = opts.now;
    let lag_end = now - s.settling_ms(ctx.cfg);
    let backfill = opts.since;
    if let Some(since) = backfill
        && (st.since != Some(since) || st.until != opts.until)
    {
        st = State { since: Some(since), until: opts.until, ..State::default() };
    }
    let mut es = st.elastic.clone().unwrap_or_default();
    if !es.active {
        // A new query: incremental from where the last one stopped (less the overlap), or the
        // backfill's range of @timestamp.
        let (from, to) = match backfill {
            Some(since) => (since, opts.until.map_or(now, |u| u.min(now))),
            None => {
                let first = now - i64::from(ctx.cfg.initial_lookback_hours) * 3_600_000;
                (es.next_from.unwrap_or(first), now)
            }
        };
        if st.done_until.is_none() {
            st.done_until = Some(from);
        }
        es = ElasticState {
            from,
            to,
            cursor: Cursor::default(),
            next_from: es.next_from,
            scopes: es.scopes,
            active: true,
        };
    }
    rep.range = Some((es.from, es.to));
    ctx.reporter.started(&rep.label, rep.mode, rep.range);
    let time_field = if backfill.is_some() { "@timestamp" } else { "event.ingested" };
    let mut filter = s.filters();
    filter.push(json!({"range": {time_field: {"gte": es.from, "lt": es.to, "format": "epoch_millis"}}}));
    let scan = Scan {
        index: s.index(),
        filter,
        sort_field: "event.ingested".into(),
        includes: s.includes(),
        size: s.entry.page_size.unwrap_or(DEFAULT_PAGE).clamp(1, 10_000),
        keep_alive: or_default(&s.entry.keep_alive, "5m").to_string(),
    };
    let opts_import = Arc::new(ImportOptions::new(s.source));
    let mut inflight: Option<writer::Pending> = None;
    let mut cursor = es.cursor.clone();
    loop {
        let page = client.scan_page(&scan, &mut cursor).await;
        if let Some(p) = inflight.take() {
            absorb(rep, &mut st, &mut es, writer::settle(p).await?, started, ctx);
        }
        let page = page.map_err(|e| e.to_string())?;
        if page.reopened {
            ctx.reporter.note(&rep.label, "the point in time expired; reopened and resumed after the last sort values");
        }
        let n = page.page.hits.len();
        let from_original = page.page.hits.iter().filter(|h| h.has_original).count() as u64;
        rep.elastic_read.0 += from_original;
        rep.elastic_read.1 += n as u64 - from_original;
        rep.pages += 1;
        rep.records += n as u64;
        let mut next = st.clone();
        let mut e2 = es.clone();
        e2.cursor = cursor.clone();
        next.elastic = Some(e2);
        let body = if n == 0 { b"[]".to_vec() } else { page.page.body };
        let job = Job {
            source: s.source,
            opts: opts_import.clone(),
            origin: format!("{} {}", rep.label, scan.index),
            body,
            ckpt_scope: ckpt_scope.clone(),
            stream,
            state: next,
            finishes: false,
            claim: None,
        };
        inflight = Some(ctx.writer.send(job).await?);
        if page.done {
            break;
        }
    }
    if let Some(p) = inflight.take() {
        absorb(rep, &mut st, &mut es, writer::settle(p).await?, started, ctx);
    }
    // The whole span is read: claim [done_until, min(to, now − settling)) for every scope the
    // records have named, then move the checkpoint past the query.
    let claim_from = st.done_until.unwrap_or(es.from);
    let claim_to = es.to.min(lag_end);
    let tainted = st.tainted;
    let mut scopes = es.scopes.clone();
    if s.source == Source::Okta && !scopes.iter().any(|x| x == "*") {
        scopes.push("*".into());
    }
    let mut done = st.clone();
    done.tainted = false;
    done.done_until = Some(claim_from.max(claim_to));
    let mut finished = es.clone();
    finished.active = false;
    finished.cursor = Cursor::default();
    finished.next_from =
        Some(if backfill.is_some() { es.next_from.unwrap_or(es.from) } else { es.to - s.overlap_ms() });
    done.elastic = Some(finished);
    if claim_to > claim_from && scopes.is_empty() {
        let w = format!(
            "coverage {}..{} not recorded: no record has named its account / tenant / customer yet",
            format_ms(claim_from),
            format_ms(claim_to)
        );
        ctx.reporter.note(&rep.label, &w);
        rep.withheld.push(w);
    }
    let claims: Vec<Option<String>> = if claim_to > claim_from && !tainted && !scopes.is_empty() {
        scopes.iter().cloned().map(Some).collect()
    } else {
        if tainted && claim_to > claim_from {
            let w = format!(
                "coverage {}..{} not recorded: records of that span were quarantined (see `trailproof status`)",
                format_ms(claim_from),
                format_ms(claim_to)
            );
            ctx.reporter.note(&rep.label, &w);
            rep.withheld.push(w);
        }
        vec![None]
    };
    let last = claims.len() - 1;
    for (i, scope) in claims.into_iter().enumerate() {
        // Every claim but the last keeps the checkpoint where it is: a kill between them only
        // makes the next run read the span again and claim it again.
        let state = if i == last { done.clone() } else { st.clone() };
        let claim = scope.map(|sc| Claim { scope: Some(sc), from: claim_from, to: claim_to - 1 });
        let job = Job {
            source: s.source,
            opts: opts_import.clone(),
            origin: format!("{} {}", rep.label, scan.index),
            body: b"[]".to_vec(),
            ckpt_scope: ckpt_scope.clone(),
            stream,
            state,
            finishes: claim.is_some(),
            claim,
        };
        let d = writer::settle(ctx.writer.send(job).await?).await?;
        if let Some((scope, a, b)) = d.claimed {
            rep.coverage.push(CoverageClaim { scope, start_ms: a, end_ms: b });
        }
    }
    rep.done_until = done.done_until;
    Ok(())
}

fn absorb(
    rep: &mut SourceReport,
    st: &mut State,
    es: &mut ElasticState,
    d: writer::Done,
    started: Instant,
    ctx: &Ctx<'_>,
) {
    rep.counts.add(&d.report.counts);
    for (location, reason) in &d.report.quarantine_examples {
        if rep.quarantine_examples.len() < 5 {
            rep.quarantine_examples.push(format!("{location}: {reason}"));
        }
    }
    for scope in d.report.span.keys() {
        if scope != "*" && !es.scopes.contains(scope) {
            es.scopes.push(scope.clone());
        }
    }
    rep.ingest_time += d.ingest;
    rep.commit_time += d.commit;
    *st = d.state;
    if let Some(e) = st.elastic.as_mut() {
        e.scopes = es.scopes.clone();
    }
    let elapsed = started.elapsed();
    ctx.reporter.progress(&crate::Progress {
        source: rep.label.clone(),
        mode: rep.mode,
        pages: rep.pages,
        records: rep.records,
        stored: rep.counts.stored,
        range: rep.range,
        done_until: st.done_until,
        window: rep.range,
        latest: None,
        elapsed,
        rate: rep.records as f64 / elapsed.as_secs_f64().max(1e-3),
    });
}

/// `check` for one stream: configuration and secrets, pacing and settling, the cluster's answer
/// to `GET /` (credentials), and a point in time opened and closed on the index (permission).
pub async fn check_stream(s: &Stream, cfg: &CollectConfig) -> Vec<crate::CheckResult> {
    use crate::{CheckKind, CheckResult};
    let line = |kind, ok, detail: String, fix: Option<&str>| CheckResult {
        source: s.label(),
        kind,
        ok,
        detail,
        fix: fix.map(str::to_string),
    };
    let mut out = Vec::new();
    let client = match connect(&s.entry, cfg, None) {
        Ok(c) => c,
        Err(e) => {
            out.push(line(
                CheckKind::Config,
                false,
                e,
                Some("see [[collect.elasticsearch]] in config/trailproof.example.toml"),
            ));
            return out;
        }
    };
    out.push(line(CheckKind::Config, true, format!("{} index {}", client.base(), s.index()), None));
    out.push(line(CheckKind::Pacing, true, pacing(s, cfg), None));
    match client.info().await {
        Ok(i) => out.push(line(CheckKind::Credentials, true, format!("{} answers", i.flavour), None)),
        Err(e) => {
            out.push(line(
                CheckKind::Credentials,
                false,
                e.to_string(),
                Some("check the API key (or user and password) and the url"),
            ));
            return out;
        }
    }
    let keep = or_default(&s.entry.keep_alive, "5m").to_string();
    match client.open_pit(&s.index(), &keep).await {
        Ok(id) => {
            let _ = client.close_pit(&id).await;
            out.push(line(CheckKind::Permission, true, format!("a point in time opens on {}", s.index()), None));
        }
        Err(e) => out.push(line(
            CheckKind::Permission,
            false,
            e.to_string(),
            Some("the key needs the read and view_index_metadata privileges on the data streams"),
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_labels() {
        let e = ElasticSource { name: "prod".into(), url: "https://es.example:9200".into(), ..Default::default() };
        let cfg = CollectConfig { elasticsearch: vec![e], ..CollectConfig::default() };
        let s = streams(&cfg, None);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].label(), "elasticsearch:prod/cloudtrail");
        assert_eq!(s[1].index(), "logs-okta.system-*");
        assert_eq!(s[3].index(), DEFAULT_GOOGLE_INDEX);
        assert_eq!(s[2].checkpoint_scope(), "es:es.example/logs-azure.signinlogs-*");
        assert_eq!(s[2].settling_ms(&cfg), 120 * 60_000);
        assert_eq!(streams(&cfg, Some(Source::Okta)).len(), 1);
        assert!(s[1].filters()[1]["terms"]["event.action"].as_array().is_some_and(|a| !a.is_empty()));
    }
}
