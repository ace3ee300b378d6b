use std::time::Duration;

use serde_json::{Value, json};
use trailproof_emulate::{GOOGLE_REPORTS_SCOPE, Limit, RunningEmulator};

use crate::common::*;

const SA: &str = "reports@project.iam.gserviceaccount.com";
const ADMIN: &str = "admin@example.com";

fn claims(aud: &str, scope: &str, sub: Option<&str>, iat: i64, exp: i64) -> Value {
    let mut c = json!({"iss": SA, "scope": scope, "aud": aud, "iat": iat, "exp": exp});
    if let Some(s) = sub {
        c["sub"] = json!(s);
    }
    c
}

fn good_claims() -> Value {
    claims("https://oauth2.googleapis.com/token", GOOGLE_REPORTS_SCOPE, Some(ADMIN), now_s(), now_s() + 3600)
}

async fn token_req(emu: &RunningEmulator, grant: &str, assertion: &str) -> reqwest::Response {
    post_form(&format!("{}/token", emu.url()), &[("grant_type", grant), ("assertion", assertion)]).await
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

async fn google_token(emu: &RunningEmulator, c: &Value) -> String {
    let r = token_req(emu, JWT_BEARER, &sign(c, PRIV_A)).await;
    assert_eq!(r.status(), 200);
    let v = body_json(r).await;
    assert_eq!(v["token_type"], "Bearer");
    v["access_token"].as_str().unwrap().to_string()
}

async fn start_google(
    tweak: impl FnOnce(&mut trailproof_emulate::EmulatorConfig),
) -> (RunningEmulator, tempfile::TempDir) {
    start(|c| {
        c.google_public_key_pem = Some(PUB_A.into());
        c.google_client_email = Some(SA.into());
        c.google_admin = Some(ADMIN.into());
        tweak(c);
    })
    .await
}

fn activities_url(emu: &RunningEmulator, user: &str, app: &str, q: &[(&str, &str)]) -> String {
    let mut u =
        url::Url::parse(&format!("{}/admin/reports/v1/activity/users/{user}/applications/{app}", emu.url())).unwrap();
    for (k, v) in q {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.to_string()
}

async fn get_reports(url: &str, token: &str) -> reqwest::Response {
    http().get(url).bearer_auth(token).send().await.unwrap()
}

fn uqs(v: &Value) -> Vec<String> {
    v.get("items")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|e| e["id"]["uniqueQualifier"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn jwt_bearer_grant_checks_signature_scope_audience_and_lifetime() {
    let (emu, _d) = start_google(|_| {}).await;
    let t = google_token(&emu, &good_claims()).await;
    assert!(t.starts_with("ya29."));
    // The emulator's own /token URL is an accepted audience too.
    google_token(
        &emu,
        &claims(&format!("{}/token", emu.url()), GOOGLE_REPORTS_SCOPE, Some(ADMIN), now_s(), now_s() + 600),
    )
    .await;

    let n = now_s();
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (sign(&good_claims(), PRIV_B), 400, "invalid_grant", "Invalid JWT Signature."),
        (
            sign(&claims("https://example.com/token", GOOGLE_REPORTS_SCOPE, Some(ADMIN), n, n + 600), PRIV_A),
            400,
            "invalid_grant",
            "audience",
        ),
        (
            sign(
                &claims("https://oauth2.googleapis.com/token", GOOGLE_REPORTS_SCOPE, Some(ADMIN), n - 7200, n - 3600),
                PRIV_A,
            ),
            400,
            "invalid_grant",
            "short-lived",
        ),
        (
            sign(
                &claims("https://oauth2.googleapis.com/token", GOOGLE_REPORTS_SCOPE, Some(ADMIN), n, n + 7200),
                PRIV_A,
            ),
            400,
            "invalid_grant",
            "short-lived",
        ),
        (
            sign(
                &claims(
                    "https://oauth2.googleapis.com/token",
                    "https://www.googleapis.com/auth/drive",
                    Some(ADMIN),
                    n,
                    n + 600,
                ),
                PRIV_A,
            ),
            401,
            "unauthorized_client",
            "scopes requested",
        ),
        (
            sign(&claims("https://oauth2.googleapis.com/token", "", Some(ADMIN), n, n + 600), PRIV_A),
            400,
            "invalid_scope",
            "scope",
        ),
        (
            sign(
                &claims(
                    "https://oauth2.googleapis.com/token",
                    GOOGLE_REPORTS_SCOPE,
                    Some("eve@example.com"),
                    n,
                    n + 600,
                ),
                PRIV_A,
            ),
            400,
            "invalid_grant",
            "Invalid email or User ID",
        ),
    ];
    for (jwt, status, error, needle) in cases {
        let r = token_req(&emu, JWT_BEARER, &jwt).await;
        assert_eq!(r.status(), status, "{needle}");
        let v = body_json(r).await;
        assert_eq!(v["error"], error, "{needle}");
        assert!(v["error_description"].as_str().unwrap().contains(needle), "{needle}: {v}");
    }
    let r = token_req(&emu, "client_credentials", "x").await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(r).await["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn activities_page_newest_first_each_once() {
    let (emu, _d) = start_google(|_| {}).await;
    let token = google_token(&emu, &good_claims()).await;
    let mut url = Some(activities_url(&emu, "all", "login", &[("maxResults", "3")]));
    let mut all = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let r = get_reports(&u, &token).await;
        assert_eq!(r.status(), 200);
        let v = body_json(r).await;
        assert_eq!(v["kind"], "admin#reports#activities");
        all.extend(uqs(&v));
        url = v
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(|t| activities_url(&emu, "all", "login", &[("maxResults", "3"), ("pageToken", t)]));
        pages += 1;
        assert!(pages < 10);
    }
    assert_eq!(all, (0..8).rev().map(|i| format!("login-{i}")).collect::<Vec<_>>());
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn filters_event_name_time_user_and_parameters() {
    let (emu, _d) = start_google(|_| {}).await;
    let token = google_token(&emu, &good_claims()).await;
    let start_t = iso(t0() + 3 * MIN);
    let end_t = iso(t0() + 15 * MIN);
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        ("all", "login", vec![("eventName", "login_verification")], vec!["login-7", "login-5", "login-3", "login-1"]),
        (
            "all",
            "login",
            vec![("startTime", &start_t), ("endTime", &end_t)],
            vec!["login-5", "login-4", "login-3", "login-2", "login-1"],
        ),
        ("bob@example.com", "login", vec![], vec!["login-7", "login-5", "login-3", "login-1"]),
        ("10000", "login", vec![], vec!["login-6", "login-4", "login-2", "login-0"]),
        ("all", "login", vec![("filters", "login_type==saml")], vec!["login-6", "login-3", "login-0"]),
        (
            "all",
            "login",
            vec![("eventName", "login_success"), ("filters", "login_type==saml")],
            vec!["login-6", "login-0"],
        ),
        ("all", "login", vec![("actorIpAddress", "198.51.100.4")], vec!["login-4"]),
        ("all", "saml", vec![], vec!["saml-3", "saml-2", "saml-1", "saml-0"]),
        ("all", "token", vec![], vec![]),
    ];
    for (user, app, q, want) in cases {
        let r = get_reports(&activities_url(&emu, user, app, &q), &token).await;
        assert_eq!(r.status(), 200, "{q:?}");
        let v = body_json(r).await;
        assert_eq!(uqs(&v), want, "{user} {app} {q:?}");
        if want.is_empty() {
            assert!(v.get("items").is_none(), "empty pages leave items out");
            assert_eq!(v["kind"], "admin#reports#activities");
        }
    }
}

#[tokio::test]
async fn bad_parameters_are_400_invalid() {
    let (emu, _d) = start_google(|_| {}).await;
    let token = google_token(&emu, &good_claims()).await;
    for (app, q) in [
        ("nonsense", vec![]),
        ("login", vec![("maxResults", "5000")]),
        ("login", vec![("startTime", "yesterday")]),
        ("login", vec![("startTime", "2026-01-10T01:00:00Z"), ("endTime", "2026-01-10T00:00:00Z")]),
        ("login", vec![("pageToken", "bogus")]),
    ] {
        let r = get_reports(&activities_url(&emu, "all", app, &q), &token).await;
        assert_eq!(r.status(), 400, "{app} {q:?}");
        let v = body_json(r).await;
        assert_eq!(v["error"]["code"], 400);
        assert_eq!(v["error"]["errors"][0]["reason"], "invalid");
    }
}

#[tokio::test]
async fn auth_errors_401_and_403() {
    let (emu, _d) = start_google(|c| c.faults.token_ttl = Some(Duration::from_secs(10))).await;
    let url = activities_url(&emu, "all", "login", &[]);
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");

    let r = get_reports(&url, "ya29.forged").await;
    assert_eq!(r.status(), 401);
    assert_eq!(body_json(r).await["error"]["errors"][0]["reason"], "authError");

    // A service account without domain-wide delegation (no sub) is not an admin.
    let n = now_s();
    let no_sub =
        google_token(&emu, &claims("https://oauth2.googleapis.com/token", GOOGLE_REPORTS_SCOPE, None, n, n + 600))
            .await;
    let r = get_reports(&url, &no_sub).await;
    assert_eq!(r.status(), 403);
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], 403);
    assert_eq!(v["error"]["errors"][0]["reason"], "forbidden");

    let token = google_token(&emu, &good_claims()).await;
    assert_eq!(get_reports(&url, &token).await.status(), 200);
    emu.clock().advance(Duration::from_secs(11));
    assert_eq!(get_reports(&url, &token).await.status(), 401);
}

#[tokio::test]
async fn over_quota_is_503_as_the_reports_api_documents() {
    let (emu, _d) = start_google(|c| {
        c.rate_limits = true;
        c.limits.google = Limit { max: 2, window: Duration::from_secs(30) };
    })
    .await;
    let token = google_token(&emu, &good_claims()).await;
    let url = activities_url(&emu, "all", "login", &[("maxResults", "1")]);
    assert_eq!(get_reports(&url, &token).await.status(), 200);
    assert_eq!(get_reports(&url, &token).await.status(), 200);
    let r = get_reports(&url, &token).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], 503);
    assert_eq!(v["error"]["errors"][0]["reason"], "rateLimitExceeded");
}
