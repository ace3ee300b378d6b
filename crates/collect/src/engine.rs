//! Reading one source instance: checkpoints, windows, polling, coverage claims.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use trailproof_http::{ConnectOptions, HttpError, Note, NoteKind, Observer, Page, RetryPolicy};
use trailproof_ingest::ImportOptions;
use trailproof_model::config::CollectConfig;
use trailproof_model::time::format_ms;
use trailproof_model::{Millis, Source};
use trailproof_source_okta::fetch::OktaApi;
use url::Url;

use crate::report::{Progress, Reporter};
use crate::source::{Configured, Conn, ScopeRule, config_hint};
use crate::state::{BACKFILL, INCREMENTAL, Pending, State};
use crate::writer::{self, Claim, Done, Job, Writer};
use crate::{CollectOptions, CoverageClaim, SourceReport};

/// The stream's stored checkpoint (a fresh one when none is stored). An unreadable one starts
/// over and is reported: a note now, a warning in the source's line.
pub(crate) fn stored_state(ctx: &Ctx<'_>, rep: &mut SourceReport, stored: Option<&str>) -> State {
    let (st, unreadable) = State::read(stored);
    if let Some(w) = unreadable {
        ctx.reporter.note(&rep.label, &w);
        rep.warnings.push(w);
    }
    st
}

/// Notes from the HTTP layer, forwarded to the reporter by the collect loop.
pub(crate) type NoteTx = UnboundedSender<(String, String)>;

pub(crate) struct Ctx<'a> {
    pub cfg: &'a CollectConfig,
    pub opts: &'a CollectOptions,
    pub writer: &'a Writer,
    pub reporter: &'a dyn Reporter,
}

enum Failure {
    Http(HttpError),
    Store(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Http(e) => write!(f, "{e}"),
            Failure::Store(e) => write!(f, "writing to the store failed: {e}"),
        }
    }
}

pub(crate) fn note_text(n: &Note) -> String {
    let wait = if n.wait >= Duration::from_secs(1) {
        format!("{:.1} s", n.wait.as_secs_f64())
    } else {
        format!("{} ms", n.wait.as_millis())
    };
    match n.kind {
        NoteKind::Throttled => format!("{} throttled ({}); waiting {wait} (retry {})", n.path, n.detail, n.retry),
        NoteKind::Retrying => format!("{} failed ({}); retrying in {wait} (retry {})", n.path, n.detail, n.retry),
        NoteKind::TokenRefreshed => format!("{}: access token refused ({}); fetched a new one", n.path, n.detail),
    }
}

/// A stored cursor the server no longer accepts (expired, or from another query).
fn cursor_rejected(e: &Failure) -> bool {
    matches!(e, Failure::Http(HttpError::Refused { status: 400 | 404 | 410, .. }))
}

/// Pages in flight and what they did: the fetch of page n+1 overlaps the write of page n, and
/// the checkpoint of page n+1 is built from the one the writer stored for page n.
struct Flow<'a> {
    ctx: &'a Ctx<'a>,
    rep: &'a mut SourceReport,
    source: Source,
    opts: Arc<ImportOptions>,
    ckpt_scope: String,
    stream: &'static str,
    fixed_scope: Option<String>,
    inflight: Option<writer::Pending>,
    /// The checkpoint as last stored (or as loaded).
    st: State,
    started: Instant,
    window: Option<(Millis, Millis)>,
    latest: Option<Millis>,
    warned_scope: bool,
}

