//! The shape-independent half of the parser: the facts a record states, named as CloudTrail
//! names them ([`Fields`]), turned into one normalized [`AwsEvent`] by [`build`].
//!
//! Native records, LookupEvents events and ECS documents each fill a [`Fields`]; every rule
//! about outcome, MFA, identity and the issuing calls lives here once.

use trailproof_model::aws::split_arn;
use trailproof_model::{AwsEvent, AwsEventKind, Millis, Outcome, ParseError, Parsed, parse_time};

/// `userIdentity.userName` of a failed ConsoleLogin with an unknown user name. Kept as written;
/// nothing is derived from it.
pub(crate) const HIDDEN_USER: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// The field names a shape uses for the keys it must have (for error messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    pub id: &'static str,
    pub time: &'static str,
    pub source: &'static str,
    pub name: &'static str,
}

pub(crate) const NATIVE_NAMES: Names =
    Names { id: "eventID", time: "eventTime", source: "eventSource", name: "eventName" };
pub(crate) const ECS_NAMES: Names =
    Names { id: "event.id", time: "@timestamp", source: "event.provider", name: "event.action" };

/// What one record says, in CloudTrail's terms. All strings are non-empty when `Some`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields<'x> {
    pub event_id: Option<&'x str>,
    pub event_time: Option<&'x str>,
    pub event_source: Option<&'x str>,
    pub event_name: Option<&'x str>,
    pub region: Option<&'x str>,
    pub recipient_account_id: Option<&'x str>,
    pub source_ip: Option<&'x str>,
    pub user_agent: Option<&'x str>,
    pub error_code: Option<&'x str>,
    pub error_message: Option<&'x str>,
    // userIdentity
    pub ui_type: Option<&'x str>,
    pub ui_arn: Option<&'x str>,
    pub ui_principal_id: Option<&'x str>,
    pub ui_account_id: Option<&'x str>,
    pub ui_user_name: Option<&'x str>,
    pub ui_access_key_id: Option<&'x str>,
    /// `userIdentity.onBehalfOf.userId` (Identity Center caller).
    pub ui_on_behalf_of_user_id: Option<&'x str>,
    /// `userIdentity.credentialId` (Identity Center caller's portal session).
    pub ui_credential_id: Option<&'x str>,
    pub sc_source_identity: Option<&'x str>,
    pub sc_mfa_authenticated: Option<&'x str>,
    pub si_type: Option<&'x str>,
    pub si_arn: Option<&'x str>,
    pub si_user_name: Option<&'x str>,
    // additionalEventData
    pub mfa_used: Option<&'x str>,
    pub login_to: Option<&'x str>,
    pub saml_provider_arn: Option<&'x str>,
    pub credential_type: Option<&'x str>,
    pub auth_workflow_id: Option<&'x str>,
    /// `additionalEventData.UserName` (Identity Center sign-in, 2025).
    pub aed_user_name: Option<&'x str>,
    /// `responseElements.<eventName>`, else `serviceEventDetails.<eventName>` ("Success"/"Failure").
    pub status: Option<&'x str>,
    // responseElements of issuing calls
    pub resp_subject: Option<&'x str>,
    pub resp_subject_type: Option<&'x str>,
    pub resp_issuer: Option<&'x str>,
    pub resp_name_qualifier: Option<&'x str>,
    pub resp_source_identity: Option<&'x str>,
    pub resp_assumed_role_arn: Option<&'x str>,
    pub resp_federated_user_arn: Option<&'x str>,
    pub resp_access_key_id: Option<&'x str>,
    // requestParameters
    pub req_principal_arn: Option<&'x str>,
    pub req_source_identity: Option<&'x str>,
    pub req_name: Option<&'x str>,
    pub req_role_arn: Option<&'x str>,
    pub req_role_session_name: Option<&'x str>,
    /// The `AWS::IAM::SAMLProvider` ARN from `resources[]`.
    pub resource_saml_provider: Option<&'x str>,
    /// A shape's own outcome statement (ECS `event.outcome`), used only when the record has no
    /// status of its own.
    pub outcome_hint: Option<&'x str>,
}

