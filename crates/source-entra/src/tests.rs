use super::*;
use proptest::prelude::*;
use trailproof_model::{Idp, IdpEventKind, MfaClaim, Outcome};

fn one(raw: &str) -> IdpEvent {
    match parse_record(raw.as_bytes(), Format::Auto) {
        Ok(Parsed::Relevant { native_id, mut events }) => {
            assert_eq!(events.len(), 1);
            let e = events.remove(0);
            assert_eq!(e.event_id, native_id);
            assert_eq!(e.provider, Idp::Entra);
            assert_eq!(e.kind, IdpEventKind::AppSso);
            e
        }
        other => panic!("expected a relevant record, got {other:?}"),
    }
}

fn irrelevant(raw: &str) -> (Option<i64>, Option<String>) {
    match parse_record(raw.as_bytes(), Format::Auto) {
        Ok(Parsed::Irrelevant { time_ms, scope }) => (time_ms, scope),
        other => panic!("expected an irrelevant record, got {other:?}"),
    }
}

fn err(raw: &[u8]) -> ParseError {
    match parse_record(raw, Format::Auto) {
        Err(e) => e,
        Ok(p) => panic!("expected an error, got {p:?}"),
    }
}

const T0: i64 = 1_772_439_342_000; // 2026-03-02T08:15:42Z

/// A Graph beta sign-in with `extra` spliced in before the closing brace.
fn graph(extra: &str) -> String {
    format!(
        r#"{{"id":"g-1","createdDateTime":"2026-03-02T08:15:42Z","userPrincipalName":"alice@example.com",
            "userId":"u-1","appId":"app-1","appDisplayName":"AWS","ipAddress":"198.51.100.7"{extra}}}"#
    )
}

/// An Azure Monitor record whose `properties` get `props` spliced in.
fn monitor(envelope: &str, props: &str) -> String {
    format!(
        r#"{{"time":"2026-03-02T08:16:00.0000000Z","operationName":"Sign-in activity","category":"SignInLogs",
            "tenantId":"t-env","resultType":"0","callerIpAddress":"198.51.100.8"{envelope},
            "properties":{{"id":"m-1","createdDateTime":"2026-03-02T08:15:42Z",
            "userPrincipalName":"alice@example.com","userId":"u-1"{props}}}}}"#
    )
}

/// A Log Analytics row with `extra` spliced in.
fn row(extra: &str) -> String {
    format!(
        r#"{{"TenantId":"ws-1","TimeGenerated":"2026-03-02T08:16:00Z","Id":"la-1",
            "CreatedDateTime":"2026-03-02T08:15:42Z","UserPrincipalName":"alice@example.com",
            "UserId":"u-1","Type":"SigninLogs","Category":"SignInLogs"{extra}}}"#
    )
}

// ---------------------------------------------------------------- Format

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::parse(f.as_str()), Some(f));
    }
    assert_eq!(Format::parse("Azure-Monitor"), Some(Format::AzureMonitor));
    assert_eq!(Format::parse("log-analytics"), Some(Format::LogAnalytics));
    assert_eq!(Format::parse("okta"), None);
    assert_eq!(Format::default(), Format::Auto);
}

// ---------------------------------------------------------------- times