impl Flow<'_> {
    async fn fetch(&mut self, conn: &Conn, url: &Url) -> Result<Page, Failure> {
        let fut = conn.page(url);
        match self.inflight.take() {
            None => fut.await.map_err(Failure::Http),
            Some(p) => {
                let (page, done) = tokio::join!(fut, writer::settle(p));
                self.absorb(done)?;
                page.map_err(Failure::Http)
            }
        }
    }

    async fn send(&mut self, page: Page, state: State, finishes: bool, claim: Option<Claim>) -> Result<(), Failure> {
        self.rep.pages += 1;
        self.rep.records += page.records as u64;
        // An empty page has nothing to store; and a Reports page without `items` would reach
        // the parser as one (page-shaped) record and be quarantined.
        let body = if page.records == 0 { b"[]".to_vec() } else { page.body };
        let job = Job {
            source: self.source,
            opts: self.opts.clone(),
            origin: format!("{} {}", self.rep.label, page.path),
            body,
            ckpt_scope: self.ckpt_scope.clone(),
            stream: self.stream,
            state,
            finishes,
            claim,
        };
        self.inflight = Some(self.ctx.writer.send(job).await.map_err(Failure::Store)?);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        if let Some(p) = self.inflight.take() {
            let d = writer::settle(p).await;
            self.absorb(d)?;
        }
        Ok(())
    }

    fn absorb(&mut self, done: Result<Done, String>) -> Result<(), Failure> {
        let d = done.map_err(Failure::Store)?;
        self.rep.counts.add(&d.report.counts);
        for (location, reason) in &d.report.quarantine_examples {
            if self.rep.quarantine_examples.len() < 5 {
                self.rep.quarantine_examples.push(format!("{location}: {reason}"));
            }
        }
        if let Some((scope, a, b)) = d.claimed {
            self.rep.coverage.push(CoverageClaim { scope, start_ms: a, end_ms: b });
        }
        if let Some(w) = d.withheld {
            self.ctx.reporter.note(&self.rep.label, &w);
            self.rep.withheld.push(w);
        }
        for (scope, (_, hi)) in &d.report.span {
            self.latest = Some(self.latest.map_or(*hi, |l| l.max(*hi)));
            if let Some(fixed) = &self.fixed_scope
                && self.source != Source::Okta
                && scope != "*"
                && !scope.eq_ignore_ascii_case(fixed)
                && !self.warned_scope
            {
                self.warned_scope = true;
                let w = format!(
                    "records name the {} {scope:?} but coverage is recorded for {fixed:?}: check {} in the configuration",
                    if self.source == Source::Entra { "tenant" } else { "customer" },
                    if self.source == Source::Entra { "tenant_id" } else { "customer_id" },
                );
                self.ctx.reporter.note(&self.rep.label, &w);
                self.rep.warnings.push(w);
            }
        }
        self.rep.ingest_time += d.ingest;
        self.rep.commit_time += d.commit;
        self.st = d.state;
        self.rep.done_until = self.st.done_until;
        let elapsed = self.started.elapsed();
        self.ctx.reporter.progress(&Progress {
            source: self.rep.label.clone(),
            mode: self.rep.mode,
            pages: self.rep.pages,
            records: self.rep.records,
            stored: self.rep.counts.stored,
            range: self.rep.range,
            done_until: self.st.done_until,
            window: self.window,
            latest: self.latest,
            elapsed,
            rate: self.rep.records as f64 / elapsed.as_secs_f64().max(1e-3),
        });
        Ok(())
    }
}

/// How many days back each API serves sign-ins (formats.md: Okta System Log 90 days; Entra
/// sign-in logs 30 days with P1/P2, UNCONFIRMED per tenant; Reports API login data 180 days).
pub(crate) fn retention_days(source: Source) -> Millis {
    match source {
        Source::Okta => 90,
        Source::Entra => 30,
        _ => 180,
    }
}

