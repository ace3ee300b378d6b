use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use trailproof_emulate::{ClockMode, DEFAULT_OKTA_TOKEN, Endpoint, Faults, Limit};

use crate::common::*;

fn logs_url(base: &str, query: &str) -> String {
    format!("{base}/api/v1/logs?{query}")
}

async fn get_okta(url: &str) -> reqwest::Response {
    http().get(url).header("Authorization", format!("SSWS {DEFAULT_OKTA_TOKEN}")).send().await.unwrap()
}

fn uuids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect()
}

/// Follows `next` links until absent (or `max_pages`), returning all uuids and the page count.
async fn follow(first: String, max_pages: usize) -> (Vec<String>, usize) {
    let mut url = Some(first);
    let mut all = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let r = get_okta(&u).await;
        assert_eq!(r.status(), 200);
        assert!(has_self_link(&r));
        url = next_link(&r);
        all.extend(uuids(&body_json(r).await));
        pages += 1;
        assert!(pages <= max_pages, "too many pages");
    }
    (all, pages)
}

#[tokio::test]
async fn bounded_paging_returns_every_event_once_in_published_order() {
    let (emu, _d) = start(|_| {}).await;
    let q = format!("since={}&until={}&limit=7", iso(t0() - 60 * MIN), iso(t0() + 24 * 60 * MIN));
    let (all, pages) = follow(logs_url(&emu.url(), &q), 10).await;
    let want: Vec<String> = (0..OKTA_EVENTS).map(|i| format!("okta-{i:02}")).collect();
    assert_eq!(all, want, "ascending by published, duplicate okta-03 dropped, garbage skipped");
    assert_eq!(pages, 4); // 7+7+7+4
    let stats = emu.stats();
    assert_eq!(stats.loaded.okta, OKTA_EVENTS);
    assert_eq!(stats.loaded.duplicates, 2, "okta-03 and the twice-delivered CloudTrail record");
    assert_eq!(stats.loaded.skipped, 2, "record without published + 'nonsense'");
}

#[tokio::test]
async fn descending_order_is_newest_first() {
    let (emu, _d) = start(|_| {}).await;
    let q = format!("since={}&until={}&limit=10&sortOrder=DESCENDING", iso(t0() + 5 * MIN), iso(t0() + 20 * MIN + 123));
    let (all, _) = follow(logs_url(&emu.url(), &q), 5).await;
    // since inclusive (okta-05 at +5m0.123s), until exclusive (okta-20 at exactly until).
    let want: Vec<String> = (5..20).rev().map(|i| format!("okta-{i:02}")).collect();
    assert_eq!(all, want);
}

