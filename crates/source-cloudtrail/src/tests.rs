//! Regression tests, one per quirk of formats.md sections 1 and 5 (and the UNCONFIRMED
//! variants the parser tolerates). Fixture-file tests live in `tests/fixtures.rs`.

use crate::*;
use serde_json::{Value, json};
use trailproof_model::Outcome;

/// A SAML ConsoleLogin without sessionContext (formats.md 1.2).
fn console_login() -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID:alice@example.com",
            "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/alice@example.com",
            "accountId": "111122223333"
        },
        "eventTime": "2024-05-01T09:00:04Z",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "Mozilla/5.0",
        "requestParameters": null,
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No", "MFAUsed": "No",
                                "SamlProviderArn": "arn:aws:iam::111122223333:saml-provider/Okta"},
        "eventID": "5f4cb814-0000-4000-8000-000000000001",
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333"
    })
}

/// AssumeRoleWithSAML (formats.md 1.4).
fn assume_role_with_saml() -> Value {
    json!({
        "userIdentity": {"type": "SAMLUser", "principalId": "NQ=:alice@example.com", "userName": "alice@example.com",
                         "identityProvider": "NQ="},
        "eventTime": "2024-05-01T09:00:03Z",
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithSAML", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"roleSessionName": "alice@example.com", "sourceIdentity": "alice-req",
                              "roleArn": "arn:aws:iam::111122223333:role/OktaAdmin",
                              "principalArn": "arn:aws:iam::111122223333:saml-provider/Okta"},
        "responseElements": {"subjectType": "persistent", "issuer": "http://www.okta.com/exk123", "sourceIdentity": "alice",
                             "credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "May 1, 2024, 10:00:03 AM"},
                             "nameQualifier": "NQ=",
                             "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLEROLEID:alice@example.com",
                                                 "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/alice@example.com"},
                             "subject": "alice@example.com"},
        "resources": [{"ARN": "arn:aws:iam::111122223333:role/OktaAdmin", "accountId": "111122223333", "type": "AWS::IAM::Role"},
                      {"ARN": "arn:aws:iam::111122223333:saml-provider/FromResources", "accountId": "111122223333",
                       "type": "AWS::IAM::SAMLProvider"}],
        "eventID": "5f4cb814-0000-4000-8000-000000000002",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

/// GetFederationToken (formats.md 1.5).
fn get_federation_token() -> Value {
    json!({
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/sso-broker",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "sso-broker"},
        "eventTime": "2024-05-01T09:00:01Z",
        "eventSource": "sts.amazonaws.com", "eventName": "GetFederationToken", "awsRegion": "us-east-1",
        "requestParameters": {"name": "jdoe", "durationSeconds": 3600},
        "responseElements": {"credentials": {"accessKeyId": "ASIAFED", "expiration": "Nov 30, 2024, 8:43:17 PM"},
                             "federatedUser": {"arn": "arn:aws:sts::111122223333:federated-user/jdoe",
                                               "federatedUserId": "111122223333:jdoe"},
                             "packedPolicySize": 4},
        "eventID": "5f4cb814-0000-4000-8000-000000000003",
        "recipientAccountId": "111122223333"
    })
}

fn parse_value(v: &Value, format: Format) -> Result<Parsed<AwsEvent>, ParseError> {
    parse_record(&serde_json::to_vec(v).unwrap(), format)
}

fn event_of(v: &Value) -> AwsEvent {
    event_bytes(&serde_json::to_vec(v).unwrap())
}

fn event_bytes(raw: &[u8]) -> AwsEvent {
    match parse_record(raw, Format::Auto) {
        Ok(Parsed::Relevant { native_id, mut events }) => {
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].event_id, native_id);
            events.remove(0)
        }
        other => panic!("expected a relevant record, got {other:?}: {}", String::from_utf8_lossy(raw)),
    }
}

fn with(mut v: Value, path: &[&str], new: Value) -> Value {
    let mut cur = &mut v;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur.as_object_mut().unwrap().insert((*k).to_owned(), new);
            break;
        }
        cur = cur.get_mut(*k).unwrap();
    }
    v
}

fn without(mut v: Value, path: &[&str]) -> Value {
    let mut cur = &mut v;
    for (i, k) in path.iter().enumerate() {
        if i + 1 == path.len() {
            cur.as_object_mut().unwrap().remove(*k);
            break;
        }
        cur = cur.get_mut(*k).unwrap();
    }
    v
}

// ---------- MFA ----------

#[test]
fn mfaused_is_read_in_any_case() {
    for (word, want) in [("Yes", true), ("YES", true), ("yes", true), ("No", false), ("NO", false), ("no", false)] {
        let e = event_of(&with(console_login(), &["additionalEventData", "MFAUsed"], json!(word)));
        assert_eq!(e.mfa_used, Some(want), "{word}");
    }
    let e = event_of(&with(console_login(), &["additionalEventData", "MFAUsed"], json!("maybe")));
    assert_eq!(e.mfa_used, None);
    let e = event_of(&without(console_login(), &["additionalEventData", "MFAUsed"]));
    assert_eq!(e.mfa_used, None);
}

