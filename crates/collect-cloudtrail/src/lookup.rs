//! `mode = "lookup"`: CloudTrail LookupEvents per region.

use std::num::NonZeroU32;
use std::time::Instant;

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{Event, LookupAttribute, LookupAttributeKey};
use governor::{Quota, RateLimiter};
use trailproof_ingest::ImportOptions;
use trailproof_model::config::CloudTrailSource;
use trailproof_model::time::format_ms;
use trailproof_model::{Millis, Source};
use trailproof_store::{Origin, Store};

use crate::aws::{cloudtrail_client, describe, retryable, sdk_config};
use crate::state::{self, LookupPending, LookupState};
use crate::{Claim, CtError, CtOptions, CtProgress, EVENT_SOURCES, LOOKUP_HORIZON_MS, Summary, store_err};

/// The checkpoint scope of one region's stream.
pub fn checkpoint_scope(src: &CloudTrailSource, region: &str) -> String {
    format!("lookup:{}:{region}", src.name)
}

pub(crate) async fn run(
    store: &mut Store,
    src: &CloudTrailSource,
    opts: &CtOptions,
    sum: &mut Summary,
    progress: &mut (dyn FnMut(&CtProgress) + Send),
) -> Result<(), CtError> {
    let label = sum.label.clone();
    if src.regions.is_empty() {
        return Err(CtError::Config { label, why: "mode lookup needs `regions` (LookupEvents is per region)".into() });
    }
    let conf = sdk_config(src, opts.credentials.as_ref()).await;
    let started = Instant::now();
    for region in &src.regions {
        let client = cloudtrail_client(&conf, region);
        let rps = src.requests_per_second.unwrap_or(crate::DEFAULT_REQUESTS_PER_SECOND);
        // Evenly spaced (no burst): AWS counts requests per second, so a burst of `rps` followed
        // by paced requests could put rps + 1 in one second.
        let limiter =
            NonZeroU32::new(rps).map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(NonZeroU32::MIN)));
        let scope_key = checkpoint_scope(src, region);
        let stream = opts.stream();
        let stored = store.checkpoint(Source::Cloudtrail, &scope_key, stream).map_err(store_err(&label, "nothing"))?;
        let (mut st, warn): (LookupState, _) = state::read(stored.as_deref());
        sum.warnings.extend(warn);
        if opts.since.is_some() && (st.since != opts.since || st.until != opts.until) {
            st = LookupState { since: opts.since, until: opts.until, account: st.account, ..Default::default() };
        }
        let horizon = opts.now - LOOKUP_HORIZON_MS;
        let default_start = opts.since.unwrap_or(opts.now - opts.initial_lookback_ms);
        let mut pos = st.done_until.unwrap_or(default_start);
        if pos < horizon {
            sum.warnings.push(format!(
                "{region}: LookupEvents keeps 90 days; reading from {} instead of {}",
                format_ms(horizon),
                format_ms(pos)
            ));
            pos = horizon;
        }
        let end = opts.end();
        let mut account = if src.accounts.len() == 1 { src.accounts.first().cloned() } else { st.account.clone() };
        let mut restarted_window: Option<Millis> = None;
        loop {
            let p = match st.pending.clone() {
                Some(p) => p,
                None => {
                    if pos >= end {
                        break;
                    }
                    let p = LookupPending {
                        from: pos,
                        to: (pos + opts.window_ms.max(1000)).min(end),
                        query: 0,
                        next: None,
                    };
                    st.pending = Some(p.clone());
                    p
                }
            };
            let Some(event_source) = EVENT_SOURCES.get(p.query).copied() else {
                // A checkpoint from another version: redo the window.
                st.pending = Some(LookupPending { query: 0, next: None, ..p });
                continue;
            };
            let kept = format!(
                "{} pages committed; {region} read up to {}",
                sum.pages,
                st.done_until.map_or_else(|| "nothing yet".to_string(), format_ms)
            );
            let attr = LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventSource)
                .attribute_value(event_source)
                .build()
                .map_err(|e| CtError::Config { label: label.clone(), why: e.to_string() })?;
            let mut attempt = 0u32;
            let out = loop {
                if let Some(l) = &limiter {
                    l.until_ready().await;
                }
                sum.requests += 1;
                let r = client
                    .lookup_events()
                    .lookup_attributes(attr.clone())
                    .start_time(DateTime::from_millis(p.from))
                    .end_time(DateTime::from_millis(p.to - 1))
                    .max_results(opts.page_size.clamp(1, 50))
                    .set_next_token(p.next.clone())
                    .send()
                    .await;
                match r {
                    Ok(o) => break Ok(o),
                    Err(e) if retryable(&e) => match opts.retry.next_wait(attempt, None) {
                        Ok(wait) => {
                            sum.retries += 1;
                            tracing::debug!(region = %region, "LookupEvents retry {}: {}", attempt + 1, describe(&e));
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                        Err(_) => break Err(e),
                    },
                    Err(e) => break Err(e),
                }
            };
            let out = match out {
                Ok(o) => o,
                Err(e)
                    if p.next.is_some()
                        && e.as_service_error().and_then(|s| s.code()) == Some("InvalidNextTokenException")
                        && restarted_window != Some(p.from) =>
                {
                    sum.warnings.push(format!(
                        "{region}: the stored NextToken was refused; reading the window from {} again",
                        format_ms(p.from)
                    ));
                    restarted_window = Some(p.from);
                    st.pending = Some(LookupPending { query: 0, next: None, ..p });
                    continue;
                }
                Err(e) => {
                    return Err(CtError::Aws {
                        label: label.clone(),
                        what: format!(
                            "LookupEvents in {region} (EventSource {event_source}, {}..{})",
                            format_ms(p.from),
                            format_ms(p.to)
                        ),
                        why: describe(&e),
                        kept,
                    });
                }
            };
            // The next state.
            let mut next = st.clone();
            learn_account(region, out.events(), &mut account, sum);
            let mut claim: Option<Claim> = None;
            let mut withheld: Option<String> = None;
            match out.next_token() {
                Some(t) => next.pending = Some(LookupPending { next: Some(t.to_string()), ..p.clone() }),
                None if p.query + 1 < EVENT_SOURCES.len() => {
                    next.pending = Some(LookupPending { query: p.query + 1, next: None, ..p.clone() })
                }
                None => {
                    // The window is complete: all three event sources read.
                    let upto = p.to.min(opts.now - opts.settling_for(src));
                    if upto > p.from {
                        let span = format!("{region} {}..{}", format_ms(p.from), format_ms(upto));
                        match &account {
                            None => {
                                withheld = Some(format!(
                                    "{span}: the account is unknown (no record named it; set `accounts = [\"ACCOUNT\"]`)"
                                ))
                            }
                            Some(a) => {
                                claim =
                                    Some(Claim { scope: format!("{a}/{region}"), start_ms: p.from, end_ms: upto - 1 })
                            }
                        }
                    }
                    next.done_until = Some(upto.max(next.done_until.unwrap_or(upto)));
                    next.pending = None;
                    pos = p.to;
                }
            }
            next.account = account.clone();
            let tainted = commit_page(store, &scope_key, stream, &mut next, claim.as_ref(), region, out.events(), sum)
                .map_err(store_err(&label, &kept))?;
            if tainted && let Some(c) = claim.take() {
                withheld = Some(format!(
                    "{} {}..{}: a record was quarantined",
                    c.scope,
                    format_ms(c.start_ms),
                    format_ms(c.end_ms + 1)
                ));
            }
            st = next;
            sum.coverage.extend(claim);
            sum.withheld.extend(withheld);
            sum.pages += 1;
            progress(&CtProgress {
                source: label.clone(),
                part: region.clone(),
                pages: sum.pages,
                records: sum.records,
                stored: sum.counts.stored,
                window: Some((p.from, p.to)),
                elapsed: started.elapsed(),
            });
            if opts.stop_after.is_some_and(|n| sum.pages >= n) {
                sum.stopped = true;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Learns the coverage account from the page's records when it is not configured.
fn learn_account(region: &str, events: &[Event], account: &mut Option<String>, sum: &mut Summary) {
    if account.is_some() {
        return;
    }
    for e in events {
        if let Some(raw) = e.cloud_trail_event()
            && let Some(s) = peek_scope(raw.as_bytes())
            && let Some((a, r)) = s.split_once('/')
            && r == region
        {
            *account = Some(a.to_string());
            sum.warnings.push(format!("{region}: coverage scope account {a} learned from the records"));
            return;
        }
    }
}

fn peek_scope(raw: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Peek<'a> {
        #[serde(borrow, rename = "recipientAccountId")]
        account: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, rename = "awsRegion")]
        region: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_slice::<Peek<'_>>(raw) {
        Ok(Peek { account: Some(a), region: Some(r) }) if !a.is_empty() && !r.is_empty() => Some(format!("{a}/{r}")),
        _ => None,
    }
}

