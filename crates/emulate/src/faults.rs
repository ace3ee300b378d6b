//! Fault injection: what can go wrong, when, and the compact `--fault` syntax.
//!
//! Every decision is a pure function of the seed, the endpoint and the endpoint's request number
//! `n` (0-based, counted per endpoint), so a run with the same seed and the same request sequence
//! meets the same faults.

use std::fmt;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// When a request fault (429 or 5xx) fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Each request independently with this probability (0..=1), drawn from the seeded RNG.
    Probability(f64),
    /// Deterministic bursts: requests `n >= after` with `(n - after) % every < len` fail.
    Burst { len: u64, every: u64, after: u64 },
}

impl Trigger {
    fn fires(&self, seed: u64, endpoint: Endpoint, kind: FaultKind, n: u64) -> bool {
        match *self {
            Trigger::Probability(p) => roll(seed, endpoint, kind, n) < p,
            Trigger::Burst { len, every, after } => n >= after && every > 0 && (n - after) % every < len,
        }
    }
}

/// 5xx bursts: when, and which status.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerErrors {
    pub trigger: Trigger,
    /// HTTP status sent (500..=599); default 503.
    pub status: u16,
}

/// How a truncated body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncateMode {
    /// Announce the full `Content-Length`, send part of the body, then close the connection.
    #[default]
    Close,
    /// A complete HTTP response whose body is the first part of the JSON (invalid JSON).
    Cut,
}

/// Which endpoints the per-request faults (429, 5xx, slow, drop, truncate) hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub okta: bool,
    pub entra: bool,
    pub google: bool,
    pub cloudtrail: bool,
    /// The token endpoints (Okta, Microsoft, Google). Off by default.
    pub tokens: bool,
    /// The Elasticsearch endpoints (`_search`, `_pit`, `_bulk`).
    pub elastic: bool,
}

impl Default for Targets {
    fn default() -> Self {
        Targets { okta: true, entra: true, google: true, cloudtrail: true, tokens: false, elastic: true }
    }
}

/// All faults; each is off by default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// 429 (CloudTrail: 400 ThrottlingException) in the vendor's shape.
    pub throttle_storm: Option<Trigger>,
    /// 5xx in the vendor's shape.
    pub server_errors: Option<ServerErrors>,
    /// Delay before every response.
    pub slow: Option<Duration>,
    /// Probability that a request's connection is closed without any response.
    pub drop_connections: Option<f64>,
    /// Probability that a successful response body is truncated.
    pub truncate_bodies: Option<f64>,
    pub truncate_mode: TruncateMode,
    /// Lifetime of the access tokens minted by the token endpoints (default 3600 s).
    pub token_ttl: Option<Duration>,
    /// Events become visible this long after their own time (on the emulator's clock).
    pub late_events: Option<Duration>,
    /// Extra per-event delay, uniform in `[0, jitter]` and fixed per event by the seed, so that
    /// events become visible out of their time order.
    pub late_jitter: Option<Duration>,
    /// Whose records `late_events` / `late_jitter` delay (`late:100m,on=entra`); default all.
    pub late_on: LogSet,
    /// Each source's records appear with the lag its vendor documents (`lag:documented`), on top
    /// of any `late`: see [`documented_lag_ms`].
    pub documented_lag: bool,
    /// Entra: a sign-in with a second factor is listed first without its MFA steps, and
    /// completed (same `id`) this long after it first appears (`complete:30m`). Microsoft: "If
    /// MFA events related to a sign-in are received, all related events are aggregated to the
    /// original sign-in", and multifactor sign-ins "might take longer to display properly. Data
    /// might take up to two hours to fully aggregate, but rarely takes that long"
    /// (MicrosoftDocs/entra-docs `docs/identity/monitoring-health/reports-faq.yml`). What the
    /// record looks like before is not documented (UNCONFIRMED): here the first factor only,
    /// requirement `singleFactorAuthentication`.
    pub complete_after: Option<Duration>,
    /// Elasticsearch: the point in time a `_search` names is gone when this fires (counted per
    /// search request), as when it outlived its `keep_alive` (`pit-expire:burst=1,every=5,after=2`).
    pub pit_expire: Option<Trigger>,
    /// Elasticsearch `_bulk`: an item is refused with 429 `es_rejected_execution_exception`
    /// when this fires (counted per item) (`bulk-reject:0.2`).
    pub bulk_reject: Option<Trigger>,
    pub targets: Targets,
}

