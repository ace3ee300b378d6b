//! CloudTrail LookupEvents through the real `aws-sdk-cloudtrail` client.

mod common;

use std::time::Duration;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsError;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use common::*;
use serde_json::Value;
use trailproof_emulate::{Endpoint, Faults, RunningEmulator};

fn client(emu: &RunningEmulator, region: &str, retry: RetryConfig) -> Client {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDEMULATOR", "secret", None, None, "test"))
        .endpoint_url(emu.url())
        .http_client(http)
        .retry_config(retry)
        .build();
    Client::from_conf(conf)
}

fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

fn source(s: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(LookupAttributeKey::EventSource).attribute_value(s).build().unwrap()
}

/// All pages of a lookup: (event ids, page count).
async fn all_pages(
    c: &Client,
    attr: Option<LookupAttribute>,
    max: i32,
    window: Option<(i64, i64)>,
) -> (Vec<String>, usize) {
    let mut token: Option<String> = None;
    let (mut ids, mut pages) = (Vec::new(), 0);
    loop {
        let mut req = c.lookup_events().max_results(max).set_next_token(token.clone());
        if let Some(a) = &attr {
            req = req.lookup_attributes(a.clone());
        }
        if let Some((s, e)) = window {
            req = req.start_time(DateTime::from_millis(s)).end_time(DateTime::from_millis(e));
        }
        let out = req.send().await.unwrap();
        pages += 1;
        ids.extend(out.events().iter().map(|e| e.event_id().unwrap().to_string()));
        token = out.next_token().map(str::to_string);
        if token.is_none() || pages > 20 {
            return (ids, pages);
        }
    }
}

#[tokio::test]
async fn pages_with_next_token_newest_first_per_region() {
    let (emu, _d) = start(|c| c.aws_access_key_id = Some("AKIDEMULATOR".into())).await;
    let us = client(&emu, "us-east-1", no_retries());
    let (ids, pages) = all_pages(&us, Some(source("signin.amazonaws.com")), 3, None).await;
    let want: Vec<String> = (0..CT_SIGNIN_US).rev().map(|i| format!("ct-us-east-1-{i:02}")).collect();
    assert_eq!(ids, want, "every ConsoleLogin once, newest first, the twice-delivered record once");
    assert_eq!(pages, 3);

    let (all, _) = all_pages(&us, None, 50, None).await;
    assert_eq!(all.len(), CT_SIGNIN_US + 3);

    let eu = client(&emu, "eu-west-1", no_retries());
    let (ids, _) = all_pages(&eu, Some(source("signin.amazonaws.com")), 50, None).await;
    assert_eq!(ids, vec!["ct-eu-west-1-01", "ct-eu-west-1-00"]);

    let other = client(&emu, "ap-south-1", no_retries());
    assert_eq!(all_pages(&other, None, 50, None).await.0.len(), 0);
}

#[tokio::test]
async fn event_fields_and_verbatim_cloudtrail_event() {
    let (emu, _d) = start(|_| {}).await;
    let us = client(&emu, "us-east-1", no_retries());
    let out = us
        .lookup_events()
        .lookup_attributes(
            LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventId)
                .attribute_value("ct-us-east-1-02")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let [e] = out.events() else { panic!("one event: {:?}", out.events()) };
    assert_eq!(e.event_name(), Some("ConsoleLogin"));
    assert_eq!(e.event_source(), Some("signin.amazonaws.com"));
    assert_eq!(e.read_only(), Some("false"));
    assert_eq!(e.username(), Some("user2@example.com"));
    assert_eq!(e.access_key_id(), Some("ASIA0002"));
    assert_eq!(e.event_time().unwrap().to_millis().unwrap(), t0() + 10 * MIN);
    let res = e.resources();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].resource_type(), Some("AWS::IAM::Role"));
    assert_eq!(res[0].resource_name(), Some("arn:aws:iam::111122223333:role/Admin"));
    let raw: Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
    assert_eq!(raw, ct_record(2, "us-east-1", "signin.amazonaws.com"));
    assert!(out.next_token().is_none());

    // Other attributes.
    for (key, value, want) in [
        (LookupAttributeKey::EventName, "ListUsers", 3),
        (LookupAttributeKey::ReadOnly, "true", 3),
        (LookupAttributeKey::Username, "user5@example.com", 1),
        (LookupAttributeKey::AccessKeyId, "ASIA0008", 1),
        (LookupAttributeKey::ResourceType, "AWS::IAM::Role", CT_SIGNIN_US + 3),
        (LookupAttributeKey::EventSource, "s3.amazonaws.com", 0),
    ] {
        let attr = LookupAttribute::builder().attribute_key(key.clone()).attribute_value(value).build().unwrap();
        let (ids, _) = all_pages(&us, Some(attr), 50, None).await;
        assert_eq!(ids.len(), want, "{key:?}={value}");
    }
}