#[test]
fn mfa_authenticated_string_or_boolean() {
    let ctx = |v: Value| {
        with(
            console_login(),
            &["userIdentity", "sessionContext"],
            json!({"attributes": {"mfaAuthenticated": v, "creationDate": "20131102T010628Z"}}),
        )
    };
    assert_eq!(event_of(&ctx(json!("true"))).mfa_authenticated, Some(true));
    assert_eq!(event_of(&ctx(json!("FALSE"))).mfa_authenticated, Some(false));
    assert_eq!(event_of(&ctx(json!(true))).mfa_authenticated, Some(true));
    assert_eq!(event_of(&ctx(json!(null))).mfa_authenticated, None);
}

// ---------- eventType ----------

#[test]
fn event_type_spellings_and_absence_do_not_change_the_event() {
    let reference = event_of(&console_login());
    for t in ["AwsConsoleSignIn", "AwsConsoleSignin", "ConsoleSignin", "awsconsolesignin", "AwsApiCall"] {
        assert_eq!(event_of(&with(console_login(), &["eventType"], json!(t))), reference, "{t}");
    }
    assert_eq!(event_of(&without(console_login(), &["eventType"])), reference);
}

// ---------- outcome ----------

#[test]
fn console_login_outcome_word_in_any_case() {
    for (word, want) in [("Success", Outcome::Success), ("SUCCESS", Outcome::Success), ("failure", Outcome::Failure)] {
        let e = event_of(&with(console_login(), &["responseElements"], json!({"ConsoleLogin": word})));
        assert_eq!(e.outcome, want, "{word}");
    }
}

#[test]
fn console_login_error_message_or_code_is_a_failure() {
    let v = with(console_login(), &["errorMessage"], json!("Failed authentication"));
    let v = with(v, &["responseElements"], json!({"ConsoleLogin": "Failure"}));
    let e = event_of(&v);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.error_message.as_deref(), Some("Failed authentication"));
    // An error without the status word still fails.
    let v = with(without(console_login(), &["responseElements"]), &["errorCode"], json!("AccessDenied"));
    assert_eq!(event_of(&v).outcome, Outcome::Failure);
    assert_eq!(event_of(&v).error_code.as_deref(), Some("AccessDenied"));
    // An empty errorMessage is absent.
    let v = with(console_login(), &["errorMessage"], json!(""));
    assert_eq!(event_of(&v).outcome, Outcome::Success);
}

#[test]
fn console_login_without_status_is_unknown() {
    assert_eq!(event_of(&without(console_login(), &["responseElements"])).outcome, Outcome::Unknown);
    assert_eq!(event_of(&with(console_login(), &["responseElements"], json!(null))).outcome, Outcome::Unknown);
}

#[test]
fn other_calls_fail_iff_error_present() {
    assert_eq!(event_of(&get_federation_token()).outcome, Outcome::Success);
    let v = with(get_federation_token(), &["errorCode"], json!("AccessDenied"));
    let v = with(v, &["responseElements"], json!(null));
    let e = event_of(&v);
    assert_eq!(e.outcome, Outcome::Failure);
    // Without a response the session name comes from the request.
    assert_eq!(e.session_name.as_deref(), Some("jdoe"));
    assert_eq!(e.issued_arn, None);
}

#[test]
fn check_mfa_status_from_response_elements() {
    let v = with(console_login(), &["eventName"], json!("CheckMfa"));
    let v = with(v, &["responseElements"], json!({"CheckMfa": "Failure"}));
    let e = event_of(&v);
    assert_eq!(e.kind, Some(AwsEventKind::CheckMfa));
    assert_eq!(e.outcome, Outcome::Failure);
}

#[test]
fn identity_center_status_from_service_event_details() {
    let v = json!({
        "userIdentity": {"type": "Unknown", "principalId": "111122223333", "arn": "", "accountId": "111122223333",
                         "accessKeyId": "", "userName": "user1"},
        "eventTime": "2020-12-08T18:56:21Z", "eventSource": "signin.amazonaws.com", "eventName": "CredentialVerification",
        "awsRegion": "us-east-1", "requestParameters": null, "responseElements": null,
        "additionalEventData": {"AuthWorkflowID": "adbf67c4", "CredentialType": "PASSWORD"},
        "eventID": "9160fe06-fc2a-474f-9b78-000ee067a09d", "eventType": "AwsServiceEvent",
        "recipientAccountId": "111122223333", "serviceEventDetails": {"CredentialVerification": "Failure"}
    });
    let e = event_of(&v);
    assert_eq!(e.kind, Some(AwsEventKind::CredentialVerification));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.arn, None, "an empty arn is absent");
    assert_eq!(e.access_key_id, None);
    assert_eq!(e.user_name.as_deref(), Some("user1"));
    assert_eq!(e.credential_type.as_deref(), Some("PASSWORD"));
    let e = event_of(&with(v, &["serviceEventDetails"], json!({"CredentialVerification": "SUCCESS"})));
    assert_eq!(e.outcome, Outcome::Success);
}

