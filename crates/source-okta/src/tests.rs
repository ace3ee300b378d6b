//! Unit tests: one per mapping and MFA rule, each quirk named after what it pins.

use super::*;
use serde_json::{Value, json};

const T0: i64 = 1_714_554_002_123; // 2024-05-01T09:00:02.123Z

/// A complete, real-shaped `user.authentication.sso` to the AWS app (formats.md 2.2 shape).
fn sso() -> Value {
    json!({
        "uuid": "b3b1c1e6-07aa-11ef-9c1e-3f2a1b0c9d8e",
        "published": "2024-05-01T09:00:02.123Z",
        "eventType": "user.authentication.sso",
        "displayMessage": "User single sign on to app",
        "version": "0", "severity": "INFO", "legacyEventType": "app.auth.sso",
        "actor": {"id": "00u1abcdEFGH2345d7", "type": "User", "alternateId": "alice@example.com",
                  "displayName": "Alice Example", "detailEntry": null},
        "client": {"ipAddress": "198.51.100.7", "zone": "null", "device": "Computer", "id": null,
                   "userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh) Chrome/124.0", "os": "Mac OS X", "browser": "CHROME"},
                   "geographicalContext": {"city": "Dublin", "country": "Ireland", "postalCode": 12345,
                                           "geolocation": {"lat": 53.3, "lon": -6.2}}},
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [
            {"id": "0oa1aws4fed7Xyz2p5d7", "type": "AppInstance", "alternateId": "AWS Account Federation",
             "displayName": "AWS Account Federation", "detailEntry": {"signOnModeType": "SAML_2_0"}},
            {"id": "0ua9q8r7s6t5u4v3w2d7", "type": "AppUser", "alternateId": "alice@example.com", "displayName": "Alice Example"}
        ],
        "authenticationContext": {"externalSessionId": "idxT7qYcRn1xVb4Kp9ZsWm2Lg", "authenticationStep": 0,
                                  "credentialType": null, "authenticationProvider": null},
        "transaction": {"type": "WEB", "id": "ZjIX8mWq3Yf0cT1uV2dQ", "detail": {}},
        "securityContext": {"asNumber": 64496, "asOrg": "Example Telecom", "isp": "Example", "domain": "example.net", "isProxy": false},
        "debugContext": {"debugData": {"requestUri": "/app/amazon_aws/exk1abc/sso/saml", "requestId": "ZjIX8mWq3Yf0cT1uV2dQ"}},
        "request": {"ipChain": [{"ip": "198.51.100.7", "version": "V4", "source": null}]}
    })
}

/// The same event rewritten as another event type with the given outcome and no targets.
fn event(event_type: &str, result: &str) -> Value {
    let mut v = sso();
    v["eventType"] = json!(event_type);
    v["outcome"] = json!({"result": result, "reason": null});
    v["target"] = Value::Null;
    v
}

fn parse(v: &Value) -> Result<Parsed<IdpEvent>, ParseError> {
    parse_record(v.to_string().as_bytes())
}

fn one(v: &Value) -> IdpEvent {
    match parse(v) {
        Ok(Parsed::Relevant { native_id, mut events }) => {
            assert_eq!(events.len(), 1);
            let e = events.remove(0);
            assert_eq!(native_id, e.event_id);
            e
        }
        other => panic!("expected a relevant event, got {other:?}"),
    }
}

fn enrollment(display: &str, method: Option<&str>) -> Value {
    json!({"id": "pfd1enr0llment2d7", "type": "AuthenticatorEnrollment", "alternateId": "unknown",
           "displayName": display,
           "detailEntry": method.map(|m| json!({"methodTypeUsed": m, "methodUsedVerifiedProperties": "[USER_PRESENCE]"}))})
}

fn user_target() -> Value {
    json!({"id": "00u1abcdEFGH2345d7", "type": "User", "alternateId": "alice@example.com", "displayName": "Alice Example"})
}

fn mfa_event(
    event_type: &str,
    result: &str,
    factor: Option<&str>,
    targets: Value,
    credential_type: Option<&str>,
) -> Value {
    let mut v = event(event_type, result);
    v["target"] = targets;
    v["debugContext"]["debugData"]["factor"] = json!(factor);
    v["authenticationContext"]["credentialType"] = json!(credential_type);
    v["authenticationContext"]["authenticationProvider"] = json!("FACTOR_PROVIDER");
    v
}

// ---------------------------------------------------------------------------------------------
// Field mapping