/// The logs an event-visibility fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSet {
    pub okta: bool,
    pub entra: bool,
    pub google: bool,
    pub cloudtrail: bool,
}

impl Default for LogSet {
    fn default() -> Self {
        LogSet { okta: true, entra: true, google: true, cloudtrail: true }
    }
}

/// Which log a record belongs to (for its visibility delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Okta,
    Entra,
    Google,
    CloudTrail,
}

impl LogSet {
    fn has(&self, log: Log) -> bool {
        match log {
            Log::Okta => self.okta,
            Log::Entra => self.entra,
            Log::Google => self.google,
            Log::CloudTrail => self.cloudtrail,
        }
    }

    fn parse(s: &str) -> Result<LogSet, String> {
        let mut t = LogSet { okta: false, entra: false, google: false, cloudtrail: false };
        for name in s.split(['+', '|']).map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "okta" => t.okta = true,
                "entra" | "graph" => t.entra = true,
                "google" => t.google = true,
                "cloudtrail" | "aws" => t.cloudtrail = true,
                "all" => t = LogSet::default(),
                _ => return Err(format!("unknown log {name:?} (known: okta, entra, google, cloudtrail, all)")),
            }
        }
        Ok(t)
    }
}

/// The lag a vendor documents for its log, as a seeded draw for one record (`lag:documented`),
/// in ms. The distributions are the emulator's reading of each page, not the vendor's:
/// - Entra: 95 % of sign-ins within 2 minutes, 99 % within 5 (MicrosoftDocs/azure-docs
///   `reference-reports-latencies.md`), and "up to two hours for some sign-in records to show
///   up" (`concept-sign-ins.md`): 95 % in `[0, 2 min]`, 4 % in `(2, 5 min]`, 1 % in `(5 min, 2 h]`.
/// - Google: SAML "entries usually appear within an hour of the user action"
///   (support.google.com/a/answer/7007375), with "a small chance ... delayed beyond" the listed
///   lag times (support.google.com/a/answer/7061566): 99 % in `[0, 1 h]`, 1 % in `(1 h, 4 h]`.
/// - Okta: "near real-time" (System Log API page), delays "rare but possible": 99 % in
///   `[0, 30 s]`, 1 % in `(30 s, 10 min]`.
/// - CloudTrail: "within an average of about 5 minutes of an API call. This time is not
///   guaranteed" (CloudTrail User Guide, "Getting and viewing your CloudTrail log files"): 99 %
///   in `[1, 9 min]`, 1 % in `(9 min, 1 h]`.
pub fn documented_lag_ms(seed: u64, log: Log, key: &str) -> i64 {
    const S: f64 = 1000.0;
    const M: f64 = 60.0 * S;
    let u = unit(seed ^ 0x6c61_6700 ^ log as u64, key);
    let v = unit(seed ^ 0x6c61_6701 ^ log as u64, key);
    let (lo, hi) = match log {
        Log::Entra if u < 0.95 => (0.0, 2.0 * M),
        Log::Entra if u < 0.99 => (2.0 * M, 5.0 * M),
        Log::Entra => (5.0 * M, 120.0 * M),
        Log::Google if u < 0.99 => (0.0, 60.0 * M),
        Log::Google => (60.0 * M, 240.0 * M),
        Log::Okta if u < 0.99 => (0.0, 30.0 * S),
        Log::Okta => (30.0 * S, 10.0 * M),
        Log::CloudTrail if u < 0.99 => (M, 9.0 * M),
        Log::CloudTrail => (9.0 * M, 60.0 * M),
    };
    (lo + v * (hi - lo)) as i64
}