/// `"ACCOUNT/REGION"`, or `None` when either part is unknown. Built without the formatting
/// machinery: the peek builds one for every record it skips.
pub(crate) fn scope(account: Option<&str>, region: Option<&str>) -> Option<String> {
    let (a, r) = (account?.trim(), region?.trim());
    let mut s = String::with_capacity(a.len() + 1 + r.len());
    s.push_str(a);
    s.push('/');
    s.push_str(r);
    Some(s)
}

/// Parses a record time: RFC 3339 in every form [`parse_time`] accepts, or epoch seconds
/// (LookupEvents' raw API sends `EventTime` as a number; values above 10^11 are read as
/// milliseconds).
pub(crate) fn parse_any_time(s: &str) -> Result<Millis, String> {
    let t = s.trim();
    if !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'e' || b == b'E' || b == b'+')
    {
        let v: f64 = t.parse().map_err(|_| format!("not a time stamp: {t:?}"))?;
        if !v.is_finite() || v.abs() > 1e15 {
            return Err(format!("epoch value out of range: {t:?}"));
        }
        let ms = if v.abs() >= 1e11 { v } else { v * 1000.0 };
        return Ok(ms.floor() as Millis);
    }
    parse_time(t)
}

/// Whether `name` is the `eventName` of a kept event (any event source).
fn is_kept_name(name: &str) -> bool {
    AwsEventKind::ALL.iter().any(|k| k.event_name() == name)
}

/// Whether `source` is the `eventSource` of kept events.
fn is_kept_source(source: &str) -> bool {
    matches!(source, "signin.amazonaws.com" | "sts.amazonaws.com" | "sso.amazonaws.com")
}

/// Classifies a record, or says why a record that names a kept event cannot be classified.
///
/// A record with a kept `eventName` but no `eventSource` (or a sign-in `eventSource` and no
/// `eventName`) is an error, not "irrelevant": it would otherwise vanish silently.
pub(crate) fn classify(
    source: Option<&str>,
    name: Option<&str>,
    names: Names,
) -> Result<Option<AwsEventKind>, ParseError> {
    match (source, name) {
        (Some(s), Some(n)) => Ok(AwsEventKind::classify(s, n)),
        (None, Some(n)) if is_kept_name(n) => Err(ParseError::Missing(names.source)),
        (Some(s), None) if is_kept_source(s) => Err(ParseError::Missing(names.name)),
        _ => Ok(None),
    }
}

/// The `Irrelevant` value for a record that is not a kept event. An unreadable time is `None`
/// (the record is not needed; it only loses its coverage contribution).
pub(crate) fn irrelevant(time: Option<&str>, scope: Option<String>) -> Parsed<AwsEvent> {
    Parsed::Irrelevant { time_ms: time.and_then(|t| parse_any_time(t).ok()), scope }
}

/// `"Yes"`/`"No"` in any case (also `true`/`false`); anything else is unknown.
pub(crate) fn yes_no(s: Option<&str>) -> Option<bool> {
    let s = s?.trim();
    if s.eq_ignore_ascii_case("yes") || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn own(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

/// The user name a record states: `userIdentity.userName`, else (Identity Center sign-in events
/// since 2025, whose `userIdentity` no longer carries it) `additionalEventData.UserName`.
/// IAM Identity Center User Guide, "Username in sign-in CloudTrail events": the `UserName` is
/// emitted on the `CredentialChallenge` of a password (`PASSWORD`) or one-time-password
/// (`EMAIL_OTP`) sign-in and on the `UserAuthentication` of an external-IdP (`EXTERNAL_IDP`)
/// sign-in; it is `HIDDEN_DUE_TO_SECURITY_REASONS` after a mistyped user name (kept as written).
fn user_name<'x>(f: &Fields<'x>) -> Option<&'x str> {
    f.ui_user_name.or(f.aed_user_name)
}