/// Collects one configured source. Never panics; failures end up in the report.
/// `duplicate_of`: an earlier configured source that reads the same org / tenant / customer
/// (they would share one checkpoint); this one is then not run.
pub(crate) async fn run(c: &Configured, duplicate_of: Option<String>, ctx: &Ctx<'_>, notes: NoteTx) -> SourceReport {
    let started = Instant::now();
    let backfill = ctx.opts.since.is_some();
    let mut rep = SourceReport::new(c.label(), c.source(), if backfill { "backfill" } else { "incremental" });
    if let Some(first) = duplicate_of {
        rep.error = Some(format!(
            "{}: reads the same {} ({}) as {first}; not collected twice",
            rep.label,
            match c.source() {
                Source::Okta => "org",
                Source::Entra => "tenant",
                _ => "customer",
            },
            c.checkpoint_scope()
        ));
        rep.fix = Some("configure each org, tenant and customer once".into());
        ctx.reporter.finished(&rep);
        return rep;
    }
    let observer: Observer = {
        let label = rep.label.clone();
        Arc::new(move |n: &Note| {
            let _ = notes.send((label.clone(), note_text(n)));
        })
    };
    let copts = ConnectOptions {
        timeout: Duration::from_secs(u64::from(ctx.cfg.request_timeout_seconds.max(1))),
        policy: RetryPolicy::from_config(ctx.cfg),
        observer: Some(observer),
        page_size: ctx.opts.tuning.page_size,
    };
    let conn = match c.connect(&copts) {
        Ok(conn) => conn,
        Err(e) => {
            rep.fix = config_hint(c, &e).map(str::to_string);
            rep.error = Some(format!("{}: {e}; nothing was collected", rep.label));
            rep.elapsed = started.elapsed();
            ctx.reporter.finished(&rep);
            return rep;
        }
    };
    let result = drive(c, &conn, ctx, &mut rep, started).await;
    rep.http = conn.stats();
    rep.elapsed = started.elapsed();
    if let Err(e) = result {
        if let Failure::Http(h) = &e {
            rep.fix = conn.fix_hint(h).map(str::to_string);
        }
        let coverage = if rep.coverage.is_empty() {
            "no coverage".to_string()
        } else {
            let (a, b) = (
                rep.coverage.iter().map(|c| c.start_ms).min().unwrap_or(0),
                rep.coverage.iter().map(|c| c.end_ms).max().unwrap_or(0),
            );
            format!("coverage {}..{}", format_ms(a), format_ms(b + 1))
        };
        let e = e.to_string();
        rep.error = Some(format!(
            "{}: {}. Kept {} pages ({} new records) and {coverage}; the next run resumes from the checkpoint",
            rep.label,
            e.trim_end_matches('.'),
            rep.pages,
            rep.counts.stored
        ));
    }
    ctx.writer.log(rep.source, format!("collect {} ({})", rep.label, rep.mode), ctx.opts.now, rep.counts).await;
    ctx.reporter.finished(&rep);
    rep
}