/// Uniform [0, 1) from a seed and a key.
fn unit(seed: u64, key: &str) -> f64 {
    let mut h = seed ^ 0x5bd1_e995_u64;
    for b in key.bytes() {
        h = splitmix(h ^ u64::from(b));
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The endpoints that count requests and draw faults separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    OktaLogs,
    OktaToken,
    EntraToken,
    GraphSignIns,
    GoogleToken,
    GoogleReports,
    CloudTrail,
    /// Elasticsearch `_search`.
    ElasticSearch,
    /// Elasticsearch point-in-time open and close (both flavours).
    ElasticPit,
    /// Elasticsearch `_bulk`.
    ElasticBulk,
}

impl Endpoint {
    pub const ALL: [Endpoint; 10] = [
        Endpoint::OktaLogs,
        Endpoint::OktaToken,
        Endpoint::EntraToken,
        Endpoint::GraphSignIns,
        Endpoint::GoogleToken,
        Endpoint::GoogleReports,
        Endpoint::CloudTrail,
        Endpoint::ElasticSearch,
        Endpoint::ElasticPit,
        Endpoint::ElasticBulk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::OktaLogs => "okta_logs",
            Endpoint::OktaToken => "okta_token",
            Endpoint::EntraToken => "entra_token",
            Endpoint::GraphSignIns => "graph_signins",
            Endpoint::GoogleToken => "google_token",
            Endpoint::GoogleReports => "google_reports",
            Endpoint::CloudTrail => "cloudtrail",
            Endpoint::ElasticSearch => "elastic_search",
            Endpoint::ElasticPit => "elastic_pit",
            Endpoint::ElasticBulk => "elastic_bulk",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn targeted(self, t: &Targets) -> bool {
        match self {
            Endpoint::OktaLogs => t.okta,
            Endpoint::GraphSignIns => t.entra,
            Endpoint::GoogleReports => t.google,
            Endpoint::CloudTrail => t.cloudtrail,
            Endpoint::OktaToken | Endpoint::EntraToken | Endpoint::GoogleToken => t.tokens,
            Endpoint::ElasticSearch | Endpoint::ElasticPit | Endpoint::ElasticBulk => t.elastic,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum FaultKind {
    Throttle = 1,
    Server = 2,
    Drop = 3,
    Truncate = 4,
    PitExpire = 5,
    BulkReject = 6,
}

/// What happens to the n-th request of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    pub drop: bool,
    pub slow: Option<Duration>,
    pub throttle: bool,
    pub server_error: Option<u16>,
    pub truncate: Option<TruncateMode>,
}

impl Faults {
    /// The fault decision for request `n` of `endpoint`: depends only on `seed`, the endpoint and `n`.
    pub fn decide(&self, seed: u64, endpoint: Endpoint, n: u64) -> Decision {
        if !endpoint.targeted(&self.targets) {
            return Decision::default();
        }
        let drop = self.drop_connections.is_some_and(|p| roll(seed, endpoint, FaultKind::Drop, n) < p);
        let throttle = self.throttle_storm.as_ref().is_some_and(|t| t.fires(seed, endpoint, FaultKind::Throttle, n));
        let server_error = self
            .server_errors
            .as_ref()
            .filter(|s| s.trigger.fires(seed, endpoint, FaultKind::Server, n))
            .map(|s| s.status);
        let truncate = self
            .truncate_bodies
            .filter(|p| roll(seed, endpoint, FaultKind::Truncate, n) < *p)
            .map(|_| self.truncate_mode);
        Decision { drop, slow: self.slow, throttle, server_error, truncate }
    }

    /// Whether the `n`-th Elasticsearch search finds its point in time gone (`pit-expire:`).
    pub fn pit_expires(&self, seed: u64, n: u64) -> bool {
        self.pit_expire.as_ref().is_some_and(|t| t.fires(seed, Endpoint::ElasticSearch, FaultKind::PitExpire, n))
    }

    /// Whether the `n`-th `_bulk` item is refused with a 429 (`bulk-reject:`).
    pub fn bulk_item_rejected(&self, seed: u64, n: u64) -> bool {
        self.bulk_reject.as_ref().is_some_and(|t| t.fires(seed, Endpoint::ElasticBulk, FaultKind::BulkReject, n))
    }

    /// The visibility delay of one record of `log` (late + its seeded share of the jitter, when
    /// `late` applies to that log, plus the documented lag when `lag:documented` is on), in ms.
    pub fn event_delay_ms(&self, seed: u64, log: Log, event_key: &str) -> i64 {
        let documented = if self.documented_lag { documented_lag_ms(seed, log, event_key) } else { 0 };
        if !self.late_on.has(log) {
            return documented;
        }
        let base = self.late_events.map_or(0, |d| d.as_millis() as i64);
        let jitter = self.late_jitter.map_or(0, |d| d.as_millis() as i64);
        if jitter == 0 {
            return base + documented;
        }
        base + (unit(seed, event_key) * jitter as f64) as i64 + documented
    }

    /// Whether records appear later than their own time at all (so the clock hides them until then).
    pub fn delays_records(&self) -> bool {
        self.late_events.is_some() || self.late_jitter.is_some() || self.documented_lag
    }

    /// Parses `--fault` values; see the crate docs for the syntax. Later values override earlier.
    pub fn parse(specs: &[String]) -> Result<Faults, FaultParseError> {
        let mut f = Faults::default();
        for spec in specs {
            for part in split_specs(spec) {
                f.apply(part.trim())?;
            }
        }
        Ok(f)
    }

    fn apply(&mut self, spec: &str) -> Result<(), FaultParseError> {
        let err = |msg: String| FaultParseError { spec: spec.to_string(), msg };
        let (kind, args) = spec.split_once(':').ok_or_else(|| err("expected KIND:ARGS, e.g. 429:0.2".into()))?;
        let args = args.trim();
        match kind.trim().to_ascii_lowercase().as_str() {
            "429" | "throttle" => {
                let (trigger, rest) = parse_trigger(args).map_err(err)?;
                reject_extra(&rest).map_err(err)?;
                self.throttle_storm = Some(trigger);
            }
            "5xx" | "500" | "503" | "error" => {
                let (trigger, rest) = parse_trigger(args).map_err(err)?;
                let mut status = match kind.trim() {
                    "500" => 500,
                    _ => 503,
                };
                for (k, v) in rest {
                    match k.as_str() {
                        "status" => {
                            status = v
                                .parse::<u16>()
                                .ok()
                                .filter(|s| (500..=599).contains(s))
                                .ok_or_else(|| err(format!("status must be 500..599, got {v:?}")))?;
                        }
                        _ => return Err(err(format!("unknown option {k:?} (known: status)"))),
                    }
                }
                self.server_errors = Some(ServerErrors { trigger, status });
            }
            "slow" => self.slow = Some(parse_duration(args).map_err(err)?),
            "drop" => self.drop_connections = Some(parse_prob(args).map_err(err)?),
            "trunc" | "truncate" => {
                let mut it = args.split(',');
                let p = parse_prob(it.next().unwrap_or("")).map_err(err)?;
                for opt in it {
                    match opt.trim().split_once('=') {
                        Some(("mode", "close")) => self.truncate_mode = TruncateMode::Close,
                        Some(("mode", "cut")) => self.truncate_mode = TruncateMode::Cut,
                        _ => return Err(err(format!("unknown option {opt:?} (known: mode=close|cut)"))),
                    }
                }
                self.truncate_bodies = Some(p);
            }
            "ttl" | "token-ttl" | "token_ttl" => self.token_ttl = Some(parse_duration(args).map_err(err)?),
            "late" => {
                let mut it = args.split(',');
                self.late_events = Some(parse_duration(it.next().unwrap_or("")).map_err(err)?);
                for opt in it {
                    match opt.trim().split_once('=') {
                        Some(("jitter", v)) => self.late_jitter = Some(parse_duration(v).map_err(err)?),
                        Some(("on", v)) => self.late_on = LogSet::parse(v).map_err(err)?,
                        _ => return Err(err(format!("unknown option {opt:?} (known: jitter=DURATION, on=LOGS)"))),
                    }
                }
            }
            "lag" => match args {
                "documented" => self.documented_lag = true,
                "none" => self.documented_lag = false,
                _ => return Err(err(format!("expected lag:documented or lag:none, got {args:?}"))),
            },
            "complete" | "mfa-later" => self.complete_after = Some(parse_duration(args).map_err(err)?),
            "pit-expire" | "pitexpire" => {
                let (trigger, rest) = parse_trigger(args).map_err(err)?;
                reject_extra(&rest).map_err(err)?;
                self.pit_expire = Some(trigger);
            }
            "bulk-reject" | "bulkreject" => {
                let (trigger, rest) = parse_trigger(args).map_err(err)?;
                reject_extra(&rest).map_err(err)?;
                self.bulk_reject = Some(trigger);
            }
            "on" => {
                let mut t = Targets {
                    okta: false,
                    entra: false,
                    google: false,
                    cloudtrail: false,
                    tokens: false,
                    elastic: false,
                };
                for name in args.split([',', '+']).map(str::trim).filter(|s| !s.is_empty()) {
                    match name {
                        "okta" => t.okta = true,
                        "entra" | "graph" => t.entra = true,
                        "google" => t.google = true,
                        "cloudtrail" | "aws" => t.cloudtrail = true,
                        "tokens" => t.tokens = true,
                        "elastic" | "elasticsearch" => t.elastic = true,
                        "all" => t = Targets { tokens: true, ..Targets::default() },
                        _ => {
                            return Err(err(format!(
                                "unknown target {name:?} (known: okta, entra, google, cloudtrail, elastic, tokens, all)"
                            )));
                        }
                    }
                }
                self.targets = t;
            }
            other => {
                return Err(err(format!(
                    "unknown fault {other:?} (known: 429, 5xx, slow, drop, trunc, ttl, late, lag, complete, pit-expire, bulk-reject, on)"
                )));
            }
        }
        Ok(())
    }
}

/// Splits `"429:0.2;slow:5ms"` into specs. Commas separate options inside one spec, so
/// several specs in one string are separated by `;` (or given as separate `--fault` flags).
fn split_specs(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').filter(|p| !p.trim().is_empty())
}

type Opts = Vec<(String, String)>;

fn parse_trigger(args: &str) -> Result<(Trigger, Opts), String> {
    let mut opts: Opts = Vec::new();
    let mut prob = None;
    for (i, part) in args.split(',').map(str::trim).enumerate() {
        match part.split_once('=') {
            Some((k, v)) => opts.push((k.trim().to_string(), v.trim().to_string())),
            None if i == 0 => prob = Some(parse_prob(part)?),
            None => return Err(format!("expected KEY=VALUE, got {part:?}")),
        }
    }
    let take = |opts: &mut Opts, key: &str| -> Result<Option<u64>, String> {
        match opts.iter().position(|(k, _)| k == key) {
            Some(i) => {
                let (_, v) = opts.remove(i);
                v.parse::<u64>().map(Some).map_err(|_| format!("{key} must be a whole number, got {v:?}"))
            }
            None => Ok(None),
        }
    };
    let burst = take(&mut opts, "burst")?;
    let every = take(&mut opts, "every")?;
    let after = take(&mut opts, "after")?;
    let trigger = match (prob, burst) {
        (Some(_), Some(_)) => return Err("give a probability or burst=N, not both".into()),
        (Some(p), None) => {
            if every.is_some() || after.is_some() {
                return Err("every= and after= go with burst=N".into());
            }
            Trigger::Probability(p)
        }
        (None, Some(len)) => {
            if len == 0 {
                return Err("burst must be at least 1".into());
            }
            let every = every.unwrap_or(len.saturating_mul(10));
            if every < len {
                return Err(format!("every ({every}) must be at least burst ({len})"));
            }
            Trigger::Burst { len, every, after: after.unwrap_or(0) }
        }
        (None, None) => return Err("expected a probability (e.g. 0.2 or 20%) or burst=N".into()),
    };
    Ok((trigger, opts))
}

fn reject_extra(opts: &Opts) -> Result<(), String> {
    match opts.first() {
        Some((k, _)) => Err(format!("unknown option {k:?} (known: burst, every, after)")),
        None => Ok(()),
    }
}

/// `0.2`, `20%`.
pub fn parse_prob(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, scale) = match s.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (s, 1.0),
    };
    let p =
        num.trim().parse::<f64>().map_err(|_| format!("expected a probability like 0.2 or 20%, got {s:?}"))? / scale;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("probability must be within 0..1, got {s:?}"));
    }
    Ok(p)
}

