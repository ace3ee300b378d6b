//! Loads a simulated data directory into per-source, sorted, in-memory indexes.
//!
//! Raw record bytes are kept verbatim (they are served as they were written); the fields the
//! endpoints sort and filter on are read once at load time.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;
use trailproof_jsonrec::{Splitter, WrapperPath};
use trailproof_model::time::{Millis, parse_time};

use crate::faults::{Faults, Log};

const WRAPPERS: &[WrapperPath] = &[&["value"], &["items"], &["Records"]];

pub(crate) struct OktaRec {
    pub raw: Box<str>,
    pub published: Millis,
    pub event_type: Option<String>,
    /// When the event becomes visible (its "persistence time").
    pub visible_at: Millis,
}

pub(crate) struct EntraRec {
    pub raw: Box<str>,
    pub created_ns: i128,
    pub interactive: bool,
    pub visible_at: Millis,
    /// With `complete:`, the sign-in as listed before its MFA steps are aggregated onto it,
    /// until `complete_at` (see [`crate::Faults::complete_after`]).
    pub partial: Option<Box<str>>,
    pub complete_at: Millis,
}

impl EntraRec {
    /// The record as the API lists it at `as_of`.
    pub fn raw_at(&self, as_of: Millis) -> &str {
        match &self.partial {
            Some(p) if as_of < self.complete_at => p,
            _ => &self.raw,
        }
    }
}

pub(crate) struct GoogleRec {
    pub raw: Box<str>,
    pub time_ms: Millis,
    pub app: String,
    pub email: Option<String>,
    pub profile_id: Option<String>,
    pub ip: Option<String>,
    pub event_names: Vec<String>,
    pub visible_at: Millis,
}

pub(crate) struct CtRec {
    pub raw: Box<str>,
    pub time_ms: Millis,
    pub event_id: String,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub read_only: Option<String>,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub resources: Vec<(Option<String>, Option<String>)>,
    pub visible_at: Millis,
}

/// What was loaded.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadStats {
    pub files: usize,
    pub okta: usize,
    pub entra: usize,
    pub google: usize,
    pub cloudtrail: usize,
    /// Records that were not valid JSON objects or lacked their id/time.
    pub skipped: usize,
    /// Records dropped because their native id was already loaded.
    pub duplicates: usize,
    /// The first few load problems, for the log.
    pub problems: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Dataset {
    /// Ascending by (published, load order).
    pub okta: Vec<OktaRec>,
    /// Indexes into `okta`, ascending by (visible_at, published, load order): polling order.
    pub okta_poll: Vec<usize>,
    /// Newest first.
    pub entra: Vec<EntraRec>,
    /// Newest first.
    pub google: Vec<GoogleRec>,
    /// Per region, newest first.
    pub cloudtrail: BTreeMap<String, Vec<CtRec>>,
    pub stats: LoadStats,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("data directory {0} does not exist or is not a directory")]
    NoDir(PathBuf),
    #[error("reading {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
}

struct Loader<'a> {
    faults: &'a Faults,
    seed: u64,
    ds: Dataset,
    seen: HashSet<(u8, String)>,
}

impl Loader<'_> {
    fn problem(&mut self, msg: String) {
        self.ds.stats.skipped += 1;
        if self.ds.stats.problems.len() < 20 {
            tracing::warn!("{msg}");
            self.ds.stats.problems.push(msg);
        }
    }

    fn first_seen(&mut self, source: u8, id: &str) -> bool {
        if self.seen.insert((source, id.to_string())) {
            true
        } else {
            self.ds.stats.duplicates += 1;
            false
        }
    }

    fn visible_at(&self, log: Log, t: Millis, key: &str) -> Millis {
        t + self.faults.event_delay_ms(self.seed, log, key)
    }
}

