//! Shared test support: real-shaped data sets in the emulator's data layout, an emulator with
//! the test keys, configurations pointing at it, and store read-back.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;
use trailproof_emulate::{ClockMode, EmulatorConfig, Faults, Limit, RateLimits, RunningEmulator, serve};
use trailproof_model::config::{CollectConfig, Config, EntraSource, GoogleSource, OktaSource};
use trailproof_model::time::{Millis, format_ms, parse_time};

pub const T0: &str = "2026-01-10T00:00:00Z";
pub const MIN: Millis = 60_000;
pub const HOUR: Millis = 3_600_000;
pub const DAY: Millis = 24 * HOUR;
pub const TENANT: &str = trailproof_emulate::DEFAULT_ENTRA_TENANT;
pub const CUSTOMER: &str = "C01abc23";
pub const OKTA_TOKEN: &str = trailproof_emulate::DEFAULT_OKTA_TOKEN;
pub const ENTRA_SECRET: &str = trailproof_emulate::DEFAULT_ENTRA_CLIENT_SECRET;
pub const OKTA_CLIENT_ID: &str = "0oaTrailproofTest";
pub const GOOGLE_SA: &str = "collector@trailproof-test.iam.gserviceaccount.com";
pub const GOOGLE_ADMIN: &str = "admin@example.com";
pub const KEY_PRIV: &str = include_str!("../keys/client-private.pem");
pub const KEY_PUB: &str = include_str!("../keys/client-public.pem");
pub const PKCS1_PRIV: &str = include_str!("../keys/pkcs1-private.pem");
pub const PKCS1_PUB: &str = include_str!("../keys/pkcs1-public.pem");

pub fn t0() -> Millis {
    parse_time(T0).unwrap()
}