#[test]
fn sso_to_aws_maps_every_field() {
    let e = one(&sso());
    assert_eq!(e.provider, Idp::Okta);
    assert_eq!(e.tenant, None);
    assert_eq!(e.event_id, "b3b1c1e6-07aa-11ef-9c1e-3f2a1b0c9d8e");
    assert_eq!(e.time_ms, T0);
    assert_eq!(e.kind, IdpEventKind::AppSso);
    assert_eq!(e.native_type, "user.authentication.sso");
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.outcome_reason, None);
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
    assert_eq!(e.user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("00u1abcdEFGH2345d7"));
    assert_eq!(e.user.display_name.as_deref(), Some("Alice Example"));
    assert_eq!(e.user.app_username.as_deref(), Some("alice@example.com"));
    assert_eq!(e.app_id.as_deref(), Some("0oa1aws4fed7Xyz2p5d7"));
    assert_eq!(e.app_name.as_deref(), Some("AWS Account Federation"));
    assert_eq!(e.session_id.as_deref(), Some("idxT7qYcRn1xVb4Kp9ZsWm2Lg"));
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(e.user_agent.as_deref(), Some("Mozilla/5.0 (Macintosh) Chrome/124.0"));
    assert_eq!(e.asn, Some(64496));
    assert_eq!(e.as_org.as_deref(), Some("Example Telecom"));
    assert_eq!(e.country.as_deref(), Some("Ireland"));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert!(e.factors.is_empty());
    assert_eq!(e.auth_requirement, None);
}

#[test]
fn app_name_falls_back_to_alternate_id() {
    let mut v = sso();
    v["target"][0]["displayName"] = Value::Null;
    v["target"][0]["alternateId"] = json!("AWS Prod");
    assert_eq!(one(&v).app_name.as_deref(), Some("AWS Prod"));
    v["target"][0]["displayName"] = json!("");
    assert_eq!(one(&v).app_name.as_deref(), Some("AWS Prod"));
    // Blank means absent, as in every parser (`trailproof_model::scalar`): a display name of
    // spaces is no name.
    v["target"][0]["displayName"] = json!("  ");
    assert_eq!(one(&v).app_name.as_deref(), Some("AWS Prod"));
}

#[test]
fn app_user_alternate_id_unknown_is_absent() {
    let mut v = sso();
    v["target"][1]["alternateId"] = json!("unknown");
    assert_eq!(one(&v).user.app_username, None);
}

#[test]
fn target_null_is_tolerated() {
    let mut v = sso();
    v["target"] = Value::Null;
    let e = one(&v);
    assert_eq!(e.app_id, None);
    assert_eq!(e.app_name, None);
    assert_eq!(e.user.app_username, None);
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
}

#[test]
fn target_missing_empty_or_with_null_elements_is_tolerated() {
    let mut v = sso();
    v.as_object_mut().unwrap().remove("target");
    assert_eq!(one(&v).app_id, None);
    v["target"] = json!([]);
    assert_eq!(one(&v).app_id, None);
    let mut v = sso();
    v["target"].as_array_mut().unwrap().insert(0, Value::Null);
    assert_eq!(one(&v).app_id.as_deref(), Some("0oa1aws4fed7Xyz2p5d7"));
}

#[test]
fn zone_null_string_is_ignored() {
    let mut v = sso();
    v["client"]["zone"] = json!("null");
    assert_eq!(one(&v).source_ip.as_deref(), Some("198.51.100.7"));
    v["client"]["zone"] = Value::Null;
    assert_eq!(one(&v).source_ip.as_deref(), Some("198.51.100.7"));
}

#[test]
fn as_number_as_string_is_read() {
    let mut v = sso();
    v["securityContext"]["asNumber"] = json!("7018");
    assert_eq!(one(&v).asn, Some(7018));
    v["securityContext"]["asNumber"] = json!("AS7018");
    assert_eq!(one(&v).asn, Some(7018));
    v["securityContext"]["asNumber"] = json!(7018.0);
    assert_eq!(one(&v).asn, Some(7018));
}

#[test]
fn as_number_null_or_garbage_is_absent() {
    let mut v = sso();
    for bad in [Value::Null, json!(""), json!("n/a"), json!(-5), json!(1.5), json!(5_000_000_000u64), json!({"a": 1})] {
        v["securityContext"]["asNumber"] = bad.clone();
        assert_eq!(one(&v).asn, None, "{bad}");
    }
}

