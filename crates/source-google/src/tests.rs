//! Unit tests of `parse_record`: one test per rule and per quirk of formats.md 4.

use super::*;
use proptest::prelude::*;

/// 2024-05-01T09:00:04Z
const T0: i64 = 1_714_554_004_000;

/// An activity of `app` at `2024-05-01T09:00:04.250Z` with the given `events` JSON.
fn activity(app: &str, events: &str) -> String {
    format!(
        r#"{{"kind":"admin#reports#activity","etag":"\"abc\"",
            "id":{{"time":"2024-05-01T09:00:04.250Z","uniqueQualifier":"-4417093372781286114",
                   "applicationName":"{app}","customerId":"C03az79cb"}},
            "actor":{{"callerType":"USER","email":"Alice@Example.com","profileId":"104582346578943210"}},
            "ownerDomain":"example.com","ipAddress":"198.51.100.7",
            "events":{events}}}"#
    )
}

/// A `login` activity holding one event `name` with `params` (a JSON array).
fn login(name: &str, params: &str) -> String {
    activity("login", &format!(r#"[{{"type":"login","name":"{name}","parameters":{params}}}]"#))
}

fn parse(s: &str) -> Parsed<IdpEvent> {
    parse_record(s.as_bytes()).unwrap_or_else(|e| panic!("parse failed: {e}\n{s}"))
}

/// The single event of a relevant record.
fn one(s: &str) -> IdpEvent {
    match parse(s) {
        Parsed::Relevant { mut events, .. } => {
            assert_eq!(events.len(), 1, "expected one event");
            events.remove(0)
        }
        other => panic!("expected Relevant, got {other:?}"),
    }
}

fn mfa_of(name: &str, params: &str) -> MfaClaim {
    one(&login(name, params)).mfa
}

const NATIVE: &str = "login/2024-05-01T09:00:04.250Z/-4417093372781286114";

// ---- field mapping -------------------------------------------------------------------------

#[test]
fn login_success_maps_every_field() {
    let e = one(&login(
        "login_success",
        r#"[{"name":"login_type","value":"google_password"},
            {"name":"login_challenge_method","multiValue":["password","security_key"]},
            {"name":"is_suspicious","boolValue":false}]"#,
    ));
    assert_eq!(e.provider, Idp::Google);
    assert_eq!(e.tenant.as_deref(), Some("C03az79cb"));
    assert_eq!(e.event_id, NATIVE);
    assert_eq!(e.time_ms, T0 + 250);
    assert_eq!(e.kind, IdpEventKind::Login);
    assert_eq!(e.native_type, "login/login_success");
    assert_eq!(GoogleLogin::of(&e), Some(GoogleLogin::Success), "the engine tells it by this");
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.outcome_reason, None);
    assert_eq!(e.user.login.as_deref(), Some("Alice@Example.com"));
    assert_eq!(e.user.email.as_deref(), Some("Alice@Example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("104582346578943210"));
    assert_eq!(e.user.display_name, None);
    assert_eq!(e.user.app_username, None);
    assert_eq!(e.app_id, None);
    assert_eq!(e.app_name, None);
    assert_eq!(e.session_id, None);
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(e.user_agent, None);
    assert_eq!(e.asn, None);
    assert_eq!(e.country, None);
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["password", "security_key"]);
    assert_eq!(e.auth_requirement, None);
}

#[test]
fn native_id_is_application_then_time_as_written_then_unique_qualifier() {
    match parse(&login("logout", "[]")) {
        Parsed::Relevant { native_id, .. } => assert_eq!(native_id, NATIVE),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unique_qualifier_negative_is_kept_with_its_sign() {
    let e = one(&login("logout", "[]"));
    assert!(e.event_id.ends_with("/-4417093372781286114"), "{}", e.event_id);
}

#[test]
fn unique_qualifier_and_profile_id_as_numbers() {
    let s = r#"{"id":{"time":"2020-10-02T15:00:00Z","uniqueQualifier":-12,"applicationName":"login","customerId":1},
                "actor":{"email":"foo@bar.com","profileId":1},
                "events":[{"type":"login","name":"logout"}]}"#;
    let e = one(s);
    assert_eq!(e.event_id, "login/2020-10-02T15:00:00Z/-12");
    assert_eq!(e.user.user_id.as_deref(), Some("1"));
    assert_eq!(e.tenant.as_deref(), Some("1"));
}

#[test]
fn id_time_without_milliseconds() {
    let s = login("logout", "[]").replace("2024-05-01T09:00:04.250Z", "2024-05-01T09:00:04Z");
    let e = one(&s);
    assert_eq!(e.time_ms, T0);
    assert_eq!(e.event_id, "login/2024-05-01T09:00:04Z/-4417093372781286114");
}

#[test]
fn id_time_with_zero_milliseconds_keeps_its_text_in_the_id() {
    let s = login("logout", "[]").replace("2024-05-01T09:00:04.250Z", "2024-05-01T09:00:04.000Z");
    let e = one(&s);
    assert_eq!(e.time_ms, T0);
    assert_eq!(e.event_id, "login/2024-05-01T09:00:04.000Z/-4417093372781286114");
}

#[test]
fn id_time_with_space_and_nanoseconds_parses() {
    let s = login("logout", "[]").replace("2024-05-01T09:00:04.250Z", "2024-05-01 09:00:04.421000000");
    assert_eq!(one(&s).time_ms, T0 + 421);
}

#[test]
fn network_info_gives_asn_and_country() {
    let s = login("logout", "[]").replace(
        r#""ipAddress":"198.51.100.7","#,
        r#""ipAddress":"198.51.100.7","networkInfo":{"ipAsn":[64500, 64501],"regionCode":"DE","subdivisionCode":"DE-BE"},"#,
    );
    let e = one(&s);
    assert_eq!(e.asn, Some(64500));
    assert_eq!(e.country.as_deref(), Some("DE"));
    let s = login("logout", "[]").replace(
        r#""ipAddress":"198.51.100.7","#,
        r#""ipAddress":"198.51.100.7","networkInfo":{"ipAsn":"64502","regionCode":""},"#,
    );
    let e = one(&s);
    assert_eq!(e.asn, Some(64502));
    assert_eq!(e.country, None);
}

#[test]
fn empty_strings_are_absent() {
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"7","applicationName":"login","customerId":""},
                "actor":{"email":"","profileId":""},"ipAddress":"",
                "events":[{"type":"login","name":"login_success","parameters":[
                    {"name":"login_challenge_method","value":""},{"name":"login_type","value":""}]}]}"#;
    let e = one(s);
    assert_eq!(e.tenant, None);
    assert_eq!(e.user.login, None);
    assert_eq!(e.user.email, None);
    assert_eq!(e.user.user_id, None);
    assert_eq!(e.source_ip, None);
    assert!(e.factors.is_empty());
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn nulls_anywhere_optional_are_tolerated() {
    let s = r#"{"kind":null,"etag":null,"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"7","applicationName":"login","customerId":null},
                "actor":{"callerType":null,"email":null,"profileId":null,"key":null},"ipAddress":null,"networkInfo":null,
                "events":[{"type":null,"name":"login_success","parameters":null}]}"#;
    let e = one(s);
    assert_eq!(e.user, UserKeys::default());
    assert_eq!(e.tenant, None);
    assert_eq!(e.mfa, MfaClaim::Silent);
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"7","applicationName":"login"},"actor":null,
                "events":[{"name":"logout","parameters":[null]}]}"#;
    assert!(parse_record(s.as_bytes()).is_err(), "a null parameter element is not a parameter object");
}