/// An Identity Center sign-in event of eventVersion 1.09+ (IAM Identity Center User Guide,
/// "Username in sign-in CloudTrail events"; CloudTrail User Guide, "CloudTrail userIdentity
/// element": `IdentityCenterUser`, `onBehalfOf`, `credentialId`).
fn identity_center_2025() -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {"type": "IdentityCenterUser", "accountId": "111122223333",
                         "onBehalfOf": {"userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                                        "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"},
                         "credentialId": "EXAMPLEcredential"},
        "eventTime": "2025-08-04T07:58:02Z", "eventSource": "signin.amazonaws.com", "eventName": "CredentialChallenge",
        "awsRegion": "eu-west-1", "requestParameters": null, "responseElements": null,
        "additionalEventData": {"AuthWorkflowID": "5c1e2f7a", "CredentialType": "PASSWORD", "UserName": "mara.keller"},
        "eventID": "0f6d1c2e-0000-4000-8000-000000000001", "eventType": "AwsServiceEvent",
        "recipientAccountId": "111122223333", "serviceEventDetails": {"CredentialChallenge": "Success"}
    })
}

#[test]
fn identity_center_2025_user_name_and_identity_store_facts() {
    let e = event_of(&identity_center_2025());
    assert_eq!(e.principal_type.as_deref(), Some("IdentityCenterUser"));
    assert_eq!(e.user_name.as_deref(), Some("mara.keller"), "additionalEventData.UserName");
    assert_eq!(e.identity_store_user_id.as_deref(), Some("544894e8-80c1-707f-60e3-3ba6510dfac1"));
    assert_eq!(e.credential_id.as_deref(), Some("EXAMPLEcredential"));
    assert_eq!(e.auth_workflow_id.as_deref(), Some("5c1e2f7a"));
    assert_eq!((e.principal_id, e.role_name, e.session_name), (None, None, None));
    // userIdentity.userName, where a record still has it (the transition shape), wins.
    let v = with(identity_center_2025(), &["userIdentity", "userName"], json!("typed-name"));
    assert_eq!(event_of(&v).user_name.as_deref(), Some("typed-name"));
    // An empty userIdentity.userName is absent: the additionalEventData one is used.
    let v = with(identity_center_2025(), &["userIdentity", "userName"], json!(""));
    assert_eq!(event_of(&v).user_name.as_deref(), Some("mara.keller"));
}

#[test]
fn identity_center_2025_empty_and_odd_values() {
    // Empty strings are absent; other values (even "redacted") are kept as written.
    let v = with(identity_center_2025(), &["additionalEventData"], json!({"AuthWorkflowID": "", "UserName": " "}));
    let v = with(v, &["userIdentity", "credentialId"], json!(""));
    let v = with(v, &["userIdentity", "onBehalfOf"], json!({"userId": "", "identityStoreArn": "x"}));
    let e = event_of(&v);
    assert_eq!((e.user_name, e.auth_workflow_id, e.credential_id, e.identity_store_user_id), (None, None, None, None));
    let v = with(identity_center_2025(), &["userIdentity", "onBehalfOf", "userId"], json!("redacted"));
    assert_eq!(event_of(&v).identity_store_user_id.as_deref(), Some("redacted"));
    // onBehalfOf as a string holding JSON (as some exporters write nested objects), or junk.
    let v = with(
        identity_center_2025(),
        &["userIdentity", "onBehalfOf"],
        json!("{\"userId\":\"u-1\",\"identityStoreArn\":\"x\"}"),
    );
    assert_eq!(event_of(&v).identity_store_user_id.as_deref(), Some("u-1"));
    let v = with(identity_center_2025(), &["userIdentity", "onBehalfOf"], json!(["u-1"]));
    let e = event_of(&v);
    assert_eq!(e.identity_store_user_id, None);
    assert_eq!(e.user_name.as_deref(), Some("mara.keller"), "an odd onBehalfOf loses nothing else");
    // A failed sign-in with a mistyped user name: kept as written, nothing derived.
    let v = with(identity_center_2025(), &["additionalEventData", "UserName"], json!("HIDDEN_DUE_TO_SECURITY_REASONS"));
    assert_eq!(event_of(&v).user_name.as_deref(), Some("HIDDEN_DUE_TO_SECURITY_REASONS"));
}