#[tokio::test]
async fn start_and_end_time_are_inclusive() {
    let (emu, _d) = start(|_| {}).await;
    let us = client(&emu, "us-east-1", no_retries());
    let (ids, _) =
        all_pages(&us, Some(source("signin.amazonaws.com")), 50, Some((t0() + 10 * MIN, t0() + 20 * MIN))).await;
    assert_eq!(ids, vec!["ct-us-east-1-04", "ct-us-east-1-03", "ct-us-east-1-02"]);
}

#[tokio::test]
async fn request_rules_surface_as_modeled_errors() {
    let (emu, _d) = start(|_| {}).await;
    let us = client(&emu, "us-east-1", no_retries());

    let err = us
        .lookup_events()
        .lookup_attributes(source("signin.amazonaws.com"))
        .lookup_attributes(
            LookupAttribute::builder()
                .attribute_key(LookupAttributeKey::EventName)
                .attribute_value("ConsoleLogin")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(err, LookupEventsError::InvalidLookupAttributesException(_)), "{err:?}");

    let err = us.lookup_events().max_results(51).send().await.unwrap_err().into_service_error();
    assert!(matches!(err, LookupEventsError::InvalidMaxResultsException(_)), "{err:?}");

    let err = us
        .lookup_events()
        .start_time(DateTime::from_secs(2_000_000_000))
        .end_time(DateTime::from_secs(1_000_000_000))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(err, LookupEventsError::InvalidTimeRangeException(_)), "{err:?}");

    // A NextToken replayed with other parameters.
    let out = us.lookup_events().max_results(2).send().await.unwrap();
    let token = out.next_token().unwrap().to_string();
    let err = us
        .lookup_events()
        .lookup_attributes(source("signin.amazonaws.com"))
        .next_token(token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(err, LookupEventsError::InvalidNextTokenException(_)), "{err:?}");
}

#[tokio::test]
async fn over_two_per_second_is_a_throttling_exception() {
    let defaults = trailproof_emulate::RateLimits::default();
    assert_eq!((defaults.cloudtrail.max, defaults.cloudtrail.window), (2, Duration::from_secs(1)));
    // Same count, a longer window so a loaded machine cannot slip past it.
    let (emu, _d) = start(|c| {
        c.rate_limits = true;
        c.limits.cloudtrail.window = Duration::from_secs(30);
    })
    .await;
    let us = client(&emu, "us-east-1", no_retries());
    us.lookup_events().max_results(1).send().await.unwrap();
    us.lookup_events().max_results(1).send().await.unwrap();
    let err = us.lookup_events().max_results(1).send().await.unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    let se = err.into_service_error();
    assert_eq!(se.code(), Some("ThrottlingException"), "{se:?}");
    assert_eq!(se.message(), Some("Rate exceeded"));
    assert_eq!(raw, Some(400));
    // Limits are per region.
    let eu = client(&emu, "eu-west-1", no_retries());
    eu.lookup_events().max_results(1).send().await.unwrap();
}

#[tokio::test]
async fn sdk_retries_a_throttled_call() {
    let (emu, _d) = start(|c| c.faults = Faults::parse(&["429:burst=1,every=100".into()]).unwrap()).await;
    let retry = RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(10));
    let us = client(&emu, "us-east-1", retry);
    let out = us.lookup_events().max_results(1).send().await.unwrap();
    assert_eq!(out.events().len(), 1);
    assert_eq!(emu.requests(Endpoint::CloudTrail), 2, "first attempt throttled, retry succeeded");
}

