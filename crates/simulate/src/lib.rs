#![recursion_limit = "256"]
//! Labelled scenario generator: a simulated organisation's sign-in logs in each source's
//! native format, with the verdict every console session must get.
//!
//! [`simulate`] writes, under `out/`:
//!
//! | path | what |
//! |---|---|
//! | `AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alnum>.json.gz` | CloudTrail S3 delivery files (`{"Records":[...]}`, gzip, mtime 0). The name carries the delivery time, 5–20 minutes after the events inside (some records hours late); records are unordered within a file; some records are delivered twice (same `eventID`, another region's file). Ordinary API calls make up `noise_ratio` of the records, generated on the fly while the file is written. |
//! | `okta/syslog-<YYYYMMDD>-<NNNN>.json` | Okta System Log pages: JSON arrays of up to 1000 `LogEvent`s, in `published` order. |
//! | `entra/signins-<YYYYMMDD>-<NNNN>.json` | Graph beta `auditLogs/signIns` pages (`{"@odata.context", "@odata.nextLink", "value"}`), newest first, up to 1000. |
//! | `google/login-<YYYYMMDD>-<NNNN>.json`, `google/saml-<YYYYMMDD>-<NNNN>.json` | Reports API `activities.list` pages (`{"kind":"admin#reports#activities","items":[...]}`), newest first. |
//! | `adfs/adfs-signins-<YYYYMMDD>-<NNNN>.json` | AD FS sign-ins as Entra's diagnostic settings export them: Azure Monitor records of category `ADFSSignInLogs` (`{"records":[...]}`), oldest first, up to 1000. |
//! | `<idp>/coverage.json` | The span each IdP directory holds completely: `[{"scope","start","end"}]`, leaving out the stretch deliberately dropped. Scopes: Okta `*`, Entra and AD FS the tenant id, Google the customer id. |
//! | `labels.ndjson` | One [`trailproof_model::verdict::Label`] per successful ConsoleLogin, sorted by `console_login_event_id`. |
//! | `org.toml` | The organisation as [`trailproof_model::config::Config`]. |
//! | `truth.json` | [`Truth`]: counts per source and kind, duplicates, console login ids, labels per scenario. |
//!
//! Determinism: the same options give the same bytes. Every piece (a user's day, a scenario, a
//! delivery file's noise) draws from its own `Pcg64` seeded from the seed and the piece's
//! coordinates; nothing iterates a hash map; gzip headers carry mtime 0; no wall clock is read.
//!
//! Memory: the generator works one day at a time. It holds that day's IdP records (as JSON text)
//! and the CloudTrail sign-in records waiting for their delivery file, never the noise: growing
//! `days` or `noise_ratio` does not grow memory; growing `users` grows the per-day buffer.
//!
//! Labels follow docs/judging.md: they are computed by its rules (§1–§7) over the records as
//! written (dropped ones excluded), and each console visit is also built for an intended verdict;
//! any disagreement is reported in [`SimSummary::mismatches`] (and `truth.json`), which the tests
//! require to be empty. README.md lists the scenarios.

mod ct;
mod generate;
mod idp;
mod noise;
mod rng;
mod sink;
mod time;
mod track;
mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use sink::{CloudTrailTruth, ConsoleLogins, CoverageEntry, IdpTruth, Truth};

/// Every scenario name a label can carry (README.md describes each). With at least 80 users
/// and 1 day, each appears at least once.
pub const SCENARIOS: [&str; 58] = [
    "okta_saml_mfa_at_signin",
    "okta_saml_mfa_step_up",
    "okta_saml_password_only",
    "okta_saml_upstream_idp",
    "okta_saml_source_identity",
    "okta_saml_ipv6_idp_ip_mismatch",
    "okta_ic_mfa_at_signin",
    "okta_ic_mfa_step_up",
    "okta_ic_password_only",
    "okta_ic_local_part",
    "okta_repeat_login_step_up",
    "nat_two_users",
    "okta_session_start_before_coverage",
    "okta_idp_logs_missing",
    "okta_mfa_in_missing_stretch",
    "entra_saml_mfa_fresh",
    "entra_saml_previously_satisfied",
    "entra_saml_single_factor",
    "entra_saml_federated_mfa",
    "entra_saml_case_difference",
    "entra_saml_name_cut_64",
    "entra_role_broker_mfa_fresh",
    "entra_role_broker_previously_satisfied",
    "entra_role_broker_single_factor",
    "entra_role_broker_alias",
    "entra_conflicting_ssos",
    "entra_multi_network_burst",
    "google_saml_2sv_security_key",
    "google_saml_2sv_prompt",
    "google_saml_password_only",
    "google_saml_no_recent_login",
    "google_fed_broker_2sv_security_key",
    "google_fed_broker_2sv_prompt",
    "google_fed_broker_password_only",
    "google_fed_broker_name_cut_32",
    "google_fed_broker_token_relay",
    "broker_stolen_keys",
    "broker_stolen_keys_same_ip",
    "entra_saml_outcome_unknown_single_factor",
    "entra_saml_outcome_unknown_mfa",
    "entra_saml_non_interactive_sso",
    "adfs_saml_azure_mfa",
    "adfs_saml_mfa_sso_token",
    "adfs_saml_sso_token_only",
    "adfs_saml_certificate",
    "adfs_saml_forms_only",
    "adfs_golden_saml",
    "adfs_idp_logs_missing",
    "ic_directory_totp",
    "ic_directory_webauthn",
    "ic_directory_password_only",
    "ic_directory_no_portal_sign_in",
    "ic_directory_no_portal_sign_in_busy",
    "cli_session_name",
    "cli_session_name_quiet_hours",
    "iam_user_mfa",
    "iam_user_no_mfa",
    "root_mfa",
];