#[test]
fn unknown_fields_are_ignored() {
    let s = login("logout", "[]").replace(
        r#""ownerDomain":"example.com","#,
        r#""ownerDomain":"example.com","resourceDetails":[{"id":"x"}],"futureField":{"deep":[1,2,{"a":null}]},"#,
    );
    assert_eq!(one(&s).kind, IdpEventKind::SessionEnd);
}

#[test]
fn escaped_strings_are_unescaped() {
    let s = login("logout", "[]").replace("Alice@Example.com", r#"al\u0069ce@example.com"#);
    assert_eq!(one(&s).user.login.as_deref(), Some("alice@example.com"));
}

#[test]
fn application_name_is_case_insensitive_and_native_type_is_lower_case() {
    let e = one(&activity("LOGIN", r#"[{"type":"login","name":"logout"}]"#));
    assert_eq!(e.native_type, "login/logout");
}

// ---- events shape and ids ------------------------------------------------------------------

#[test]
fn events_as_single_object() {
    let e = one(&activity(
        "login",
        r#"{"type":"login","name":"logout","parameters":[{"name":"login_type","value":"exchange"}]}"#,
    ));
    assert_eq!(e.kind, IdpEventKind::SessionEnd);
    assert_eq!(e.event_id, NATIVE, "a single event object keeps the bare native id");
}

#[test]
fn two_events_get_index_suffixed_ids() {
    let s = activity(
        "login",
        r#"[{"type":"login","name":"login_verification","parameters":[
                {"name":"login_challenge_method","multiValue":["google_prompt"]},
                {"name":"login_challenge_status","value":"passed"},
                {"name":"is_second_factor","boolValue":true}]},
            {"type":"login","name":"login_success","parameters":[
                {"name":"login_challenge_method","multiValue":["password","google_prompt"]}]}]"#,
    );
    match parse(&s) {
        Parsed::Relevant { native_id, events } => {
            assert_eq!(native_id, NATIVE);
            assert_eq!(events.len(), 2);
            assert_eq!(events[0].event_id, format!("{NATIVE}#0"));
            assert_eq!(events[0].native_type, "login/login_verification");
            assert_eq!(GoogleLogin::of(&events[0]), Some(GoogleLogin::Verification));
            assert_eq!(events[0].mfa, MfaClaim::Verified);
            assert_eq!(events[1].event_id, format!("{NATIVE}#1"));
            assert_eq!(events[1].native_type, "login/login_success");
            assert_eq!(events[1].factors, vec!["password", "google_prompt"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn index_suffix_counts_skipped_events_so_ids_are_stable() {
    let s = activity(
        "login",
        r#"[{"type":"login","name":"login_success"},
            {"type":"account_warning","name":"suspicious_login"},
            {"type":"login","name":"logout"}]"#,
    );
    match parse(&s) {
        Parsed::Relevant { events, .. } => {
            let ids: Vec<_> = events.iter().map(|e| e.event_id.as_str()).collect();
            assert_eq!(ids, vec![format!("{NATIVE}#0"), format!("{NATIVE}#2")]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_relevant_event_among_several_keeps_its_index() {
    let s = activity(
        "login",
        r#"[{"type":"account_warning","name":"suspicious_login"},{"type":"login","name":"login_success"}]"#,
    );
    assert_eq!(one(&s).event_id, format!("{NATIVE}#1"));
}

#[test]
fn event_without_name_is_skipped() {
    let s = activity("login", r#"[{"type":"login"},{"type":"login","name":""}]"#);
    assert!(matches!(parse(&s), Parsed::Irrelevant { .. }));
}

#[test]
fn missing_application_name_uses_event_type_login() {
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"1"},"actor":{"email":"a@b.c"},
                "events":[{"type":"login","name":"login_success","parameters":[{"name":"login_challenge_method","value":"password"}]}]}"#;
    let e = one(s);
    assert_eq!(e.native_type, "login/login_success");
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
}

#[test]
fn missing_application_name_with_saml_parameters_reads_as_saml() {
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"1"},"actor":{"email":"a@b.c"},
                "events":[{"type":"login","name":"login_success","parameters":[
                    {"name":"application_name","value":"Amazon Web Services"},{"name":"initiated_by","value":"idp"}]}]}"#;
    let e = one(s);
    assert_eq!(e.native_type, "saml/login_success");
    assert_eq!(e.kind, IdpEventKind::AppSso);
    assert_eq!(e.app_name.as_deref(), Some("Amazon Web Services"));
}

#[test]
fn missing_application_name_and_other_event_type_is_irrelevant() {
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"1","customerId":"C1"},
                "events":[{"type":"2sv_change","name":"2sv_enroll"}]}"#;
    assert_eq!(parse(s), Parsed::Irrelevant { time_ms: Some(T0), scope: Some("C1".into()) });
}

// ---- relevance -----------------------------------------------------------------------------

#[test]
fn token_application_is_irrelevant_with_time_and_customer() {
    let s = activity(
        "token",
        r#"[{"type":"auth","name":"authorize","parameters":[{"name":"client_id","value":"1234.apps.googleusercontent.com"}]}]"#,
    );
    assert_eq!(parse(&s), Parsed::Irrelevant { time_ms: Some(T0 + 250), scope: Some("C03az79cb".into()) });
}

#[test]
fn saml_event_names_are_irrelevant_under_other_applications() {
    let s = activity("admin", r#"[{"type":"login","name":"login_success"}]"#);
    assert!(matches!(parse(&s), Parsed::Irrelevant { .. }));
}

#[test]
fn irrelevant_login_event_names() {
    for name in
        ["2sv_enroll", "suspicious_login", "risky_sensitive_action_allowed", "passkey_enrolled", "gov_attack_warning"]
    {
        let s = login(name, r#"[{"name":"login_timestamp","intValue":"1714554004123456"}]"#);
        assert_eq!(
            parse(&s),
            Parsed::Irrelevant { time_ms: Some(T0 + 250), scope: Some("C03az79cb".into()) },
            "{name}"
        );
    }
}

#[test]
fn saml_logout_and_verification_are_irrelevant() {
    for name in ["logout", "login_verification", "login_challenge"] {
        let s = activity("saml", &format!(r#"[{{"type":"login","name":"{name}"}}]"#));
        assert!(matches!(parse(&s), Parsed::Irrelevant { .. }), "{name}");
    }
}

#[test]
fn irrelevant_record_without_time_has_no_time() {
    let s = r#"{"id":{"applicationName":"drive"},"events":[{"name":"view"}]}"#;
    assert_eq!(parse(s), Parsed::Irrelevant { time_ms: None, scope: None });
    let s = r#"{"id":{"applicationName":"login","customerId":"C9"}}"#;
    assert_eq!(parse(s), Parsed::Irrelevant { time_ms: None, scope: Some("C9".into()) });
}

#[test]
fn login_timestamp_microseconds_does_not_replace_id_time() {
    let e = one(&login(
        "login_success",
        r#"[{"name":"login_timestamp","intValue":"1700000000000000"},{"name":"login_challenge_method","value":"password"}]"#,
    ));
    assert_eq!(e.time_ms, T0 + 250);
}

// ---- outcomes ------------------------------------------------------------------------------

#[test]
fn login_failure_outcome_and_reason() {
    let e = one(&login(
        "login_failure",
        r#"[{"name":"login_failure_type","value":"login_failure_invalid_password"},
            {"name":"login_challenge_method","value":"password"},{"name":"login_type","value":"google_password"}]"#,
    ));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("login_failure_invalid_password"));
    assert_eq!(e.kind, IdpEventKind::Login);
}

#[test]
fn challenge_status_sets_outcome_for_verification_and_challenge() {
    for (status, outcome, reason) in [
        ("passed", Outcome::Success, None),
        ("Challenge Passed.", Outcome::Success, None),
        ("failed", Outcome::Failure, Some("failed")),
        ("Challenge Failed.", Outcome::Failure, Some("Challenge Failed.")),
        ("Challenge Abandoned.", Outcome::Unknown, Some("Challenge Abandoned.")),
    ] {
        for name in ["login_verification", "login_challenge"] {
            let e = one(&login(name, &format!(r#"[{{"name":"login_challenge_status","value":"{status}"}}]"#)));
            assert_eq!(e.outcome, outcome, "{name} {status}");
            assert_eq!(e.outcome_reason.as_deref(), reason, "{name} {status}");
        }
    }
    let e = one(&login("login_verification", "[]"));
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.outcome_reason, None);
}

#[test]
fn logout_is_session_end_with_unknown_outcome() {
    let e = one(&login("logout", r#"[{"name":"login_type","value":"google_password"}]"#));
    assert_eq!(e.kind, IdpEventKind::SessionEnd);
    assert_eq!(e.native_type, "login/logout");
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn saml_login_success_is_app_sso_to_named_app() {
    let e = one(&activity(
        "saml",
        r#"[{"type":"login","name":"login_success","parameters":[
            {"name":"application_name","value":"Amazon Web Services"},{"name":"initiated_by","value":"idp"},
            {"name":"orgunit_path","value":"/Engineering"},{"name":"saml_status_code","value":"SUCCESS_URI"}]}]"#,
    ));
    assert_eq!(e.kind, IdpEventKind::AppSso);
    assert_eq!(e.native_type, "saml/login_success");
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.outcome_reason, None);
    assert_eq!(e.app_name.as_deref(), Some("Amazon Web Services"));
    assert_eq!(e.app_id, None);
    assert_eq!(e.session_id, None);
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert!(e.factors.is_empty());
}

#[test]
fn saml_login_failure_reason_keeps_initiated_by_and_status_codes() {
    let e = one(&activity(
        "saml",
        r#"[{"type":"login","name":"login_failure","parameters":[
            {"name":"application_name","value":"Amazon Web Services"},
            {"name":"failure_type","value":"failure_app_not_enabled_for_user"},
            {"name":"initiated_by","value":"sp"},
            {"name":"saml_status_code","value":"urn:oasis:names:tc:SAML:2.0:status:Requester"},
            {"name":"saml_second_level_status_code","value":"urn:oasis:names:tc:SAML:2.0:status:RequestDenied"}]}]"#,
    ));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(
        e.outcome_reason.as_deref(),
        Some(
            "failure_app_not_enabled_for_user; initiated_by=sp; \
             saml_status_code=urn:oasis:names:tc:SAML:2.0:status:Requester; \
             saml_second_level_status_code=urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
        )
    );
    assert_eq!(e.mfa, MfaClaim::Silent);
}

#[test]
fn saml_login_failure_without_failure_type_still_names_status() {
    let e = one(&activity(
        "saml",
        r#"[{"type":"login","name":"login_failure","parameters":[{"name":"saml_status_code","value":"X"}]}]"#,
    ));
    assert_eq!(e.outcome_reason.as_deref(), Some("saml_status_code=X"));
    let e = one(&activity("saml", r#"[{"type":"login","name":"login_failure"}]"#));
    assert_eq!(e.outcome_reason, None);
}

// ---- MFA rules (formats.md 4.3) ------------------------------------------------------------

#[test]
fn login_type_saml_is_upstream() {
    for name in ["login_success", "login_failure", "login_verification", "login_challenge"] {
        assert_eq!(mfa_of(name, r#"[{"name":"login_type","value":"saml"}]"#), MfaClaim::Upstream, "{name}");
    }
    // Even beside a password method: the sign-in was federated.
    assert_eq!(
        mfa_of(
            "login_success",
            r#"[{"name":"login_type","value":"saml"},{"name":"login_challenge_method","value":"password"}]"#
        ),
        MfaClaim::Upstream
    );
}

#[test]
fn logout_with_login_type_saml_is_silent() {
    assert_eq!(mfa_of("logout", r#"[{"name":"login_type","value":"saml"}]"#), MfaClaim::Silent);
}

#[test]
fn login_success_password_value_is_single_factor() {
    let e = one(&login("login_success", r#"[{"name":"login_challenge_method","value":"password"}]"#));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    assert_eq!(e.factors, vec!["password"]);
}

#[test]
fn login_success_security_key_multivalue_is_verified() {
    let e = one(&login("login_success", r#"[{"name":"login_challenge_method","multiValue":["security_key"]}]"#));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, vec!["security_key"]);
}

#[test]
fn login_success_each_second_factor_method_is_verified() {
    for m in [
        "passkey",
        "security_key",
        "google_prompt",
        "google_authenticator",
        "idv_any_phone",
        "idv_preregistered_phone",
        "backup_code",
        "offline_otp",
        "internal_two_factor",
        "security_key_otp",
        "device_prompt",
        "cross_device",
        "rescue_code",
    ] {
        let p = format!(r#"[{{"name":"login_challenge_method","multiValue":["password","{m}"]}}]"#);
        assert_eq!(mfa_of("login_success", &p), MfaClaim::Verified, "{m}");
    }
}

#[test]
fn login_success_only_non_factor_methods_is_single_factor() {
    for ms in [
        r#"["password"]"#,
        r#"["password","login_location"]"#,
        r#"["knowledge_preregistered_phone"]"#,
        r#"["password","captcha"]"#,
        r#"["password","none"]"#,
        r#"["idv_preregistered_email"]"#,
    ] {
        let p = format!(r#"[{{"name":"login_challenge_method","multiValue":{ms}}}]"#);
        assert_eq!(mfa_of("login_success", &p), MfaClaim::SingleFactor, "{ms}");
    }
}

#[test]
fn login_success_without_challenge_method_is_silent() {
    assert_eq!(mfa_of("login_success", "[]"), MfaClaim::Silent);
    assert_eq!(mfa_of("login_success", r#"[{"name":"login_type","value":"google_password"}]"#), MfaClaim::Silent);
}

#[test]
fn login_success_with_only_none_is_silent() {
    assert_eq!(
        mfa_of("login_success", r#"[{"name":"login_challenge_method","multiValue":["none"]}]"#),
        MfaClaim::Silent
    );
}

#[test]
fn login_success_with_other_or_unknown_method_is_silent() {
    for ms in [r#"["password","other"]"#, r#"["unknown"]"#, r#"["other"]"#] {
        let p = format!(r#"[{{"name":"login_challenge_method","multiValue":{ms}}}]"#);
        assert_eq!(mfa_of("login_success", &p), MfaClaim::Silent, "{ms}");
    }
}

#[test]
fn login_success_method_saml_is_upstream() {
    assert_eq!(mfa_of("login_success", r#"[{"name":"login_challenge_method","value":"saml"}]"#), MfaClaim::Upstream);
}

#[test]
fn login_success_is_second_factor_true_is_verified() {
    assert_eq!(
        mfa_of(
            "login_success",
            r#"[{"name":"login_challenge_method","value":"password"},{"name":"is_second_factor","boolValue":true}]"#
        ),
        MfaClaim::Verified
    );
    assert_eq!(mfa_of("login_success", r#"[{"name":"is_second_factor","value":"true"}]"#), MfaClaim::Verified);
}

#[test]
fn login_success_method_names_fold_case() {
    assert_eq!(
        mfa_of("login_success", r#"[{"name":"login_challenge_method","multiValue":["Password"]}]"#),
        MfaClaim::SingleFactor
    );
}

#[test]
fn login_verification_is_second_factor_boolvalue_passed_is_verified() {
    let e = one(&login(
        "login_verification",
        r#"[{"name":"login_type","value":"google_password"},
            {"name":"login_challenge_method","multiValue":["security_key"]},
            {"name":"login_challenge_status","value":"passed"},
            {"name":"is_second_factor","boolValue":true}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.factors, vec!["security_key"]);
}

#[test]
fn login_verification_is_second_factor_string_true_is_verified() {
    assert_eq!(
        mfa_of(
            "login_verification",
            r#"[{"name":"login_challenge_status","value":"Challenge Passed."},{"name":"is_second_factor","value":"true"}]"#
        ),
        MfaClaim::Verified
    );
}

#[test]
fn login_verification_second_factor_failed_is_failed() {
    for status in ["failed", "Challenge Failed."] {
        let p = format!(
            r#"[{{"name":"login_challenge_method","multiValue":["google_prompt"]}},
                {{"name":"login_challenge_status","value":"{status}"}},{{"name":"is_second_factor","boolValue":true}}]"#
        );
        assert_eq!(mfa_of("login_verification", &p), MfaClaim::Failed, "{status}");
    }
}

#[test]
fn login_verification_second_factor_with_unreadable_status_is_silent() {
    assert_eq!(
        mfa_of(
            "login_verification",
            r#"[{"name":"login_challenge_status","value":"Challenge Abandoned."},{"name":"is_second_factor","boolValue":true}]"#
        ),
        MfaClaim::Silent
    );
    assert_eq!(mfa_of("login_verification", r#"[{"name":"is_second_factor","boolValue":true}]"#), MfaClaim::Silent);
}

#[test]
fn login_verification_is_second_factor_false_is_silent_even_with_a_factor_method() {
    // Elastic's test record: backup_code, "Challenge Passed.", is_second_factor false.
    assert_eq!(
        mfa_of(
            "login_verification",
            r#"[{"name":"is_second_factor","boolValue":false},{"name":"login_challenge_method","value":"backup_code"},
                {"name":"login_challenge_status","value":"Challenge Passed."},{"name":"login_type","value":"exchange"}]"#
        ),
        MfaClaim::Silent
    );
}

#[test]
fn login_verification_without_is_second_factor_reads_the_method() {
    assert_eq!(
        mfa_of(
            "login_verification",
            r#"[{"name":"login_challenge_method","value":"google_authenticator"},{"name":"login_challenge_status","value":"passed"}]"#
        ),
        MfaClaim::Verified
    );
    assert_eq!(
        mfa_of(
            "login_verification",
            r#"[{"name":"login_challenge_method","value":"password"},{"name":"login_challenge_status","value":"passed"}]"#
        ),
        MfaClaim::Silent
    );
}

#[test]
fn login_challenge_passed_with_second_factor_is_verified() {
    assert_eq!(
        mfa_of(
            "login_challenge",
            r#"[{"name":"login_challenge_method","value":"backup_code"},{"name":"login_challenge_status","value":"Challenge Passed."}]"#
        ),
        MfaClaim::Verified
    );
}

#[test]
fn login_challenge_failed_with_second_factor_is_failed() {
    assert_eq!(
        mfa_of(
            "login_challenge",
            r#"[{"name":"login_challenge_method","multiValue":["idv_any_phone"]},{"name":"login_challenge_status","value":"failed"}]"#
        ),
        MfaClaim::Failed
    );
}

#[test]
fn login_challenge_with_password_only_is_silent() {
    for status in ["passed", "failed"] {
        let p = format!(
            r#"[{{"name":"login_challenge_method","value":"password"}},{{"name":"login_challenge_status","value":"{status}"}}]"#
        );
        assert_eq!(mfa_of("login_challenge", &p), MfaClaim::Silent, "{status}");
    }
}

#[test]
fn login_failure_with_second_factor_is_failed() {
    assert_eq!(
        mfa_of(
            "login_failure",
            r#"[{"name":"login_challenge_method","multiValue":["password","security_key"]},
                {"name":"login_failure_type","value":"login_failure_unknown"}]"#
        ),
        MfaClaim::Failed
    );
}

#[test]
fn login_failure_without_second_factor_is_silent() {
    assert_eq!(mfa_of("login_failure", r#"[{"name":"login_challenge_method","value":"password"}]"#), MfaClaim::Silent);
    assert_eq!(mfa_of("login_failure", "[]"), MfaClaim::Silent);
}

#[test]
fn saml_events_are_silent_whatever_they_carry() {
    let s = activity(
        "saml",
        r#"[{"type":"login","name":"login_success","parameters":[
            {"name":"login_challenge_method","multiValue":["security_key"]},{"name":"is_second_factor","boolValue":true},
            {"name":"login_type","value":"saml"}]}]"#,
    );
    assert_eq!(one(&s).mfa, MfaClaim::Silent);
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn relevant_event_without_time_is_missing_id_time() {
    let s = r#"{"id":{"uniqueQualifier":"1","applicationName":"login"},"events":[{"name":"logout"}]}"#;
    assert_eq!(parse_record(s.as_bytes()), Err(ParseError::Missing("id.time")));
}

#[test]
fn relevant_event_without_unique_qualifier_is_missing() {
    let s = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"","applicationName":"login"},"events":[{"name":"logout"}]}"#;
    assert_eq!(parse_record(s.as_bytes()), Err(ParseError::Missing("id.uniqueQualifier")));
}

#[test]
fn invalid_time_is_invalid_even_on_irrelevant_records() {
    for app in ["login", "token"] {
        let s = activity(app, r#"[{"name":"logout"}]"#).replace("2024-05-01T09:00:04.250Z", "May 1, 2024");
        match parse_record(s.as_bytes()) {
            Err(ParseError::Invalid { field: "id.time", value, .. }) => assert_eq!(value, "May 1, 2024"),
            other => panic!("{app}: {other:?}"),
        }
    }
}

#[test]
fn not_json_is_a_json_error() {
    for s in ["", "not json", "{\"id\":", "{} trailing"] {
        assert!(matches!(parse_record(s.as_bytes()), Err(ParseError::Json(_))), "{s:?}");
    }
}

#[test]
fn json_scalars_and_arrays_are_wrong_shape() {
    for s in ["42", "\"x\"", "null", "[1,2]", "true"] {
        match parse_record(s.as_bytes()) {
            Err(ParseError::WrongShape { expected, why }) => {
                assert_eq!(expected, "Google Reports API activity");
                assert!(why.contains("activity object"), "{why}");
            }
            other => panic!("{s}: {other:?}"),
        }
    }
}

#[test]
fn a_whole_activities_page_is_wrong_shape() {
    let s = format!(r#"{{"kind":"admin#reports#activities","items":[{}],"nextPageToken":"x"}}"#, login("logout", "[]"));
    match parse_record(s.as_bytes()) {
        Err(ParseError::WrongShape { why, .. }) => assert!(why.contains("activities.list page"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn panther_flattened_shape_is_wrong_shape() {
    let s = r#"{"actor":{"email":"some.user@somedomain.com"},"id":{"applicationName":"saml","time":"2022-05-26 15:26:09.421000000"},
                "ipAddress":"10.10.10.10","kind":"admin#reports#activity","name":"login_success",
                "parameters":{"application_name":"Some SAML Application","initiated_by":"sp"},"type":"login"}"#;
    match parse_record(s.as_bytes()) {
        Err(ParseError::WrongShape { why, .. }) => assert!(why.contains("flattened"), "{why}"),
        other => panic!("{other:?}"),
    }
    let s = r#"{"id":{"applicationName":"login"},"type":"login","name":"logout","parameters":{"login_type":"saml"}}"#;
    assert!(matches!(parse_record(s.as_bytes()), Err(ParseError::WrongShape { .. })));
}

#[test]
fn records_of_other_sources_are_wrong_shape() {
    let okta = r#"{"uuid":"9b2c...","eventType":"user.session.start","published":"2024-05-01T09:00:04.000Z","actor":{"alternateId":"a@b.c"}}"#;
    match parse_record(okta.as_bytes()) {
        Err(ParseError::WrongShape { why, .. }) => assert!(why.contains("no `id`"), "{why}"),
        other => panic!("{other:?}"),
    }
    let entra = r#"{"id":"66ea54eb-6301-4ee5-be62-ff5a759b8100","createdDateTime":"2024-05-01T09:00:04Z","userPrincipalName":"a@b.c"}"#;
    match parse_record(entra.as_bytes()) {
        Err(ParseError::WrongShape { why, .. }) => assert!(why.contains("`id` object"), "{why}"),
        other => panic!("{other:?}"),
    }
    let cloudtrail =
        r#"{"eventVersion":"1.08","eventID":"x","eventName":"ConsoleLogin","eventTime":"2024-05-01T09:00:04Z"}"#;
    assert!(matches!(parse_record(cloudtrail.as_bytes()), Err(ParseError::WrongShape { .. })));
}

#[test]
fn events_of_the_wrong_type_are_wrong_shape() {
    let s = activity("login", r#""login_success""#);
    assert!(matches!(parse_record(s.as_bytes()), Err(ParseError::WrongShape { .. })));
    let s = activity("login", r#"[{"name":"logout","parameters":"x"}]"#);
    assert!(matches!(parse_record(s.as_bytes()), Err(ParseError::WrongShape { .. })));
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_record(&bytes);
    }

    #[test]
    fn never_panics_on_truncated_or_mutated_records(cut in 0usize..2000, pos in 0usize..2000, byte in any::<u8>()) {
        let s = activity(
            "login",
            r#"[{"type":"login","name":"login_verification","parameters":[
                {"name":"login_challenge_method","multiValue":["security_key"]},
                {"name":"login_challenge_status","value":"passed"},{"name":"is_second_factor","boolValue":true}]},
               {"type":"login","name":"login_success","parameters":[{"name":"login_timestamp","intValue":"17"}]}]"#,
        );
        let mut b = s.into_bytes();
        if pos < b.len() {
            b[pos] = byte;
        }
        b.truncate(cut.min(b.len()));
        let _ = parse_record(&b);
    }

    #[test]
    fn any_unique_qualifier_round_trips_into_the_id(uq in any::<i64>(), as_number in any::<bool>()) {
        let v = if as_number { uq.to_string() } else { format!("\"{uq}\"") };
        let s = format!(
            r#"{{"id":{{"time":"2024-05-01T09:00:04Z","uniqueQualifier":{v},"applicationName":"login"}},"events":[{{"name":"logout"}}]}}"#
        );
        match parse_record(s.as_bytes()) {
            Ok(Parsed::Relevant { native_id, .. }) => prop_assert_eq!(native_id, format!("login/2024-05-01T09:00:04Z/{uq}")),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

// ---- D3: the application leads the id -----------------------------------------------------

#[test]
fn login_and_saml_activities_with_the_same_time_and_qualifier_get_different_ids() {
    let login = r#"{"id":{"time":"2024-05-01T09:00:04.250Z","uniqueQualifier":"7","applicationName":"login"},
        "events":[{"type":"login","name":"logout"}]}"#;
    let saml = r#"{"id":{"time":"2024-05-01T09:00:04.250Z","uniqueQualifier":"7","applicationName":"saml"},
        "events":[{"type":"login","name":"login_success","parameters":[{"name":"application_name","value":"AWS"}]}]}"#;
    assert_eq!(one(login).event_id, "login/2024-05-01T09:00:04.250Z/7");
    assert_eq!(one(saml).event_id, "saml/2024-05-01T09:00:04.250Z/7");
}

#[test]
fn an_activity_without_application_name_takes_its_events_application() {
    let saml = r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"7"},
        "events":[{"type":"login","name":"login_success","parameters":[{"name":"saml_status_code","value":"SUCCESS_URI"}]}]}"#;
    assert_eq!(one(saml).event_id, "saml/2024-05-01T09:00:04Z/7");
    let login =
        r#"{"id":{"time":"2024-05-01T09:00:04Z","uniqueQualifier":"7"},"events":[{"type":"login","name":"logout"}]}"#;
    assert_eq!(one(login).event_id, "login/2024-05-01T09:00:04Z/7");
}

// ---- D5: Elastic documents without event.original ------------------------------------------

fn ecs_login(action: &str, login: &str) -> String {
    format!(
        r#"{{"@timestamp":"2024-05-01T09:00:04.250Z","event":{{"action":"{action}","id":"-44","provider":"login"}},
            "google_workspace":{{"event":{{"type":"login"}},"login":{login}}},"organization":{{"id":"C03az79cb"}},
            "source":{{"ip":"81.2.69.144","user":{{"email":"alice@example.com","id":"1111"}}}}}}"#
    )
}

#[test]
fn ecs_login_success_reads_the_renamed_parameters() {
    let e = one(&ecs_login(
        "login_success",
        r#"{"challenge_method":["password","security_key"],"type":"google_password"}"#,
    ));
    assert_eq!(e.event_id, "login/2024-05-01T09:00:04.250Z/-44");
    assert_eq!(e.time_ms, T0 + 250);
    assert_eq!((e.kind, e.outcome, e.mfa), (IdpEventKind::Login, Outcome::Success, MfaClaim::Verified));
    assert_eq!(e.factors, ["password", "security_key"]);
    assert_eq!(e.tenant.as_deref(), Some("C03az79cb"));
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("1111"));
    assert_eq!(e.source_ip.as_deref(), Some("81.2.69.144"));
    let e = one(&ecs_login("login_success", r#"{"challenge_method":"password"}"#));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    let e = one(&ecs_login("login_success", r#"{"challenge_method":"password","type":"saml"}"#));
    assert_eq!(e.mfa, MfaClaim::Upstream);
}

/// Elastic's pipeline drops `boolValue` parameters, so a verification step without
/// `is_second_factor` proves nothing; with it (a pipeline that keeps it), it is read.
#[test]
fn ecs_verification_needs_is_second_factor() {
    let e =
        one(&ecs_login("login_verification", r#"{"challenge_method":"idv_any_phone","challenge_status":"passed"}"#));
    assert_eq!((e.outcome, e.mfa), (Outcome::Success, MfaClaim::Silent));
    let e = one(&ecs_login(
        "login_verification",
        r#"{"challenge_method":"idv_any_phone","challenge_status":"passed","is_second_factor":true}"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
    let e = one(&ecs_login(
        "login_challenge",
        r#"{"challenge_method":"idv_any_phone","challenge_status":"failed","is_second_factor":"true"}"#,
    ));
    assert_eq!((e.outcome, e.mfa), (Outcome::Failure, MfaClaim::Failed));
}

#[test]
fn ecs_dotted_keys_and_data_stream_application() {
    let s = r#"{"@timestamp":"2024-05-01T09:00:04.250Z","event.action":"login_failure","event.id":7,
        "data_stream.dataset":"google_workspace.saml","google_workspace.saml.application_name":"AWS",
        "google_workspace.saml.status_code":"REQUESTER_URI","source.user.email":"bob@example.com"}"#;
    let e = one(s);
    assert_eq!(e.event_id, "saml/2024-05-01T09:00:04.250Z/7");
    assert_eq!((e.kind, e.outcome), (IdpEventKind::AppSso, Outcome::Failure));
    assert_eq!(e.app_name.as_deref(), Some("AWS"));
    assert_eq!(e.outcome_reason.as_deref(), Some("saml_status_code=REQUESTER_URI"));
}

#[test]
fn ecs_other_actions_are_irrelevant_and_missing_ids_are_errors() {
    let s = ecs_login("account_disabled_password_leak", "{}");
    assert_eq!(parse(&s), Parsed::Irrelevant { time_ms: Some(T0 + 250), scope: Some("C03az79cb".into()) });
    let s = ecs_login("logout", "{}").replace(r#""id":"-44","#, "");
    assert_eq!(parse_record(s.as_bytes()), Err(ParseError::Missing("event.id")));
    let s = ecs_login("logout", "{}").replace(r#""@timestamp":"2024-05-01T09:00:04.250Z","#, "");
    assert_eq!(parse_record(s.as_bytes()), Err(ParseError::Missing("@timestamp")));
    let s = r#"{"@timestamp":"2024-05-01T09:00:04.250Z","message":"x"}"#;
    assert!(matches!(parse_record(s.as_bytes()), Err(ParseError::WrongShape { .. })));
}

/// With `event.original` kept, the Reports API activity inside wins (its id.time as written).
#[test]
fn ecs_event_original_is_read_when_present() {
    let original = serde_json::to_string(&login("logout", "[]")).unwrap();
    let s = ecs_login("logout", "{}").replacen('{', &format!(r#"{{"event.original":{original},"#), 1);
    assert_eq!(one(&s).event_id, NATIVE);
}
