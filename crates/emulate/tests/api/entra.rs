use std::time::Duration;

use serde_json::Value;
use trailproof_emulate::{
    DEFAULT_ENTRA_CLIENT_ID, DEFAULT_ENTRA_CLIENT_SECRET, DEFAULT_ENTRA_TENANT, GRAPH_SCOPE, RunningEmulator,
};

use crate::common::*;

async fn token_req(emu: &RunningEmulator, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post_form(&format!("{}/{tenant}/oauth2/v2.0/token", emu.url()), form).await
}

pub async fn graph_token(emu: &RunningEmulator) -> String {
    let r = token_req(
        emu,
        DEFAULT_ENTRA_TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_ENTRA_CLIENT_ID),
            ("client_secret", DEFAULT_ENTRA_CLIENT_SECRET),
            ("scope", GRAPH_SCOPE),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let v = body_json(r).await;
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    v["access_token"].as_str().unwrap().to_string()
}

async fn get_graph(url: &str, token: &str) -> reqwest::Response {
    http().get(url).bearer_auth(token).send().await.unwrap()
}

fn ids(v: &Value) -> Vec<String> {
    v["value"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

fn signins_url(emu: &RunningEmulator, filter: Option<&str>, top: Option<usize>) -> String {
    let mut u = url::Url::parse(&format!("{}/beta/auditLogs/signIns", emu.url())).unwrap();
    if let Some(f) = filter {
        u.query_pairs_mut().append_pair("$filter", f);
    }
    if let Some(t) = top {
        u.query_pairs_mut().append_pair("$top", &t.to_string());
    }
    u.to_string()
}

async fn follow(first: String, token: &str) -> (Vec<String>, usize) {
    let mut url = Some(first);
    let (mut all, mut pages) = (Vec::new(), 0);
    while let Some(u) = url {
        let r = get_graph(&u, token).await;
        assert_eq!(r.status(), 200);
        let v = body_json(r).await;
        assert!(v["@odata.context"].as_str().unwrap().contains("auditLogs/signIns"));
        url = v.get("@odata.nextLink").and_then(Value::as_str).map(str::to_string);
        all.extend(ids(&v));
        pages += 1;
        assert!(pages < 20);
    }
    (all, pages)
}

#[tokio::test]
async fn token_errors_are_aadsts_json() {
    let (emu, _d) = start(|_| {}).await;
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", DEFAULT_ENTRA_CLIENT_ID),
        ("client_secret", DEFAULT_ENTRA_CLIENT_SECRET),
        ("scope", GRAPH_SCOPE),
    ];
    let with = |k: &str, v: &'static str| -> Vec<(&'static str, &'static str)> {
        base.iter().map(|&(bk, bv)| if bk == k { (bk, v) } else { (bk, bv) }).collect()
    };
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        ("other-tenant", base.to_vec(), 400, "invalid_request", "AADSTS90002"),
        (DEFAULT_ENTRA_TENANT, with("client_secret", "wrong"), 401, "invalid_client", "AADSTS7000215"),
        (DEFAULT_ENTRA_TENANT, with("client_id", "nobody"), 400, "unauthorized_client", "AADSTS700016"),
        (
            DEFAULT_ENTRA_TENANT,
            with("scope", "https://graph.microsoft.com/AuditLog.Read.All"),
            400,
            "invalid_scope",
            "AADSTS1002012",
        ),
        (DEFAULT_ENTRA_TENANT, with("grant_type", "password"), 400, "unsupported_grant_type", "AADSTS70003"),
        (
            DEFAULT_ENTRA_TENANT,
            base.iter().copied().filter(|(k, _)| *k != "client_secret").collect(),
            401,
            "invalid_client",
            "AADSTS7000216",
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let r = token_req(&emu, tenant, &form).await;
        assert_eq!(r.status(), status, "{code}");
        let v = body_json(r).await;
        assert_eq!(v["error"], error, "{code}");
        assert!(v["error_description"].as_str().unwrap().starts_with(&format!("{code}:")), "{v}");
        assert_eq!(v["error_codes"][0].as_u64().unwrap().to_string(), code.trim_start_matches("AADSTS"));
    }
}