#[tokio::test]
async fn protocol_errors_over_plain_http() {
    let (emu, _d) = start(|c| c.aws_access_key_id = Some("AKIDEMULATOR".into())).await;
    let post = |target: Option<&'static str>, auth: Option<&'static str>| {
        let mut r =
            http().post(format!("{}/", emu.url())).header("content-type", "application/x-amz-json-1.1").body("{}");
        if let Some(t) = target {
            r = r.header("x-amz-target", t);
        }
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let good = "AWS4-HMAC-SHA256 Credential=AKIDEMULATOR/20260110/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=00";
    let cases = [
        (None, Some(good), 400, "UnknownOperationException"),
        (Some("CloudTrail_20131101.StartQuery"), Some(good), 400, "UnknownOperationException"),
        (Some("CloudTrail_20131101.LookupEvents"), None, 403, "MissingAuthenticationTokenException"),
        (Some("CloudTrail_20131101.LookupEvents"), Some("Bearer x"), 400, "IncompleteSignatureException"),
        (
            Some("CloudTrail_20131101.LookupEvents"),
            Some("AWS4-HMAC-SHA256 Credential=AKIDOTHER/20260110/us-east-1/cloudtrail/aws4_request, Signature=00"),
            400,
            "UnrecognizedClientException",
        ),
    ];
    for (target, auth, status, typ) in cases {
        let r = post(target, auth).await.unwrap();
        assert_eq!(r.status(), status, "{typ}");
        assert_eq!(r.headers()["x-amzn-errortype"], typ);
        assert_eq!(body_json(r).await["__type"], typ);
    }
    let r =
        post(Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"), Some(good)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.1");
    let v = body_json(r).await;
    assert_eq!(v["Events"].as_array().unwrap().len(), 10);
    assert!(v.get("NextToken").is_none());
    assert!(v["Events"][0]["EventTime"].is_number());
    assert!(v["Events"][0]["CloudTrailEvent"].is_string());
}

/// Identity Center's sign-in shape of July 2025 on (`userIdentity` of type `IdentityCenterUser`,
/// the user name only in `additionalEventData`) is served as written, so the collectors read
/// what an import reads: the real record of elastic/integrations
/// (`fixtures/real/cloudtrail/ic-elastic-user-authentication-2025.log`).
#[tokio::test]
async fn identity_center_user_sign_ins_are_served_as_written() {
    let real = include_str!("../../../fixtures/real/cloudtrail/ic-elastic-user-authentication-2025.log");
    let rec: Value = serde_json::from_str(real.trim()).unwrap();
    assert_eq!(rec["userIdentity"]["type"], "IdentityCenterUser");
    let dir = tempfile::tempdir().unwrap();
    write_gz(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail/us-east-2/2025/09/22/111122223333_CloudTrail_us-east-2_20250922T1235Z_a.json.gz",
        serde_json::json!({"Records": [rec.clone()]}).to_string().as_bytes(),
    );
    let cfg = trailproof_emulate::EmulatorConfig {
        data: dir.path().to_path_buf(),
        clock: trailproof_emulate::ClockMode::Frozen(
            trailproof_model::time::parse_time("2025-09-23T00:00:00Z").unwrap(),
        ),
        ..Default::default()
    };
    let emu = trailproof_emulate::serve(cfg).await.unwrap();
    let c = client(&emu, "us-east-2", no_retries());
    let by_name = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value("UserAuthentication")
        .build()
        .unwrap();
    for attr in [source("signin.amazonaws.com"), by_name] {
        let out = c.lookup_events().lookup_attributes(attr).send().await.unwrap();
        assert_eq!(out.events().len(), 1);
        let e = &out.events()[0];
        assert_eq!(
            (e.event_id(), e.event_name(), e.event_source()),
            (Some("redacted"), Some("UserAuthentication"), Some("signin.amazonaws.com"))
        );
        let served: Value = serde_json::from_str(e.cloud_trail_event().unwrap()).unwrap();
        assert_eq!(served, rec);
    }
    emu.shutdown().await;
}