#[test]
fn missing_security_context_is_tolerated() {
    let mut v = sso();
    v.as_object_mut().unwrap().remove("securityContext");
    let e = one(&v);
    assert_eq!((e.asn, e.as_org), (None, None));
    v["securityContext"] = Value::Null;
    assert_eq!(one(&v).asn, None);
    v["securityContext"] = json!({});
    assert_eq!(one(&v).asn, None);
}

#[test]
fn published_with_three_fraction_digits() {
    assert_eq!(one(&sso()).time_ms, T0);
}

#[test]
fn published_without_fraction_digits() {
    let mut v = sso();
    v["published"] = json!("2024-05-01T09:00:02Z");
    assert_eq!(one(&v).time_ms, T0 - 123);
}

#[test]
fn published_in_siem_space_form_with_nine_digits_is_utc() {
    let mut v = sso();
    v["published"] = json!("2024-05-01 09:00:02.123000000");
    assert_eq!(one(&v).time_ms, T0);
}

#[test]
fn external_session_id_unknown_or_empty_is_absent() {
    let mut v = sso();
    for s in [json!("unknown"), json!(""), json!("UNKNOWN"), Value::Null] {
        v["authenticationContext"]["externalSessionId"] = s.clone();
        assert_eq!(one(&v).session_id, None, "{s}");
    }
}

#[test]
fn source_ip_falls_back_to_first_ip_chain_hop_with_its_country() {
    let mut v = sso();
    v["client"]["ipAddress"] = Value::Null;
    v["client"]["geographicalContext"] = Value::Null;
    v["request"]["ipChain"] = json!([
        null,
        {"ip": "", "version": "V4"},
        {"ip": "203.0.113.9", "version": "V4", "geographicalContext": {"country": "Germany"}},
        {"ip": "192.0.2.1", "version": "V4", "geographicalContext": {"country": "France"}}
    ]);
    let e = one(&v);
    assert_eq!(e.source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(e.country.as_deref(), Some("Germany"));
}

#[test]
fn client_ip_wins_over_ip_chain() {
    let mut v = sso();
    v["request"]["ipChain"] = json!([{"ip": "192.0.2.1"}]);
    assert_eq!(one(&v).source_ip.as_deref(), Some("198.51.100.7"));
}

#[test]
fn user_agent_unknown_is_absent() {
    let mut v = sso();
    v["client"]["userAgent"]["rawUserAgent"] = json!("unknown");
    assert_eq!(one(&v).user_agent, None);
}

#[test]
fn actor_not_user_takes_user_keys_from_user_target() {
    let mut v = sso();
    v["actor"] =
        json!({"id": "0oaclient1", "type": "PublicClientApp", "alternateId": "okta-cli", "displayName": "CLI"});
    v["target"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "00u2bob", "type": "User", "alternateId": "bob@example.com", "displayName": "Bob"}));
    let e = one(&v);
    assert_eq!(e.user.login.as_deref(), Some("bob@example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("00u2bob"));
    assert_eq!(e.user.display_name.as_deref(), Some("Bob"));
}

#[test]
fn actor_not_user_without_user_target_has_no_user_keys() {
    let mut v = sso();
    v["actor"] = json!({"id": "0oasys", "type": "SystemPrincipal", "alternateId": "system@okta.com", "displayName": "Okta System"});
    let e = one(&v);
    assert_eq!(e.user.login, None);
    assert_eq!(e.user.user_id, None);
    assert_eq!(e.user.display_name, None);
    assert_eq!(e.user.app_username.as_deref(), Some("alice@example.com"));
}

#[test]
fn actor_id_unknown_on_failed_login_is_absent() {
    let mut v = event("user.session.start", "FAILURE");
    v["actor"] = json!({"id": "unknown", "type": "User", "alternateId": "admin", "displayName": "unknown"});
    v["outcome"]["reason"] = json!("VERIFICATION_ERROR");
    let e = one(&v);
    assert_eq!(e.user.login.as_deref(), Some("admin"));
    assert_eq!(e.user.email, None, "`admin` is not an e-mail address");
    assert_eq!(e.user.user_id, None);
    assert_eq!(e.user.display_name, None);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("VERIFICATION_ERROR"));
}

#[test]
fn email_only_when_login_looks_like_an_address() {
    assert!(looks_like_email("alice@example.com"));
    assert!(!looks_like_email("alice"));
    assert!(!looks_like_email("alice@localhost"));
    assert!(!looks_like_email("@example.com"));
    assert!(!looks_like_email("a@b@example.com"));
    assert!(!looks_like_email("al ice@example.com"));
}

