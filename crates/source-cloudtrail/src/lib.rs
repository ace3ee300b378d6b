//! CloudTrail records → normalized [`AwsEvent`]s.
//!
//! The ingest splitter hands [`parse_record`] one record's bytes at a time. Before that,
//! [`prefilter`] decides from the bytes alone whether the record can be a kept event at all
//! (most CloudTrail records cannot), and [`peek_time_scope`] still counts the skipped ones for
//! coverage without a JSON parse.
//!
//! # Formats accepted (detected per record with [`Format::Auto`])
//!
//! | shape | recognised by | notes |
//! |---|---|---|
//! | native record (S3 `{"Records":[..]}` element, Lake/EventBridge copies) | `eventID`, `eventTime`, `eventSource`, `eventName` or `userIdentity` | formats.md 1.1–1.6 |
//! | LookupEvents event | `CloudTrailEvent` or `EventId` | `CloudTrailEvent` is a JSON string holding a native record (an object is accepted too); its fields win; the outer `EventId`/`EventTime`/`EventSource`/`EventName` fill gaps. `EventTime` may be an ISO string (awscli) or epoch seconds (raw API). formats.md 1.7 |
//! | Elasticsearch search hit | `_source` | the `_source` object is parsed with the same format |
//! | ECS document (Elastic Agent / Filebeat `aws.cloudtrail`) | `event.id`/`event.action`/`event.provider`/`event.original` | nested objects, dotted keys or both. `event.original`, when kept, is parsed as the native record and wins. formats.md 1.9 |
//!
//! # Field mapping (native name → [`AwsEvent`] field; ECS name in parentheses)
//!
//! - `eventID` (ECS `event.id`) → `event_id` and the native id; `eventTime` (ECS `@timestamp`) →
//!   `time_ms` ([`trailproof_model::parse_time`]: 0–9 fraction digits, offsets; epoch numbers
//!   are read as seconds, or milliseconds above 10^11).
//! - `(eventSource, eventName)` (ECS `event.provider`, `event.action`) → `kind`
//!   ([`AwsEventKind::classify`]). `eventType` is not needed and not read (its spellings vary:
//!   `AwsConsoleSignIn`, `AwsConsoleSignin`, `ConsoleSignin`, and `AwsApiCall` on some
//!   GetSigninToken records).
//! - `recipientAccountId` (ECS `aws.cloudtrail.recipient_account_id`), else `userIdentity.accountId`
//!   (ECS `cloud.account.id`) → `account_id`; `awsRegion` (ECS `cloud.region`) → `region`. The coverage
//!   scope ([`scope_of`]) is `"ACCOUNT/REGION"`.
//! - `sourceIPAddress` (ECS `source.address`, else `source.ip`), `userAgent` (ECS `user_agent.original`),
//!   `errorCode`/`errorMessage` (ECS `aws.cloudtrail.error_code`/`error_message`).
//! - `userIdentity.type/arn/principalId/userName/accessKeyId` (ECS `aws.cloudtrail.user_identity.type`,
//!   `.arn`, `user.id`, `user.name` (see below), `.access_key_id`). Empty strings are absent
//!   (ConsoleLogin's `accessKeyId: ""`, Identity Center's `arn: ""`). A `userName` of
//!   `HIDDEN_DUE_TO_SECURITY_REASONS` (failed login, unknown user name; formats.md 1.2) is kept
//!   as written and nothing is derived from it.
//! - `user_name` = `userIdentity.userName`, else `additionalEventData.UserName` (ECS: `user.name`,
//!   else `aws.cloudtrail.flattened.additional_eventdata.UserName`): Identity Center stopped
//!   writing `userIdentity.userName` in 2025 (decision D2; see "Identity Center sign-in" below).
//! - `userIdentity.onBehalfOf.userId` → `identity_store_user_id`, `userIdentity.credentialId` →
//!   `credential_id`, `additionalEventData.AuthWorkflowID` (ECS
//!   `aws.cloudtrail.flattened.additional_eventdata.AuthWorkflowID`) → `auth_workflow_id`, on every
//!   kept event that carries them, whatever the `userIdentity.type`. The Elastic pipeline keeps
//!   neither `onBehalfOf` nor `credentialId` in a field of its own: from ECS fields alone they are
//!   absent (its `actor.entity.id` is not read: which identifier it holds is UNCONFIRMED).
//! - `sessionContext.sessionIssuer.arn/type`, `sessionContext.sourceIdentity`,
//!   `sessionContext.attributes.mfaAuthenticated` ("true"/"false", any case).
//! - `role_name`/`session_name` (formats.md 1.2, 1.3, 5): from the ARN (`assumed-role/ROLE/SESSION`,
//!   `federated-user/NAME`, every partition, via [`trailproof_model::aws::split_arn`]); else, for
//!   AssumedRole/FederatedUser callers, the session from `principalId` after the first `:`
//!   (`AROA…:session`, `ACCOUNT:name`) and the role from `sessionIssuer.userName`/`arn`.
//!   ConsoleLogin records often have no `sessionContext` at all.
//! - `additionalEventData.MFAUsed` (ECS `aws.cloudtrail.flattened.additional_eventdata.MFAUsed`, else
//!   the boolean `aws.cloudtrail.console_login.additional_eventdata.mfa_used`) → `mfa_used`;
//!   `SamlProviderArn` → `saml_provider_arn`; `CredentialType` → `credential_type`; `LoginTo` →
//!   `login_to`. The ECS `aws.cloudtrail.additional_eventdata` is a Java map `toString`, not JSON,
//!   and is never parsed.
//! - AssumeRoleWithSAML (formats.md 1.4): `saml_provider_arn` = `requestParameters.principalArn`,
//!   else the `AWS::IAM::SAMLProvider` in `resources[]`; `saml_subject`/`saml_subject_type`/
//!   `saml_issuer`/`saml_name_qualifier` = `responseElements.subject/subjectType/issuer/nameQualifier`;
//!   `issued_arn` = `responseElements.assumedRoleUser.arn`, and role and session names are parsed
//!   from it (else `requestParameters.roleArn`/`roleSessionName`); `issued_access_key_id` =
//!   `responseElements.credentials.accessKeyId`; `source_identity` = response, else request
//!   `sourceIdentity`; `session_issuer_arn` = `requestParameters.roleArn` (type `Role`), the issuer
//!   of the session it creates. `principal_type` stays `SAMLUser`.
//! - GetFederationToken (formats.md 1.5): `issued_arn` = `responseElements.federatedUser.arn`,
//!   `session_name` from it (else `requestParameters.name`), `issued_access_key_id` from the
//!   credentials, `session_issuer_arn`/`_type` = the caller's ARN and type (the broker IAM user).
//! - `requestParameters`/`responseElements`/`additionalEventData`/`serviceEventDetails` may be
//!   `null`, absent, or a string holding JSON (parsed); anything unreadable is treated as absent.
//!
//! # Outcome and MFA rules
//!
//! - `errorCode` or `errorMessage` present → failure (formats.md 1.1: ConsoleLogin failures carry
//!   `errorMessage` and usually no `errorCode`).
//! - Otherwise the event's own status word, any case: `responseElements.<eventName>`
//!   (`ConsoleLogin`, `CheckMfa`, ...), else `serviceEventDetails.<eventName>` (Identity Center's
//!   AwsServiceEvent sign-in events, formats.md 1.6).
//! - Otherwise a ConsoleLogin is `unknown` (ECS: `event.outcome`), any other call a success.
//! - `MFAUsed` is read case-insensitively (`Yes`, `YES`, `yes`, `No`; formats.md 1.2: the AWS docs
//!   show `"YES"` for root). It is authoritative only for IAM users and root: federated sign-ins
//!   (SAML, Identity Center, GetFederationToken) always say `No`, the factor being checked at the
//!   IdP. `mfaAuthenticated` reflects AWS-side MFA only (formats.md 1.3).
//!
//! # Identity Center sign-in (`signin.amazonaws.com` CredentialChallenge, CredentialVerification, UserAuthentication)
//!
//! Sources: IAM Identity Center User Guide, "Understanding IAM Identity Center sign-in events"
//! and "Username in sign-in CloudTrail events"; CloudTrail User Guide, "CloudTrail userIdentity
//! element"; AWS Security Blog, "Important changes to CloudTrail events for AWS IAM Identity
//! Center" (effective July 14, 2025).
//!
//! - Outcome: `serviceEventDetails.<eventName>` (`Success`/`Failure`, any case). A challenge the
//!   user fails is a `CredentialVerification` with `Failure`; a sign-in that fails logs no
//!   `UserAuthentication`.
//! - `credential_type` = `additionalEventData.CredentialType` as written: one factor on a
//!   challenge or verification (`PASSWORD`, `TOTP`, `WEBAUTHN`, `EMAIL_OTP`, `RESYNC_TOTP`), the
//!   comma-separated list of verified factors on `UserAuthentication` (`PASSWORD,TOTP`), or
//!   `EXTERNAL_IDP` when an external IdP authenticated the user. `LoginTo` → `login_to`.
//!   (`DeviceEnrollmentRequired` is not kept.)
//! - `userIdentity` by period: eventVersion 1.08 `Unknown` with `userName` and `principalId` (the
//!   account); early 2025 `Unknown` with `userName` and `principalId` plus `onBehalfOf`,
//!   `credentialId` and `additionalEventData.UserName`; since July 14, 2025 (eventVersion 1.09+)
//!   `IdentityCenterUser` with `accountId`, `onBehalfOf` and `credentialId`, and no `userName`
//!   nor `principalId`. An unauthenticated user stays `Unknown`. `principal_type` is the type as
//!   written.
//! - `additionalEventData.UserName` is written once per successful sign-in: on the
//!   `CredentialChallenge` of a `PASSWORD` or `EMAIL_OTP` challenge, or on the `UserAuthentication`
//!   of an `EXTERNAL_IDP` sign-in. So since 2025 the `UserAuthentication` of a sign-in to Identity
//!   Center's own directory or AD names no user: its user is found through `auth_workflow_id`
//!   (the challenge of the same sign-in) or `identity_store_user_id`.
//!
//! # ECS specifics (formats.md 1.9)
//!
//! `user.name` holds `userIdentity.userName` only when there is no session issuer: the pipeline
//! overwrites it with `sessionIssuer.userName`, so for AssumedRole it is the role name. It is
//! used as the user name for identities without a session issuer and as the role-name fallback
//! otherwise, never as a session name. `sessionContext.sourceIdentity` is not mapped by the
//! pipeline (read from `aws.cloudtrail.user_identity.session_context.source_identity` if present).
//!
//! # Prefilter
//!
//! [`prefilter`] keeps a record iff its bytes contain `"signin.amazonaws.com"` or
//! `"sso.amazonaws.com"` as a whole JSON string (closing quote plain or escaped, so the
//! LookupEvents/`event.original` embedded forms count; mentions inside ARNs such as
//! `role/aws-reserved/sso.amazonaws.com/…` do not), or `GetFederationToken` or
//! `AssumeRoleWithSAML` anywhere. Every kept kind needs one of these verbatim, so the prefilter
//! never drops a kept event (a property test pins this), assuming producers do not write these
//! strings with `\u` escapes.