/// `200ms`, `2s`, `1.5s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration {s:?} needs a unit: ms, s, m or h (e.g. 200ms)"))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("expected a duration like 200ms or 5m, got {s:?}"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        u => return Err(format!("unknown duration unit {u:?} in {s:?} (known: ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("duration out of range: {s:?}"))
}

/// A malformed `--fault` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FaultParseError {
    pub spec: String,
    pub msg: String,
}

impl fmt::Display for FaultParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid --fault {:?}: {}", self.spec, self.msg)
    }
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Uniform [0,1) for (seed, endpoint, kind, n): a fresh PCG stream seeded from their mix.
fn roll(seed: u64, endpoint: Endpoint, kind: FaultKind, n: u64) -> f64 {
    let s = splitmix(splitmix(splitmix(seed) ^ endpoint as u64) ^ kind as u64) ^ n;
    let mut rng = Pcg64Mcg::seed_from_u64(splitmix(s));
    rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(specs: &[&str]) -> Result<Faults, FaultParseError> {
        Faults::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_every_kind() {
        let f = p(&[
            "429:0.2",
            "5xx:burst=3,every=7,after=2,status=502",
            "slow:200ms",
            "drop:5%",
            "trunc:0.1,mode=cut",
            "ttl:2s",
            "late:5m,jitter=1h",
            "on:okta+tokens",
        ])
        .unwrap();
        assert_eq!(f.throttle_storm, Some(Trigger::Probability(0.2)));
        assert_eq!(
            f.server_errors,
            Some(ServerErrors { trigger: Trigger::Burst { len: 3, every: 7, after: 2 }, status: 502 })
        );
        assert_eq!(f.slow, Some(Duration::from_millis(200)));
        assert_eq!(f.drop_connections, Some(0.05));
        assert_eq!(f.truncate_bodies, Some(0.1));
        assert_eq!(f.truncate_mode, TruncateMode::Cut);
        assert_eq!(f.token_ttl, Some(Duration::from_secs(2)));
        assert_eq!(f.late_events, Some(Duration::from_secs(300)));
        assert_eq!(f.late_jitter, Some(Duration::from_secs(3600)));
        assert!(f.targets.okta && f.targets.tokens && !f.targets.entra && !f.targets.cloudtrail);
    }

    #[test]
    fn semicolon_joins_specs_and_burst_defaults() {
        let f = p(&["5xx:burst=3;slow:1.5s"]).unwrap();
        assert_eq!(
            f.server_errors,
            Some(ServerErrors { trigger: Trigger::Burst { len: 3, every: 30, after: 0 }, status: 503 })
        );
        assert_eq!(f.slow, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn errors_name_the_spec_and_the_problem() {
        for (spec, needle) in [
            ("429", "expected KIND:ARGS"),
            ("429:1.5", "within 0..1"),
            ("429:x", "probability"),
            ("5xx:burst=0", "at least 1"),
            ("5xx:burst=3,status=404", "500..599"),
            ("5xx:0.1,burst=2", "not both"),
            ("slow:200", "needs a unit"),
            ("slow:2d", "unknown duration unit"),
            ("trunc:0.1,mode=half", "mode=close|cut"),
            ("bogus:1", "unknown fault"),
            ("on:okta,azure", "unknown target"),
            ("429:0.1,every=3", "go with burst"),
        ] {
            let e = p(&[spec]).unwrap_err();
            assert_eq!(e.spec, spec);
            assert!(e.to_string().contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn decisions_depend_only_on_seed_and_n() {
        let f = p(&["429:0.3", "drop:0.2", "trunc:0.2"]).unwrap();
        let a: Vec<_> = (0..200).map(|n| f.decide(7, Endpoint::OktaLogs, n)).collect();
        let b: Vec<_> = (0..200).rev().map(|n| f.decide(7, Endpoint::OktaLogs, n)).collect();
        let b: Vec<_> = b.into_iter().rev().collect();
        assert_eq!(a, b);
        let c: Vec<_> = (0..200).map(|n| f.decide(8, Endpoint::OktaLogs, n)).collect();
        assert_ne!(a, c);
        let throttled = a.iter().filter(|d| d.throttle).count();
        assert!((30..=90).contains(&throttled), "{throttled}");
    }

    #[test]
    fn bursts_are_exact() {
        let f = p(&["429:burst=2,every=5,after=1"]).unwrap();
        let fired: Vec<u64> = (0..12).filter(|&n| f.decide(1, Endpoint::CloudTrail, n).throttle).collect();
        assert_eq!(fired, vec![1, 2, 6, 7, 11]);
    }

    #[test]
    fn token_endpoints_are_spared_unless_targeted() {
        let f = p(&["429:1"]).unwrap();
        assert!(!f.decide(1, Endpoint::EntraToken, 0).throttle);
        assert!(f.decide(1, Endpoint::GraphSignIns, 0).throttle);
        let f = p(&["429:1", "on:tokens"]).unwrap();
        assert!(f.decide(1, Endpoint::EntraToken, 0).throttle);
        assert!(!f.decide(1, Endpoint::GraphSignIns, 0).throttle);
    }

    #[test]
    fn event_delay_is_seeded_and_bounded() {
        let f = p(&["late:1s,jitter=10s"]).unwrap();
        let d = f.event_delay_ms(3, Log::Okta, "evt-1");
        assert_eq!(d, f.event_delay_ms(3, Log::Okta, "evt-1"));
        assert!((1000..=11000).contains(&d));
        let spread: std::collections::BTreeSet<i64> =
            (0..50).map(|i| f.event_delay_ms(3, Log::Okta, &format!("e{i}"))).collect();
        assert!(spread.len() > 40);
    }

    #[test]
    fn late_can_be_limited_to_some_logs() {
        let f = p(&["late:100m,on=entra"]).unwrap();
        assert_eq!(f.event_delay_ms(1, Log::Entra, "x"), 100 * 60_000);
        assert_eq!(f.event_delay_ms(1, Log::Okta, "x"), 0);
        assert!(f.delays_records());
        let f = p(&["late:5m,on=okta+google"]).unwrap();
        assert_eq!((f.late_on.okta, f.late_on.google, f.late_on.entra), (true, true, false));
        assert!(p(&["late:5m,on=azure"]).unwrap_err().to_string().contains("unknown log"));
        assert_eq!(p(&["complete:30m"]).unwrap().complete_after, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn documented_lags_stay_within_each_vendors_figures() {
        let f = p(&["lag:documented"]).unwrap();
        let draws = |log: Log| -> Vec<i64> { (0..2000).map(|i| f.event_delay_ms(9, log, &format!("r{i}"))).collect() };
        let share = |v: &[i64], max_ms: i64| v.iter().filter(|d| **d <= max_ms).count() as f64 / v.len() as f64;
        let entra = draws(Log::Entra);
        assert!(entra.iter().all(|d| (0..=2 * 3_600_000).contains(d)));
        assert!(share(&entra, 2 * 60_000) > 0.93 && share(&entra, 5 * 60_000) > 0.98, "{}", share(&entra, 120_000));
        assert!(entra.iter().any(|d| *d > 5 * 60_000), "some sign-ins take longer");
        let ct = draws(Log::CloudTrail);
        let mean = ct.iter().sum::<i64>() as f64 / ct.len() as f64;
        assert!((4.0 * 60_000.0..6.5 * 60_000.0).contains(&mean), "about 5 minutes on average: {mean}");
        assert!(share(&draws(Log::Google), 3_600_000) > 0.97);
        assert!(draws(Log::Okta).iter().all(|d| *d <= 10 * 60_000));
    }
}