#[test]
fn escaped_strings_are_unescaped() {
    let raw = sso()
        .to_string()
        .replace("\"alternateId\":\"alice@example.com\"", "\"alternateId\":\"alice\\u0040example.com\"");
    assert!(raw.contains("\\u0040"));
    let Ok(Parsed::Relevant { events, .. }) = parse_record(raw.as_bytes()) else { panic!("not relevant") };
    assert_eq!(events[0].user.login.as_deref(), Some("alice@example.com"));
}

#[test]
fn free_form_debug_data_and_detail_entry_of_any_type_are_tolerated() {
    let mut v = sso();
    v["debugContext"]["debugData"] = json!("not an object");
    v["target"][0]["detailEntry"] = json!(["x"]);
    assert_eq!(one(&v).app_id.as_deref(), Some("0oa1aws4fed7Xyz2p5d7"));
    v["debugContext"] = Value::Null;
    assert_eq!(one(&v).kind, IdpEventKind::AppSso);
}

#[test]
fn panther_p_fields_and_numeric_version_are_ignored() {
    let mut v = sso();
    v["p_log_type"] = json!("Okta.SystemLog");
    v["p_event_time"] = json!("2024-05-01 09:00:02.123");
    v["p_enrichment"] = json!({"ipinfo_location": {"client.ipAddress": {"country": "IE"}}});
    v["version"] = json!(0);
    assert_eq!(one(&v).time_ms, T0);
}

#[test]
fn event_type_is_matched_ignoring_case() {
    let v = event("user.authentication.auth_via_idp", "SUCCESS");
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::UpstreamAuth);
    assert_eq!(e.native_type, "user.authentication.auth_via_idp", "native_type keeps the source spelling");
}

// ---------------------------------------------------------------------------------------------
// Outcomes

#[test]
fn policy_challenge_is_unknown_with_raw_result_and_reason() {
    let mut v = event("policy.evaluate_sign_on", "CHALLENGE");
    v["outcome"]["reason"] = json!("Sign-on policy evaluation resulted in CHALLENGE");
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::PolicyEvaluated);
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.outcome_reason.as_deref(), Some("CHALLENGE: Sign-on policy evaluation resulted in CHALLENGE"));
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn policy_challenge_without_reason_keeps_the_raw_result() {
    let e = one(&event("policy.evaluate_sign_on", "CHALLENGE"));
    assert_eq!(e.outcome_reason.as_deref(), Some("CHALLENGE"));
}

#[test]
fn policy_allow_is_success_and_deny_is_failure() {
    let mut v = event("policy.evaluate_sign_on", "ALLOW");
    v["outcome"]["reason"] = json!("Sign-on policy evaluation resulted in ALLOW");
    let e = one(&v);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.outcome_reason.as_deref(), Some("ALLOW: Sign-on policy evaluation resulted in ALLOW"));
    let e = one(&event("policy.evaluate_sign_on", "DENY"));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("DENY"));
}

#[test]
fn skipped_and_unknown_results_are_unknown() {
    for r in ["SKIPPED", "UNKNOWN", "SOMETHING_NEW"] {
        let e = one(&event("user.session.start", r));
        assert_eq!(e.outcome, Outcome::Unknown, "{r}");
        assert_eq!(e.outcome_reason.as_deref(), Some(r));
    }
}

#[test]
fn missing_outcome_is_unknown_without_reason() {
    let mut v = sso();
    v["outcome"] = Value::Null;
    let e = one(&v);
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.outcome_reason, None);
}

#[test]
fn lower_case_results_are_read() {
    assert_eq!(one(&event("user.session.start", "success")).outcome, Outcome::Success);
    assert_eq!(one(&event("user.session.start", "failure")).outcome, Outcome::Failure);
}

// ---------------------------------------------------------------------------------------------
// MFA rules (formats.md 2.2)

#[test]
fn session_start_is_silent_with_credential_type_as_factor() {
    let mut v = event("user.session.start", "SUCCESS");
    v["authenticationContext"]["credentialType"] = json!("PASSWORD");
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::SessionStart);
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.factors, vec!["PASSWORD"]);
    v["authenticationContext"]["credentialType"] = Value::Null;
    assert!(one(&v).factors.is_empty());
}