pub(crate) fn load(dir: &Path, faults: &Faults, seed: u64) -> Result<Dataset, LoadError> {
    if !dir.is_dir() {
        return Err(LoadError::NoDir(dir.to_path_buf()));
    }
    let mut l = Loader { faults, seed, ds: Dataset::default(), seen: HashSet::new() };

    for path in json_files(&dir.join("okta"))? {
        read_records(&mut l, &path, |l, raw, v| load_okta(l, raw, v, &path))?;
    }
    for path in json_files(&dir.join("entra"))? {
        read_records(&mut l, &path, |l, raw, v| load_entra(l, raw, v, &path))?;
    }
    for path in json_files(&dir.join("google"))? {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let file_app = ["login", "saml", "token", "admin"]
            .into_iter()
            .find(|a| name.starts_with(&format!("{a}-")) || name.starts_with(&format!("{a}.")))
            .map(str::to_string);
        read_records(&mut l, &path, |l, raw, v| load_google(l, raw, v, &path, file_app.as_deref()))?;
    }
    for path in json_files(&dir.join("AWSLogs"))? {
        let path_region = region_from_path(&path);
        read_records(&mut l, &path, |l, raw, v| load_cloudtrail(l, raw, v, &path, path_region.as_deref()))?;
    }

    let ds = &mut l.ds;
    // Stable sorts keep load order (sorted file names, then position) among equal times.
    ds.okta.sort_by_key(|r| r.published);
    let mut poll: Vec<usize> = (0..ds.okta.len()).collect();
    poll.sort_by_key(|&i| ds.okta.get(i).map(|r| (r.visible_at, r.published)));
    ds.okta_poll = poll;
    ds.entra.sort_by_key(|r| std::cmp::Reverse(r.created_ns));
    ds.google.sort_by_key(|r| std::cmp::Reverse(r.time_ms));
    for recs in ds.cloudtrail.values_mut() {
        recs.sort_by_key(|r| std::cmp::Reverse(r.time_ms));
    }
    ds.stats.okta = ds.okta.len();
    ds.stats.entra = ds.entra.len();
    ds.stats.google = ds.google.len();
    ds.stats.cloudtrail = ds.cloudtrail.values().map(Vec::len).sum();
    Ok(l.ds)
}

/// All `*.json`, `*.ndjson`, `*.json.gz` files under `dir`, recursively, sorted by path.
/// A missing directory is simply empty. `CloudTrail-Digest` folders are skipped.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|err| LoadError::Io { path: d.clone(), err })?;
        for entry in rd {
            let entry = entry.map_err(|err| LoadError::Io { path: d.clone(), err })?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "CloudTrail-Digest" {
                    stack.push(p);
                }
            } else if name == "coverage.json" {
                // The import manifest (what the simulated collector held), not records.
            } else if name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".ndjson") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn region_from_path(p: &Path) -> Option<String> {
    let parts: Vec<String> = p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let i = parts.iter().position(|c| c == "CloudTrail")?;
    parts.get(i + 1).cloned()
}

fn read_records(
    l: &mut Loader<'_>,
    path: &Path,
    mut each: impl FnMut(&mut Loader<'_>, Box<str>, Value),
) -> Result<(), LoadError> {
    let file = File::open(path).map_err(|err| LoadError::Io { path: path.to_path_buf(), err })?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    l.ds.stats.files += 1;
    let mut sp = Splitter::new(reader, WRAPPERS);
    loop {
        let rec = match sp.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                l.problem(format!("{}: {e}", path.display()));
                break;
            }
        };
        if rec.truncated {
            let msg = format!("{}: input ends inside record {}", path.display(), rec.index);
            l.problem(msg);
            continue;
        }
        let index = rec.index;
        let raw = match std::str::from_utf8(rec.bytes) {
            Ok(s) => s.to_string().into_boxed_str(),
            Err(_) => {
                l.problem(format!("{}: record {index} is not UTF-8", path.display()));
                continue;
            }
        };
        match serde_json::from_str::<Value>(&raw) {
            Ok(v @ Value::Object(_)) => each(l, raw, v),
            Ok(_) => l.problem(format!("{}: record {index} is not a JSON object", path.display())),
            Err(e) => l.problem(format!("{}: record {index} is not valid JSON: {e}", path.display())),
        }
    }
    Ok(())
}

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn load_okta(l: &mut Loader<'_>, raw: Box<str>, v: Value, path: &Path) {
    let (Some(uuid), Some(published)) = (s(&v, "/uuid"), s(&v, "/published")) else {
        return l.problem(format!("{}: Okta event without uuid or published", path.display()));
    };
    let Ok(published) = parse_time(&published) else {
        return l.problem(format!("{}: Okta event {uuid}: bad published time", path.display()));
    };
    if !l.first_seen(0, &uuid) {
        return;
    }
    let visible_at = l.visible_at(Log::Okta, published, &uuid);
    l.ds.okta.push(OktaRec { raw, published, event_type: s(&v, "/eventType"), visible_at });
}

