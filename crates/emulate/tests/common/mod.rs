//! Shared test helpers: a small data directory in the simulator's layout, emulator start-up,
//! an HTTP client, JWT signing with the throwaway keys in tests/keys.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::sync::Once;

use serde_json::{Value, json};
use tempfile::TempDir;
use trailproof_emulate::{ClockMode, EmulatorConfig, RunningEmulator, serve};
use trailproof_model::time::{Millis, format_ms, parse_time};

pub const T0: &str = "2026-01-10T00:00:00Z";
pub const MIN: Millis = 60_000;
pub const AWS_APP: &str = "aws-app-0001";
pub const OKTA_TYPES: [&str; 3] = ["user.session.start", "user.authentication.sso", "user.authentication.auth_via_mfa"];
pub const OKTA_EVENTS: usize = 25;
pub const ENTRA_EVENTS: usize = 12;
pub const PRIV_A: &str = include_str!("../keys/test-a-private.pem");
pub const PUB_A: &str = include_str!("../keys/test-a-public.pem");
pub const PRIV_B: &str = include_str!("../keys/test-b-private.pem");

pub fn t0() -> Millis {
    parse_time(T0).unwrap()
}

pub fn iso(ms: Millis) -> String {
    format_ms(ms)
}

fn write(dir: &Path, rel: &str, body: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

pub fn write_gz(dir: &Path, rel: &str, body: &[u8]) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(body).unwrap();
    write(dir, rel, &enc.finish().unwrap());
}

pub fn okta_event(i: usize) -> Value {
    let et = OKTA_TYPES[i % 3];
    let mut e = json!({
        "uuid": format!("okta-{i:02}"),
        "published": iso(t0() + i as Millis * MIN + 123),
        "eventType": et,
        "version": "0",
        "actor": {"id": format!("00u{}", i % 3), "type": "User", "alternateId": format!("user{}@example.com", i % 3)},
        "outcome": {"result": "SUCCESS"},
        "authenticationContext": {"externalSessionId": format!("idx{}", i % 5)},
        "target": null,
    });
    if et == "user.authentication.sso" {
        e["target"] = json!([{"id": "0oaAWS", "type": "AppInstance", "alternateId": "AWS \"Prod\""}]);
    }
    e
}

pub fn entra_signin(i: usize) -> Value {
    let interactive = i % 4 != 3;
    json!({
        "id": format!("si-{i:02}"),
        "createdDateTime": format!("{}.1234567Z", iso(t0() + i as Millis * 2 * MIN).trim_end_matches('Z')),
        "appId": if i.is_multiple_of(2) { AWS_APP } else { "other-app" },
        "appDisplayName": if i.is_multiple_of(2) { "AWS Prod" } else { "Outlook" },
        "userPrincipalName": format!("user{}@example.com", i % 3),
        "isInteractive": interactive,
        "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "authenticationRequirement": "multiFactorAuthentication",
        "authenticationDetails": [{"authenticationMethod": "Password", "succeeded": true}],
        "status": {"errorCode": 0},
    })
}

pub fn google_activity(i: usize, app: &str) -> Value {
    let name = if i.is_multiple_of(2) { "login_success" } else { "login_verification" };
    json!({
        "kind": "admin#reports#activity",
        "id": {"time": iso(t0() + i as Millis * 3 * MIN), "uniqueQualifier": format!("{app}-{i}"),
               "applicationName": app, "customerId": "C01"},
        "actor": {"email": if i.is_multiple_of(2) { "alice@example.com" } else { "bob@example.com" }, "profileId": format!("1000{}", i % 2)},
        "ipAddress": format!("198.51.100.{i}"),
        "events": [{"type": "login", "name": name, "parameters": [
            {"name": "login_type", "value": if i.is_multiple_of(3) { "saml" } else { "google_password" }},
            {"name": "is_second_factor", "boolValue": i % 2 == 1}
        ]}]
    })
}

pub fn ct_record(i: usize, region: &str, source: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventID": format!("ct-{region}-{i:02}"),
        "eventTime": iso(t0() + i as Millis * 5 * MIN).replace(".000", ""),
        "eventSource": source,
        "eventName": if source == "signin.amazonaws.com" { "ConsoleLogin" } else { "ListUsers" },
        "awsRegion": region,
        "readOnly": source != "signin.amazonaws.com",
        "userIdentity": {"type": "AssumedRole", "principalId": format!("AROAX:user{i}@example.com"),
                         "arn": format!("arn:aws:sts::111122223333:assumed-role/Admin/user{i}@example.com"),
                         "accessKeyId": format!("ASIA{i:04}")},
        "resources": [{"type": "AWS::IAM::Role", "ARN": "arn:aws:iam::111122223333:role/Admin"}],
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"MFAUsed": "No", "note": "quote \" and unicode \u{e9}"},
        "recipientAccountId": "111122223333",
    })
}