#[test]
fn auth_via_mfa_okta_verify_push_is_verified() {
    let targets = json!([user_target(), enrollment("Okta Verify", Some("Get a push notification"))]);
    let e = one(&mfa_event("user.authentication.auth_via_mfa", "SUCCESS", Some("OKTA_VERIFY_PUSH"), targets, None));
    assert_eq!(e.kind, IdpEventKind::FactorVerified);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["OKTA_VERIFY_PUSH"]);
}

#[test]
fn auth_via_mfa_fido_webauthn_is_verified() {
    // Elastic test log shape: debugData.factor, a User target, no enrollment target.
    let e = one(&mfa_event(
        "user.authentication.auth_via_mfa",
        "SUCCESS",
        Some("FIDO_WEBAUTHN"),
        json!([user_target()]),
        None,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["FIDO_WEBAUTHN"]);
}

#[test]
fn verify_totp_enrollment_is_verified_with_method_name() {
    let targets = json!([enrollment("Google Authenticator", Some("Enter a code"))]);
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, targets, None));
    assert_eq!(e.kind, IdpEventKind::FactorVerified);
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["Enter a code"]);
}

#[test]
fn verify_enrollment_without_method_uses_display_name() {
    let targets = json!([enrollment("Google Authenticator", None)]);
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, targets, None));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["Google Authenticator"]);
}

#[test]
fn verify_totp_from_credential_type_otp_is_verified() {
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, Value::Null, Some("OTP")));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["OTP"]);
}

#[test]
fn auth_via_mfa_with_password_enrollment_is_not_verified() {
    // The formats.md 2.2 sample (Sekoia fixture): auth_via_mfa SUCCESS whose only authenticator
    // is the Password enrollment, credentialType null.
    let targets = json!([
        {"type": "User", "alternateId": "john.doe@example.org"},
        {"type": "AuthenticatorEnrollment", "displayName": "Password",
         "detailEntry": {"methodTypeUsed": "Password", "methodUsedVerifiedProperties": "[USER_PRESENCE]"}}
    ]);
    let e = one(&mfa_event("user.authentication.auth_via_mfa", "SUCCESS", None, targets, None));
    assert_eq!(e.kind, IdpEventKind::FactorVerified);
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    assert_eq!(e.factors, vec!["Password"]);
}

#[test]
fn password_spelled_in_any_case_is_single_factor() {
    for (factor, ct) in [
        (Some("PASSWORD"), None),
        (Some("password"), None),
        (None, Some("PASSWORD")),
        (Some("Password"), Some("PASSWORD")),
    ] {
        let e = one(&mfa_event("user.authentication.verify", "SUCCESS", factor, Value::Null, ct));
        assert_eq!(e.mfa, MfaClaim::SingleFactor, "{factor:?} {ct:?}");
        assert_eq!(e.factors, vec!["Password"]);
    }
}

#[test]
fn verify_without_any_authenticator_name_is_silent() {
    // Elastic test log shape: user.authentication.verify SUCCESS, target null, no factor.
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, Value::Null, None));
    assert_eq!(e.kind, IdpEventKind::FactorVerified);
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert!(e.factors.is_empty());
}

#[test]
fn credential_type_naming_no_authenticator_is_silent() {
    for ct in ["IWA", "OKTA_CLIENT_SESSION", "ASSERTION", "CERTIFICATE"] {
        let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, Value::Null, Some(ct)));
        assert_eq!(e.mfa, MfaClaim::Silent, "{ct}");
        assert!(e.factors.is_empty(), "{ct}");
    }
}

#[test]
fn contradicting_authenticator_names_are_silent() {
    let targets = json!([enrollment("Password", Some("Password"))]);
    let e = one(&mfa_event("user.authentication.auth_via_mfa", "SUCCESS", Some("OKTA_VERIFY_PUSH"), targets, None));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.factors, vec!["OKTA_VERIFY_PUSH", "Password"]);
    let e =
        one(&mfa_event("user.authentication.verify", "SUCCESS", Some("FIDO_WEBAUTHN"), Value::Null, Some("PASSWORD")));
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn security_question_is_not_verified() {
    let targets = json!([enrollment("Security Question", Some("Security Question"))]);
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, targets, None));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.factors, vec!["Security Question"]);
}

#[test]
fn one_time_password_enrollment_is_verified_not_password() {
    let targets = json!([enrollment("Okta Verify", Some("One-time password"))]);
    let e = one(&mfa_event("user.authentication.verify", "SUCCESS", None, targets, None));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["One-time password"]);
}