/// 2026-11-01T00:00:00Z.
pub const DEFAULT_START_MS: i64 = 1_793_491_200_000;

/// Where under its output directory [`simulate`] writes each source's logs (CloudTrail first, then
/// the IdPs): what an import of the whole simulated organisation reads.
pub const SOURCE_DIRS: [(trailproof_model::Source, &str); 5] = [
    (trailproof_model::Source::Cloudtrail, "AWSLogs"),
    (trailproof_model::Source::Okta, "okta"),
    (trailproof_model::Source::Entra, "entra"),
    (trailproof_model::Source::Google, "google"),
    (trailproof_model::Source::Adfs, "adfs"),
];

/// What to simulate. Every field has a default ([`SimOptions::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    pub seed: u64,
    pub users: u32,
    pub days: u32,
    /// Start of CloudTrail data and of day 0 (IdP data and coverage start a day earlier).
    pub start_ms: i64,
    /// Share of CloudTrail records that are ordinary API calls (0 ≤ r < 1).
    pub noise_ratio: f64,
    /// IdP events unrelated to AWS per user per day (about).
    pub idp_noise_per_user_day: u32,
    /// AWS accounts (1–9).
    pub accounts: u32,
    /// Share of users (beyond the guaranteed ones) who use the AWS console.
    pub aws_user_share: f64,
    /// Share of CloudTrail sign-in records delivered 1–6 hours late.
    pub late_ratio: f64,
    /// Share of CloudTrail sign-in records delivered a second time in another file.
    pub duplicate_ratio: f64,
    /// gzip level of CloudTrail files (0–9).
    pub gzip_level: u32,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            users: 500,
            days: 3,
            start_ms: DEFAULT_START_MS,
            noise_ratio: 0.99,
            idp_noise_per_user_day: 20,
            accounts: 3,
            aws_user_share: 0.4,
            late_ratio: 0.01,
            duplicate_ratio: 0.01,
            gzip_level: 6,
        }
    }
}

/// What [`simulate`] wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimSummary {
    /// ConsoleLogin records (successful and failed), distinct.
    pub console_logins: u64,
    pub labels: u64,
    /// Records written per source (`cloudtrail`, `okta`, `entra`, `google`, `adfs`), CloudTrail
    /// duplicate copies included.
    pub records: BTreeMap<String, u64>,
    pub files: u64,
    pub bytes: u64,
    /// Labels per scenario name.
    pub scenarios: BTreeMap<String, u64>,
    /// Console visits whose label (by the rules) differs from what the scenario was built for.
    /// Empty unless the generator has a bug.
    pub mismatches: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid options: {0}")]
    Options(String),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot serialize: {0}")]
    Json(String),
}

fn check(opts: &SimOptions) -> Result<(), SimError> {
    let bad = |s: String| Err(SimError::Options(s));
    if opts.users == 0 {
        return bad("users must be at least 1".into());
    }
    if opts.days == 0 || opts.days > 3660 {
        return bad(format!("days must be between 1 and 3660, not {}", opts.days));
    }
    if !(0.0..1.0).contains(&opts.noise_ratio) {
        return bad(format!("noise_ratio must be at least 0 and below 1, not {}", opts.noise_ratio));
    }
    for (name, v) in [
        ("aws_user_share", opts.aws_user_share),
        ("late_ratio", opts.late_ratio),
        ("duplicate_ratio", opts.duplicate_ratio),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return bad(format!("{name} must be between 0 and 1, not {v}"));
        }
    }
    if !(1..=9).contains(&opts.accounts) {
        return bad(format!("accounts must be between 1 and 9, not {}", opts.accounts));
    }
    if opts.gzip_level > 9 {
        return bad(format!("gzip_level must be between 0 and 9, not {}", opts.gzip_level));
    }
    Ok(())
}