#[test]
fn seven_fraction_digits_truncate_to_milliseconds() {
    let e = one(&graph(r#","createdDateTime":"2026-03-02T08:15:42.6195833Z""#));
    assert_eq!(e.time_ms, T0 + 619);
}

#[test]
fn offset_time_with_seven_digits_is_converted_to_utc() {
    let e = one(&graph(r#","createdDateTime":"2026-03-02T09:15:42.1234567+01:00""#));
    assert_eq!(e.time_ms, T0 + 123);
}

#[test]
fn panther_space_separated_nine_digit_time_without_offset_is_utc() {
    let e = one(&monitor("", r#","createdDateTime":"2026-03-02 08:15:42.983201900""#));
    assert_eq!(e.time_ms, T0 + 983);
}

#[test]
fn missing_created_date_time_falls_back_to_envelope_time() {
    let raw = r#"{"time":"2026-03-02 08:15:42.123","category":"SignInLogs","tenantId":"t",
                  "properties":{"id":"x","userPrincipalName":"a@example.com"}}"#;
    assert_eq!(one(raw).time_ms, T0 + 123);
    let raw = r#"{"Id":"x","TimeGenerated":"2026-03-02T08:15:42.5Z","Type":"SigninLogs","UserPrincipalName":"a@example.com"}"#;
    assert_eq!(one(raw).time_ms, T0 + 500);
}

#[test]
fn unparseable_time_is_an_invalid_field_error() {
    let e = err(graph(r#","createdDateTime":"yesterday""#).as_bytes());
    assert!(matches!(e, ParseError::Invalid { field: "createdDateTime", .. }), "{e:?}");
}

#[test]
fn no_time_at_all_is_missing() {
    let e = err(br#"{"id":"x","userPrincipalName":"a@example.com"}"#);
    assert_eq!(e, ParseError::Missing("createdDateTime"));
}

// ---------------------------------------------------------------- outcome

#[test]
fn status_error_code_as_number_and_as_string() {
    let a = one(&graph(r#","status":{"errorCode":0}"#));
    let b = one(&graph(r#","status":{"errorCode":"0"}"#));
    assert_eq!((a.outcome, b.outcome), (Outcome::Success, Outcome::Success));
    let a = one(&graph(r#","status":{"errorCode":50126,"failureReason":"Invalid username or password."}"#));
    let b = one(&graph(r#","status":{"errorCode":"50126","failureReason":"Invalid username or password."}"#));
    for e in [a, b] {
        assert_eq!(e.outcome, Outcome::Failure);
        assert_eq!(e.outcome_reason.as_deref(), Some("50126: Invalid username or password."));
    }
}

#[test]
fn failure_without_reason_keeps_the_code() {
    let e = one(&graph(r#","status":{"errorCode":50140,"failureReason":""}"#));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("50140"));
}

#[test]
fn success_has_no_outcome_reason_even_with_failure_reason_other() {
    let e = one(&graph(r#","status":{"errorCode":0,"failureReason":"Other."}"#));
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.outcome_reason, None);
}

#[test]
fn result_type_string_zero_is_success() {
    let e = one(&row(r#","ResultType":"0""#));
    assert_eq!(e.outcome, Outcome::Success);
}

#[test]
fn result_type_failure_uses_result_description() {
    let e = one(&row(
        r#","ResultType":"53003","ResultDescription":"Access has been blocked by Conditional Access policies.""#,
    ));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("53003: Access has been blocked by Conditional Access policies."));
}

#[test]
fn result_type_as_number_panther_lowercase_key() {
    let raw = r#"{"time":"2026-03-02 08:16:00.000","category":"SignInLogs","tenantid":"t-low","resulttype":0,
                  "calleripaddress":"12.12.12.12","properties":{"id":"p-1","createdDateTime":"2026-03-02 08:15:42.000",
                  "userPrincipalName":"eve@lexcorp.com"}}"#;
    let e = one(raw);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.tenant.as_deref(), Some("t-low"));
    assert_eq!(e.source_ip.as_deref(), Some("12.12.12.12"));
}

#[test]
fn result_type_words_from_panther_are_read() {
    let e = one(&monitor(r#","resultType":"Success""#, ""));
    assert_eq!(e.outcome, Outcome::Success);
    let e = one(&monitor(r#","resultType":"Failure""#, ""));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("Failure"));
}

#[test]
fn status_error_code_beats_envelope_result_type() {
    let e = one(&monitor(
        r#","resultType":"Failure""#,
        r#","status":{"errorCode":50053,"failureReason":"Account is locked."}"#,
    ));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.outcome_reason.as_deref(), Some("50053: Account is locked."));
}

/// D1: no `status.errorCode` and no `resultType` leave the outcome unknown; the MFA claim is
/// read from what the record carries, as for a success.
#[test]
fn no_status_and_no_result_type_is_unknown_and_read_on_its_facts() {
    let e = one(&graph(r#","authenticationRequirement":"singleFactorAuthentication""#));
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    let e = one(&graph(
        r#","status":{},"authenticationRequirement":"multiFactorAuthentication",
        "authenticationDetails":[{"authenticationMethod":"FIDO2 security key","succeeded":true}]"#,
    ));
    assert_eq!((e.outcome, e.mfa), (Outcome::Unknown, MfaClaim::Verified));
    let e = one(&graph(r#","status":null,"authenticationRequirement":"multiFactorAuthentication""#));
    assert_eq!((e.outcome, e.mfa), (Outcome::Unknown, MfaClaim::Silent));
}

// ---------------------------------------------------------------- users and fields

#[test]
fn upn_is_kept_as_given_and_is_the_email_when_it_looks_like_one() {
    let e = one(&graph(r#","userPrincipalName":"Alice.Smith@Example.com","userDisplayName":"Alice""#));
    assert_eq!(e.user.login.as_deref(), Some("Alice.Smith@Example.com"));
    assert_eq!(e.user.email.as_deref(), Some("Alice.Smith@Example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("u-1"));
    assert_eq!(e.user.display_name.as_deref(), Some("Alice"));
    assert_eq!(e.user.app_username, None);
}

#[test]
fn guest_ext_upn_is_a_login_but_not_an_email() {
    let e = one(&graph(r#","userPrincipalName":"bob_fabrikam.com#EXT#@contoso.onmicrosoft.com""#));
    assert_eq!(e.user.login.as_deref(), Some("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"));
    assert_eq!(e.user.email, None);
}

#[test]
fn empty_strings_are_absent() {
    let e = one(&graph(
        r#","sessionId":"","userAgent":"","userDisplayName":"  ","autonomousSystemNumber":"","resourceTenantId":"","homeTenantId":"h-1""#,
    ));
    assert_eq!(e.session_id, None);
    assert_eq!(e.user_agent, None);
    assert_eq!(e.user.display_name, None);
    assert_eq!(e.asn, None);
    assert_eq!(e.tenant.as_deref(), Some("h-1"));
}

#[test]
fn nulls_are_tolerated_everywhere() {
    let e = one(&graph(
        r#","sessionId":null,"userAgent":null,"status":null,"location":null,"authenticationDetails":null,
           "authenticationMethodsUsed":null,"mfaDetail":null,"signInEventTypes":null,"autonomousSystemNumber":null,
           "authenticationRequirement":null,"resourceTenantId":null,"tokenIssuerType":null,
           "authenticationDetails":[null,{"authenticationMethod":null,"succeeded":null}]"#,
    ));
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert!(e.factors.is_empty());
    assert_eq!(e.country, None);
}

#[test]
fn asn_as_number_or_string() {
    assert_eq!(one(&graph(r#","autonomousSystemNumber":3598"#)).asn, Some(3598));
    assert_eq!(one(&graph(r#","autonomousSystemNumber":"3598""#)).asn, Some(3598));
    assert_eq!(one(&graph(r#","autonomousSystemNumber":"n/a""#)).asn, None);
}

#[test]
fn graph_maps_every_field() {
    let e = one(&graph(
        r#","userDisplayName":"Alice","sessionId":"s-1","userAgent":"UA/1","autonomousSystemNumber":64500,
           "location":{"city":"Dublin","countryOrRegion":"IE"},"resourceTenantId":"t-res","homeTenantId":"t-home",
           "status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication""#,
    ));
    assert_eq!(e.tenant.as_deref(), Some("t-res"));
    assert_eq!(e.time_ms, T0);
    assert_eq!(e.native_type, "signIn");
    assert_eq!(e.app_id.as_deref(), Some("app-1"));
    assert_eq!(e.app_name.as_deref(), Some("AWS"));
    assert_eq!(e.session_id.as_deref(), Some("s-1"));
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(e.user_agent.as_deref(), Some("UA/1"));
    assert_eq!(e.asn, Some(64500));
    assert_eq!(e.as_org, None);
    assert_eq!(e.country.as_deref(), Some("IE"));
    assert_eq!(e.auth_requirement.as_deref(), Some("multiFactorAuthentication"));
}

// ---------------------------------------------------------------- duplicate keys

#[test]
fn graph_docs_duplicate_keys_last_occurrence_wins() {
    // As published in the Graph docs sample: homeTenantId, uniqueTokenIdentifier and
    // isTenantRestricted appear twice. serde's derive would refuse the record.
    let raw = r#"{"id":"d-1","createdDateTime":"2026-03-02T08:15:42Z","userPrincipalName":"first@example.com",
                  "homeTenantId":"first-tenant","uniqueTokenIdentifier":"A","isTenantRestricted":false,
                  "homeTenantId":"second-tenant","uniqueTokenIdentifier":"A","isTenantRestricted":false,
                  "userPrincipalName":"second@example.com","status":{"errorCode":1,"errorCode":0}}"#;
    let e = one(raw);
    assert_eq!(e.tenant.as_deref(), Some("second-tenant"));
    assert_eq!(e.user.login.as_deref(), Some("second@example.com"));
    assert_eq!(e.outcome, Outcome::Success);
}

// ---------------------------------------------------------------- shapes

#[test]
fn azure_monitor_envelope_tenant_category_and_fallbacks() {
    let e = one(&monitor(r#","location":"NL""#, r#","resourceTenantId":"t-props""#));
    assert_eq!(e.tenant.as_deref(), Some("t-env"));
    assert_eq!(e.native_type, "SignInLogs");
    assert_eq!(e.outcome, Outcome::Success);
    // properties.ipAddress absent → callerIpAddress; no location object → envelope country code.
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.8"));
    assert_eq!(e.country.as_deref(), Some("NL"));
}

#[test]
fn azure_monitor_properties_win_over_envelope() {
    let e = one(&monitor(r#","location":"NL""#, r#","ipAddress":"203.0.113.1","location":{"countryOrRegion":"DE"}"#));
    assert_eq!(e.source_ip.as_deref(), Some("203.0.113.1"));
    assert_eq!(e.country.as_deref(), Some("DE"));
}

#[test]
fn azure_monitor_authentication_details_as_json_string() {
    let e = one(&monitor(
        "",
        r#","status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication",
           "authenticationDetails":"[{\"authenticationMethod\":\"Password\",\"succeeded\":true},{\"authenticationMethod\":\"FIDO2 security key\",\"succeeded\":true,\"authenticationStepRequirement\":\"Multifactor authentication\"}]""#,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, ["Password", "FIDO2 security key"]);
}

#[test]
fn azure_monitor_authentication_details_as_array() {
    let e = one(&monitor(
        "",
        r#","status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Previously satisfied","succeeded":true,
           "authenticationStepResultDetail":"MFA requirement satisfied by claim in the token"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Carried);
}

#[test]
fn non_interactive_category_is_relevant() {
    let e = one(&monitor(r#","category":"NonInteractiveUserSignInLogs""#, ""));
    assert_eq!(e.native_type, "NonInteractiveUserSignInLogs");
}

#[test]
fn service_principal_and_managed_identity_categories_are_irrelevant() {
    for cat in ["ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs", "AuditLogs"] {
        let (t, scope) = irrelevant(&monitor(&format!(r#","category":"{cat}""#), ""));
        assert_eq!(t, Some(T0), "{cat}");
        assert_eq!(scope.as_deref(), Some("t-env"), "{cat}");
    }
}

#[test]
fn irrelevant_record_without_id_or_time_is_still_irrelevant() {
    let raw = r#"{"category":"ServicePrincipalSignInLogs","tenantId":"t","properties":{"appId":"x"}}"#;
    assert_eq!(irrelevant(raw), (None, Some("t".to_owned())));
}

#[test]
fn service_principal_event_type_without_category_is_irrelevant() {
    let (t, scope) = irrelevant(&graph(r#","signInEventTypes":["servicePrincipal"],"resourceTenantId":"t-1""#));
    assert_eq!((t, scope.as_deref()), (Some(T0), Some("t-1")));
    let e = one(&graph(r#","signInEventTypes":["interactiveUser"]"#));
    assert_eq!(e.event_id, "g-1");
}

#[test]
fn log_analytics_dynamic_columns_as_strings() {
    let e = one(&row(r#","ResultType":"0","AuthenticationRequirement":"multiFactorAuthentication",
           "AuthenticationDetails":"[{\"authenticationMethod\":\"Password\",\"succeeded\":\"true\"},{\"authenticationMethod\":\"Mobile app notification\",\"succeeded\":\"True\",\"authenticationStepResultDetail\":\"MFA successfully completed\"}]",
           "LocationDetails":"{\"countryOrRegion\":\"FR\"}","Status":"{\"errorCode\":0}",
           "MfaDetail":"{}","AuthenticationMethodsUsed":"""#));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, ["Password", "Mobile app notification"]);
    assert_eq!(e.country.as_deref(), Some("FR"));
    assert_eq!(e.native_type, "SignInLogs");
}

#[test]
fn log_analytics_dynamic_columns_as_objects() {
    let e = one(&row(r#","ResultType":"0","AuthenticationRequirement":"multiFactorAuthentication",
           "AuthenticationDetails":[{"authenticationMethod":"Previously satisfied","succeeded":true,
           "authenticationStepResultDetail":"MFA requirement satisfied by claim in the token"}],
           "LocationDetails":{"countryOrRegion":"NO"},"Status":{"errorCode":0}"#));
    assert_eq!(e.mfa, MfaClaim::Carried);
    assert_eq!(e.country.as_deref(), Some("NO"));
}

#[test]
fn log_analytics_unreadable_authentication_details_is_treated_as_absent() {
    // A string cut short by an exporter: the record is kept, MFA is Silent (not guessed).
    let e = one(&row(r##","ResultType":"0","AuthenticationRequirement":"multiFactorAuthentication",
           "AuthenticationDetails":"[{\"authenticationMethod\":\"Mobile app notif""##));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert!(e.factors.is_empty());
}

#[test]
fn log_analytics_tenant_prefers_aad_tenant_over_workspace_id() {
    let e = one(&row(r#","AADTenantId":"t-aad","ResourceTenantId":"t-res""#));
    assert_eq!(e.tenant.as_deref(), Some("t-aad"));
    let e = one(&row(r#","ResourceTenantId":"t-res""#));
    assert_eq!(e.tenant.as_deref(), Some("t-res"));
    // Only the workspace id: used as a last resort rather than dropping the scope.
    let e = one(&row(""));
    assert_eq!(e.tenant.as_deref(), Some("ws-1"));
}

#[test]
fn log_analytics_location_column_is_a_country_code() {
    let e = one(&row(r#","Location":"BR","LocationDetails":"""#));
    assert_eq!(e.country.as_deref(), Some("BR"));
}

#[test]
fn log_analytics_non_interactive_type_is_relevant_and_service_principal_table_is_not() {
    let raw = r#"{"Id":"x","CreatedDateTime":"2026-03-02T08:15:42Z","Type":"AADNonInteractiveUserSignInLogs","UserPrincipalName":"a@example.com"}"#;
    assert_eq!(one(raw).native_type, "AADNonInteractiveUserSignInLogs");
    let raw = r#"{"Id":"x","CreatedDateTime":"2026-03-02T08:15:42Z","Type":"AADServicePrincipalSignInLogs","AADTenantId":"t"}"#;
    assert_eq!(irrelevant(raw), (Some(T0), Some("t".to_owned())));
}

#[test]
fn authentication_methods_used_comma_string_is_the_factor_fallback() {
    let e = one(&row(r#","AuthenticationMethodsUsed":"Password, Text message""#));
    assert_eq!(e.factors, ["Password", "Text message"]);
}

#[test]
fn factors_are_succeeded_steps_in_order_deduplicated() {
    let e = one(&graph(
        r#","status":{"errorCode":0},"authenticationDetails":[
            {"authenticationMethod":"Password","succeeded":false},
            {"authenticationMethod":"Password","succeeded":true},
            {"authenticationMethod":"Mobile app notification","succeeded":false},
            {"authenticationMethod":"OATH verification code","succeeded":true},
            {"authenticationMethod":"Password","succeeded":true}],
           "authenticationMethodsUsed":["SMS"],"mfaDetail":{"authMethod":"PhoneAppOTP"}"#,
    ));
    assert_eq!(e.factors, ["Password", "OATH verification code"]);
    let e = one(&graph(
        r#","authenticationMethodsUsed":["Password","SMS","Password"],"mfaDetail":{"authMethod":"PhoneAppOTP"}"#,
    ));
    assert_eq!(e.factors, ["Password", "SMS"]);
    let e = one(&graph(r#","mfaDetail":{"authMethod":"PhoneAppOTP","authDetail":null}"#));
    assert_eq!(e.factors, ["PhoneAppOTP"]);
}

// ---------------------------------------------------------------- MFA end to end

#[test]
fn graph_fresh_push_is_verified() {
    let e = one(&graph(
        r#","status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Password","succeeded":true,"authenticationStepRequirement":"Primary authentication"},
           {"authenticationMethod":"Mobile app notification","succeeded":true,"authenticationStepResultDetail":"MFA successfully completed"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
}

#[test]
fn graph_previously_satisfied_is_carried() {
    let e = one(&graph(
        r#","status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Previously satisfied","succeeded":true,
           "authenticationStepResultDetail":"MFA requirement satisfied by claim in the token",
           "authenticationStepRequirement":"Multifactor authentication"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Carried);
}

#[test]
fn status_additional_details_claim_in_token_without_steps_and_requirement_is_carried() {
    let e = one(&graph(
        r#","status":{"errorCode":0,"additionalDetails":"MFA requirement satisfied by claim in the token"}"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Carried);
}

#[test]
fn panther_single_factor_with_mfa_claim_wording_is_single_factor() {
    let e = one(&monitor(
        "",
        r#","status":{"additionalDetails":"MFA requirement satisfied by claim in the token","errorCode":0},
           "authenticationRequirement":"singleFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Password","succeeded":true,"authenticationStepResultDetail":"Correct password"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
}

#[test]
fn elastic_first_factor_previously_satisfied_single_factor_is_single_factor() {
    let e = one(&monitor(
        "",
        r#","status":{"errorCode":0},"authenticationRequirement":"singleFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Previously satisfied","succeeded":true,
           "authenticationStepResultDetail":"First factor requirement satisfied by claim in the token",
           "authenticationStepRequirement":"Primary authentication"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    assert_eq!(e.factors, ["Previously satisfied"]);
}

#[test]
fn external_provider_claim_is_upstream() {
    let e = one(&graph(
        r#","status":{"errorCode":0},"authenticationRequirement":"multiFactorAuthentication",
           "tokenIssuerType":"ADFederationServices",
           "authenticationDetails":[{"authenticationMethod":"Previously satisfied","succeeded":true,
           "authenticationStepResultDetail":"MFA requirement satisfied by claim provided by external provider"}]"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Upstream);
}

#[test]
fn failed_mfa_push_denied_is_failed() {
    let e = one(&graph(
        r#","status":{"errorCode":500121,"failureReason":"Authentication failed during strong authentication request.",
           "additionalDetails":"MFA denied; user declined the authentication"},
           "authenticationRequirement":"multiFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Password","succeeded":true},
           {"authenticationMethod":"Mobile app notification","succeeded":false,
            "authenticationStepResultDetail":"MFA denied; user declined the authentication"}]"#,
    ));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.mfa, MfaClaim::Failed);
    assert_eq!(e.factors, ["Password"]);
}

#[test]
fn multi_factor_success_without_details_is_silent() {
    let e = one(&row(r#","ResultType":"0","AuthenticationRequirement":"multiFactorAuthentication""#));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.auth_requirement.as_deref(), Some("multiFactorAuthentication"));
}

#[test]
fn single_factor_success_is_single_factor() {
    let e = one(&row(r#","ResultType":"0","AuthenticationRequirement":"singleFactorAuthentication""#));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
}

#[test]
fn v1_record_without_requirement_is_silent() {
    let e = one(&graph(r#","status":{"errorCode":0,"failureReason":null,"additionalDetails":null}"#));
    assert_eq!(e.mfa, MfaClaim::Silent);
    assert_eq!(e.auth_requirement, None);
}

#[test]
fn deprecated_mfa_detail_alone_is_weak_verified() {
    let e = one(&graph(
        r#","status":{"errorCode":0},"mfaDetail":{"authMethod":"Mobile app notification","authDetail":null}"#,
    ));
    assert_eq!(e.mfa, MfaClaim::Verified);
    let e = one(&graph(r#","status":{"errorCode":0},"mfaDetail":{}"#));
    assert_eq!(e.mfa, MfaClaim::Silent);
}

// ---------------------------------------------------------------- Elastic ECS

const ECS_PROPS: &str = r#"{"id":"ecs-1","created_at":"2026-03-02T08:15:42.6195833+00:00",
    "user_principal_name":"alice@example.com","user_id":"u-1","user_display_name":"Alice",
    "app_id":"app-1","app_display_name":"AWS","autonomous_system_number":64500,
    "authentication_requirement":"multiFactorAuthentication",
    "authentication_details":[{"authentication_method":"Password","succeeded":true},
      {"authentication_method":"Mobile app notification","succeeded":true,
       "authentication_step_result_detail":"MFA successfully completed"}],
    "status":{"error_code":0},"session_id":"s-1","resource_tenant_id":"t-res"}"#;

#[test]
fn elastic_document_without_original_reads_snake_case_properties() {
    let raw = format!(
        r#"{{"@timestamp":"2026-03-02T08:15:42.619Z","azure":{{"tenant_id":"t-ecs","signinlogs":{{
            "category":"SignInLogs","result_type":"0","operation_name":"Sign-in activity",
            "caller_ip_address":"198.51.100.9","properties":{ECS_PROPS}}}}},
            "source":{{"ip":"198.51.100.7","as":{{"number":1}}}},"user_agent":{{"original":"UA/2"}},
            "geo":{{"country_iso_code":"IE"}},"event":{{"action":"Sign-in activity"}}}}"#
    );
    let e = one(&raw);
    assert_eq!(e.event_id, "ecs-1");
    assert_eq!(e.time_ms, T0 + 619);
    assert_eq!(e.tenant.as_deref(), Some("t-ecs"));
    assert_eq!(e.native_type, "SignInLogs");
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
    assert_eq!(e.source_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(e.user_agent.as_deref(), Some("UA/2"));
    assert_eq!(e.country.as_deref(), Some("IE"));
    assert_eq!(e.asn, Some(64500));
    assert_eq!(e.session_id.as_deref(), Some("s-1"));
    assert_eq!(e.mfa, MfaClaim::Verified);
    assert_eq!(e.factors, ["Password", "Mobile app notification"]);
}

#[test]
fn elastic_document_with_event_original_parses_the_original() {
    let original = monitor("", r#","status":{"errorCode":0},"authenticationRequirement":"singleFactorAuthentication""#);
    let doc = serde_json::json!({
        "@timestamp": "2026-03-02T08:15:42.000Z",
        "azure": {"tenant_id": "ignored", "signinlogs": {"category": "SignInLogs", "properties": {"id": "other"}}},
        "event": {"original": original, "action": "Sign-in activity"},
    });
    let e = one(&doc.to_string());
    assert_eq!(e.event_id, "m-1");
    assert_eq!(e.tenant.as_deref(), Some("t-env"));
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
}

#[test]
fn elastic_service_principal_document_is_irrelevant() {
    let raw = r#"{"@timestamp":"2026-03-02T08:15:42Z","azure":{"tenant_id":"t","signinlogs":{
                  "category":"ServicePrincipalSignInLogs","properties":{"id":"sp"}}}}"#;
    assert_eq!(irrelevant(raw), (Some(T0), Some("t".to_owned())));
}

// ---------------------------------------------------------------- forced formats and garbage

#[test]
fn forced_formats_accept_their_shape_and_refuse_others() {
    let g = graph("");
    let m = monitor("", "");
    let r = row("");
    assert!(matches!(parse_record(g.as_bytes(), Format::Graph), Ok(Parsed::Relevant { .. })));
    assert!(matches!(parse_record(m.as_bytes(), Format::AzureMonitor), Ok(Parsed::Relevant { .. })));
    assert!(matches!(parse_record(r.as_bytes(), Format::LogAnalytics), Ok(Parsed::Relevant { .. })));
    assert!(matches!(parse_record(m.as_bytes(), Format::Graph), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(m.as_bytes(), Format::LogAnalytics), Err(ParseError::WrongShape { .. })));
    assert!(matches!(parse_record(g.as_bytes(), Format::AzureMonitor), Err(ParseError::WrongShape { .. })));
}

#[test]
fn log_analytics_row_forced_as_graph_keeps_graph_tenant_rules() {
    // Forced Graph on a PascalCase row still reads the columns, but names it `signIn`.
    match parse_record(row(r#","ResourceTenantId":"t-res""#).as_bytes(), Format::Graph) {
        Ok(Parsed::Relevant { events, .. }) => {
            assert_eq!(events[0].native_type, "signIn");
            assert_eq!(events[0].tenant.as_deref(), Some("t-res"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_id_is_reported_in_the_shape_terms() {
    assert_eq!(err(br#"{"createdDateTime":"2026-03-02T08:15:42Z"}"#), ParseError::Missing("id"));
    let raw =
        r#"{"time":"2026-03-02T08:15:42Z","category":"SignInLogs","properties":{"userPrincipalName":"a@example.com"}}"#;
    assert_eq!(err(raw.as_bytes()), ParseError::Missing("properties.id"));
    assert_eq!(err(br#"{"CreatedDateTime":"2026-03-02T08:15:42Z","Type":"SigninLogs"}"#), ParseError::Missing("Id"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(err(b"not json"), ParseError::Json(_)));
    assert!(matches!(err(b"{\"id\":"), ParseError::Json(_)));
    assert!(matches!(err(b""), ParseError::Json(_)));
    assert!(matches!(err(b"42"), ParseError::WrongShape { .. }));
    assert!(matches!(err(b"[1,2]"), ParseError::WrongShape { .. }));
    assert!(matches!(err(b"{}"), ParseError::WrongShape { .. }));
    // A CloudTrail record is not an Entra sign-in.
    let ct = br#"{"eventVersion":"1.08","eventName":"ConsoleLogin","eventID":"x","eventTime":"2026-03-02T08:15:42Z"}"#;
    assert!(matches!(err(ct), ParseError::WrongShape { .. }));
    // An Okta event: no Entra keys.
    let okta = br#"{"uuid":"x","published":"2026-03-02T08:15:42Z","eventType":"user.session.start"}"#;
    assert!(matches!(err(okta), ParseError::WrongShape { .. }));
}

#[test]
fn wrong_field_types_name_the_field() {
    let e = err(graph(r#","status":{"errorCode":{"nested":1}}"#).as_bytes());
    let ParseError::WrongShape { why, .. } = e else { panic!("{e:?}") };
    assert!(why.contains("in `status`: in `errorCode`"), "{why}");
    let e = err(graph(r#","authenticationDetails":[{"succeeded":"maybe"}]"#).as_bytes());
    assert!(matches!(e, ParseError::WrongShape { .. }), "{e:?}");
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_record(&bytes, Format::Auto);
    }

    #[test]
    fn never_panics_on_mutated_records(cut in 0usize..400, byte in any::<u8>()) {
        let src = monitor(r#","location":"NL""#, r#","status":{"errorCode":0},"authenticationDetails":"[{\"succeeded\":true}]""#);
        let mut b = src.into_bytes();
        let i = cut % b.len();
        b[i] = byte;
        for f in Format::ALL {
            let _ = parse_record(&b, f);
            let _ = parse_record(&b[..i], f);
        }
    }
}

// ---------------------------------------------------------------- AD FS (D4)

/// An AD FS row in each shape: Azure Monitor, Log Analytics, Elastic without `event.original`.
#[test]
fn adfs_sign_ins_are_adfs_app_sso_in_every_shape() {
    let steps = r#"[{"authenticationMethod":"Password","authenticationMethodDetail":"Forms Authentication","succeeded":true},
        {"authenticationMethod":"Azure MFA","succeeded":true}]"#;
    let records = [
        monitor(
            r#","category":"ADFSSignInLogs""#,
            &format!(
                r#","appId":"rp-1","appDisplayName":"AWS","sessionId":"s-9","correlationId":"corr-9","authenticationDetails":{steps}"#
            ),
        ),
        row(&format!(
            r#","Type":"ADFSSignInLogs","Category":"ADFSSignInLogs","AADTenantId":"t-1","AppId":"rp-1",
               "AppDisplayName":"AWS","ResultType":"0","SessionId":"s-9","CorrelationId":"corr-9","AuthenticationDetails":{}"#,
            serde_json::to_string(steps).unwrap()
        )),
        format!(
            r#"{{"@timestamp":"2026-03-02T08:16:00Z","azure":{{"tenant_id":"t-1","signinlogs":{{
                "category":"ADFSSignInLogs","result_type":"0","properties":{{"id":"e-1",
                "created_at":"2026-03-02T08:15:42Z","user_principal_name":"alice@example.com",
                "app_id":"rp-1","app_display_name":"AWS","session_id":"s-9","correlation_id":"corr-9","authentication_details":{steps}}}}}}},
                "source":{{"ip":"198.51.100.8"}}}}"#
        ),
    ];
    for raw in &records {
        let Ok(Parsed::Relevant { native_id, events }) = parse_record(raw.as_bytes(), Format::Auto) else {
            panic!("relevant expected: {raw}")
        };
        let e = &events[0];
        assert_eq!(e.event_id, native_id);
        assert_eq!((e.provider, e.kind), (Idp::Adfs, IdpEventKind::AppSso), "{raw}");
        assert_eq!(e.native_type, "ADFSSignInLogs");
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(e.mfa, MfaClaim::Verified, "{raw}");
        assert_eq!(e.factors, ["Forms Authentication", "Azure MFA"]);
        assert_eq!((e.app_id.as_deref(), e.app_name.as_deref()), (Some("rp-1"), Some("AWS")));
        // Not the row's `sessionId`: the AD FS sign-in it is a step of.
        assert_eq!(e.session_id.as_deref(), Some("corr-9"), "{raw}");
        assert_eq!(e.time_ms, T0);
    }
}

/// Connect Health writes `singleFactorAuthentication` in every AD FS row (a known issue), so the
/// requirement does not decide an AD FS sign-in; the steps do.
#[test]
fn adfs_requirement_is_not_read() {
    let raw = monitor(
        r#","category":"ADFSSignInLogs""#,
        r#","authenticationRequirement":"singleFactorAuthentication",
           "authenticationDetails":[{"authenticationMethod":"Certificate","succeeded":true}]"#,
    );
    let Ok(Parsed::Relevant { events, .. }) = parse_record(raw.as_bytes(), Format::Auto) else { panic!() };
    assert_eq!(events[0].mfa, MfaClaim::Verified);
    assert_eq!(events[0].auth_requirement.as_deref(), Some("singleFactorAuthentication"));
}

#[test]
fn adfs_failed_and_unknown_outcomes() {
    let raw = monitor(
        r#","category":"ADFSSignInLogs","resultType":"300030""#,
        r#","authenticationDetails":[{"authenticationMethod":"Password","authenticationMethodDetail":"Forms Authentication","succeeded":false}]"#,
    );
    let Ok(Parsed::Relevant { events, .. }) = parse_record(raw.as_bytes(), Format::Auto) else { panic!() };
    assert_eq!((events[0].outcome, events[0].mfa), (Outcome::Failure, MfaClaim::Silent));
    assert!(events[0].factors.is_empty());
    let raw = r#"{"category":"ADFSSignInLogs","tenantId":"t","properties":{"id":"a-2","createdDateTime":"2026-03-02T08:15:42Z",
        "userPrincipalName":"bob@example.com","status":{},
        "authenticationDetails":[{"authenticationMethod":"Password","authenticationMethodDetail":"Forms Authentication","succeeded":true}]}}"#;
    let Ok(Parsed::Relevant { events, .. }) = parse_record(raw.as_bytes(), Format::Auto) else { panic!() };
    assert_eq!((events[0].outcome, events[0].mfa), (Outcome::Unknown, MfaClaim::SingleFactor));
}