#[test]
fn auth_via_mfa_failure_invalid_credentials_is_failed() {
    let mut v =
        mfa_event("user.authentication.auth_via_mfa", "FAILURE", Some("GOOGLE_OTP"), json!([user_target()]), None);
    v["outcome"]["reason"] = json!("INVALID_CREDENTIALS");
    v["legacyEventType"] = json!("core.user.factor.attempt_fail");
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::FactorFailed);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("INVALID_CREDENTIALS"));
    assert_eq!(e.mfa, MfaClaim::Failed);
    assert_eq!(e.factors, vec!["GOOGLE_OTP"]);
}

#[test]
fn verify_deny_is_failed() {
    let targets = json!([enrollment("Okta Verify", Some("Get a push notification"))]);
    let e = one(&mfa_event("user.authentication.verify", "DENY", None, targets, None));
    assert_eq!(e.kind, IdpEventKind::FactorFailed);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("DENY"));
    assert_eq!(e.mfa, MfaClaim::Failed);
    assert_eq!(e.factors, vec!["Get a push notification"]);
}

#[test]
fn factor_event_with_challenge_result_is_silent_and_not_verified() {
    let e =
        one(&mfa_event("user.authentication.auth_via_mfa", "CHALLENGE", Some("OKTA_VERIFY_PUSH"), Value::Null, None));
    assert_eq!(e.kind, IdpEventKind::FactorFailed);
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.factors, vec!["OKTA_VERIFY_PUSH"]);
}

#[test]
fn deny_push_is_failed_even_when_result_says_success() {
    let e = one(&event("user.mfa.okta_verify.deny_push", "SUCCESS"));
    assert_eq!(e.kind, IdpEventKind::FactorFailed);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("SUCCESS"));
    assert_eq!(e.mfa, MfaClaim::Failed);
    assert_eq!(e.factors, vec!["OKTA_VERIFY_PUSH"]);
    let e = one(&event("user.mfa.okta_verify.deny_push", "FAILURE"));
    assert_eq!(e.outcome_reason, None);
}

#[test]
fn deny_access_is_a_failed_app_sso() {
    let mut v = sso();
    v["eventType"] = json!("application.policy.sign_on.deny_access");
    v["outcome"] = json!({"result": "DENY", "reason": "Access denied by app sign-on policy"});
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::AppSso);
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("DENY: Access denied by app sign-on policy"));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.app_name.as_deref(), Some("AWS Account Federation"));
}

#[test]
fn auth_via_idp_success_is_upstream() {
    let mut v = event("user.authentication.auth_via_IDP", "SUCCESS");
    v["authenticationContext"]["credentialType"] = json!("ASSERTION");
    v["authenticationContext"]["authenticationProvider"] = json!("FEDERATION");
    let e = one(&v);
    assert_eq!(e.kind, IdpEventKind::UpstreamAuth);
    assert_eq!(e.mfa, MfaClaim::Upstream);
    assert!(e.factors.is_empty());
}