/// Entra's 7-digit fractions.
fn entra_time(ms: Millis, extra_ticks: u32) -> String {
    let base = format_ms(ms - ms.rem_euclid(1000));
    format!("{}.{:03}{:04}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000), extra_ticks % 10_000)
}

const OKTA_KEPT: [&str; 4] =
    ["user.session.start", "user.authentication.sso", "user.authentication.auth_via_mfa", "user.authentication.verify"];

pub fn okta_event(i: usize, t: Millis, event_type: &str) -> Value {
    let mut e = json!({
        "uuid": format!("okta-{i:06}-{}", t % 997),
        "published": format_ms(t),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": "test event",
        "actor": {"id": format!("00u{}", i % 7), "type": "User", "alternateId": format!("user{}@example.com", i % 7),
                  "displayName": format!("User {}", i % 7)},
        "client": {"ipAddress": format!("198.51.100.{}", i % 250), "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": "SUCCESS"},
        "authenticationContext": {"externalSessionId": format!("idx{}", i % 11)},
        "debugContext": {"debugData": {}},
        "target": [],
    });
    if event_type == "user.authentication.sso" {
        e["target"] =
            json!([{"id": "0oaAWS", "type": "AppInstance", "alternateId": "AWS Prod", "displayName": "AWS Prod"}]);
    }
    if event_type.starts_with("user.authentication.auth_via_mfa") || event_type == "user.authentication.verify" {
        e["debugContext"]["debugData"]["factor"] = json!("OKTA_VERIFY_PUSH");
    }
    e
}

pub fn entra_signin(i: usize, t: Millis, interactive: bool, app: &str) -> Value {
    json!({
        "id": format!("si-{i:06}-{:04}", t % 9973),
        "createdDateTime": entra_time(t, (i * 37) as u32),
        "userPrincipalName": format!("user{}@example.com", i % 7),
        "userId": format!("uid-{}", i % 7),
        "userDisplayName": format!("User {}", i % 7),
        "appId": app,
        "appDisplayName": if app == "aws-app" { "AWS Prod" } else { "Other" },
        "ipAddress": format!("203.0.113.{}", i % 250),
        "resourceTenantId": TENANT,
        "homeTenantId": TENANT,
        "isInteractive": interactive,
        "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "authenticationRequirement": "multiFactorAuthentication",
        "authenticationDetails": [
            {"authenticationMethod": "Password", "succeeded": true, "authenticationStepResultDetail": "Correct password"},
            {"authenticationMethod": "Mobile app notification", "succeeded": true, "authenticationStepResultDetail": "MFA successfully completed"}
        ],
        "status": {"errorCode": 0},
        "sessionId": format!("sess-{}", i % 13),
    })
}

/// `2026-01-10T00:00:00.000Z`: milliseconds always written, as the Reports API does.
pub fn google_time(t: Millis) -> String {
    let s = format_ms(t);
    if s.contains('.') { s } else { s.replace('Z', ".000Z") }
}

pub fn google_activity(i: usize, t: Millis, app: &str) -> Value {
    let events = if app == "saml" {
        json!([{"type": "login", "name": "login_success", "parameters": [
            {"name": "application_name", "value": "AWS"},
            {"name": "initiated_by", "value": "idp"}
        ]}])
    } else {
        json!([{"type": "login", "name": if i.is_multiple_of(2) { "login_success" } else { "login_verification" }, "parameters": [
            {"name": "login_type", "value": "google_password"},
            {"name": "login_challenge_method", "multiValue": ["password", "google_authenticator"]},
            {"name": "is_second_factor", "boolValue": i % 2 == 1},
            {"name": "login_challenge_status", "value": "Challenge Passed."}
        ]}])
    };
    json!({
        "kind": "admin#reports#activity",
        "id": {"time": google_time(t),
               "uniqueQualifier": format!("{}{i:06}", if app == "saml" { "-9" } else { "-1" }),
               "applicationName": app, "customerId": CUSTOMER},
        "etag": "\"x\"",
        "actor": {"email": format!("user{}@example.com", i % 7), "profileId": format!("1000{}", i % 7)},
        "ipAddress": format!("192.0.2.{}", i % 250),
        "events": events,
    })
}

/// A generated data set and the native ids the collectors must end up with.
pub struct DataSet {
    pub dir: TempDir,
    pub okta_ids: BTreeSet<String>,
    pub entra_ids: BTreeSet<String>,
    pub google_ids: BTreeSet<String>,
    /// Records the collectors must not fetch (filtered at the source).
    pub excluded: usize,
    /// Native id -> record time, for every expected record.
    pub times: BTreeMap<String, Millis>,
}

/// Spreads `n` times evenly (with a seeded jitter) over `[from, from + span)`.
fn times(n: usize, from: Millis, span: Millis, salt: u64) -> Vec<Millis> {
    (0..n)
        .map(|i| {
            let base = from + (span as i128 * i as i128 / n.max(1) as i128) as Millis;
            let j = (splitmix(salt ^ i as u64) % 997) as Millis;
            base + j
        })
        .collect()
}

pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn write(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// `okta`, `entra`, `google` record counts over `[t0, t0 + span)`.
pub fn dataset(okta: usize, entra: usize, google: usize, span: Millis) -> DataSet {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let from = t0();
    let mut excluded = 0;
    let mut all_times = BTreeMap::new();

    let mut okta_ids = BTreeSet::new();
    let mut events = Vec::new();
    for (i, t) in times(okta, from, span, 1).into_iter().enumerate() {
        // Every 10th event is of a type the server-side filter drops.
        let et = if i % 10 == 9 { "user.account.update_profile" } else { OKTA_KEPT[i % OKTA_KEPT.len()] };
        let e = okta_event(i, t, et);
        if i % 10 == 9 {
            excluded += 1;
        } else {
            okta_ids.insert(e["uuid"].as_str().unwrap().to_string());
            all_times.insert(e["uuid"].as_str().unwrap().to_string(), t);
        }
        events.push(e);
    }
    for (k, chunk) in events.chunks(5000).enumerate() {
        write(d, &format!("okta/part-{k}.json"), &serde_json::to_string(chunk).unwrap());
    }

    let mut entra_ids = BTreeSet::new();
    let mut signins = Vec::new();
    for (i, t) in times(entra, from, span, 2).into_iter().enumerate() {
        // Every 8th is non-interactive: Graph lists it only when asked (the collector asks).
        let interactive = i % 8 != 7;
        let s = entra_signin(i, t, interactive, if i % 3 == 0 { "other-app" } else { "aws-app" });
        entra_ids.insert(s["id"].as_str().unwrap().to_string());
        all_times.insert(s["id"].as_str().unwrap().to_string(), t);
        signins.push(s);
    }
    for (k, chunk) in signins.chunks(5000).enumerate() {
        write(d, &format!("entra/page-{k}.json"), &json!({"value": chunk}).to_string());
    }

    let mut google_ids = BTreeSet::new();
    let (mut login, mut saml) = (Vec::new(), Vec::new());
    for (i, t) in times(google, from, span, 3).into_iter().enumerate() {
        let app = if i % 4 == 3 { "saml" } else { "login" };
        let a = google_activity(i, t, app);
        let id =
            format!("{app}/{}/{}", a["id"]["time"].as_str().unwrap(), a["id"]["uniqueQualifier"].as_str().unwrap());
        all_times.insert(id.clone(), t);
        google_ids.insert(id);
        if app == "saml" { saml.push(a) } else { login.push(a) }
    }
    write(d, "google/login-1.json", &json!({"items": login}).to_string());
    write(d, "google/saml-1.json", &json!({"items": saml}).to_string());

    DataSet { dir, okta_ids, entra_ids, google_ids, excluded, times: all_times }
}

/// Files with the test credentials.
pub struct Creds {
    pub dir: TempDir,
    pub okta_token: PathBuf,
    pub okta_key: PathBuf,
    pub entra_secret: PathBuf,
    pub google_key: PathBuf,
}

pub fn creds() -> Creds {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("okta-token"), format!("{OKTA_TOKEN}\n")).unwrap();
    std::fs::write(p("okta-key.pem"), PKCS1_PRIV).unwrap();
    std::fs::write(p("entra-secret"), ENTRA_SECRET).unwrap();
    let key = json!({"type": "service_account", "project_id": "trailproof-test", "private_key_id": "k1",
        "private_key": KEY_PRIV, "client_email": GOOGLE_SA, "token_uri": "https://oauth2.googleapis.com/token"});
    std::fs::write(p("google-key.json"), key.to_string()).unwrap();
    Creds {
        okta_token: p("okta-token"),
        okta_key: p("okta-key.pem"),
        entra_secret: p("entra-secret"),
        google_key: p("google-key.json"),
        dir,
    }
}

pub fn emulator_config(data: &Path, faults: &[&str], clock: ClockMode) -> EmulatorConfig {
    EmulatorConfig {
        data: data.to_path_buf(),
        faults: Faults::parse(&faults.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        seed: 7,
        okta_client_id: Some(OKTA_CLIENT_ID.into()),
        okta_client_public_key_pem: Some(PKCS1_PUB.into()),
        google_public_key_pem: Some(KEY_PUB.into()),
        google_client_email: Some(GOOGLE_SA.into()),
        google_admin: Some(GOOGLE_ADMIN.into()),
        clock,
        // Limits are enforced only when a test turns `rate_limits` on, but Okta's
        // `X-Rate-Limit-Remaining` header is sent anyway, and the collector pauses when it
        // reaches 0: make it unreachable unless a test sets its own.
        limits: RateLimits {
            okta: Limit { max: 1_000_000, window: std::time::Duration::from_secs(60) },
            ..RateLimits::default()
        },
        ..EmulatorConfig::default()
    }
}

pub async fn emulator(data: &Path, faults: &[&str]) -> RunningEmulator {
    serve(emulator_config(data, faults, ClockMode::Wall)).await.unwrap()
}

pub fn okta_source(url: &str, c: &Creds) -> OktaSource {
    OktaSource {
        name: "main".into(),
        url: url.into(),
        token_file: c.okta_token.to_string_lossy().into(),
        requests_per_minute: Some(0),
        settling_minutes: Some(0),
        ..Default::default()
    }
}

pub fn okta_app_source(url: &str, c: &Creds) -> OktaSource {
    OktaSource {
        name: "app".into(),
        url: url.into(),
        client_id: OKTA_CLIENT_ID.into(),
        private_key_file: c.okta_key.to_string_lossy().into(),
        requests_per_minute: Some(0),
        settling_minutes: Some(0),
        ..Default::default()
    }
}

pub fn entra_source(url: &str, c: &Creds) -> EntraSource {
    EntraSource {
        name: "corp".into(),
        tenant_id: TENANT.into(),
        client_id: trailproof_emulate::DEFAULT_ENTRA_CLIENT_ID.into(),
        client_secret_file: c.entra_secret.to_string_lossy().into(),
        authority_url: url.into(),
        graph_url: url.into(),
        requests_per_10s: Some(0),
        settling_minutes: Some(0),
        ..Default::default()
    }
}

pub fn google_source(url: &str, c: &Creds) -> GoogleSource {
    GoogleSource {
        name: "ws".into(),
        customer_id: CUSTOMER.into(),
        service_account_key_file: c.google_key.to_string_lossy().into(),
        admin_email: GOOGLE_ADMIN.into(),
        token_url: format!("{url}/token"),
        reports_url: url.into(),
        requests_per_minute: Some(0),
        settling_minutes: Some(0),
    }
}

/// A configuration with fast retries; the sources above claim coverage up to now (no settling).
pub fn config(okta: Vec<OktaSource>, entra: Vec<EntraSource>, google: Vec<GoogleSource>) -> Config {
    Config {
        collect: CollectConfig {
            overlap_minutes: 0,
            initial_lookback_hours: 96,
            max_retries: 4,
            retry_initial_ms: 1,
            retry_max_ms: 20,
            request_timeout_seconds: 5,
            okta,
            entra,
            google,
            ..CollectConfig::default()
        },
        ..Config::default()
    }
}

/// Native ids of the raw records stored per source.
pub fn stored_ids(db: &Path, source: &str) -> BTreeSet<String> {
    let store = trailproof_store::Store::open(db).unwrap();
    let source = trailproof_model::Source::parse(source).unwrap();
    store.native_ids(source).unwrap().into_iter().collect()
}

pub fn raw_count(db: &Path, source: &str) -> u64 {
    let store = trailproof_store::Store::open(db).unwrap();
    store
        .conn()
        .query_row("SELECT COUNT(*) FROM raw_records WHERE source = ?1", [source], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

pub fn coverage(db: &Path) -> Vec<(String, String, Millis, Millis)> {
    let store = trailproof_store::Store::open(db).unwrap();
    store
        .coverage()
        .unwrap()
        .into_iter()
        .map(|c| (c.source.as_str().to_string(), c.scope, c.start_ms, c.end_ms))
        .collect()
}

pub fn checkpoint(db: &Path, source: trailproof_model::Source, scope: &str, stream: &str) -> Option<String> {
    trailproof_store::Store::open(db).unwrap().checkpoint(source, scope, stream).unwrap()
}