mod build;
mod de;
mod ecs;
mod native;
mod peek;
#[cfg(test)]
mod tests;

pub use peek::{FileScan, ScannedRecord};
pub use trailproof_model::{AwsEvent, AwsEventKind, ParseError, Parsed};

use native::Top;

/// Which record shape to expect. `Auto` detects per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Auto,
    Native,
    LookupEvents,
    Ecs,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Auto, Format::Native, Format::LookupEvents, Format::Ecs];

    /// `"auto"`, `"native"`, `"lookup-events"`, `"ecs"` (any case).
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Native => "native",
            Format::LookupEvents => "lookup-events",
            Format::Ecs => "ecs",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Cheap byte-level test run before any JSON parse. Returns false only when the record
/// certainly is not one of the kept events ([`AwsEventKind::classify`]). See the crate docs.
pub fn prefilter(raw: &[u8]) -> bool {
    peek::prefilter(raw)
}

/// For records the prefilter rejects: time and coverage scope without a JSON parse.
///
/// Time: the first `eventTime` key (plain or escaped inside a string), else LookupEvents'
/// `EventTime`, else ECS `@timestamp`. Account: `recipientAccountId`, else ECS
/// `aws.cloudtrail.recipient_account_id`, else `cloud.account.id` (dotted or nested). Region:
/// `awsRegion`, else `cloud.region` (dotted or nested). Scope is `"ACCOUNT/REGION"`, `None` when
/// either part is not found (the native `userIdentity.accountId` fallback of [`parse_record`]
/// is not attempted: its key also occurs in other objects).
pub fn peek_time_scope(raw: &[u8]) -> (Option<trailproof_model::Millis>, Option<String>) {
    peek::peek_time_scope(raw)
}