#[test]
fn identity_center_2025_lookup_events_and_ecs_read_the_same_facts() {
    let native = event_of(&identity_center_2025());
    let embedded = serde_json::to_string(&identity_center_2025()).unwrap();
    let lookup = json!({"EventId": native.event_id, "EventName": "CredentialChallenge", "CloudTrailEvent": embedded});
    assert_eq!(event_of(&lookup), native);
    // ECS without event.original: the pipeline puts UserName in user.name; AuthWorkflowID stays
    // in the flattened additional data; onBehalfOf and credentialId have no field of their own.
    let ecs = json!({
        "@timestamp": "2025-08-04T07:58:02.000Z",
        "event": {"id": "0f6d1c2e-0000-4000-8000-000000000001", "action": "CredentialChallenge",
                  "provider": "signin.amazonaws.com", "outcome": "success"},
        "cloud": {"account": {"id": "111122223333"}, "region": "eu-west-1"},
        "user": {"name": "mara.keller"},
        "aws": {"cloudtrail": {"recipient_account_id": "111122223333", "user_identity": {"type": "IdentityCenterUser"},
            "flattened": {"additional_eventdata": {"AuthWorkflowID": "5c1e2f7a", "CredentialType": "PASSWORD"},
                          "service_event_details": {"CredentialChallenge": "Success"}}}}
    });
    let e = event_of(&ecs);
    assert_eq!(e.user_name.as_deref(), Some("mara.keller"));
    assert_eq!(e.auth_workflow_id.as_deref(), Some("5c1e2f7a"));
    assert_eq!(e.principal_type.as_deref(), Some("IdentityCenterUser"));
    assert_eq!((e.identity_store_user_id, e.credential_id), (None, None));
    let v = with(ecs, &["aws", "cloudtrail", "flattened", "additional_eventdata", "UserName"], json!("flat-name"));
    assert_eq!(event_of(&v).user_name.as_deref(), Some("mara.keller"), "user.name first, as for userIdentity.userName");
}

#[test]
fn identity_center_2025_prefilter_and_peek() {
    let raw = serde_json::to_vec(&identity_center_2025()).unwrap();
    assert!(prefilter(&raw));
    let e = event_bytes(&raw);
    assert_eq!(peek_time_scope(&raw), (Some(e.time_ms), scope_of(&e)));
    // A portal call by the same user elsewhere is irrelevant and the prefilter drops it.
    let v = with(identity_center_2025(), &["eventSource"], json!("portal.sso.amazonaws.com"));
    let v = with(v, &["eventName"], json!("ListAccounts"));
    let raw = serde_json::to_vec(&v).unwrap();
    assert!(!prefilter(&raw));
    assert!(matches!(parse_record(&raw, Format::Auto), Ok(Parsed::Irrelevant { .. })));
}

// ---------- identity ----------

#[test]
fn missing_session_context_names_come_from_the_arn() {
    let e = event_of(&console_login());
    assert_eq!(e.role_name.as_deref(), Some("OktaAdmin"));
    assert_eq!(e.session_name.as_deref(), Some("alice@example.com"));
    assert_eq!(e.session_issuer_arn, None);
}

#[test]
fn missing_arn_session_comes_from_principal_id_and_role_from_issuer() {
    let v = without(console_login(), &["userIdentity", "arn"]);
    let e = event_of(&v);
    assert_eq!(e.session_name.as_deref(), Some("alice@example.com"));
    assert_eq!(e.role_name, None);
    let v = with(
        v,
        &["userIdentity", "sessionContext"],
        json!({"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/path/OktaAdmin"}}),
    );
    let e = event_of(&v);
    assert_eq!(e.role_name.as_deref(), Some("OktaAdmin"));
    let v = with(v, &["userIdentity", "sessionContext", "sessionIssuer", "userName"], json!("IssuerName"));
    assert_eq!(event_of(&v).role_name.as_deref(), Some("IssuerName"));
}

#[test]
fn federated_user_session_from_principal_id_when_arn_missing() {
    let v = with(
        console_login(),
        &["userIdentity"],
        json!({"type": "FederatedUser", "principalId": "111122223333:jdoe", "accountId": "111122223333"}),
    );
    let e = event_of(&v);
    assert_eq!(e.session_name.as_deref(), Some("jdoe"));
    assert_eq!(e.role_name, None);
}

#[test]
fn principal_id_of_other_identities_is_not_a_session_name() {
    let v = with(
        console_login(),
        &["userIdentity"],
        json!({"type": "SAMLUser", "principalId": "NQ=:alice@example.com", "userName": "alice@example.com"}),
    );
    assert_eq!(event_of(&v).session_name, None);
}