/// Role name and session name of the calling identity (the ARN first, then `principalId`).
fn identity_names(f: &Fields) -> (Option<String>, Option<String>) {
    if user_name(f) == Some(HIDDEN_USER) {
        // A failed sign-in with an unknown user name: the identity fields describe nobody.
        return (None, None);
    }
    let parts = f.ui_arn.and_then(split_arn);
    let rtype = parts.as_ref().map(|p| p.resource_type.clone()).unwrap_or_default();
    let rtype = rtype.as_str();
    let ptype = f.ui_type.unwrap_or("");
    let assumed = rtype == "assumed-role" || ptype.eq_ignore_ascii_case("AssumedRole");
    let federated = rtype == "federated-user" || ptype.eq_ignore_ascii_case("FederatedUser");
    let (mut role, mut session) = match (rtype, parts) {
        ("assumed-role", Some(p)) => (p.name, p.session),
        ("federated-user", Some(p)) => (None, p.session),
        _ => (None, None),
    };
    if session.is_none() && (assumed || federated) {
        // AssumedRole: "AROA...:session"; FederatedUser: "ACCOUNT:name".
        session = f
            .ui_principal_id
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
            .and_then(crate::de::non_empty)
            .map(str::to_owned);
    }
    if role.is_none() && assumed {
        role = own(f.si_user_name)
            .or_else(|| f.si_arn.and_then(split_arn).filter(|p| p.resource_type == "role").and_then(|p| p.name));
    }
    (role, session)
}

/// Builds the normalized event. See the crate docs for the rules.
pub(crate) fn build(f: &Fields, names: Names) -> Result<Parsed<AwsEvent>, ParseError> {
    let account = f.recipient_account_id.or(f.ui_account_id);
    let Some(kind) = classify(f.event_source, f.event_name, names)? else {
        return Ok(irrelevant(f.event_time, scope(account, f.region)));
    };
    let event_id = f.event_id.ok_or(ParseError::Missing(names.id))?.trim().to_owned();
    let t = f.event_time.ok_or(ParseError::Missing(names.time))?;
    let time_ms = parse_any_time(t).map_err(|why| ParseError::invalid(names.time, t, why))?;

    let (mut role_name, mut session_name) = identity_names(f);
    let mut e = AwsEvent {
        event_id: event_id.clone(),
        time_ms,
        kind: Some(kind),
        account_id: own(account),
        region: own(f.region),
        outcome: outcome(f, kind),
        error_code: own(f.error_code),
        error_message: own(f.error_message),
        principal_type: own(f.ui_type),
        arn: own(f.ui_arn),
        principal_id: own(f.ui_principal_id),
        user_name: own(user_name(f)),
        session_issuer_arn: own(f.si_arn),
        session_issuer_type: own(f.si_type),
        source_identity: own(f.sc_source_identity),
        mfa_authenticated: yes_no(f.sc_mfa_authenticated),
        mfa_used: yes_no(f.mfa_used),
        saml_provider_arn: own(f.saml_provider_arn),
        issued_access_key_id: own(f.resp_access_key_id),
        access_key_id: own(f.ui_access_key_id),
        source_ip: own(f.source_ip),
        user_agent: own(f.user_agent),
        credential_type: own(f.credential_type),
        login_to: own(f.login_to),
        auth_workflow_id: own(f.auth_workflow_id),
        identity_store_user_id: own(f.ui_on_behalf_of_user_id),
        credential_id: own(f.ui_credential_id),
        ..AwsEvent::default()
    };
    match kind {
        AwsEventKind::AssumeRoleWithSaml => {
            e.saml_provider_arn = own(f.req_principal_arn.or(f.resource_saml_provider).or(f.saml_provider_arn));
            e.saml_subject = own(f.resp_subject);
            e.saml_subject_type = own(f.resp_subject_type);
            e.saml_issuer = own(f.resp_issuer);
            e.saml_name_qualifier = own(f.resp_name_qualifier);
            e.source_identity = own(f.resp_source_identity.or(f.req_source_identity).or(f.sc_source_identity));
            e.issued_arn = own(f.resp_assumed_role_arn);
            // The SAMLUser caller has no ARN: the session's names come from the issued ARN.
            let issued = f.resp_assumed_role_arn.and_then(split_arn).filter(|p| p.resource_type == "assumed-role");
            let (r, s) = issued.map(|p| (p.name, p.session)).unwrap_or_default();
            role_name = r.or_else(|| f.req_role_arn.and_then(split_arn).and_then(|p| p.name));
            session_name = s.or_else(|| own(f.req_role_session_name));
            // The issued session's issuer is the role it assumed.
            if let Some(role_arn) = f.req_role_arn {
                e.session_issuer_arn = Some(role_arn.to_owned());
                e.session_issuer_type = Some("Role".to_owned());
            }
        }
        AwsEventKind::GetFederationToken => {
            e.issued_arn = own(f.resp_federated_user_arn);
            let issued = f.resp_federated_user_arn.and_then(split_arn).filter(|p| p.resource_type == "federated-user");
            session_name = issued.and_then(|p| p.session).or_else(|| own(f.req_name));
            role_name = None;
            // The federated session's issuer is the caller (the broker IAM user or root).
            e.session_issuer_arn = own(f.ui_arn);
            e.session_issuer_type = own(f.ui_type);
        }
        _ => {}
    }
    e.role_name = role_name;
    e.session_name = session_name;
    Ok(Parsed::Relevant { native_id: event_id, events: vec![e] })
}