/// RFC 3339 to nanoseconds (Graph sends 7 fractional digits).
pub(crate) fn parse_ns(t: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(t.trim(), &Rfc3339) {
        Ok(dt) => Some(dt.unix_timestamp_nanos()),
        Err(_) => parse_time(t).ok().map(|ms| i128::from(ms) * 1_000_000),
    }
}

fn load_entra(l: &mut Loader<'_>, raw: Box<str>, v: Value, path: &Path) {
    let (Some(id), Some(created)) = (s(&v, "/id"), s(&v, "/createdDateTime")) else {
        return l.problem(format!("{}: signIn without id or createdDateTime", path.display()));
    };
    let Some(created_ns) = parse_ns(&created) else {
        return l.problem(format!("{}: signIn {id}: bad createdDateTime", path.display()));
    };
    if !l.first_seen(1, &id) {
        return;
    }
    // Graph beta lists interactive sign-ins unless signInEventTypes is filtered on (Microsoft's
    // examples ask for the others with `signInEventTypes/any(t: t eq 'nonInteractiveUser')`;
    // MicrosoftDocs/entra-docs `reports-faq.yml`). Single sign-on from an Entra-joined PC
    // without a new factor is a non-interactive user sign-in (`concept-noninteractive-sign-ins.md`).
    let interactive = match v.get("isInteractive").and_then(Value::as_bool) {
        Some(b) => b,
        None => match v.get("signInEventTypes").and_then(Value::as_array) {
            Some(types) if !types.is_empty() => types.iter().any(|t| t.as_str() == Some("interactiveUser")),
            _ => true,
        },
    };
    let created_ms = (created_ns.div_euclid(1_000_000)) as Millis;
    let visible_at = l.visible_at(Log::Entra, created_ms, &id);
    let (partial, complete_at) = match l.faults.complete_after {
        Some(d) => (without_mfa_steps(&v), visible_at + d.as_millis() as Millis),
        None => (None, visible_at),
    };
    l.ds.entra.push(EntraRec { raw, created_ns, interactive, visible_at, partial, complete_at });
}

/// A sign-in with a second factor as Graph would list it before the MFA steps are aggregated
/// onto it (`complete:`): its first-factor steps only, requirement `singleFactorAuthentication`,
/// no MFA wording. `None` when it has no step to take away. The shape before aggregation is not
/// documented (UNCONFIRMED).
fn without_mfa_steps(v: &Value) -> Option<Box<str>> {
    let steps = v.get("authenticationDetails")?.as_array()?;
    let primary = |s: &Value| {
        let req = s.get("authenticationStepRequirement").and_then(Value::as_str).unwrap_or("");
        let method = s.get("authenticationMethod").and_then(Value::as_str).unwrap_or("");
        req.eq_ignore_ascii_case("Primary authentication")
            || (req.is_empty() && method.eq_ignore_ascii_case("Password"))
    };
    let fresh_mfa = |s: &Value| {
        !primary(s)
            && s.get("succeeded").and_then(Value::as_bool) == Some(true)
            && !s
                .get("authenticationMethod")
                .and_then(Value::as_str)
                .is_some_and(|m| m.eq_ignore_ascii_case("Previously satisfied"))
    };
    if !steps.iter().any(fresh_mfa) {
        return None;
    }
    let mut p = v.clone();
    let kept: Vec<Value> = steps.iter().filter(|s| primary(s)).cloned().collect();
    let used: Vec<Value> = kept.iter().filter_map(|s| s.get("authenticationMethod").cloned()).collect();
    let obj = p.as_object_mut()?;
    obj.insert("authenticationDetails".into(), Value::Array(kept));
    obj.insert("authenticationRequirement".into(), Value::String("singleFactorAuthentication".into()));
    obj.insert("authenticationMethodsUsed".into(), Value::Array(used));
    obj.insert("authenticationRequirementPolicies".into(), Value::Array(vec![]));
    obj.remove("mfaDetail");
    if let Some(Value::Object(st)) = obj.get_mut("status") {
        st.insert("additionalDetails".into(), Value::Null);
    }
    Some(p.to_string().into_boxed_str())
}

