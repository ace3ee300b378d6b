//! `mode = "s3"`: the trail's S3 bucket, read by account/region/day prefixes.

use std::io::Read;
use std::time::Instant;

use aws_sdk_s3::config::Region;
use trailproof_ingest::ImportOptions;
use trailproof_model::DAY_MS;
use trailproof_model::config::CloudTrailSource;
use trailproof_model::time::{format_ms, parse_time};
use trailproof_model::{Millis, Source};
use trailproof_store::{Origin, Store};

use crate::aws::{describe, sdk_config};
use crate::state::{self, S3State};
use crate::{Claim, CtError, CtOptions, CtProgress, Summary, store_err};

/// `[prefix/]AWSLogs/[o-org/]`.
pub fn logs_root(src: &CloudTrailSource) -> String {
    let mut s = String::new();
    let p = src.prefix.trim_matches('/');
    if !p.is_empty() {
        s.push_str(p);
        s.push('/');
    }
    s.push_str("AWSLogs/");
    let o = src.org_id.trim_matches('/');
    if !o.is_empty() {
        s.push_str(o);
        s.push('/');
    }
    s
}

/// `ROOT/ACCOUNT/CloudTrail/REGION/`.
pub fn folder(root: &str, account: &str, region: &str) -> String {
    format!("{root}{account}/CloudTrail/{region}/")
}

/// `YYYY/MM/DD/` of a time.
pub fn day_prefix(t: Millis) -> String {
    let s = format_ms(t);
    let d = s.get(..10).unwrap_or("1970-01-01");
    format!("{}/", d.replace('-', "/"))
}

/// The delivery time in a trail file name
/// (`ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz`).
pub fn name_time(key: &str) -> Option<Millis> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|tok| {
        let b = tok.as_bytes();
        let ok = b.len() == 14
            && b.get(8) == Some(&b'T')
            && b.get(13) == Some(&b'Z')
            && b.iter().enumerate().all(|(i, c)| i == 8 || i == 13 || c.is_ascii_digit());
        if !ok {
            return None;
        }
        parse_time(&format!("{}00Z", tok.get(..13)?)).ok()
    })
}