#[test]
fn auth_via_idp_failure_proves_nothing() {
    let e = one(&event("user.authentication.auth_via_IDP", "FAILURE"));
    assert_eq!(e.kind, IdpEventKind::UpstreamAuth);
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn sso_policy_and_session_end_are_silent_even_with_a_factor_named() {
    for t in ["user.authentication.sso", "policy.evaluate_sign_on", "user.session.end"] {
        let e = one(&mfa_event(t, "SUCCESS", Some("OKTA_VERIFY_PUSH"), Value::Null, Some("OTP")));
        assert_eq!(e.mfa, MfaClaim::Silent, "{t}");
        assert!(e.factors.is_empty(), "{t}");
    }
    assert_eq!(one(&event("user.session.end", "SUCCESS")).kind, IdpEventKind::SessionEnd);
}

// ---------------------------------------------------------------------------------------------
// Irrelevant records and errors

#[test]
fn irrelevant_event_keeps_its_time() {
    let v = event("user.lifecycle.create", "SUCCESS");
    assert_eq!(parse(&v), Ok(Parsed::Irrelevant { time_ms: Some(T0), scope: None }));
}

#[test]
fn irrelevant_event_without_uuid_or_without_published_is_still_irrelevant() {
    let mut v = event("system.api_token.create", "SUCCESS");
    v.as_object_mut().unwrap().remove("uuid");
    assert_eq!(parse(&v), Ok(Parsed::Irrelevant { time_ms: Some(T0), scope: None }));
    let mut v = event("system.api_token.create", "SUCCESS");
    v.as_object_mut().unwrap().remove("published");
    assert_eq!(parse(&v), Ok(Parsed::Irrelevant { time_ms: None, scope: None }));
}

#[test]
fn every_kept_type_is_relevant_and_nothing_else() {
    for t in KEPT_EVENT_TYPES {
        assert!(matches!(parse(&event(t, "SUCCESS")), Ok(Parsed::Relevant { .. })), "{t}");
    }
    for t in [
        "user.mfa.factor.activate",
        "system.push.send_factor_verify_push",
        "user.session.impersonation.grant",
        "app.auth.sso",
    ] {
        assert!(matches!(parse(&event(t, "SUCCESS")), Ok(Parsed::Irrelevant { .. })), "{t}");
    }
}

#[test]
fn kept_event_without_uuid_is_an_error() {
    let mut v = sso();
    v.as_object_mut().unwrap().remove("uuid");
    assert_eq!(parse(&v), Err(ParseError::Missing("uuid")));
    v["uuid"] = json!("");
    assert_eq!(parse(&v), Err(ParseError::Missing("uuid")));
}

#[test]
fn kept_event_without_published_is_an_error() {
    let mut v = sso();
    v["published"] = Value::Null;
    assert_eq!(parse(&v), Err(ParseError::Missing("published")));
}

#[test]
fn unparsable_published_is_an_error() {
    let mut v = sso();
    v["published"] = json!("redacted");
    assert!(matches!(parse(&v), Err(ParseError::Invalid { field: "published", .. })), "{:?}", parse(&v));
    let mut v = event("user.lifecycle.create", "SUCCESS");
    v["published"] = json!("redacted");
    assert!(matches!(parse(&v), Err(ParseError::Invalid { field: "published", .. })));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(parse_record(b"not json"), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"{not json"), Err(ParseError::Json(_))));
    assert!(matches!(parse_record(b""), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"   \n"), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"42"), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"[{}]"), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(b"{}"), Err(ParseError::WrongShape { .. })));
    assert!(matches!(
        parse_record(b"{\"actor\": \"alice\", \"eventType\": \"x\", \"uuid\": \"u\"}"),
        Err(ParseError::Json(_))
    ));
}

#[test]
fn records_of_other_sources_are_wrong_shape() {
    let cloudtrail = json!({"eventVersion": "1.08", "eventTime": "2024-05-01T09:00:04Z", "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn", "eventID": "5f4cb814"});
    let entra =
        json!({"id": "66ea54eb", "createdDateTime": "2024-05-01T09:00:01Z", "userPrincipalName": "a@example.com"});
    let google =
        json!({"kind": "admin#reports#activity", "id": {"time": "2024-05-01T09:00:01.512Z", "uniqueQualifier": "1"}});
    for v in [cloudtrail, entra, google] {
        assert!(matches!(parse(&v), Err(ParseError::WrongShape { expected: "valid Okta System Log", .. })), "{v}");
    }
}