/// Outcome rules: an `errorCode`/`errorMessage` is a failure; otherwise the event's own status
/// (`responseElements.ConsoleLogin`, `serviceEventDetails.UserAuthentication`, ...) in any case;
/// otherwise a ConsoleLogin is unknown and any other call succeeded.
fn outcome(f: &Fields, kind: AwsEventKind) -> Outcome {
    if f.error_code.is_some() || f.error_message.is_some() {
        return Outcome::Failure;
    }
    let word = |s: &str| {
        let s = s.trim();
        if s.eq_ignore_ascii_case("success") {
            Outcome::Success
        } else if s.eq_ignore_ascii_case("failure") {
            Outcome::Failure
        } else {
            Outcome::Unknown
        }
    };
    match f.status.map(word) {
        Some(o @ (Outcome::Success | Outcome::Failure)) => o,
        _ if kind == AwsEventKind::ConsoleLogin => f.outcome_hint.map(word).unwrap_or(Outcome::Unknown),
        _ => Outcome::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_iso_times() {
        assert_eq!(parse_any_time("2024-05-01T09:00:04Z"), Ok(1_714_554_004_000));
        assert_eq!(parse_any_time("1714554004"), Ok(1_714_554_004_000));
        assert_eq!(parse_any_time("1714554004.25"), Ok(1_714_554_004_250));
        assert_eq!(parse_any_time("1714554004123"), Ok(1_714_554_004_123));
        assert!(parse_any_time("1e400").is_err());
        assert!(parse_any_time("redacted").is_err());
        assert!(parse_any_time("").is_err());
    }

    #[test]
    fn yes_no_any_case() {
        for y in ["Yes", "YES", "yes", " yes ", "true"] {
            assert_eq!(yes_no(Some(y)), Some(true), "{y}");
        }
        for n in ["No", "NO", "no", "false"] {
            assert_eq!(yes_no(Some(n)), Some(false), "{n}");
        }
        assert_eq!(yes_no(Some("maybe")), None);
        assert_eq!(yes_no(None), None);
    }

    #[test]
    fn scope_needs_both_parts() {
        assert_eq!(scope(Some("111122223333"), Some("us-east-1")).as_deref(), Some("111122223333/us-east-1"));
        assert_eq!(scope(None, Some("us-east-1")), None);
        assert_eq!(scope(Some("111122223333"), None), None);
    }
}