async fn drive(
    c: &Configured,
    conn: &Conn,
    ctx: &Ctx<'_>,
    rep: &mut SourceReport,
    started: Instant,
) -> Result<(), Failure> {
    let opts = ctx.opts;
    let backfill = opts.since.is_some();
    let stream = if backfill { BACKFILL } else { INCREMENTAL };
    let ckpt_scope = c.checkpoint_scope();
    let stored = ctx.writer.checkpoint(c.source(), &ckpt_scope, stream).await.map_err(Failure::Store)?;
    let mut st = stored_state(ctx, rep, stored.as_deref());
    let now = opts.now;
    // Coverage ends where the source's records have settled (docs/source-lag.md); each run
    // reads again from there, so what arrives late is read.
    let settling = c.settling_ms(ctx.cfg);
    let lag_end = now - settling;
    let end = opts.until.map_or(now, |u| u.min(now));
    let start = match opts.since {
        Some(since) => {
            if st.since != Some(since) || st.until != opts.until {
                st = State { since: Some(since), until: opts.until, scope: st.scope.take(), ..State::default() };
            }
            st.done_until.unwrap_or(since)
        }
        None => st.done_until.unwrap_or(now - i64::from(ctx.cfg.initial_lookback_hours) * 3_600_000),
    };
    // Never read (nor claim coverage) before what the API still keeps: an empty answer for a
    // period past retention is no evidence that nothing happened then.
    // An hour of margin: the retention boundary moves while a run reads.
    let horizon = now - retention_days(c.source()) * 86_400_000 + 3_600_000;
    let start = if start < horizon {
        let w = format!(
            "{} keeps {} days of sign-ins: reading from {} instead of {} (records before it cannot be collected \
             from the API any more; import exports for that period)",
            c.source(),
            retention_days(c.source()),
            format_ms(horizon),
            format_ms(start)
        );
        ctx.reporter.note(&rep.label, &w);
        rep.warnings.push(w);
        horizon
    } else {
        start
    };
    st.done_until = Some(start);
    let fixed_scope = match c.scope_rule() {
        ScopeRule::Fixed(s) => Some(s),
        ScopeRule::Learn => None,
    };
    let mut flow = Flow {
        ctx,
        rep,
        source: c.source(),
        opts: Arc::new(conn.import_options()),
        ckpt_scope,
        stream,
        fixed_scope: fixed_scope.clone(),
        inflight: None,
        st,
        started,
        window: None,
        latest: None,
        warned_scope: false,
    };
    let w = opts.tuning.window_ms.max(1);
    match conn {
        Conn::Okta(okta) if !backfill && opts.until.is_none() => {
            ctx.reporter.started(&flow.rep.label, flow.rep.mode, None);
            poll(&mut flow, okta, conn, start, now, lag_end, fixed_scope).await
        }
        Conn::Okta(okta) => {
            // Okta: bounded requests "may not contain all events" (delays are rare but
            // possible), so they read only what has settled; the rest is polled (persistence
            // time) and left unclaimed until a later run.
            let settled = end.min(lag_end).max(start);
            windows(&mut flow, conn, start, settled, lag_end, w, fixed_scope).await?;
            if end > settled {
                poll_tail(&mut flow, okta, conn, settled, end).await?;
            }
            Ok(())
        }
        _ => windows(&mut flow, conn, start, end, lag_end, w, fixed_scope).await,
    }
}