/// Writes the simulated logs, labels, organisation and ground truth under `out` (created if
/// missing; files of the same names are overwritten). `progress` receives a line per day.
pub fn simulate(opts: &SimOptions, out: &Path, progress: &mut dyn FnMut(&str)) -> Result<SimSummary, SimError> {
    check(opts)?;
    std::fs::create_dir_all(out).map_err(sink::io_err(out))?;
    let w = world::World::new(opts);
    let (scheduled, reserved) = generate::schedule(&w, opts);
    let mut sink = sink::Sink::new(out, opts.seed, opts.gzip_level);
    {
        let t = &mut sink.truth;
        t.seed = opts.seed;
        t.users = opts.users;
        t.days = opts.days;
        t.start = time::rfc3339(w.start);
        t.idp_start = time::rfc3339(w.lead_start);
        t.end = time::rfc3339(w.end);
        for p in world::SIM_IDPS {
            t.clock_skew_ms.insert(p.as_str().to_string(), w.skew(p));
        }
        t.cloudtrail.accounts = w.accounts.iter().map(|a| a.id.clone()).collect();
        t.cloudtrail.regions = w.regions.iter().map(|r| r.to_string()).collect();
    }
    let mut g = generate::Gen::new(&w, opts, sink);
    for day in -1..opts.days as i64 {
        for u in 0..opts.users {
            match reserved.get(&(u, day)) {
                Some(generate::Reservation::Owned) => {}
                Some(generate::Reservation::NoAws) => g.routine_day(u, day, false),
                None => g.routine_day(u, day, true),
            }
        }
        for s in scheduled.iter().filter(|s| s.day == day) {
            g.special(s);
        }
        if day >= 0 {
            g.aws_only_day(day);
        }
        g.label_day(day);
        g.sink.flush_idp_day(&w, day)?;
        let day_start = w.start + day * time::DAY;
        if day >= 0 {
            g.sink.flush_cloudtrail(&w, day, day_start + time::DAY, opts.noise_ratio)?;
        }
        g.tr.prune(day_start);
        let t = &g.sink.truth;
        progress(&format!(
            "{}: {} labels so far; CloudTrail {} records in {} files; Okta {}, Entra {}, Google {}, AD FS {} records",
            time::rfc3339(day_start).get(..10).unwrap_or(""),
            g.labels.len(),
            t.cloudtrail.records_written,
            t.cloudtrail.files,
            t.okta.records,
            t.entra.records,
            t.google.records,
            t.adfs.records
        ));
    }
    g.sink.flush_rest(&w)?;
    g.sink.write_coverage(&w)?;

    let toml = toml::to_string(&w.config()).map_err(|e| SimError::Json(e.to_string()))?;
    g.sink.write_file("org.toml", toml.as_bytes())?;

    let mut labels = std::mem::take(&mut g.labels);
    labels.sort_by(|a, b| a.console_login_event_id.cmp(&b.console_login_event_id));
    let mut body = String::new();
    for l in &labels {
        body.push_str(&serde_json::to_string(l).map_err(|e| SimError::Json(e.to_string()))?);
        body.push('\n');
    }
    g.sink.write_file("labels.ndjson", body.as_bytes())?;

    let mismatches = std::mem::take(&mut g.mismatches);
    for m in &mismatches {
        progress(&format!("warning: {m}"));
    }
    let truth = {
        let t = &mut g.sink.truth;
        t.labels = labels.len() as u64;
        t.console_logins.successful.sort();
        t.console_logins.failed.sort();
        t.construction_mismatches = mismatches.clone();
        t.clone()
    };
    let body = serde_json::to_string_pretty(&truth).map_err(|e| SimError::Json(e.to_string()))?;
    g.sink.write_file("truth.json", format!("{body}\n").as_bytes())?;

    let mut records = BTreeMap::new();
    records.insert("cloudtrail".to_string(), truth.cloudtrail.records_written);
    records.insert("okta".to_string(), truth.okta.records);
    records.insert("entra".to_string(), truth.entra.records);
    records.insert("google".to_string(), truth.google.records);
    records.insert("adfs".to_string(), truth.adfs.records);
    Ok(SimSummary {
        console_logins: (truth.console_logins.successful.len() + truth.console_logins.failed.len()) as u64,
        labels: labels.len() as u64,
        records,
        files: g.sink.files,
        bytes: g.sink.bytes,
        scenarios: truth.scenarios.clone(),
        mismatches,
    })
}