#[tokio::test]
async fn pages_newest_first_interactive_only_each_once() {
    let (emu, _d) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    let (all, pages) = follow(signins_url(&emu, None, Some(4)), &token).await;
    let want: Vec<String> = (0..ENTRA_EVENTS).rev().filter(|i| i % 4 != 3).map(|i| format!("si-{i:02}")).collect();
    assert_eq!(all, want);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn filter_on_time_window_and_app_id() {
    let (emu, _d) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    // si-02 is at T0+4m.1234567: `ge T0+4m` keeps it; si-08 at T0+16m.1234567 is beyond `le T0+16m`.
    let f = format!(
        "createdDateTime ge {} and createdDateTime le {} and appId eq '{AWS_APP}'",
        iso(t0() + 4 * MIN),
        iso(t0() + 16 * MIN)
    );
    let (all, _) = follow(signins_url(&emu, Some(&f), Some(2)), &token).await;
    assert_eq!(all, vec!["si-06", "si-04", "si-02"]);

    // The nextLink keeps $filter and $top.
    let r = get_graph(&signins_url(&emu, Some(&f), Some(2)), &token).await;
    let next = body_json(r).await["@odata.nextLink"].as_str().unwrap().to_string();
    let u = url::Url::parse(&next).unwrap();
    let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    assert!(q.contains(&("$filter".into(), f.clone())));
    assert!(q.contains(&("$top".into(), "2".into())));
    assert!(q.iter().any(|(k, _)| k == "$skiptoken"));
}

#[tokio::test]
async fn non_interactive_only_with_sign_in_event_types_filter() {
    let (emu, _d) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    let f = "signInEventTypes/any(t: t eq 'nonInteractiveUser')";
    let (all, _) = follow(signins_url(&emu, Some(f), None), &token).await;
    assert_eq!(all, vec!["si-11", "si-07", "si-03"]);
}

#[tokio::test]
async fn ascending_orderby_and_bad_parameters() {
    let (emu, _d) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    let url = format!("{}/beta/auditLogs/signIns?$orderby=createdDateTime%20asc&$top=3", emu.url());
    let v = body_json(get_graph(&url, &token).await).await;
    assert_eq!(ids(&v), vec!["si-00", "si-01", "si-02"]);

    for bad in ["$top=1001", "$top=0", "$filter=appId%20has%20'x'", "$orderby=userPrincipalName", "$skiptoken=zzz"] {
        let r = get_graph(&format!("{}/beta/auditLogs/signIns?{bad}", emu.url()), &token).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(body_json(r).await["error"]["code"], "BadRequest", "{bad}");
    }
}

#[tokio::test]
async fn v1_0_lacks_the_mfa_fields() {
    let (emu, _d) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    let v = body_json(get_graph(&format!("{}/v1.0/auditLogs/signIns?$top=1", emu.url()), &token).await).await;
    let rec = &v["value"][0];
    assert_eq!(rec["id"], "si-10");
    assert!(rec.get("authenticationDetails").is_none() && rec.get("authenticationRequirement").is_none());
    assert_eq!(rec["appId"], AWS_APP);
    let v = body_json(get_graph(&format!("{}/beta/auditLogs/signIns?$top=1", emu.url()), &token).await).await;
    assert_eq!(v["value"][0]["authenticationRequirement"], "multiFactorAuthentication");
}

#[tokio::test]
async fn beta_records_are_served_verbatim() {
    let (emu, dir) = start(|_| {}).await;
    let token = graph_token(&emu).await;
    let text = get_graph(&signins_url(&emu, None, Some(1)), &token).await.text().await.unwrap();
    let file = std::fs::read_to_string(dir.path().join("entra/page-2.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let raw = serde_json::to_string(&v["value"][0]).unwrap();
    assert!(file.contains(&raw), "record bytes as written");
    assert!(text.contains("\"createdDateTime\":\"2026-01-10T00:20:00.1234567Z\""));
}

#[tokio::test]
async fn auth_failures_have_graph_error_bodies() {
    let (emu, _d) = start(|c| c.faults.token_ttl = Some(Duration::from_secs(30))).await;
    let url = signins_url(&emu, None, Some(1));
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(v["error"]["message"], "Access token is empty.");

    let r = get_graph(&url, "forged").await;
    assert_eq!(r.status(), 401);
    assert_eq!(body_json(r).await["error"]["code"], "InvalidAuthenticationToken");

    let token = graph_token(&emu).await;
    assert_eq!(get_graph(&url, &token).await.status(), 200);
    emu.clock().advance(Duration::from_secs(31));
    let r = get_graph(&url, &token).await;
    assert_eq!(r.status(), 401);
    assert!(body_json(r).await["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn tenant_without_premium_gets_403() {
    let (emu, _d) = start(|c| c.entra_premium = false).await;
    let token = graph_token(&emu).await;
    let r = get_graph(&signins_url(&emu, None, None), &token).await;
    assert_eq!(r.status(), 403);
    assert_eq!(body_json(r).await["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
}

#[tokio::test]
async fn five_requests_per_ten_seconds_then_429_with_retry_after() {
    let (emu, _d) = start(|c| c.rate_limits = true).await;
    let token = graph_token(&emu).await;
    let url = signins_url(&emu, None, Some(1));
    for _ in 0..5 {
        assert_eq!(get_graph(&url, &token).await.status(), 200);
    }
    let r = get_graph(&url, &token).await;
    assert_eq!(r.status(), 429);
    let ra: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&ra), "{ra}");
    assert_eq!(body_json(r).await["error"]["code"], "TooManyRequests");
}

/// `complete:` — a sign-in with a second factor is listed first without its MFA steps, then,
/// under the same `id`, with them (Microsoft aggregates MFA steps onto the original sign-in).
#[tokio::test]
async fn a_sign_in_is_completed_with_its_mfa_steps_after_it_first_appears() {
    let dir = tempfile::tempdir().unwrap();
    let created = t0() + 10 * MIN;
    let signin = serde_json::json!({
        "id": "si-mfa", "createdDateTime": iso(created), "appId": AWS_APP, "appDisplayName": "AWS Prod",
        "userPrincipalName": "a@example.com", "isInteractive": true, "signInEventTypes": ["interactiveUser"],
        "authenticationRequirement": "multiFactorAuthentication",
        "authenticationMethodsUsed": ["Password", "Mobile app notification"],
        "authenticationDetails": [
            {"authenticationMethod": "Password", "succeeded": true, "authenticationStepResultDetail": "Correct password",
             "authenticationStepRequirement": "Primary authentication"},
            {"authenticationMethod": "Mobile app notification", "succeeded": true,
             "authenticationStepResultDetail": "MFA successfully completed",
             "authenticationStepRequirement": "Multifactor authentication"}],
        "status": {"errorCode": 0, "additionalDetails": "MFA completed in Azure AD"},
    });
    std::fs::create_dir_all(dir.path().join("entra")).unwrap();
    std::fs::write(dir.path().join("entra/p.json"), serde_json::json!({"value": [signin]}).to_string()).unwrap();
    let (emu, _d) = start(|c| {
        c.data = dir.path().to_path_buf();
        c.faults = trailproof_emulate::Faults::parse(&["complete:30m".to_string()]).unwrap();
        c.clock = trailproof_emulate::ClockMode::Frozen(created + MIN);
    })
    .await;
    let token = graph_token(&emu).await;
    let listed = |v: Value| v["value"][0].clone();
    let url = signins_url(&emu, None, None);
    let first = listed(body_json(get_graph(&url, &token).await).await);
    assert_eq!(first["id"], "si-mfa");
    assert_eq!(first["authenticationRequirement"], "singleFactorAuthentication");
    assert_eq!(first["authenticationDetails"].as_array().unwrap().len(), 1);
    assert_eq!(first["authenticationDetails"][0]["authenticationMethod"], "Password");
    emu.clock().advance(Duration::from_secs(30 * 60));
    let later = listed(body_json(get_graph(&url, &token).await).await);
    assert_eq!(later["id"], "si-mfa");
    assert_eq!(later, signin);
}