#[test]
fn hidden_user_name_is_kept_and_nothing_is_derived() {
    let v = with(
        console_login(),
        &["userIdentity"],
        json!({"type": "FederatedUser", "principalId": "111122223333:someone", "accountId": "111122223333",
               "accessKeyId": "", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    );
    let e = event_of(&v);
    assert_eq!(e.user_name.as_deref(), Some("HIDDEN_DUE_TO_SECURITY_REASONS"));
    assert_eq!(e.session_name, None);
    assert_eq!(e.role_name, None);
}

#[test]
fn every_arn_partition_is_split() {
    for p in ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-f", "aws-eusc"] {
        let v = with(
            console_login(),
            &["userIdentity", "arn"],
            json!(format!("arn:{p}:sts::111122223333:assumed-role/Admin/bob")),
        );
        let e = event_of(&v);
        assert_eq!(e.role_name.as_deref(), Some("Admin"), "{p}");
        assert_eq!(e.session_name.as_deref(), Some("bob"), "{p}");
    }
}

#[test]
fn empty_strings_are_absent() {
    let v = with(console_login(), &["userIdentity", "accessKeyId"], json!(""));
    let v = with(v, &["sourceIPAddress"], json!(""));
    let e = event_of(&v);
    assert_eq!(e.access_key_id, None);
    assert_eq!(e.source_ip, None);
}

#[test]
fn session_context_source_identity() {
    let v = with(console_login(), &["userIdentity", "sessionContext"], json!({"sourceIdentity": "alice"}));
    assert_eq!(event_of(&v).source_identity.as_deref(), Some("alice"));
}

#[test]
fn account_falls_back_to_user_identity_and_numbers_are_text() {
    let v = without(console_login(), &["recipientAccountId"]);
    assert_eq!(event_of(&v).account_id.as_deref(), Some("111122223333"));
    let v = with(console_login(), &["recipientAccountId"], json!(444455556666u64));
    let e = event_of(&v);
    assert_eq!(e.account_id.as_deref(), Some("444455556666"));
    assert_eq!(scope_of(&e).as_deref(), Some("444455556666/us-east-1"));
}

// ---------- issuing calls ----------

#[test]
fn assume_role_with_saml_fields() {
    let e = event_of(&assume_role_with_saml());
    assert_eq!(e.kind, Some(AwsEventKind::AssumeRoleWithSaml));
    assert_eq!(e.principal_type.as_deref(), Some("SAMLUser"));
    assert_eq!(e.arn, None);
    assert_eq!(e.saml_provider_arn.as_deref(), Some("arn:aws:iam::111122223333:saml-provider/Okta"));
    assert_eq!(e.saml_subject.as_deref(), Some("alice@example.com"));
    assert_eq!(e.saml_subject_type.as_deref(), Some("persistent"));
    assert_eq!(e.saml_issuer.as_deref(), Some("http://www.okta.com/exk123"));
    assert_eq!(e.saml_name_qualifier.as_deref(), Some("NQ="));
    assert_eq!(e.issued_arn.as_deref(), Some("arn:aws:sts::111122223333:assumed-role/OktaAdmin/alice@example.com"));
    assert_eq!(e.issued_access_key_id.as_deref(), Some("ASIAEXAMPLE"));
    assert_eq!(e.source_identity.as_deref(), Some("alice"), "the response's sourceIdentity wins");
    assert_eq!(e.role_name.as_deref(), Some("OktaAdmin"));
    assert_eq!(e.session_name.as_deref(), Some("alice@example.com"));
    assert_eq!(e.session_issuer_arn.as_deref(), Some("arn:aws:iam::111122223333:role/OktaAdmin"));
    assert_eq!(e.session_issuer_type.as_deref(), Some("Role"));
}

#[test]
fn assume_role_with_saml_provider_from_resources_and_source_identity_from_request() {
    let v = without(assume_role_with_saml(), &["requestParameters", "principalArn"]);
    let v = without(v, &["responseElements", "sourceIdentity"]);
    let e = event_of(&v);
    assert_eq!(e.saml_provider_arn.as_deref(), Some("arn:aws:iam::111122223333:saml-provider/FromResources"));
    assert_eq!(e.source_identity.as_deref(), Some("alice-req"));
}

#[test]
fn assume_role_with_saml_null_request_and_response() {
    let v = with(assume_role_with_saml(), &["requestParameters"], json!(null));
    let v = with(v, &["responseElements"], json!(null));
    let v = with(v, &["errorCode"], json!("InvalidIdentityToken"));
    let e = event_of(&v);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.issued_arn, None);
    assert_eq!(e.saml_provider_arn.as_deref(), Some("arn:aws:iam::111122223333:saml-provider/FromResources"));
    assert_eq!(e.session_name, None);
}