#[tokio::test]
async fn filter_eq_or_sw_and_nested_attributes() {
    let (emu, _d) = start(|_| {}).await;
    let since = format!("since={}", iso(t0() - MIN));
    let count = |v: &Value| v.as_array().unwrap().len();
    let cases = [
        (r#"eventType eq "user.authentication.sso""#, (0..OKTA_EVENTS).filter(|i| i % 3 == 1).count()),
        (
            r#"eventType eq "user.authentication.sso" or eventType eq "user.session.start""#,
            (0..OKTA_EVENTS).filter(|i| i % 3 != 2).count(),
        ),
        (r#"eventType sw "user.authentication""#, (0..OKTA_EVENTS).filter(|i| i % 3 != 0).count()),
        (r#"target.id eq "0oaAWS""#, (0..OKTA_EVENTS).filter(|i| i % 3 == 1).count()),
        (
            r#"actor.id eq "00u0" and authenticationContext.externalSessionId eq "idx0""#,
            (0..OKTA_EVENTS).filter(|i| i.is_multiple_of(3) && i.is_multiple_of(5)).count(),
        ),
        (r#"target.alternateId eq "AWS \"Prod\"""#, (0..OKTA_EVENTS).filter(|i| i % 3 == 1).count()),
    ];
    for (filter, want) in cases {
        let mut u = url::Url::parse(&logs_url(&emu.url(), &since)).unwrap();
        u.query_pairs_mut().append_pair("filter", filter).append_pair("limit", "1000");
        let r = get_okta(u.as_str()).await;
        assert_eq!(r.status(), 200, "{filter}");
        let v = body_json(r).await;
        assert_eq!(count(&v), want, "{filter}");
        if filter.contains("sso") && !filter.contains(" or ") {
            assert!(v.as_array().unwrap().iter().all(|e| e["eventType"] == "user.authentication.sso"));
        }
    }
    // The filter is carried in the next link.
    let mut u = url::Url::parse(&logs_url(&emu.url(), &since)).unwrap();
    u.query_pairs_mut().append_pair("filter", r#"eventType eq "user.session.start""#).append_pair("limit", "2");
    let r = get_okta(u.as_str()).await;
    let next = next_link(&r).unwrap();
    let v = body_json(get_okta(&next).await).await;
    assert_eq!(uuids(&v), vec!["okta-06", "okta-09"]);
}

#[tokio::test]
async fn keyword_search_q() {
    let (emu, _d) = start(|_| {}).await;
    let q = format!("since={}&q=user2@example.com&limit=1000", iso(t0() - MIN));
    let v = body_json(get_okta(&logs_url(&emu.url(), &q)).await).await;
    assert_eq!(uuids(&v).len(), (0..OKTA_EVENTS).filter(|i| i % 3 == 2).count());
}

#[tokio::test]
async fn invalid_parameters_get_okta_400s() {
    let (emu, _d) = start(|_| {}).await;
    let r = get_okta(&logs_url(&emu.url(), "filter=eventType%20like%20%22x%22")).await;
    assert_eq!(r.status(), 400);
    let v = body_json(r).await;
    assert_eq!(v["errorCode"], "E0000031");
    assert!(v["errorCauses"][0]["errorSummary"].as_str().unwrap().contains("unsupported operator"));

    let r = get_okta(&logs_url(&emu.url(), "limit=1001")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(r).await["errorCode"], "E0000001");

    let r = get_okta(&logs_url(&emu.url(), "since=yesterday")).await;
    assert_eq!(r.status(), 400);

    let r = get_okta(&logs_url(&emu.url(), "after=garbage")).await;
    assert_eq!(r.status(), 400);
    let r = get_okta(&logs_url(&emu.url(), &format!("since={}", iso(t0())))).await;
    let next = next_link(&r).unwrap();
    let r = get_okta(&format!("{next}&since={}", iso(t0()))).await;
    assert_eq!(r.status(), 400, "since and after are exclusive");
}

#[tokio::test]
async fn auth_failures_use_e0000011() {
    let (emu, _d) = start(|_| {}).await;
    let url = logs_url(&emu.url(), "");
    for auth in [None, Some("SSWS wrong"), Some("Bearer wrong"), Some("Basic abc")] {
        let mut req = http().get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers().contains_key("x-rate-limit-remaining"), "rate headers on errors too");
        let bearer = auth.is_some_and(|a| a.starts_with("Bearer"));
        assert_eq!(r.headers().contains_key("www-authenticate"), bearer);
        let v = body_json(r).await;
        assert_eq!(v["errorCode"], "E0000011");
        assert_eq!(v["errorSummary"], "Invalid token provided");
    }
}

#[tokio::test]
async fn rate_limit_headers_always_and_429_when_over() {
    let (emu, _d) = start(|c| {
        c.rate_limits = true;
        c.limits.okta = Limit { max: 3, window: Duration::from_secs(60) };
    })
    .await;
    let url = logs_url(&emu.url(), &format!("since={}&limit=1", iso(t0())));
    for want_remaining in [2, 1, 0] {
        let r = get_okta(&url).await;
        assert_eq!(r.status(), 200);
        let h = r.headers();
        assert_eq!(h["x-rate-limit-limit"], "3");
        assert_eq!(h["x-rate-limit-remaining"], want_remaining.to_string().as_str());
        let reset: i64 = h["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
        assert!((now_s()..=now_s() + 61).contains(&reset), "reset {reset} is epoch seconds within the window");
    }
    let r = get_okta(&url).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    let v = body_json(r).await;
    assert_eq!(v["errorCode"], "E0000047");
    assert_eq!(v["errorSummary"], "API call exceeded rate limit due to too many requests.");
}

#[tokio::test]
async fn rate_limit_headers_without_enforcement() {
    let (emu, _d) = start(|_| {}).await;
    for _ in 0..3 {
        let r = get_okta(&logs_url(&emu.url(), "limit=1")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit-limit"], "50");
    }
    let r = get_okta(&logs_url(&emu.url(), "limit=1")).await;
    assert_eq!(r.headers()["x-rate-limit-remaining"], "46");
}

#[tokio::test]
async fn polling_sees_late_events_behind_the_next_link() {
    // Clock at T0+10m30s, events visible 2 minutes after `published`.
    let (emu, _d) = start(|c| {
        c.clock = ClockMode::Frozen(t0() + 10 * MIN + 30_000);
        c.faults = Faults::parse(&["late:2m".into()]).unwrap();
    })
    .await;
    let first = logs_url(&emu.url(), &format!("since={}&limit=100", iso(t0() - 60 * MIN)));
    let r = get_okta(&first).await;
    let next = next_link(&r).expect("polling always has a next link");
    let got = uuids(&body_json(r).await);
    assert_eq!(got, (0..=8).map(|i| format!("okta-{i:02}")).collect::<Vec<_>>());

    // Nothing new yet: an empty page, and a next link again.
    let r = get_okta(&next).await;
    let next = next_link(&r).expect("still a next link");
    assert_eq!(body_json(r).await, json!([]));

    emu.clock().advance(Duration::from_secs(5 * 60));
    let r = get_okta(&next).await;
    let next2 = next_link(&r).unwrap();
    assert_eq!(uuids(&body_json(r).await), (9..=13).map(|i| format!("okta-{i:02}")).collect::<Vec<_>>());

    // A bounded query at the same moment misses what is not yet visible.
    let q = format!("since={}&until={}&limit=1000", iso(t0()), iso(t0() + 60 * MIN));
    let v = body_json(get_okta(&logs_url(&emu.url(), &q)).await).await;
    assert_eq!(uuids(&v).len(), 14);

    emu.clock().advance(Duration::from_secs(3600));
    let (rest, _) = follow_polling(next2, 3).await;
    assert_eq!(rest, (14..OKTA_EVENTS).map(|i| format!("okta-{i:02}")).collect::<Vec<_>>());
}

/// Follows a polling next link until a page comes back empty.
async fn follow_polling(mut url: String, max_pages: usize) -> (Vec<String>, String) {
    let mut all = Vec::new();
    for _ in 0..max_pages {
        let r = get_okta(&url).await;
        assert_eq!(r.status(), 200);
        let next = next_link(&r).expect("polling next link");
        let got = uuids(&body_json(r).await);
        url = next;
        if got.is_empty() {
            return (all, url);
        }
        all.extend(got);
    }
    (all, url)
}

#[tokio::test]
async fn polling_with_jitter_delivers_out_of_order_but_exactly_once() {
    let (emu, _d) = start(|c| {
        c.clock = ClockMode::Frozen(t0());
        c.faults = Faults::parse(&["late:0s,jitter=10m".into()]).unwrap();
    })
    .await;
    let mut url = logs_url(&emu.url(), &format!("since={}&limit=4", iso(t0() - 60 * MIN)));
    let mut all = Vec::new();
    for _ in 0..30 {
        let (got, next) = follow_polling(url, 20).await;
        all.extend(got);
        url = next;
        emu.clock().advance(Duration::from_secs(120));
    }
    let set: HashSet<&String> = all.iter().collect();
    assert_eq!(set.len(), all.len(), "no duplicates");
    assert_eq!(all.len(), OKTA_EVENTS, "every event once");
    let mut sorted = all.clone();
    sorted.sort();
    assert_ne!(all, sorted, "jitter makes persistence order differ from published order");
}

fn assertion(base: &str, client: &str, exp_in: i64) -> Value {
    json!({"iss": client, "sub": client, "aud": format!("{base}/oauth2/v1/token"),
           "iat": now_s(), "exp": now_s() + exp_in, "jti": "j1"})
}

async fn okta_token(base: &str, jwt: &str, scope: &str) -> reqwest::Response {
    post_form(
        &format!("{base}/oauth2/v1/token"),
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", jwt),
        ],
    )
    .await
}

#[tokio::test]
async fn oauth_private_key_jwt_token_reads_logs_and_expires() {
    let (emu, _d) = start(|c| {
        c.okta_client_id = Some("0oaSERVICE".into());
        c.okta_client_public_key_pem = Some(PUB_A.into());
        c.faults.token_ttl = Some(Duration::from_secs(60));
    })
    .await;
    let base = emu.url();
    let r = okta_token(&base, &sign(&assertion(&base, "0oaSERVICE", 300), PRIV_A), "okta.logs.read").await;
    assert_eq!(r.status(), 200);
    let v = body_json(r).await;
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 60);
    assert_eq!(v["scope"], "okta.logs.read");
    let token = v["access_token"].as_str().unwrap().to_string();

    let r = http().get(logs_url(&base, "limit=1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);

    emu.clock().advance(Duration::from_secs(61));
    let r = http().get(logs_url(&base, "limit=1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(www.contains("error=\"invalid_token\"") && www.contains("expired"), "{www}");
    assert_eq!(body_json(r).await["errorCode"], "E0000011");
    assert_eq!(emu.requests(Endpoint::OktaToken), 1);
}

#[tokio::test]
async fn oauth_token_errors() {
    let (emu, _d) = start(|c| {
        c.okta_client_id = Some("0oaSERVICE".into());
        c.okta_client_public_key_pem = Some(PUB_A.into());
    })
    .await;
    let base = emu.url();
    let good = assertion(&base, "0oaSERVICE", 300);
    let cases: Vec<(String, &str, u16, &str, &str)> = vec![
        (sign(&good, PRIV_B), "okta.logs.read", 401, "invalid_client", "signature"),
        (sign(&assertion(&base, "0oaOTHER", 300), PRIV_A), "okta.logs.read", 401, "invalid_client", "iss"),
        (sign(&assertion(&base, "0oaSERVICE", -600), PRIV_A), "okta.logs.read", 401, "invalid_client", "expired"),
        (sign(&assertion(&base, "0oaSERVICE", 7200), PRIV_A), "okta.logs.read", 401, "invalid_client", "expiration"),
        (sign(&good, PRIV_A), "okta.users.read", 400, "invalid_scope", "not allowed"),
        (sign(&good, PRIV_A), "", 400, "invalid_scope", "must be provided"),
        ("not.a.jwt".into(), "okta.logs.read", 401, "invalid_client", "JWT"),
    ];
    for (jwt, scope, status, error, needle) in cases {
        let r = okta_token(&base, &jwt, scope).await;
        assert_eq!(r.status(), status, "{needle}");
        let v = body_json(r).await;
        assert_eq!(v["error"], error, "{needle}");
        assert!(v["error_description"].as_str().unwrap().contains(needle), "{needle}: {v}");
    }
    let r = post_form(&format!("{base}/oauth2/v1/token"), &[("grant_type", "password")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(body_json(r).await["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn unverified_assertions_are_accepted_without_a_key() {
    let (emu, _d) = start(|_| {}).await;
    let base = emu.url();
    let r = okta_token(&base, &sign(&assertion(&base, "0oaANY", 300), PRIV_B), "okta.logs.read").await;
    assert_eq!(r.status(), 200);
}