const EXPECTED: &str = "CloudTrail";

/// Full parse of one record. A kept event gives one [`AwsEvent`] (native id = `eventID`); a
/// well-formed record of any other event gives `Irrelevant` with its time and scope.
pub fn parse_record(raw: &[u8], format: Format) -> Result<Parsed<AwsEvent>, ParseError> {
    parse_depth(raw, format, 0)
}

fn parse_depth(raw: &[u8], format: Format, depth: u8) -> Result<Parsed<AwsEvent>, ParseError> {
    let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
            Ok(_) => {
                ParseError::WrongShape { expected: EXPECTED, why: format!("a JSON {}, not an object", kind_of(first)) }
            }
            Err(e) => ParseError::Json(e.to_string()),
        });
    }
    let top: Top = serde_json::from_slice(raw)?;
    if let Some(source) = top.es_source
        && !top.is_native()
        && depth < 4
    {
        return parse_depth(source.get().as_bytes(), format, depth + 1);
    }
    match format {
        Format::Native if top.is_native() => native::native(&top, None),
        Format::Native => Err(wrong("no eventID, eventTime, eventSource, eventName or userIdentity")),
        Format::LookupEvents if top.is_lookup() => native::lookup(&top),
        Format::LookupEvents => Err(wrong("a LookupEvents event needs CloudTrailEvent or EventId")),
        Format::Ecs => ecs(raw),
        Format::Auto if top.is_native() => native::native(&top, None),
        Format::Auto if top.is_lookup() => native::lookup(&top),
        Format::Auto => ecs(raw),
    }
}

fn wrong(why: &str) -> ParseError {
    ParseError::WrongShape { expected: EXPECTED, why: why.to_owned() }
}

fn kind_of(first: Option<u8>) -> &'static str {
    match first {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        None => "nothing",
        _ => "number",
    }
}

/// An ECS document: `event.original` wins when it parses as a native record.
fn ecs(raw: &[u8]) -> Result<Parsed<AwsEvent>, ParseError> {
    let doc = ecs::Ecs::read(raw)?;
    if let Some(original) = &doc.original
        && let Ok(top) = serde_json::from_str::<Top>(original)
        && top.is_native()
        && let Ok(parsed) = native::native(&top, None)
    {
        return Ok(parsed);
    }
    if !doc.is_ecs() {
        return Err(wrong(
            "no CloudTrail fields (eventID/eventName/eventSource), no LookupEvents CloudTrailEvent, no ECS event.id/event.action/event.provider",
        ));
    }
    doc.build()
}

/// Scope string for an event (`"ACCOUNT/REGION"`), used for coverage.
pub fn scope_of(e: &AwsEvent) -> Option<String> {
    build::scope(e.account_id.as_deref(), e.region.as_deref())
}