#[test]
fn error_messages_name_the_problem() {
    let mut v = sso();
    v["published"] = json!("May 1, 2024");
    let msg = parse(&v).unwrap_err().to_string();
    assert!(msg.contains("published") && msg.contains("May 1, 2024"), "{msg}");
    let msg = parse_record(b"{}").unwrap_err().to_string();
    assert!(msg.contains("eventType"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// API filter

#[test]
fn api_filter_lists_every_kept_type() {
    let f = api_filter();
    assert!(
        f.starts_with("eventType eq \"user.session.start\" or eventType eq \"user.authentication.sso\" or "),
        "{f}"
    );
    assert!(f.ends_with(" or eventType eq \"application.policy.sign_on.deny_access\""), "{f}");
    assert_eq!(f.matches(" or ").count(), KEPT_EVENT_TYPES.len() - 1);
    assert_eq!(KEPT_EVENT_TYPES.len(), 9);
    for t in KEPT_EVENT_TYPES {
        assert!(f.contains(&format!("eventType eq \"{t}\"")), "{t}");
        assert!(kept(t).is_some(), "{t}");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_record(&bytes);
        }

        #[test]
        fn truncated_records_never_panic(cut in 0usize..2000) {
            let s = sso().to_string();
            let cut = cut.min(s.len());
            let _ = parse_record(&s.as_bytes()[..cut]);
        }

        #[test]
        fn any_scalar_in_any_string_field_never_panics(
            field in prop::sample::select(vec!["uuid", "published", "eventType"]),
            value in prop_oneof![Just(json!(null)), Just(json!(1)), Just(json!(true)), Just(json!("")), ".{0,20}".prop_map(|s| json!(s))],
        ) {
            let mut v = sso();
            v[field] = value;
            let _ = parse(&v);
        }
    }
}

// ---- D5: Elastic okta.system documents without event.original -------------------------------

/// An Elastic document of an auth_via_mfa, in the current pipeline's form (target `detailEntry`
/// removed, debug data under `flattened` only).
fn ecs_mfa() -> Value {
    json!({
        "@timestamp": "2024-04-02T19:17:37.621Z",
        "event": {"action": "user.authentication.auth_via_mfa", "id": "u-ecs-1", "outcome": "success"},
        "okta": {
            "uuid": "u-ecs-1",
            "event_type": "user.authentication.auth_via_mfa",
            "actor": {"id": "00u1", "type": "User", "alternate_id": "alice@example.com", "display_name": "Alice"},
            "client": {"ip": "198.51.100.7", "user_agent": {"raw_user_agent": "Mozilla/5.0"}},
            "outcome": {"result": "SUCCESS"},
            "authentication_context": {"external_session_id": "102abc", "credential_type": "unknown"},
            "security_context": {"as": {"number": 3741, "organization": {"name": "ISP"}}},
            "debug_context": {"debug_data": {"flattened": {"factor": "OKTA_VERIFY_PUSH"}}},
            "target": [{"id": "pfd1", "type": "AuthenticatorEnrollment", "alternate_id": "unknown", "display_name": "Okta Verify"}]
        },
        "client": {"geo": {"country_name": "Germany"}},
        "source": {"geo": {"country_name": "Elastic's own GeoIP"}}
    })
}

#[test]
fn ecs_document_reads_the_logevent_fields() {
    let e = one(&ecs_mfa());
    assert_eq!(e.event_id, "u-ecs-1");
    assert_eq!(e.native_type, "user.authentication.auth_via_mfa");
    assert_eq!((e.kind, e.outcome, e.mfa), (IdpEventKind::FactorVerified, Outcome::Success, MfaClaim::Verified));
    assert_eq!(e.factors, ["OKTA_VERIFY_PUSH"]);
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("00u1"));
    assert_eq!(e.session_id.as_deref(), Some("102abc"));
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(e.user_agent.as_deref(), Some("Mozilla/5.0"));
    assert_eq!((e.asn, e.as_org.as_deref()), (Some(3741), Some("ISP")));
    assert_eq!(e.country.as_deref(), Some("Germany"), "client.geo is Okta's; source.geo is not read");
}

#[test]
fn ecs_document_with_dotted_keys_and_event_fallbacks() {
    let v = json!({
        "@timestamp": "2024-04-02T19:17:37.621Z",
        "event.action": "user.authentication.sso",
        "event.id": "u-ecs-2",
        "okta.actor.alternate_id": "bob@example.com",
        "okta.target": [{"id": "0oa1", "type": "AppInstance", "displayName": "AWS"}],
        "user_agent.original": "curl/8"
    });
    let e = one(&v);
    assert_eq!((e.event_id.as_str(), e.kind), ("u-ecs-2", IdpEventKind::AppSso));
    assert_eq!((e.app_id.as_deref(), e.app_name.as_deref()), (Some("0oa1"), Some("AWS")));
    assert_eq!(e.user.login.as_deref(), Some("bob@example.com"));
    assert_eq!(e.user_agent.as_deref(), Some("curl/8"));
}

#[test]
fn ecs_irrelevant_and_incomplete_documents() {
    let mut v = ecs_mfa();
    v["okta"]["event_type"] = json!("user.account.lock");
    v["event"]["action"] = json!("user.account.lock");
    assert!(matches!(parse(&v), Ok(Parsed::Irrelevant { time_ms: Some(_), scope: None })));
    let mut v = ecs_mfa();
    v["okta"].as_object_mut().unwrap().remove("uuid");
    v["event"].as_object_mut().unwrap().remove("id");
    assert_eq!(parse(&v), Err(ParseError::Missing("okta.uuid")));
    let mut v = ecs_mfa();
    v["okta"].as_object_mut().unwrap().remove("event_type");
    v["event"].as_object_mut().unwrap().remove("action");
    let err = parse(&v).unwrap_err().to_string();
    assert!(err.contains("okta.event_type"), "{err}");
    // Not an Elastic document: the native error.
    let err = parse(&json!({"uuid": "x", "published": "2024-04-02T19:17:37Z"})).unwrap_err().to_string();
    assert!(err.contains("no `eventType` field"), "{err}");
}