#[test]
fn get_federation_token_fields() {
    let e = event_of(&get_federation_token());
    assert_eq!(e.kind, Some(AwsEventKind::GetFederationToken));
    assert_eq!(e.issued_arn.as_deref(), Some("arn:aws:sts::111122223333:federated-user/jdoe"));
    assert_eq!(e.issued_access_key_id.as_deref(), Some("ASIAFED"));
    assert_eq!(e.session_name.as_deref(), Some("jdoe"));
    assert_eq!(e.role_name, None);
    assert_eq!(e.session_issuer_arn.as_deref(), Some("arn:aws:iam::111122223333:user/sso-broker"));
    assert_eq!(e.session_issuer_type.as_deref(), Some("IAMUser"));
    assert_eq!(e.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    assert_eq!(e.user_name.as_deref(), Some("sso-broker"));
}

#[test]
fn response_elements_as_a_json_string_is_read() {
    let v = with(console_login(), &["responseElements"], json!("{\"ConsoleLogin\":\"Failure\"}"));
    assert_eq!(event_of(&v).outcome, Outcome::Failure);
    let v = with(
        get_federation_token(),
        &["responseElements"],
        json!(serde_json::to_string(&get_federation_token()["responseElements"]).unwrap()),
    );
    assert_eq!(event_of(&v).issued_arn.as_deref(), Some("arn:aws:sts::111122223333:federated-user/jdoe"));
}

#[test]
fn unreadable_nested_values_are_absent_not_errors() {
    let v = with(console_login(), &["responseElements"], json!("{ConsoleLogin=Success}"));
    assert_eq!(event_of(&v).outcome, Outcome::Unknown);
    let v = with(console_login(), &["additionalEventData"], json!([1, 2]));
    assert_eq!(event_of(&v).mfa_used, None);
    let v = with(console_login(), &["userIdentity", "sessionContext"], json!("not json"));
    assert_eq!(event_of(&v).session_name.as_deref(), Some("alice@example.com"));
    let v = with(get_federation_token(), &["responseElements", "credentials"], json!(7));
    assert_eq!(event_of(&v).issued_access_key_id, None);
    let v = with(assume_role_with_saml(), &["resources"], json!({"ARN": "x"}));
    assert!(event_of(&v).saml_provider_arn.is_some());
    let v = with(console_login(), &["userIdentity"], json!(null));
    let e = event_of(&v);
    assert_eq!((e.arn, e.session_name, e.account_id.as_deref()), (None, None, Some("111122223333")));
}

// ---------- time ----------

#[test]
fn times_with_fractions_offsets_and_spaces() {
    for (t, ms) in [
        ("2024-05-01T09:00:04Z", 1_714_554_004_000),
        ("2024-05-01T09:00:04.6195833+00:00", 1_714_554_004_619),
        ("2024-05-01T11:00:04+02:00", 1_714_554_004_000),
        ("2024-06-02 19:41:40.000000000", 1_717_357_300_000),
        ("2023-01-10 20:10:41", 1_673_381_441_000),
    ] {
        assert_eq!(event_of(&with(console_login(), &["eventTime"], json!(t))).time_ms, ms, "{t}");
    }
}

#[test]
fn unusable_time_is_an_error_for_kept_events() {
    let err = parse_value(&with(console_login(), &["eventTime"], json!("redacted")), Format::Auto).unwrap_err();
    assert!(matches!(err, ParseError::Invalid { field: "eventTime", .. }), "{err}");
    let err = parse_value(&without(console_login(), &["eventTime"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("eventTime"));
}

// ---------- relevance and errors ----------

#[test]
fn missing_event_id_is_an_error() {
    let err = parse_value(&without(console_login(), &["eventID"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("eventID"));
}

#[test]
fn kept_event_name_without_event_source_is_an_error() {
    let err = parse_value(&without(console_login(), &["eventSource"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("eventSource"));
    let err = parse_value(&without(console_login(), &["eventName"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("eventName"));
}

#[test]
fn irrelevant_records_keep_time_and_scope() {
    let v = with(console_login(), &["eventSource"], json!("ec2.amazonaws.com"));
    let v = with(v, &["eventName"], json!("DescribeInstances"));
    assert_eq!(
        parse_value(&v, Format::Auto).unwrap(),
        Parsed::Irrelevant { time_ms: Some(1_714_554_004_000), scope: Some("111122223333/us-east-1".into()) }
    );
    let v = without(v, &["recipientAccountId"]);
    let v = with(v, &["eventTime"], json!("redacted"));
    assert_eq!(
        parse_value(&v, Format::Auto).unwrap(),
        Parsed::Irrelevant { time_ms: None, scope: Some("111122223333/us-east-1".into()) }
    );
    // Sign-in events trailproof does not keep.
    let v = with(console_login(), &["eventName"], json!("PasswordUpdated"));
    assert!(matches!(parse_value(&v, Format::Auto).unwrap(), Parsed::Irrelevant { .. }));
}

#[test]
fn garbage_is_a_typed_error_never_a_panic() {
    assert!(matches!(parse_record(b"not json", Format::Auto), Err(ParseError::Json(_))));
    assert!(matches!(parse_record(b"{\"eventID\": ", Format::Auto), Err(ParseError::Json(_))));
    assert!(matches!(parse_record(b"", Format::Auto), Err(ParseError::Json(_))));
    for (raw, what) in [(&b"42"[..], "number"), (b"[1,2]", "array"), (b"\"x\"", "string"), (b"null", "null")] {
        match parse_record(raw, Format::Auto) {
            Err(ParseError::WrongShape { why, .. }) => assert!(why.contains(what), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    // An Okta event is not a CloudTrail record.
    let okta = br#"{"uuid":"x","published":"2024-05-01T09:00:00.000Z","eventType":"user.session.start"}"#;
    assert!(matches!(parse_record(okta, Format::Auto), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"{}", Format::Auto), Err(ParseError::WrongShape { .. })));
}

#[test]
fn forced_formats_refuse_other_shapes() {
    let native = console_login();
    let lookup = json!({"EventId": "x", "CloudTrailEvent": serde_json::to_string(&native).unwrap()});
    assert!(matches!(parse_value(&lookup, Format::Native), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_value(&native, Format::LookupEvents), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_value(&native, Format::Ecs), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_value(&lookup, Format::LookupEvents), Ok(Parsed::Relevant { .. })));
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::parse(f.as_str()), Some(f));
    }
    assert_eq!(Format::parse("Lookup-Events"), Some(Format::LookupEvents));
    assert_eq!(Format::parse("lookup_events"), None);
    assert_eq!(Format::default(), Format::Auto);
}

// ---------- LookupEvents ----------

fn lookup_event(embedded: &Value, event_time: Value) -> Value {
    json!({"EventId": embedded.get("eventID").cloned().unwrap_or(json!("outer-id")), "EventName": "ConsoleLogin",
           "ReadOnly": "false", "EventTime": event_time, "EventSource": "signin.amazonaws.com",
           "Username": "alice@example.com", "Resources": [],
           "CloudTrailEvent": serde_json::to_string(embedded).unwrap()})
}

#[test]
fn lookup_events_embedded_event_time_wins() {
    let e = event_of(&lookup_event(&console_login(), json!("2030-01-01T00:00:00+00:00")));
    assert_eq!(e.time_ms, 1_714_554_004_000);
    assert_eq!(e, event_of(&console_login()));
}

#[test]
fn lookup_events_epoch_or_iso_event_time_fills_a_gap() {
    let embedded = without(console_login(), &["eventTime"]);
    assert_eq!(event_of(&lookup_event(&embedded, json!(1714554004))).time_ms, 1_714_554_004_000);
    assert_eq!(event_of(&lookup_event(&embedded, json!(1714554004.5))).time_ms, 1_714_554_004_500);
    assert_eq!(event_of(&lookup_event(&embedded, json!("2024-05-01T09:00:04+00:00"))).time_ms, 1_714_554_004_000);
    let embedded = without(without(console_login(), &["eventID"]), &["eventSource"]);
    let e = event_of(&lookup_event(&embedded, json!(1714554004)));
    assert_eq!(e.event_id, "outer-id");
    assert_eq!(e.kind, Some(AwsEventKind::ConsoleLogin));
}

#[test]
fn lookup_events_cloudtrail_event_as_object_or_broken() {
    let mut v = lookup_event(&console_login(), json!(1714554004));
    v["CloudTrailEvent"] = console_login();
    assert_eq!(event_of(&v), event_of(&console_login()));
    v["CloudTrailEvent"] = json!("{not json");
    assert!(matches!(parse_value(&v, Format::Auto), Err(ParseError::Invalid { field: "CloudTrailEvent", .. })));
    v["CloudTrailEvent"] = json!(12);
    assert!(matches!(parse_value(&v, Format::Auto), Err(ParseError::Invalid { field: "CloudTrailEvent", .. })));
    v.as_object_mut().unwrap().remove("CloudTrailEvent");
    assert_eq!(parse_value(&v, Format::Auto), Err(ParseError::Missing("CloudTrailEvent")));
    v["EventName"] = json!("DescribeInstances");
    v["EventSource"] = json!("ec2.amazonaws.com");
    assert_eq!(parse_value(&v, Format::Auto), Ok(Parsed::Irrelevant { time_ms: Some(1_714_554_004_000), scope: None }));
}

// ---------- ECS ----------

fn ecs_doc() -> Value {
    json!({
        "@timestamp": "2024-05-01T09:00:04.000Z",
        "event": {"id": "ecs-1", "action": "ConsoleLogin", "provider": "signin.amazonaws.com", "outcome": "success"},
        "cloud": {"account": {"id": "111122223333"}, "region": "us-east-1"},
        "user": {"id": "AROAEXAMPLE:alice@example.com", "name": "OktaAdmin"},
        "aws": {"cloudtrail": {
            "user_identity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/alice@example.com"},
            "additional_eventdata": "{LoginTo=https://console.aws.amazon.com/, MobileVersion=No, MFAUsed=Yes}",
            "flattened": {"response_elements": {"ConsoleLogin": "Success"}}
        }}
    })
}

#[test]
fn ecs_java_map_additional_eventdata_is_never_parsed() {
    // Only the Java-map string says MFAUsed=Yes: it must not be read.
    assert_eq!(event_of(&ecs_doc()).mfa_used, None);
}

#[test]
fn ecs_console_login_boolean_mfa_used_is_a_fallback() {
    let v = with(
        ecs_doc(),
        &["aws", "cloudtrail", "console_login"],
        json!({"additional_eventdata": {"mfa_used": true, "login_to": "https://x/"}}),
    );
    let e = event_of(&v);
    assert_eq!(e.mfa_used, Some(true));
    assert_eq!(e.login_to.as_deref(), Some("https://x/"));
    let v = with(v, &["aws", "cloudtrail", "flattened", "additional_eventdata"], json!({"MFAUsed": "No"}));
    assert_eq!(event_of(&v).mfa_used, Some(false), "the flattened original wins");
}

#[test]
fn ecs_user_name_of_assumed_role_is_not_the_session_name() {
    let e = event_of(&ecs_doc());
    assert_eq!(e.user_name, None);
    assert_eq!(e.session_name.as_deref(), Some("alice@example.com"));
    // Without the ARN, the session comes from user.id and the role from user.name.
    let v = without(ecs_doc(), &["aws", "cloudtrail", "user_identity", "arn"]);
    let e = event_of(&v);
    assert_eq!(e.session_name.as_deref(), Some("alice@example.com"));
    assert_eq!(e.role_name.as_deref(), Some("OktaAdmin"));
    assert_eq!(e.user_name, None);
}

#[test]
fn ecs_outcome_rules() {
    assert_eq!(event_of(&ecs_doc()).outcome, Outcome::Success);
    let v = with(ecs_doc(), &["aws", "cloudtrail", "error_message"], json!("Failed authentication"));
    assert_eq!(event_of(&v).outcome, Outcome::Failure);
    let v = without(ecs_doc(), &["aws", "cloudtrail", "flattened"]);
    assert_eq!(event_of(&v).outcome, Outcome::Success, "event.outcome when the record has no status");
    let v = json!({
        "@timestamp": "2020-12-07T20:34:09Z",
        "event": {"id": "ecs-2", "action": "UserAuthentication", "provider": "signin.amazonaws.com", "outcome": "success"},
        "cloud": {"account": {"id": "111122223333"}, "region": "us-east-1"},
        "user": {"id": "111122223333", "name": "user1"},
        "aws": {"cloudtrail": {"user_identity": {"type": "Unknown"},
            "flattened": {"additional_eventdata": {"CredentialType": "EXTERNAL_IDP"},
                          "service_event_details": {"UserAuthentication": "Failure"}}}}
    });
    let e = event_of(&v);
    assert_eq!(e.outcome, Outcome::Failure, "serviceEventDetails beats the pipeline's event.outcome");
    assert_eq!(e.user_name.as_deref(), Some("user1"));
    assert_eq!(e.credential_type.as_deref(), Some("EXTERNAL_IDP"));
}

#[test]
fn ecs_unparseable_event_original_falls_back_to_ecs_fields() {
    let v = with(ecs_doc(), &["event", "original"], json!("{truncated"));
    assert_eq!(event_of(&v).event_id, "ecs-1");
    let v = with(ecs_doc(), &["event", "original"], json!(serde_json::to_string(&console_login()).unwrap()));
    assert_eq!(event_of(&v), event_of(&console_login()));
}

#[test]
fn ecs_missing_id_or_time_is_named_in_ecs_terms() {
    let err = parse_value(&without(ecs_doc(), &["@timestamp"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("@timestamp"));
    let err = parse_value(&without(ecs_doc(), &["event", "id"]), Format::Auto).unwrap_err();
    assert_eq!(err, ParseError::Missing("event.id"));
}

#[test]
fn ecs_search_hit_and_nested_hits_unwrap() {
    let hit = json!({"_index": "logs", "_id": "a", "_source": ecs_doc()});
    assert_eq!(event_of(&hit), event_of(&ecs_doc()));
    assert!(matches!(parse_value(&hit, Format::Ecs), Ok(Parsed::Relevant { .. })));
    // A search hit holding a native record.
    let hit = json!({"_index": "cloudtrail", "_id": "b", "_source": console_login()});
    assert_eq!(event_of(&hit), event_of(&console_login()));
}

// ---------- prefilter and peek ----------

#[test]
fn prefilter_examples() {
    let raw = serde_json::to_vec(&console_login()).unwrap();
    assert!(prefilter(&raw));
    let lookup = serde_json::to_vec(&lookup_event(&console_login(), json!(1))).unwrap();
    assert!(prefilter(&lookup));
    // Only inside the LookupEvents string, escaped.
    let only_embedded = json!({"EventId": "x", "CloudTrailEvent": serde_json::to_string(&console_login()).unwrap()});
    assert!(prefilter(&serde_json::to_vec(&only_embedded).unwrap()));
    assert!(prefilter(&serde_json::to_vec(&assume_role_with_saml()).unwrap()));
    assert!(prefilter(&serde_json::to_vec(&get_federation_token()).unwrap()));
    assert!(prefilter(&serde_json::to_vec(&ecs_doc()).unwrap()));
    let noise = with(console_login(), &["eventSource"], json!("ec2.amazonaws.com"));
    assert!(!prefilter(&serde_json::to_vec(&noise).unwrap()));
    assert!(!prefilter(b""));
    assert!(!prefilter(b"garbage"));
}

#[test]
fn peek_tolerates_whitespace_after_colons() {
    let raw = b"{\"eventTime\" :\n  \"2024-05-01T09:00:04Z\", \"awsRegion\":\t\"us-east-1\", \"recipientAccountId\":   \"111122223333\"}";
    assert_eq!(peek_time_scope(raw), (Some(1_714_554_004_000), Some("111122223333/us-east-1".into())));
}

#[test]
fn peek_ecs_nested_and_dotted() {
    let raw = serde_json::to_vec(&ecs_doc()).unwrap();
    assert_eq!(peek_time_scope(&raw), (Some(1_714_554_004_000), Some("111122223333/us-east-1".into())));
    let dotted = br#"{"@timestamp":"2024-05-01T09:00:04Z","cloud.account.id":"1","cloud.region":"eu-west-1"}"#;
    assert_eq!(peek_time_scope(dotted), (Some(1_714_554_004_000), Some("1/eu-west-1".into())));
}

#[test]
fn peek_without_account_or_on_garbage_has_no_scope() {
    let raw = br#"{"eventTime":"2024-05-01T09:00:04Z","awsRegion":"us-east-1"}"#;
    assert_eq!(peek_time_scope(raw), (Some(1_714_554_004_000), None));
    assert_eq!(peek_time_scope(b"garbage"), (None, None));
    assert_eq!(peek_time_scope(b"\"eventTime\""), (None, None));
    assert_eq!(peek_time_scope(b"{\"eventTime\":\"bad\"}"), (None, None));
}