/// Number of signin.amazonaws.com records in us-east-1.
pub const CT_SIGNIN_US: usize = 7;

/// A data directory in the simulator's layout.
pub fn data_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let okta: Vec<Value> = (0..OKTA_EVENTS).map(okta_event).collect();
    write(d, "okta/a.json", serde_json::to_string_pretty(&okta[..15]).unwrap().as_bytes());
    // Second file: the rest plus a duplicate of okta-03 (dropped on load).
    let mut b: Vec<Value> = okta[15..].to_vec();
    b.push(okta_event(3));
    write(d, "okta/b.json", serde_json::to_string(&b).unwrap().as_bytes());
    // Garbage that must be skipped, not fatal.
    write(d, "okta/c.ndjson", b"{\"uuid\":\"no-time\"}\nnonsense\n");

    let entra: Vec<Value> = (0..ENTRA_EVENTS).map(entra_signin).collect();
    write(d, "entra/page-1.json", json!({"value": entra[..6]}).to_string().as_bytes());
    write(d, "entra/page-2.json", json!({"value": entra[6..], "@odata.nextLink": null}).to_string().as_bytes());

    let login: Vec<Value> = (0..8).map(|i| google_activity(i, "login")).collect();
    write(d, "google/login-1.json", json!({"kind": "admin#reports#activities", "items": login}).to_string().as_bytes());
    let saml: Vec<Value> = (0..4).map(|i| google_activity(i, "saml")).collect();
    write(d, "google/saml-1.json", json!({"items": saml}).to_string().as_bytes());

    let mut us: Vec<Value> = (0..CT_SIGNIN_US).map(|i| ct_record(i, "us-east-1", "signin.amazonaws.com")).collect();
    us.extend((CT_SIGNIN_US..CT_SIGNIN_US + 3).map(|i| ct_record(i, "us-east-1", "iam.amazonaws.com")));
    write_gz(
        d,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/10/111122223333_CloudTrail_us-east-1_20260110T0100Z_a.json.gz",
        json!({"Records": us[..5]}).to_string().as_bytes(),
    );
    // Second delivery repeats record 4 (CloudTrail may deliver twice).
    write_gz(
        d,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/10/111122223333_CloudTrail_us-east-1_20260110T0200Z_b.json.gz",
        json!({"Records": us[4..]}).to_string().as_bytes(),
    );
    let eu: Vec<Value> = (0..2).map(|i| ct_record(i, "eu-west-1", "signin.amazonaws.com")).collect();
    write_gz(
        d,
        "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/01/10/111122223333_CloudTrail_eu-west-1_20260110T0100Z_c.json.gz",
        json!({"Records": eu}).to_string().as_bytes(),
    );
    write(d, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/10/digest.json.gz", b"not gzip");
    dir
}

/// The test clock default: a frozen clock one day after T0, so every record is visible.
pub fn frozen_after() -> ClockMode {
    ClockMode::Frozen(t0() + 24 * 60 * MIN)
}

pub async fn start(tweak: impl FnOnce(&mut EmulatorConfig)) -> (RunningEmulator, TempDir) {
    let dir = data_dir();
    let mut cfg =
        EmulatorConfig { data: dir.path().to_path_buf(), clock: frozen_after(), seed: 42, ..Default::default() };
    tweak(&mut cfg);
    let emu = serve(cfg).await.unwrap();
    (emu, dir)
}

static TLS: Once = Once::new();

/// reqwest with the ring provider; no connection reuse, so a dropped connection stays local
/// to its request.
pub fn http() -> reqwest::Client {
    TLS.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

/// The `rel="next"` URL of an Okta `Link` header set.
pub fn next_link(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all("link").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.split(", <").find_map(|part| {
            let part = part.trim_start_matches('<');
            let (url, rel) = part.split_once(">; ")?;
            (rel == "rel=\"next\"").then(|| url.to_string())
        })
    })
}

pub fn has_self_link(resp: &reqwest::Response) -> bool {
    resp.headers().get_all("link").iter().any(|v| v.to_str().is_ok_and(|s| s.contains("rel=\"self\"")))
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Signs `claims` with RS256 and one of the throwaway keys.
pub fn sign(claims: &Value, private_pem: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), claims, &key).unwrap()
}

pub async fn body_json(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// POSTs an `application/x-www-form-urlencoded` body.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    http().post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()
}
