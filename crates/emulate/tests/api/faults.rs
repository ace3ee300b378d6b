use std::time::{Duration, Instant};

use serde_json::Value;
use trailproof_emulate::{DEFAULT_OKTA_TOKEN, Endpoint, Faults, RunningEmulator};

use crate::common::*;
use crate::entra::graph_token;

fn faults(specs: &[&str]) -> Faults {
    Faults::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

fn okta_url(emu: &RunningEmulator) -> String {
    format!("{}/api/v1/logs?since={}&until={}&limit=5", emu.url(), iso(t0()), iso(t0() + 60 * MIN))
}

async fn okta(emu: &RunningEmulator) -> reqwest::Result<reqwest::Response> {
    http().get(okta_url(emu)).header("Authorization", format!("SSWS {DEFAULT_OKTA_TOKEN}")).send().await
}

#[tokio::test]
async fn throttle_bursts_speak_each_vendors_dialect() {
    let (emu, _d) = start(|c| c.faults = faults(&["429:burst=1,every=2"])).await;
    // Okta: request 0 throttled, request 1 fine.
    let r = okta(&emu).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(body_json(r).await["errorCode"], "E0000047");
    assert_eq!(okta(&emu).await.unwrap().status(), 200);

    // Graph (token endpoints are not targeted by default).
    let token = graph_token(&emu).await;
    let url = format!("{}/beta/auditLogs/signIns?$top=1", emu.url());
    let r = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(body_json(r).await["error"]["code"], "TooManyRequests");
    assert_eq!(http().get(&url).bearer_auth(&token).send().await.unwrap().status(), 200);

    // Google: the fault fires before auth, like a quota gateway would, as the Admin SDK
    // documents an exceeded rate: 403 userRateLimitExceeded.
    let url = format!("{}/admin/reports/v1/activity/users/all/applications/login", emu.url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v = body_json(r).await;
    assert_eq!(v["error"]["errors"][0]["reason"], "userRateLimitExceeded");
    assert_eq!(v["error"]["errors"][0]["domain"], "usageLimits");
    assert_eq!(http().get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn server_error_bursts_then_recovery() {
    let (emu, _d) = start(|c| c.faults = faults(&["5xx:burst=2,every=10,status=502"])).await;
    for _ in 0..2 {
        let r = okta(&emu).await.unwrap();
        assert_eq!(r.status(), 502);
        assert_eq!(body_json(r).await["errorCode"], "E0000009");
    }
    assert_eq!(okta(&emu).await.unwrap().status(), 200);
    assert_eq!(emu.requests(Endpoint::OktaLogs), 3);

    let (emu, _d) = start(|c| c.faults = faults(&["5xx:burst=1"])).await;
    let url = format!("{}/admin/reports/v1/activity/users/all/applications/login", emu.url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v = body_json(r).await;
    assert_eq!(v["error"]["code"], 503);
    assert_eq!(v["error"]["errors"][0]["reason"], "backendError");
}

#[tokio::test]
async fn slow_responses_are_delayed() {
    let (emu, _d) = start(|c| c.faults = faults(&["slow:150ms"])).await;
    let t = Instant::now();
    assert_eq!(okta(&emu).await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(150), "{:?}", t.elapsed());
}

#[tokio::test]
async fn dropped_connections_get_no_response_and_spare_other_targets() {
    let (emu, _d) = start(|c| c.faults = faults(&["drop:1", "on:okta"])).await;
    let err = okta(&emu).await.expect_err("connection closed without a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(emu.requests(Endpoint::OktaLogs), 1);
    // Graph is not targeted and the server is still up.
    let token = graph_token(&emu).await;
    let r =
        http().get(format!("{}/beta/auditLogs/signIns?$top=1", emu.url())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn truncated_bodies_close_mid_body() {
    let (emu, _d) = start(|c| c.faults = faults(&["trunc:1"])).await;
    let r = okta(&emu).await.unwrap();
    assert_eq!(r.status(), 200);
    let announced: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(announced > 100);
    let err = r.bytes().await.expect_err("body ends before Content-Length");
    assert!(err.is_body() || err.is_decode() || err.is_request(), "{err:?}");
}

#[tokio::test]
async fn truncated_bodies_cut_json() {
    let (emu, _d) = start(|c| c.faults = faults(&["trunc:1,mode=cut"])).await;
    let full = {
        let (clean, _d2) = start(|_| {}).await;
        okta(&clean).await.unwrap().bytes().await.unwrap()
    };
    let r = okta(&emu).await.unwrap();
    assert_eq!(r.status(), 200);
    let cut = r.bytes().await.unwrap();
    assert_eq!(cut.len(), full.len() / 2);
    assert_eq!(&cut[..], &full[..cut.len()]);
    assert!(serde_json::from_slice::<Value>(&cut).is_err());
}

async fn statuses(seed: u64, n: usize) -> Vec<u16> {
    let (emu, _d) = start(|c| {
        c.seed = seed;
        c.faults = faults(&["429:0.3", "5xx:0.2"]);
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(okta(&emu).await.unwrap().status().as_u16());
    }
    out
}

#[tokio::test]
async fn fault_sequence_is_reproducible_by_seed() {
    let a = statuses(7, 30).await;
    let b = statuses(7, 30).await;
    let c = statuses(8, 30).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&429) && a.contains(&503) && a.contains(&200), "{a:?}");
    // The same decisions as the library computes for (seed, endpoint, n).
    let f = faults(&["429:0.3", "5xx:0.2"]);
    let predicted: Vec<u16> = (0..30)
        .map(|n| {
            let d = f.decide(7, Endpoint::OktaLogs, n);
            if d.throttle {
                429
            } else if d.server_error.is_some() {
                503
            } else {
                200
            }
        })
        .collect();
    assert_eq!(a, predicted);
}

#[tokio::test]
async fn admin_endpoints_report_and_move_the_clock() {
    let (emu, _d) = start(|_| {}).await;
    okta(&emu).await.unwrap();
    let v = body_json(http().get(format!("{}/_emulator/stats", emu.url())).send().await.unwrap()).await;
    assert_eq!(v["requests"]["okta_logs"], 1);
    assert_eq!(v["loaded"]["okta"], OKTA_EVENTS);
    assert_eq!(v["loaded"]["cloudtrail"], 12);
    let before = emu.clock().now_ms();
    let v = body_json(http().post(format!("{}/_emulator/clock/advance?by=5m", emu.url())).send().await.unwrap()).await;
    assert_eq!(v["now_ms"].as_i64().unwrap(), before + 5 * MIN);
    let v = body_json(http().post(format!("{}/_emulator/clock/set?to={}", emu.url(), iso(t0()))).send().await.unwrap())
        .await;
    assert_eq!(v["now"], T0);
    let r = http().get(format!("{}/nope", emu.url())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    emu.shutdown().await;
}

#[tokio::test]
async fn serve_reports_a_missing_data_dir_and_a_busy_port() {
    let cfg = trailproof_emulate::EmulatorConfig { data: "/nonexistent/sim".into(), ..Default::default() };
    let err = trailproof_emulate::serve(cfg).await.err().expect("missing dir is an error");
    assert!(err.to_string().contains("/nonexistent/sim"), "{err}");

    let (emu, d) = start(|_| {}).await;
    let cfg = trailproof_emulate::EmulatorConfig { data: d.path().into(), listen: emu.addr(), ..Default::default() };
    let err = trailproof_emulate::serve(cfg).await.err().expect("port in use");
    assert!(err.to_string().contains("cannot listen"), "{err}");
}

#[tokio::test]
async fn running_clock_moves_on_its_own() {
    let (emu, _d) = start(|c| c.clock = trailproof_emulate::ClockMode::Running(t0())).await;
    let a = emu.clock().now_ms();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let b = emu.clock().now_ms();
    assert!(b - a >= 25 && a >= t0(), "{a} {b}");
}