/// One page, its checkpoint and its coverage claim in one transaction. Returns whether the
/// window is tainted (a record of it was quarantined): then the claim is not recorded.
#[allow(clippy::too_many_arguments)]
fn commit_page(
    store: &mut Store,
    scope_key: &str,
    stream: &str,
    next: &mut LookupState,
    claim: Option<&Claim>,
    region: &str,
    events: &[Event],
    sum: &mut Summary,
) -> Result<bool, trailproof_store::StoreError> {
    let opts = ImportOptions::new(Source::Cloudtrail);
    let mut batch = store.batch()?;
    for e in events {
        let id = e.event_id().unwrap_or("?");
        let origin = format!("LookupEvents {region} {}", e.event_source().unwrap_or("?"));
        let location = format!("EventId {id}");
        let Some(raw) = e.cloud_trail_event() else {
            batch.quarantine(
                Source::Cloudtrail,
                Origin { origin: &origin, location: &location },
                "LookupEvents event without CloudTrailEvent",
                id.as_bytes(),
            )?;
            sum.counts.quarantined += 1;
            sum.records += 1;
            next.tainted = true;
            continue;
        };
        match trailproof_ingest::ingest_page(&mut batch, &opts, &format!("{origin} {location}"), raw.as_bytes()) {
            Ok(r) => {
                if r.counts.quarantined > 0 {
                    next.tainted = true;
                }
                sum.add_page(&r);
            }
            Err(trailproof_ingest::IngestError::Store(e)) => return Err(e),
            Err(e) => {
                batch.quarantine(
                    Source::Cloudtrail,
                    Origin { origin: &origin, location: &location },
                    &format!("CloudTrailEvent is not a JSON record: {e}"),
                    raw.as_bytes(),
                )?;
                sum.counts.quarantined += 1;
                sum.records += 1;
                next.tainted = true;
                if sum.quarantine_examples.len() < 5 {
                    sum.quarantine_examples.push(format!("{origin} {location}: {e}"));
                }
            }
        }
    }
    // A quarantine in the window withdraws its claim.
    let closed = trailproof_ingest::checkpoint::close_page(&mut next.tainted, false, next.pending.is_none());
    if let (Some(true), Some(c)) = (closed, claim) {
        batch.add_coverage(Source::Cloudtrail, &c.scope, c.start_ms, c.end_ms)?;
    }
    let tainted = closed.map_or(next.tainted, |clean| !clean);
    batch.set_checkpoint(Source::Cloudtrail, scope_key, stream, &state::to_json(&*next))?;
    batch.commit()?;
    Ok(tainted)
}