/// Okta incremental: poll from the stored `next` link (else from `since = done_until`) until a
/// page comes back empty, as Okta documents ("continue this process until no events are
/// returned"; a short page only means that is all for now, and events persisted late may follow),
/// or events from `now` on appear (an org busy enough never to give an empty page), then claim
/// `[done_until, now - settling)`.
async fn poll(
    flow: &mut Flow<'_>,
    okta: &OktaApi,
    conn: &Conn,
    start: Millis,
    now: Millis,
    lag_end: Millis,
    scope: Option<String>,
) -> Result<(), Failure> {
    let (mut url, mut resumed) = match flow.st.next.as_deref().and_then(|s| okta.resume_url(s)) {
        Some(u) => (u, true),
        None => (okta.poll_url(start), false),
    };
    loop {
        let page = match flow.fetch(conn, &url).await {
            Ok(p) => p,
            Err(e) if resumed && cursor_rejected(&e) => {
                let label = flow.rep.label.clone();
                flow.ctx.reporter.note(
                    &label,
                    &format!("the stored next link was refused ({e}); polling from {}", format_ms(start)),
                );
                url = okta.poll_url(start);
                resumed = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        resumed = false;
        // Caught up: an empty page, or (in an org busy enough that no page is ever empty) an
        // event published at or after this run's `now`, which was persisted after everything
        // before it.
        let finishes = page.records == 0 || page.next.is_none() || flow.latest.is_some_and(|l| l >= now);
        let mut st = flow.st.clone();
        st.pending = None;
        st.next = page.next.as_ref().map(Url::to_string);
        let claim = if finishes {
            st.done_until = Some(start.max(lag_end));
            (lag_end > start).then(|| Claim { scope: scope.clone(), from: start, to: lag_end - 1 })
        } else {
            None
        };
        let next = page.next.clone();
        flow.send(page, st, finishes, claim).await?;
        match next {
            Some(u) if !finishes => url = u,
            _ => break,
        }
    }
    flow.flush().await
}

/// Okta backfills: the stretch after the settled windows, `[since, until)`, read by polling
/// (persistence time, so records delayed in Okta's pipeline are read) from `since` to an empty
/// page or an event at or after `until`. Its records are stored; no coverage is claimed and the
/// checkpoint stays at `since` (a later run reads it as settled windows).
async fn poll_tail(
    flow: &mut Flow<'_>,
    okta: &OktaApi,
    conn: &Conn,
    since: Millis,
    until: Millis,
) -> Result<(), Failure> {
    let mut url = okta.poll_url(since);
    loop {
        let page = flow.fetch(conn, &url).await?;
        let done = page.records == 0 || page.next.is_none() || flow.latest.is_some_and(|l| l >= until);
        let mut st = flow.st.clone();
        st.pending = None;
        st.next = None;
        let next = page.next.clone();
        flow.send(page, st, true, None).await?;
        match next {
            Some(u) if !done => url = u,
            _ => break,
        }
    }
    flow.flush().await
}

/// Bounded windows `[a, b)` of at most `w`, oldest first; each window's queries are paged to
/// the end, and only the page that completes the window records its coverage
/// `[a, min(b, now - settling))` and moves `done_until`.
async fn windows(
    flow: &mut Flow<'_>,
    conn: &Conn,
    start: Millis,
    end: Millis,
    lag_end: Millis,
    w: Millis,
    scope: Option<String>,
) -> Result<(), Failure> {
    let n = conn.queries();
    let (mut a, mut b, mut q, mut url, mut resumed) = match flow.st.pending.clone() {
        Some(p) if p.from == start && p.to > p.from && p.query < n => {
            match p.next.as_deref().and_then(|s| conn.resume_url(p.query, s)) {
                Some(u) => (p.from, p.to, p.query, u, true),
                None => (p.from, p.to, p.query, conn.window_url(p.query, p.from, p.to), false),
            }
        }
        _ => {
            if start >= end {
                flow.ctx.reporter.started(&flow.rep.label, flow.rep.mode, Some((start, start)));
                return Ok(());
            }
            let b = (start + w).min(end);
            (start, b, 0, conn.window_url(0, start, b), false)
        }
    };
    flow.rep.range = Some((start, end.max(b)));
    flow.ctx.reporter.started(&flow.rep.label, flow.rep.mode, flow.rep.range);
    loop {
        flow.window = Some((a, b));
        let page = match flow.fetch(conn, &url).await {
            Ok(p) => p,
            Err(e) if resumed && cursor_rejected(&e) => {
                let label = flow.rep.label.clone();
                flow.ctx
                    .reporter
                    .note(&label, &format!("the stored page cursor was refused ({e}); reading the window again"));
                url = conn.window_url(q, a, b);
                resumed = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        resumed = false;
        let mut st = flow.st.clone();
        st.next = None;
        let next: Option<(Millis, Millis, usize, Url)>;
        let finishes;
        let claim;
        match page.next.clone() {
            Some(u) => {
                finishes = false;
                st.pending = Some(Pending { from: a, to: b, query: q, next: Some(u.to_string()) });
                next = Some((a, b, q, u));
                claim = None;
            }
            None if q + 1 < n => {
                finishes = false;
                st.pending = Some(Pending { from: a, to: b, query: q + 1, next: None });
                next = Some((a, b, q + 1, conn.window_url(q + 1, a, b)));
                claim = None;
            }
            None => {
                finishes = true;
                let claim_to = b.min(lag_end);
                st.done_until = Some(st.done_until.unwrap_or(a).max(claim_to));
                st.pending = None;
                claim = (claim_to > a).then(|| Claim { scope: scope.clone(), from: a, to: claim_to - 1 });
                next = (b < end).then(|| {
                    let nb = (b + w).min(end);
                    (b, nb, 0, conn.window_url(0, b, nb))
                });
            }
        }
        flow.send(page, st, finishes, claim).await?;
        match next {
            Some((na, nb, nq, nu)) => {
                (a, b, q, url) = (na, nb, nq, nu);
            }
            None => break,
        }
    }
    flow.flush().await
}
