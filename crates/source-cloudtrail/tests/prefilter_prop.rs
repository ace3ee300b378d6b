//! Property tests: the prefilter never drops a record that the parser keeps, and the byte-level
//! time/scope peek agrees with the full parse. Records are generated from templates of every
//! accepted shape, with kept and unkept event names and sources, random identities (including
//! Identity Center role ARNs that mention `sso.amazonaws.com`), random key order, and random
//! whitespace after colons.

use proptest::prelude::*;
use trailproof_source_cloudtrail::{AwsEventKind, Format, Parsed, parse_record, peek_time_scope, prefilter, scope_of};

const SOURCES: &[&str] = &[
    "signin.amazonaws.com",
    "sts.amazonaws.com",
    "sso.amazonaws.com",
    "ec2.amazonaws.com",
    "iam.amazonaws.com",
    "portal.sso.amazonaws.com",
    "sso-directory.amazonaws.com",
];

const NAMES: &[&str] = &[
    "ConsoleLogin",
    "GetSigninToken",
    "CheckMfa",
    "SwitchRole",
    "UserAuthentication",
    "CredentialChallenge",
    "CredentialVerification",
    "GetFederationToken",
    "AssumeRoleWithSAML",
    "Authenticate",
    "Federate",
    "DescribeInstances",
    "AssumeRole",
    "GetRoleCredentials",
    "PasswordUpdated",
    "ListAccounts",
];

const WS: &[&str] = &["", " ", "  ", "\t", "\n    ", " \r\n "];

const TIMES: &[&str] = &[
    "2024-05-01T09:00:04Z",
    "2024-05-01T09:00:04.6195833+00:00",
    "2024-05-01T11:00:04+02:00",
    "2024-05-01 09:00:04",
    "2024-05-01T09:00:04.123Z",
];

const SSO_ROLE: &str = "AWSReservedSSO_AdministratorAccess_ccf1d4a38ab69010";

fn identity(kind: usize, ws: &str) -> String {
    let kv = |k: &str, v: &str| format!("\"{k}\":{ws}{v}");
    match kind {
        0 => format!(
            "{{{},{},{},{}}}",
            kv("type", "\"AssumedRole\""),
            kv("principalId", "\"AROAEXAMPLE:jane@example.com\""),
            kv("arn", &format!("\"arn:aws:sts::444455556666:assumed-role/{SSO_ROLE}/jane@example.com\"")),
            kv(
                "sessionContext",
                &format!(
                    "{{{}}}",
                    kv(
                        "sessionIssuer",
                        &format!(
                            "{{{},{}}}",
                            kv("type", "\"Role\""),
                            kv(
                                "arn",
                                &format!(
                                    "\"arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_ROLE}\""
                                )
                            )
                        )
                    )
                )
            ),
        ),
        1 => format!(
            "{{{},{},{},{}}}",
            kv("type", "\"IAMUser\""),
            kv("principalId", "\"AIDAEXAMPLE\""),
            kv("arn", "\"arn:aws:iam::444455556666:user/dave\""),
            kv("userName", "\"dave\"")
        ),
        2 => format!(
            "{{{},{},{}}}",
            kv("type", "\"SAMLUser\""),
            kv("principalId", "\"bdGOnTesti4+ExamplexL/jEvs=:bob@example.com\""),
            kv("userName", "\"bob@example.com\"")
        ),
        3 => format!(
            "{{{},{},{},{}}}",
            kv("type", "\"Unknown\""),
            kv("principalId", "\"444455556666\""),
            kv("arn", "\"\""),
            kv("userName", "\"jane\"")
        ),
        // eventVersion 1.09+ Identity Center caller: no user name, the identity store's user.
        _ => format!(
            "{{{},{},{},{}}}",
            kv("type", "\"IdentityCenterUser\""),
            kv("accountId", "\"444455556666\""),
            kv(
                "onBehalfOf",
                format!(
                    "{{{},{}}}",
                    kv("userId", "\"544894e8-80c1-707f-60e3-3ba6510dfac1\""),
                    kv("identityStoreArn", "\"arn:aws:identitystore::444455556666:identitystore/d-9067642ac7\"")
                )
                .as_str()
            ),
            kv("credentialId", "\"EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE\"")
        ),
    }
}

#[derive(Debug, Clone)]
struct Case {
    source: &'static str,
    name: &'static str,
    time: &'static str,
    ws: &'static str,
    ident: usize,
    shape: usize,
    order: Vec<usize>,
    epoch_lookup_time: bool,
}

fn native(c: &Case) -> String {
    let ws = c.ws;
    let kv = |k: &str, v: String| format!("\"{k}\":{ws}{v}");
    let entries = [
        kv("eventVersion", "\"1.08\"".into()),
        kv("userIdentity", identity(c.ident, ws)),
        kv("eventTime", format!("\"{}\"", c.time)),
        kv("eventSource", format!("\"{}\"", c.source)),
        kv("eventName", format!("\"{}\"", c.name)),
        kv("awsRegion", "\"eu-west-1\"".into()),
        kv("sourceIPAddress", "\"203.0.113.45\"".into()),
        kv("requestParameters", "null".into()),
        kv("responseElements", format!("{{\"ConsoleLogin\":{ws}\"Success\"}}")),
        kv("additionalEventData", format!("{{\"MFAUsed\":{ws}\"No\"}}")),
        kv("eventID", "\"0b7d4c1e-5f0a-4a59-9d0e-8d1f2a3b4c01\"".into()),
        kv("recipientAccountId", "\"444455556666\"".into()),
    ];
    let ordered: Vec<&str> = c.order.iter().map(|&i| entries[i].as_str()).collect();
    format!("{{{}}}", ordered.join(","))
}