pub(crate) fn client(src: &CloudTrailSource, conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(conf);
    if !src.endpoint_url.is_empty() {
        b = b.force_path_style(true);
    }
    if conf.region().is_none() {
        b = b.region(Region::new("us-east-1"));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// The folder names one level below `prefix` (a delimiter listing, never a walk).
async fn list_level(c: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        for p in r.common_prefixes() {
            if let Some(name) = p.prefix().and_then(|s| s.strip_prefix(prefix)) {
                out.push(name.trim_end_matches('/').to_string());
            }
        }
        token = r.next_continuation_token().map(str::to_string);
        if token.is_none() || r.is_truncated() != Some(true) {
            return Ok(out);
        }
    }
}

/// Keys under `prefix`, in S3's (lexicographic) order.
async fn list_keys(c: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = c
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        out.extend(r.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        token = r.next_continuation_token().map(str::to_string);
        if token.is_none() || r.is_truncated() != Some(true) {
            return Ok(out);
        }
    }
}

pub(crate) async fn check(src: &CloudTrailSource, conf: &aws_config::SdkConfig) -> (String, bool, String) {
    let c = client(src, conf);
    let root = logs_root(src);
    let what = format!("s3 {}", src.bucket);
    match c.list_objects_v2().bucket(&src.bucket).prefix(&root).delimiter("/").max_keys(10).send().await {
        Ok(r) => {
            let n = r.common_prefixes().len();
            let ok = n > 0;
            let detail = if ok {
                format!("listed s3://{}/{root}: {n} folder(s)", src.bucket)
            } else {
                format!("s3://{}/{root} is empty: check `prefix` and `org_id`", src.bucket)
            };
            (what, ok, detail)
        }
        Err(e) => (what, false, format!("ListObjectsV2 s3://{}/{root}: {}", src.bucket, describe(&e))),
    }
}

pub(crate) async fn run(
    store: &mut Store,
    src: &CloudTrailSource,
    opts: &CtOptions,
    sum: &mut Summary,
    progress: &mut (dyn FnMut(&CtProgress) + Send),
) -> Result<(), CtError> {
    let label = sum.label.clone();
    if src.bucket.is_empty() {
        return Err(CtError::Config { label, why: "mode s3 needs `bucket`".into() });
    }
    let conf = sdk_config(src, opts.credentials.as_ref()).await;
    let c = client(src, &conf);
    let root = logs_root(src);
    let aws_err = |what: String, why: String, sum: &Summary| CtError::Aws {
        label: label.clone(),
        what,
        why,
        kept: format!("{} objects committed (with their checkpoints)", sum.pages),
    };
    let accounts = if src.accounts.is_empty() {
        sum.requests += 1;
        let found = list_level(&c, &src.bucket, &root)
            .await
            .map_err(|why| aws_err(format!("listing s3://{}/{root}", src.bucket), why, sum))?;
        let (accts, other): (Vec<String>, Vec<String>) =
            found.into_iter().partition(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()));
        for o in other {
            sum.warnings.push(if o.starts_with("o-") {
                format!("s3://{}/{root}{o}/ looks like an organization trail: set `org_id = \"{o}\"`", src.bucket)
            } else {
                format!("s3://{}/{root}{o}/ is not an account folder; ignored", src.bucket)
            });
        }
        accts
    } else {
        src.accounts.clone()
    };
    let started = Instant::now();
    for account in &accounts {
        let regions = if src.regions.is_empty() {
            let p = format!("{root}{account}/CloudTrail/");
            sum.requests += 1;
            list_level(&c, &src.bucket, &p)
                .await
                .map_err(|why| aws_err(format!("listing s3://{}/{p}", src.bucket), why, sum))?
        } else {
            src.regions.clone()
        };
        for region in &regions {
            let base = folder(&root, account, region);
            let done = run_folder(store, &c, src, opts, sum, &base, account, region, started, progress).await?;
            if !done {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Objects downloaded ahead of the one being written.
const PREFETCH: usize = 8;

async fn get(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    match c.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => o.body.collect().await.map(|b| b.into_bytes().to_vec()).map_err(|e| e.to_string()),
        Err(e) => Err(describe(&e)),
    }
}

/// Reads one account/region folder. Returns false when the run stopped early (`stop_after`).
#[allow(clippy::too_many_arguments)]
async fn run_folder(
    store: &mut Store,
    c: &aws_sdk_s3::Client,
    src: &CloudTrailSource,
    opts: &CtOptions,
    sum: &mut Summary,
    base: &str,
    account: &str,
    region: &str,
    started: Instant,
    progress: &mut (dyn FnMut(&CtProgress) + Send),
) -> Result<bool, CtError> {
    let label = sum.label.clone();
    let bucket = &src.bucket;
    let scope_key = format!("s3:{bucket}/{base}");
    let stream = opts.stream();
    let kept = |sum: &Summary| format!("{} objects committed (with their checkpoints)", sum.pages);
    let stored = store.checkpoint(Source::Cloudtrail, &scope_key, stream).map_err(store_err(&label, "nothing"))?;
    let (mut st, warn): (S3State, _) = state::read(stored.as_deref());
    sum.warnings.extend(warn);
    if opts.since.is_some() && (st.since != opts.since || st.until != opts.until) {
        st = S3State { since: opts.since, until: opts.until, ..Default::default() };
    }
    let default_start = opts.since.unwrap_or(opts.now - opts.initial_lookback_ms);
    let from = st.from.unwrap_or_else(|| st.done_until.unwrap_or(default_start));
    let to = opts.end().max(from);
    st.from = Some(from);
    st.to = Some(to);
    let settling = opts.settling_for(src);
    let hi = to + settling;
    let last_day = hi.min(opts.now);
    let iopts = ImportOptions::new(Source::Cloudtrail);
    let mut day = from - from.rem_euclid(DAY_MS);
    while day <= last_day {
        let prefix = format!("{base}{}", day_prefix(day));
        day += DAY_MS;
        sum.requests += 1;
        let keys = list_keys(c, bucket, &prefix).await.map_err(|why| CtError::Aws {
            label: label.clone(),
            what: format!("listing s3://{bucket}/{prefix}"),
            why,
            kept: kept(sum),
        })?;
        let mut selected = Vec::new();
        for key in keys {
            if st.last_key.as_deref().is_some_and(|lk| key.as_str() <= lk) {
                continue;
            }
            match name_time(&key) {
                Some(t) if t < from || t > hi => continue,
                Some(_) => {}
                None => {
                    if !(key.ends_with(".json.gz") || key.ends_with(".json")) {
                        continue;
                    }
                    sum.warnings.push(format!("s3://{bucket}/{key}: no delivery time in the name; read anyway"));
                }
            }
            selected.push(key);
        }
        // GETs run ahead of the writer (PREFETCH at a time); objects are committed in key order.
        let mut queue = std::collections::VecDeque::new();
        let mut keys = selected.into_iter();
        loop {
            while queue.len() < PREFETCH {
                let Some(key) = keys.next() else { break };
                let (c, b, k) = (c.clone(), bucket.clone(), key.clone());
                sum.requests += 1;
                queue.push_back((key, tokio::spawn(async move { get(&c, &b, &k).await })));
            }
            let Some((key, task)) = queue.pop_front() else { break };
            let body = task.await.unwrap_or_else(|e| Err(format!("download task failed: {e}")));
            let body = body.map_err(|why| CtError::Aws {
                label: label.clone(),
                what: format!("GetObject s3://{bucket}/{key}"),
                why,
                kept: kept(sum),
            })?;
            st.last_key = Some(key.clone());
            let origin = format!("s3://{bucket}/{key}");
            commit_object(store, &iopts, &origin, &body, &scope_key, stream, &mut st, sum)
                .map_err(store_err(&label, &kept(sum)))?;
            sum.pages += 1;
            progress(&CtProgress {
                source: label.clone(),
                part: format!("{account}/{region}"),
                pages: sum.pages,
                records: sum.records,
                stored: sum.counts.stored,
                window: Some((from, to)),
                elapsed: started.elapsed(),
            });
            if opts.stop_after.is_some_and(|n| sum.pages >= n) {
                sum.stopped = true;
                return Ok(false);
            }
        }
    }
    // Every selected object is read: the folder's coverage and the end of the range.
    let done_until = from.max(to.min(opts.now - settling));
    let scope = format!("{account}/{region}");
    let mut claim = None;
    // The folder's range is the window: a quarantined object or record of it withholds its claim.
    let clean = trailproof_ingest::checkpoint::close_page(&mut st.tainted, false, true) == Some(true);
    match st.span.get(&scope) {
        _ if !clean => sum.withheld.push(format!(
            "{scope} {}..{}: an object or record was quarantined",
            format_ms(from),
            format_ms(done_until)
        )),
        Some(&(lo, hi)) => {
            let (a, b) = (lo.max(from), hi.min(done_until - 1));
            if b >= a {
                claim = Some(Claim { scope: scope.clone(), start_ms: a, end_ms: b });
            }
        }
        None => sum.withheld.push(format!(
            "{scope} {}..{}: no record of this account and region was read",
            format_ms(from),
            format_ms(done_until)
        )),
    }
    let next = S3State { done_until: Some(done_until), since: st.since, until: st.until, ..Default::default() };
    let write = |store: &mut Store| -> Result<(), trailproof_store::StoreError> {
        let mut batch = store.batch()?;
        if let Some(c) = &claim {
            batch.add_coverage(Source::Cloudtrail, &c.scope, c.start_ms, c.end_ms)?;
        }
        batch.set_checkpoint(Source::Cloudtrail, &scope_key, stream, &state::to_json(&next))?;
        batch.commit()
    };
    write(store).map_err(store_err(&label, &kept(sum)))?;
    sum.coverage.extend(claim);
    Ok(true)
}

/// One object: its records, the checkpoint (its key) in one transaction. An object that cannot
/// be decompressed or split is quarantined whole (the others go on) and taints the folder's
/// coverage.
#[allow(clippy::too_many_arguments)]
fn commit_object(
    store: &mut Store,
    iopts: &ImportOptions,
    origin: &str,
    body: &[u8],
    scope_key: &str,
    stream: &str,
    st: &mut S3State,
    sum: &mut Summary,
) -> Result<(), trailproof_store::StoreError> {
    let text = if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(body.len() * 8);
        flate2::read::MultiGzDecoder::new(body).read_to_end(&mut out).map(|_| out).map_err(|e| format!("gzip: {e}"))
    } else {
        Ok(body.to_vec())
    };
    let why = match text {
        Ok(t) => {
            let mut batch = store.batch()?;
            match trailproof_ingest::ingest_page(&mut batch, iopts, origin, &t) {
                Ok(r) => {
                    if r.counts.quarantined > 0 {
                        st.tainted = true;
                    }
                    for (k, (lo, hi)) in &r.span {
                        let e = st.span.entry(k.clone()).or_insert((*lo, *hi));
                        e.0 = e.0.min(*lo);
                        e.1 = e.1.max(*hi);
                    }
                    sum.add_page(&r);
                    batch.set_checkpoint(Source::Cloudtrail, scope_key, stream, &state::to_json(&*st))?;
                    return batch.commit();
                }
                Err(trailproof_ingest::IngestError::Store(e)) => return Err(e),
                // Dropping the batch rolls back the records of the object written so far.
                Err(e) => e.to_string(),
            }
        }
        Err(why) => why,
    };
    st.tainted = true;
    sum.counts.quarantined += 1;
    sum.records += 1;
    if sum.quarantine_examples.len() < 5 {
        sum.quarantine_examples.push(format!("{origin}: {why}"));
    }
    let mut batch = store.batch()?;
    batch.quarantine(Source::Cloudtrail, Origin { origin, location: "object" }, &why, body)?;
    batch.set_checkpoint(Source::Cloudtrail, scope_key, stream, &state::to_json(&*st))?;
    batch.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_time_reads_the_delivery_time_of_trail_file_names() {
        let k = "org/AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2026/01/10/111122223333_CloudTrail_us-east-1_20260110T0105Z_aBcD1234eFgH5678.json.gz";
        assert_eq!(name_time(k), Some(parse_time("2026-01-10T01:05:00Z").unwrap()));
        assert_eq!(name_time("AWSLogs/1/CloudTrail/us-east-1/2026/01/10/notes.txt"), None);
        assert_eq!(name_time("x/1_CloudTrail_r_2026011XT0105Z_u.json.gz"), None);
    }

    #[test]
    fn prefixes_follow_the_trail_layout() {
        let mut src = CloudTrailSource { prefix: "/logs/".into(), ..Default::default() };
        assert_eq!(logs_root(&src), "logs/AWSLogs/");
        src.org_id = "o-abc123".into();
        assert_eq!(logs_root(&src), "logs/AWSLogs/o-abc123/");
        src.prefix.clear();
        assert_eq!(
            folder(&logs_root(&src), "111122223333", "eu-west-1"),
            "AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/"
        );
        assert_eq!(day_prefix(parse_time("2026-03-04T23:59:59Z").unwrap()), "2026/03/04/");
    }
}
