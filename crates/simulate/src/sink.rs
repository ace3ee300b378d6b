//! Where records go: per-day IdP buffers written as API pages, CloudTrail records waiting for
//! their delivery file, and the ground-truth counters.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use trailproof_model::Idp;

use crate::SimError;
use crate::ct::CtRecord;
use crate::rng::{self, Pcg64, stream};
use crate::time::{self, DAY, HOUR, MIN};
use crate::world::World;

/// Ground truth of one IdP directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpTruth {
    pub files: u64,
    /// Records (Okta LogEvents, Entra sign-ins, Google activities) written.
    pub records: u64,
    /// Records the parser keeps (`Parsed::Relevant`).
    pub relevant: u64,
    /// Records the parser skips (`Parsed::Irrelevant`).
    pub irrelevant: u64,
    /// Written records per native type: Okta `eventType`, Entra `signIn` / `servicePrincipal`,
    /// Google `<application>/<event name>` (per event), AD FS `ADFSSignInLogs`.
    pub by_native_type: BTreeMap<String, u64>,
    /// Normalized events per kind (`IdpEventKind::as_str`) as the store counts them.
    pub by_kind: BTreeMap<String, u64>,
    /// Records generated inside the dropped stretch (not written).
    pub dropped: u64,
    pub coverage: Vec<CoverageEntry>,
}

/// One `coverage.json` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageEntry {
    pub scope: String,
    pub start: String,
    pub end: String,
}

/// Ground truth of the CloudTrail tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTrailTruth {
    pub files: u64,
    /// Records written, duplicate copies included.
    pub records_written: u64,
    /// Distinct kept records (sign-in events) per `AwsEventKind::as_str`.
    pub relevant_by_kind: BTreeMap<String, u64>,
    pub relevant: u64,
    /// Distinct records of everything else (ordinary API calls, broker AssumeRole...).
    pub noise: u64,
    pub noise_by_event_name: BTreeMap<String, u64>,
    /// Extra copies of kept records (same eventID in another file): imported as duplicates.
    pub relevant_duplicate_copies: u64,
    /// Extra copies of noise records: skipped again on import.
    pub noise_duplicate_copies: u64,
    /// Records delivered more than an hour after their event time.
    pub late_records: u64,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleLogins {
    pub successful: Vec<String>,
    pub failed: Vec<String>,
}

/// `truth.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub users: u32,
    pub days: u32,
    /// Start of CloudTrail data (RFC 3339).
    pub start: String,
    /// Start of IdP data and coverage.
    pub idp_start: String,
    pub end: String,
    /// IdP clock offsets in ms (IdP time = CloudTrail time + offset).
    pub clock_skew_ms: BTreeMap<String, i64>,
    pub cloudtrail: CloudTrailTruth,
    pub okta: IdpTruth,
    pub entra: IdpTruth,
    pub google: IdpTruth,
    #[serde(default)]
    pub adfs: IdpTruth,
    pub console_logins: ConsoleLogins,
    pub labels: u64,
    /// Labels per scenario name.
    pub scenarios: BTreeMap<String, u64>,
    /// Console visits whose label (by the rules) differs from what they were built for.
    pub construction_mismatches: Vec<String>,
}

type Line = (i64, u64, String);

#[derive(Default)]
struct DayBuf {
    okta: Vec<Line>,
    entra: Vec<Line>,
    google_login: Vec<Line>,
    google_saml: Vec<Line>,
    adfs: Vec<Line>,
}

pub struct Sink {
    out: PathBuf,
    seed: u64,
    gzip_level: u32,
    seq: u64,
    days: BTreeMap<i64, DayBuf>,
    /// CloudTrail records waiting for their file: (file time, account, region) → JSON texts.
    pending: BTreeMap<(i64, usize, usize), Vec<String>>,
    /// Kept CloudTrail records generated per day (for the day's noise volume).
    relevant_per_day: BTreeMap<i64, u64>,
    noise_signal_per_day: BTreeMap<i64, u64>,
    made_dirs: BTreeSet<PathBuf>,
    /// Days whose IdP pages are written: later records for them go to the next open day.
    flushed_through: i64,
    pub truth: Truth,
    pub files: u64,
    pub bytes: u64,
}

struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io { path: path.to_path_buf(), source }
}

/// The day index of a time (day 0 starts at the options' start).
pub fn day_of(w: &World, t: i64) -> i64 {
    (t - w.start).div_euclid(DAY)
}