fn load_google(l: &mut Loader<'_>, raw: Box<str>, v: Value, path: &Path, file_app: Option<&str>) {
    let (Some(t), Some(uq)) = (s(&v, "/id/time"), v.pointer("/id/uniqueQualifier")) else {
        return l.problem(format!("{}: activity without id.time or id.uniqueQualifier", path.display()));
    };
    let uq = match uq {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Ok(time_ms) = parse_time(&t) else {
        return l.problem(format!("{}: activity {uq}: bad id.time", path.display()));
    };
    let Some(app) = s(&v, "/id/applicationName").or(file_app.map(str::to_string)) else {
        return l.problem(format!("{}: activity {uq}: no applicationName", path.display()));
    };
    if !l.first_seen(2, &format!("{uq}@{t}")) {
        return;
    }
    let event_names = v
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| evs.iter().filter_map(|e| s(e, "/name")).collect())
        .unwrap_or_default();
    let visible_at = l.visible_at(Log::Google, time_ms, &uq);
    l.ds.google.push(GoogleRec {
        raw,
        time_ms,
        app,
        email: s(&v, "/actor/email"),
        profile_id: s(&v, "/actor/profileId"),
        ip: s(&v, "/ipAddress"),
        event_names,
        visible_at,
    });
}

/// The "User name" CloudTrail event history shows for a record.
fn ct_username(v: &Value) -> Option<String> {
    let ui = v.get("userIdentity")?;
    if let Some(n) = s(ui, "/userName") {
        return Some(n);
    }
    let arn = s(ui, "/arn");
    match ui.get("type").and_then(Value::as_str) {
        Some("Root") => Some("root".into()),
        Some("AssumedRole") | Some("FederatedUser") => arn
            .as_deref()
            .and_then(|a| a.rsplit_once('/'))
            .map(|(_, n)| n.to_string())
            .or_else(|| s(ui, "/principalId").and_then(|p| p.split_once(':').map(|(_, n)| n.to_string()))),
        _ => None,
    }
}

fn load_cloudtrail(l: &mut Loader<'_>, raw: Box<str>, v: Value, path: &Path, path_region: Option<&str>) {
    let (Some(id), Some(t)) = (s(&v, "/eventID"), s(&v, "/eventTime")) else {
        return l.problem(format!("{}: CloudTrail record without eventID or eventTime", path.display()));
    };
    let Ok(time_ms) = parse_time(&t) else {
        return l.problem(format!("{}: CloudTrail record {id}: bad eventTime", path.display()));
    };
    let Some(region) = s(&v, "/awsRegion").or(path_region.map(str::to_string)) else {
        return l.problem(format!("{}: CloudTrail record {id}: no region", path.display()));
    };
    if !l.first_seen(3, &id) {
        return;
    }
    let read_only = match v.get("readOnly") {
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.to_ascii_lowercase()),
        _ => None,
    };
    let resources = v
        .get("resources")
        .and_then(Value::as_array)
        .map(|rs| rs.iter().map(|r| (s(r, "/type"), s(r, "/ARN").or_else(|| s(r, "/arn")))).collect())
        .unwrap_or_default();
    let visible_at = l.visible_at(Log::CloudTrail, time_ms, &id);
    let rec = CtRec {
        raw,
        time_ms,
        event_name: s(&v, "/eventName"),
        event_source: s(&v, "/eventSource"),
        read_only,
        username: ct_username(&v),
        access_key_id: s(&v, "/userIdentity/accessKeyId"),
        resources,
        visible_at,
        event_id: id,
    };
    l.ds.cloudtrail.entry(region).or_default().push(rec);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn username_follows_event_history_rules() {
        let cases = [
            (json!({"userIdentity":{"type":"IAMUser","userName":"alice"}}), Some("alice")),
            (json!({"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"}}), Some("root")),
            (
                json!({"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/bob@x.com"}}),
                Some("bob@x.com"),
            ),
            (json!({"userIdentity":{"type":"AssumedRole","principalId":"AROA1:carol"}}), Some("carol")),
            (json!({"userIdentity":{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/dave"}}), Some("dave")),
            (json!({"userIdentity":{"type":"AWSService"}}), None),
        ];
        for (v, want) in cases {
            assert_eq!(ct_username(&v).as_deref(), want, "{v}");
        }
    }

    #[test]
    fn region_comes_from_the_cloudtrail_path() {
        let p = Path::new("/d/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2026/01/02/x.json.gz");
        assert_eq!(region_from_path(p).as_deref(), Some("eu-west-1"));
        assert_eq!(region_from_path(Path::new("/d/okta/a.json")), None);
    }

    #[test]
    fn graph_times_keep_seven_digits() {
        let a = parse_ns("2020-03-13T19:15:41.6195833Z").unwrap();
        let b = parse_ns("2020-03-13T19:15:41.6195834Z").unwrap();
        assert_eq!(b - a, 100);
    }
}