fn ecs_nested(c: &Case) -> String {
    let ws = c.ws;
    format!(
        "{{\"@timestamp\":{ws}\"{t}\",\"event\":{ws}{{\"id\":{ws}\"ECS-1\",\"action\":{ws}\"{n}\",\"provider\":{ws}\"{s}\",\"category\":{ws}[\"authentication\"]}},\
\"cloud\":{ws}{{\"account\":{ws}{{\"id\":{ws}\"444455556666\"}},\"region\":{ws}\"eu-west-1\"}},\
\"aws\":{ws}{{\"cloudtrail\":{ws}{{\"user_identity\":{ws}{{\"type\":{ws}\"AssumedRole\",\"arn\":{ws}\"arn:aws:sts::444455556666:assumed-role/{SSO_ROLE}/jane@example.com\",\
\"session_context\":{ws}{{\"session_issuer\":{ws}{{\"arn\":{ws}\"arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}\"}}}}}}}}}},\
\"user\":{ws}{{\"id\":{ws}\"AROAEXAMPLE:jane@example.com\",\"name\":{ws}\"{SSO_ROLE}\"}}}}",
        t = "2024-05-01T09:00:04.000Z",
        n = c.name,
        s = c.source,
    )
}

fn ecs_dotted(c: &Case) -> String {
    let ws = c.ws;
    format!(
        "{{\"@timestamp\":{ws}\"2024-05-01T09:00:04.000Z\",\"event.id\":{ws}\"ECS-2\",\"event.action\":{ws}\"{n}\",\
\"event.provider\":{ws}\"{s}\",\"cloud.account.id\":{ws}\"444455556666\",\"cloud.region\":{ws}\"eu-west-1\",\
\"aws.cloudtrail.user_identity.type\":{ws}\"IAMUser\",\"user.name\":{ws}\"dave\"}}",
        n = c.name,
        s = c.source,
    )
}

fn lookup(c: &Case) -> String {
    let ws = c.ws;
    let embedded = serde_json::to_string(&native(c)).unwrap();
    let time = if c.epoch_lookup_time { "1714554004".to_owned() } else { "\"2024-05-01T09:00:04+00:00\"".to_owned() };
    format!(
        "{{\"EventId\":{ws}\"0b7d4c1e-5f0a-4a59-9d0e-8d1f2a3b4c01\",\"EventName\":{ws}\"{n}\",\"EventTime\":{ws}{time},\
\"EventSource\":{ws}\"{s}\",\"Username\":{ws}\"jane@example.com\",\"CloudTrailEvent\":{ws}{embedded}}}",
        n = c.name,
        s = c.source,
    )
}

fn record(c: &Case) -> String {
    match c.shape {
        0 => native(c),
        1 => lookup(c),
        2 => ecs_nested(c),
        3 => ecs_dotted(c),
        _ => format!("{{\"_index\":{ws}\"logs\",\"_id\":{ws}\"x\",\"_source\":{ws}{}}}", ecs_nested(c), ws = c.ws),
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(SOURCES),
        prop::sample::select(NAMES),
        prop::sample::select(TIMES),
        prop::sample::select(WS),
        0usize..5,
        0usize..5,
        Just((0..12).collect::<Vec<usize>>()).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(|(source, name, time, ws, ident, shape, order, epoch_lookup_time)| Case {
            source,
            name,
            time,
            ws,
            ident,
            shape,
            order,
            epoch_lookup_time,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn prefilter_never_drops_a_relevant_record(c in case()) {
        let raw = record(&c);
        let parsed = parse_record(raw.as_bytes(), Format::Auto);
        let kept = AwsEventKind::classify(c.source, c.name).is_some();
        match &parsed {
            Ok(Parsed::Relevant { events, .. }) => {
                prop_assert!(kept, "kept a record classify rejects: {raw}");
                prop_assert!(prefilter(raw.as_bytes()), "prefilter dropped a relevant record: {raw}");
                prop_assert_eq!(peek_time_scope(raw.as_bytes()), (Some(events[0].time_ms), scope_of(&events[0])), "{}", raw);
            }
            Ok(Parsed::Irrelevant { time_ms, scope }) => {
                prop_assert!(!kept, "dropped a kept event: {raw}");
                prop_assert_eq!(peek_time_scope(raw.as_bytes()), (*time_ms, scope.clone()), "{}", raw);
            }
            Err(e) => prop_assert!(false, "generated record failed to parse: {e}: {raw}"),
        }
        // The prefilter is exactly "a sign-in/SSO event source, or a sign-in STS event name":
        // the Identity Center role path in the ARNs must not make it pass.
        let expected = matches!(c.source, "signin.amazonaws.com" | "sso.amazonaws.com")
            || matches!(c.name, "GetFederationToken" | "AssumeRoleWithSAML");
        prop_assert_eq!(prefilter(raw.as_bytes()), expected, "{}", raw);
    }
}