impl Sink {
    pub fn new(out: &Path, seed: u64, gzip_level: u32) -> Sink {
        Sink {
            out: out.to_path_buf(),
            seed,
            gzip_level,
            seq: 0,
            days: BTreeMap::new(),
            pending: BTreeMap::new(),
            relevant_per_day: BTreeMap::new(),
            noise_signal_per_day: BTreeMap::new(),
            made_dirs: BTreeSet::new(),
            flushed_through: i64::MIN,
            truth: Truth::default(),
            files: 0,
            bytes: 0,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn idp_truth(&mut self, p: Idp) -> &mut IdpTruth {
        match p {
            Idp::Okta => &mut self.truth.okta,
            Idp::Entra => &mut self.truth.entra,
            Idp::Google => &mut self.truth.google,
            Idp::Adfs => &mut self.truth.adfs,
        }
    }

    /// An Okta LogEvent at IdP time `t`. Returns whether it is written.
    pub fn okta(&mut self, w: &World, t: i64, json: String, event_type: &str, kind: Option<&str>) -> bool {
        if !w.idp_stored(Idp::Okta, t) {
            self.truth.okta.dropped += 1;
            return false;
        }
        let seq = self.next_seq();
        self.days
            .entry(day_of(w, t).max(self.flushed_through.saturating_add(1)))
            .or_default()
            .okta
            .push((t, seq, json));
        let tr = &mut self.truth.okta;
        tr.records += 1;
        *tr.by_native_type.entry(event_type.to_string()).or_default() += 1;
        match kind {
            Some(k) => {
                tr.relevant += 1;
                *tr.by_kind.entry(k.to_string()).or_default() += 1;
            }
            None => tr.irrelevant += 1,
        }
        true
    }

    /// An Entra sign-in. `kind` is `None` for records the parser skips.
    pub fn entra(&mut self, w: &World, t: i64, json: String, native: &str, relevant: bool) -> bool {
        if !w.idp_stored(Idp::Entra, t) {
            self.truth.entra.dropped += 1;
            return false;
        }
        let seq = self.next_seq();
        self.days
            .entry(day_of(w, t).max(self.flushed_through.saturating_add(1)))
            .or_default()
            .entra
            .push((t, seq, json));
        let tr = &mut self.truth.entra;
        tr.records += 1;
        *tr.by_native_type.entry(native.to_string()).or_default() += 1;
        if relevant {
            tr.relevant += 1;
            *tr.by_kind.entry("app_sso".to_string()).or_default() += 1;
        } else {
            tr.irrelevant += 1;
        }
        true
    }

    /// An AD FS sign-in (Azure Monitor record of category `ADFSSignInLogs`).
    pub fn adfs(&mut self, w: &World, t: i64, json: String) -> bool {
        if !w.idp_stored(Idp::Adfs, t) {
            self.truth.adfs.dropped += 1;
            return false;
        }
        let seq = self.next_seq();
        self.days
            .entry(day_of(w, t).max(self.flushed_through.saturating_add(1)))
            .or_default()
            .adfs
            .push((t, seq, json));
        let tr = &mut self.truth.adfs;
        tr.records += 1;
        tr.relevant += 1;
        *tr.by_native_type.entry("ADFSSignInLogs".to_string()).or_default() += 1;
        *tr.by_kind.entry("app_sso".to_string()).or_default() += 1;
        true
    }

    /// A Google activity with the events' native types and kinds.
    pub fn google(
        &mut self,
        w: &World,
        t: i64,
        json: String,
        saml: bool,
        events: &[(String, Option<&'static str>)],
    ) -> bool {
        if !w.idp_stored(Idp::Google, t) {
            self.truth.google.dropped += 1;
            return false;
        }
        let seq = self.next_seq();
        let day = self.days.entry(day_of(w, t).max(self.flushed_through.saturating_add(1))).or_default();
        if saml {
            day.google_saml.push((t, seq, json));
        } else {
            day.google_login.push((t, seq, json));
        }
        let tr = &mut self.truth.google;
        tr.records += 1;
        let mut relevant = false;
        for (native, kind) in events {
            *tr.by_native_type.entry(native.clone()).or_default() += 1;
            if let Some(k) = kind {
                relevant = true;
                *tr.by_kind.entry(k.to_string()).or_default() += 1;
            }
        }
        if relevant {
            tr.relevant += 1;
        } else {
            tr.irrelevant += 1;
        }
        true
    }

    /// Queues a CloudTrail record for delivery: 5–15 minutes after the event (rounded up to the
    /// next 5-minute file), sometimes hours late, sometimes also in a second file.
    pub fn cloudtrail(&mut self, w: &World, rec: CtRecord, rng: &mut Pcg64, late_ratio: f64, dup_ratio: f64) {
        let region = w.regions.iter().position(|r| *r == rec.region).unwrap_or(0);
        let mut delay = rng::between(rng, 5 * MIN, 15 * MIN);
        if rng.random_bool(late_ratio.clamp(0.0, 1.0)) {
            delay += rng::between(rng, HOUR, 6 * HOUR);
            self.truth.cloudtrail.late_records += 1;
        }
        let slot = slot_after(rec.time + delay);
        let text = rec.json.to_string();
        let day = day_of(w, rec.time);
        let ct = &mut self.truth.cloudtrail;
        match rec.kind {
            Some(k) => {
                ct.relevant += 1;
                *ct.relevant_by_kind.entry(k.to_string()).or_default() += 1;
                *self.relevant_per_day.entry(day).or_default() += 1;
            }
            None => {
                ct.noise += 1;
                *ct.noise_by_event_name.entry(rec.event_name.to_string()).or_default() += 1;
                *self.noise_signal_per_day.entry(day).or_default() += 1;
            }
        }
        if rec.event_name == "ConsoleLogin" {
            let ok = rec.json.pointer("/responseElements/ConsoleLogin").and_then(|v| v.as_str()) == Some("Success");
            if ok {
                self.truth.console_logins.successful.push(rec.event_id.clone());
            } else {
                self.truth.console_logins.failed.push(rec.event_id.clone());
            }
        }
        if rng.random_bool(dup_ratio.clamp(0.0, 1.0)) {
            // Also delivered in another region's file of the same account, a little later.
            let other = (region + 1 + rng.random_range(0..w.regions.len().max(2) - 1)) % w.regions.len().max(1);
            let other_slot = slot + rng::between(rng, 0, 4) * 5 * MIN;
            self.pending.entry((other_slot, rec.account, other)).or_default().push(text.clone());
            match rec.kind {
                Some(_) => self.truth.cloudtrail.relevant_duplicate_copies += 1,
                None => self.truth.cloudtrail.noise_duplicate_copies += 1,
            }
        }
        self.pending.entry((slot, rec.account, region)).or_default().push(text);
    }

    fn ensure_dir(&mut self, dir: &Path) -> Result<(), SimError> {
        if !self.made_dirs.contains(dir) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            self.made_dirs.insert(dir.to_path_buf());
        }
        Ok(())
    }

    fn write_plain(&mut self, path: &Path, body: &[u8]) -> Result<(), SimError> {
        if let Some(dir) = path.parent() {
            self.ensure_dir(dir)?;
        }
        std::fs::write(path, body).map_err(io_err(path))?;
        self.files += 1;
        self.bytes += body.len() as u64;
        Ok(())
    }

    /// Writes the IdP pages of day `day`.
    pub fn flush_idp_day(&mut self, w: &World, day: i64) -> Result<(), SimError> {
        self.flushed_through = self.flushed_through.max(day);
        let Some(mut buf) = self.days.remove(&day) else { return Ok(()) };
        let date = time::yyyymmdd(w.start + day * DAY);
        let mut rng = rng::rng_for(self.seed, stream::PAGES, &[day as u64]);
        // Okta: published order, JSON arrays of up to 1000.
        buf.okta.sort_by_key(|a| (a.0, a.1));
        for (i, page) in buf.okta.chunks(1000).enumerate() {
            let mut body = String::from("[\n");
            for (k, (_, _, j)) in page.iter().enumerate() {
                if k > 0 {
                    body.push_str(",\n");
                }
                body.push_str(j);
            }
            body.push_str("\n]\n");
            let path = self.out.join("okta").join(format!("syslog-{date}-{:04}.json", i + 1));
            self.write_plain(&path, body.as_bytes())?;
            self.truth.okta.files += 1;
        }
        // Entra: newest first, Graph pages.
        buf.entra.sort_by_key(|b| std::cmp::Reverse((b.0, b.1)));
        let pages: Vec<&[Line]> = buf.entra.chunks(1000).collect();
        let n = pages.len();
        for (i, page) in pages.into_iter().enumerate() {
            let mut body =
                String::from(r#"{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns""#);
            if i + 1 < n {
                body.push_str(&format!(
                    r#","@odata.nextLink":"https://graph.microsoft.com/beta/auditLogs/signIns?$top=1000&$skiptoken={}""#,
                    rng::alnum(&mut rng, 48)
                ));
            }
            body.push_str(",\"value\":[\n");
            for (k, (_, _, j)) in page.iter().enumerate() {
                if k > 0 {
                    body.push_str(",\n");
                }
                body.push_str(j);
            }
            body.push_str("\n]}\n");
            let path = self.out.join("entra").join(format!("signins-{date}-{:04}.json", i + 1));
            self.write_plain(&path, body.as_bytes())?;
            self.truth.entra.files += 1;
        }
        // AD FS: Azure Monitor records (`{"records":[...]}`, as Event Hubs and storage accounts
        // carry Entra's diagnostic logs), oldest first, up to 1000 a file.
        buf.adfs.sort_by_key(|a| (a.0, a.1));
        for (i, page) in buf.adfs.chunks(1000).enumerate() {
            let mut body = String::from("{\"records\":[\n");
            for (k, (_, _, j)) in page.iter().enumerate() {
                if k > 0 {
                    body.push_str(",\n");
                }
                body.push_str(j);
            }
            body.push_str("\n]}\n");
            let path = self.out.join("adfs").join(format!("adfs-signins-{date}-{:04}.json", i + 1));
            self.write_plain(&path, body.as_bytes())?;
            self.truth.adfs.files += 1;
        }
        // Google: newest first, Reports API pages, one series per application.
        for (app, mut lines) in
            [("login", std::mem::take(&mut buf.google_login)), ("saml", std::mem::take(&mut buf.google_saml))]
        {
            lines.sort_by_key(|b| std::cmp::Reverse((b.0, b.1)));
            let pages: Vec<&[Line]> = lines.chunks(1000).collect();
            let n = pages.len();
            for (i, page) in pages.into_iter().enumerate() {
                let mut body = format!(
                    r#"{{"kind":"admin#reports#activities","etag":"\"{}/{}\"","items":["#,
                    rng::alnum(&mut rng, 27),
                    rng::alnum(&mut rng, 27)
                );
                body.push('\n');
                for (k, (_, _, j)) in page.iter().enumerate() {
                    if k > 0 {
                        body.push_str(",\n");
                    }
                    body.push_str(j);
                }
                body.push_str("\n]");
                if i + 1 < n {
                    body.push_str(&format!(
                        r#","nextPageToken":"A:{}:{}""#,
                        rng.random_range(1_000_000_000u64..9_999_999_999),
                        rng::alnum(&mut rng, 40)
                    ));
                }
                body.push_str("}\n");
                let path = self.out.join("google").join(format!("{app}-{date}-{:04}.json", i + 1));
                self.write_plain(&path, body.as_bytes())?;
                self.truth.google.files += 1;
            }
        }
        Ok(())
    }

    /// Writes every CloudTrail file whose delivery time is at or before `until`, adding noise for
    /// the files of day `day` (those with delivery time in `(day start, day end]`).
    pub fn flush_cloudtrail(&mut self, w: &World, day: i64, until: i64, noise_ratio: f64) -> Result<(), SimError> {
        let day_start = w.start + day * DAY;
        let day_end = day_start + DAY;
        let relevant = self.relevant_per_day.get(&day).copied().unwrap_or(0) as f64;
        let signal_noise = self.noise_signal_per_day.get(&day).copied().unwrap_or(0) as f64;
        let r = noise_ratio.clamp(0.0, 0.999_999);
        let target = (relevant * r / (1.0 - r) - signal_noise).max(0.0);
        // Weights: diurnal per slot, then region and account.
        let slots: Vec<i64> = (1..=(DAY / (5 * MIN))).map(|k| day_start + k * 5 * MIN).collect();
        let slot_w = |s: i64| {
            let h = (s - day_start) / HOUR;
            if (7..19).contains(&h) { 3.0 } else { 1.0 }
        };
        const REGION_W: [f64; 4] = [0.5, 0.2, 0.25, 0.05];
        let acct_w = |a: usize| 1.0 / (1.0 + a as f64 * 0.5);
        let n_regions = w.regions.len();
        let total_w: f64 = slots.iter().map(|s| slot_w(*s)).sum::<f64>()
            * (0..n_regions).map(|r| REGION_W.get(r).copied().unwrap_or(0.05)).sum::<f64>()
            * (0..w.accounts.len()).map(acct_w).sum::<f64>();
        let mut keys: BTreeSet<(i64, usize, usize)> =
            self.pending.range(..=(until, usize::MAX, usize::MAX)).map(|(k, _)| *k).collect();
        if target > 0.0 {
            for s in &slots {
                for a in 0..w.accounts.len() {
                    for r in 0..n_regions {
                        keys.insert((*s, a, r));
                    }
                }
            }
        }
        for key in keys {
            let (slot, acct, region) = key;
            if slot > until {
                continue;
            }
            let mut records = self.pending.remove(&key).unwrap_or_default();
            let mut rng = rng::rng_for(self.seed, stream::NOISE_FILE, &[slot as u64, acct as u64, region as u64]);
            if slot > day_start && slot <= day_end && target > 0.0 {
                let lambda =
                    target * slot_w(slot) * REGION_W.get(region).copied().unwrap_or(0.05) * acct_w(acct) / total_w;
                let mut n = lambda.floor() as u64;
                if rng.random_bool((lambda - lambda.floor()).clamp(0.0, 1.0)) {
                    n += 1;
                }
                let lo = (slot - 20 * MIN).max(w.start);
                let hi = slot - 5 * MIN;
                if hi > lo {
                    let region_name = w.regions.get(region).copied().unwrap_or("us-east-1");
                    for _ in 0..n {
                        let t = time::floor_sec(rng::between(&mut rng, lo, hi));
                        let mut s = String::with_capacity(1200);
                        let name = crate::noise::write_record(&mut s, w, acct, region_name, t, &mut rng);
                        let ct = &mut self.truth.cloudtrail;
                        ct.noise += 1;
                        *ct.noise_by_event_name.entry(name.to_string()).or_default() += 1;
                        records.push(s);
                    }
                }
            }
            if records.is_empty() {
                continue;
            }
            records.shuffle(&mut rng);
            self.write_ct_file(w, slot, acct, region, &records, &mut rng)?;
        }
        Ok(())
    }

    fn write_ct_file(
        &mut self,
        w: &World,
        slot: i64,
        acct: usize,
        region: usize,
        records: &[String],
        rng: &mut Pcg64,
    ) -> Result<(), SimError> {
        let account = &w.accounts[acct].id;
        let region_name = w.regions.get(region).copied().unwrap_or("us-east-1");
        let ([y, m, d], stamp) = time::ct_key_parts(slot);
        let dir = self.out.join("AWSLogs").join(account).join("CloudTrail").join(region_name).join(y).join(m).join(d);
        self.ensure_dir(&dir)?;
        let path = dir.join(format!("{account}_CloudTrail_{region_name}_{stamp}_{}.json.gz", rng::alnum(rng, 16)));
        let file = File::create(&path).map_err(io_err(&path))?;
        let counting = Counting { inner: BufWriter::with_capacity(256 * 1024, file), n: 0 };
        let mut gz = GzBuilder::new().mtime(0).write(counting, Compression::new(self.gzip_level.min(9)));
        let mut write = |b: &[u8]| gz.write_all(b).map_err(io_err(&path));
        write(b"{\"Records\":[")?;
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                write(b",")?;
            }
            write(r.as_bytes())?;
        }
        write(b"]}")?;
        let mut counting = gz.finish().map_err(io_err(&path))?;
        counting.flush().map_err(io_err(&path))?;
        self.files += 1;
        self.bytes += counting.n;
        self.truth.cloudtrail.files += 1;
        self.truth.cloudtrail.records_written += records.len() as u64;
        Ok(())
    }

    /// Writes what is still pending (late deliveries past the end).
    pub fn flush_rest(&mut self, w: &World) -> Result<(), SimError> {
        let keys: Vec<(i64, usize, usize)> = self.pending.keys().copied().collect();
        for key in keys {
            let records = self.pending.remove(&key).unwrap_or_default();
            if records.is_empty() {
                continue;
            }
            let mut rng = rng::rng_for(self.seed, stream::NOISE_FILE, &[key.0 as u64, key.1 as u64, key.2 as u64]);
            let mut records = records;
            records.shuffle(&mut rng);
            self.write_ct_file(w, key.0, key.1, key.2, &records, &mut rng)?;
        }
        Ok(())
    }

    /// Writes `coverage.json` in each IdP directory.
    pub fn write_coverage(&mut self, w: &World) -> Result<(), SimError> {
        for p in crate::world::SIM_IDPS {
            let entries: Vec<CoverageEntry> = w
                .coverage(p)
                .into_iter()
                .map(|(s, e)| CoverageEntry { scope: w.scope(p), start: time::rfc3339(s), end: time::rfc3339(e) })
                .collect();
            let body = serde_json::to_string_pretty(&entries).map_err(|e| SimError::Json(e.to_string()))?;
            let path = self.out.join(p.as_str()).join("coverage.json");
            self.write_plain(&path, format!("{body}\n").as_bytes())?;
            self.idp_truth(p).coverage = entries;
        }
        Ok(())
    }

    pub fn write_file(&mut self, name: &str, body: &[u8]) -> Result<(), SimError> {
        let path = self.out.join(name);
        self.write_plain(&path, body)
    }
}

/// The 5-minute delivery slot at or after `t`.
pub fn slot_after(t: i64) -> i64 {
    let s = 5 * MIN;
    (t + s - 1).div_euclid(s) * s
}
