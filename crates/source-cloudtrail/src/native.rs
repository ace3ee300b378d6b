//! Native CloudTrail records (S3 delivery, CloudTrail Lake exports, EventBridge `detail`) and
//! LookupEvents events, whose `CloudTrailEvent` string holds a native record.
//!
//! [`Top`] reads the top level of any record in one pass, borrowing scalars and capturing the
//! nested objects raw; the nested objects are only read when the record is a kept event (or,
//! for `userIdentity`, when an irrelevant record's scope needs its `accountId`).

use crate::build::{self, Fields, NATIVE_NAMES};
use crate::de::{OStr, Obj, Str, obj_from_raw, seq_from_raw};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use trailproof_model::{AwsEvent, ParseError, Parsed};

/// The top level of a record: native keys, LookupEvents keys, and markers of ECS documents.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub(crate) struct Top<'a> {
    #[serde(borrow, rename = "eventID")]
    pub event_id: Str<'a>,
    #[serde(borrow, rename = "eventTime")]
    pub event_time: Str<'a>,
    #[serde(borrow, rename = "eventSource")]
    pub event_source: Str<'a>,
    #[serde(borrow, rename = "eventName")]
    pub event_name: Str<'a>,
    #[serde(borrow, rename = "awsRegion")]
    pub aws_region: Str<'a>,
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip: Str<'a>,
    #[serde(borrow, rename = "userAgent")]
    pub user_agent: Str<'a>,
    #[serde(borrow, rename = "errorCode")]
    pub error_code: Str<'a>,
    #[serde(borrow, rename = "errorMessage")]
    pub error_message: Str<'a>,
    #[serde(borrow, rename = "recipientAccountId")]
    pub recipient_account_id: Str<'a>,
    #[serde(borrow, rename = "userIdentity")]
    pub user_identity: Option<&'a RawValue>,
    #[serde(borrow, rename = "requestParameters")]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow, rename = "responseElements")]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow, rename = "additionalEventData")]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(borrow, rename = "serviceEventDetails")]
    pub service_event_details: Option<&'a RawValue>,
    #[serde(borrow)]
    pub resources: Option<&'a RawValue>,

    // LookupEvents
    #[serde(borrow, rename = "EventId")]
    pub l_event_id: Str<'a>,
    #[serde(borrow, rename = "EventTime")]
    pub l_event_time: Str<'a>,
    #[serde(borrow, rename = "EventSource")]
    pub l_event_source: Str<'a>,
    #[serde(borrow, rename = "EventName")]
    pub l_event_name: Str<'a>,
    #[serde(borrow, rename = "CloudTrailEvent")]
    pub l_cloudtrail_event: Option<&'a RawValue>,

    // Elasticsearch / ECS
    #[serde(borrow, rename = "_source")]
    pub es_source: Option<&'a RawValue>,
}

impl Top<'_> {
    /// Has any key only a native record has.
    pub(crate) fn is_native(&self) -> bool {
        self.event_id.0.is_some()
            || self.event_time.0.is_some()
            || self.event_source.0.is_some()
            || self.event_name.0.is_some()
            || self.user_identity.is_some()
    }

    /// Has any key only a LookupEvents event has.
    pub(crate) fn is_lookup(&self) -> bool {
        self.l_cloudtrail_event.is_some() || self.l_event_id.0.is_some()
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct UserIdentity {
    #[serde(rename = "type")]
    kind: OStr,
    #[serde(rename = "principalId")]
    principal_id: OStr,
    arn: OStr,
    #[serde(rename = "accountId")]
    account_id: OStr,
    #[serde(rename = "userName")]
    user_name: OStr,
    #[serde(rename = "accessKeyId")]
    access_key_id: OStr,
    #[serde(rename = "sessionContext")]
    session_context: Obj<SessionContext>,
    /// Identity Center caller (eventVersion 1.09+ sign-in and portal events): the identity
    /// store's user. CloudTrail user guide, "CloudTrail userIdentity element", `onBehalfOf`.
    #[serde(rename = "onBehalfOf")]
    on_behalf_of: Obj<OnBehalfOf>,
    /// The bearer credential (the access portal session) of an Identity Center caller. Same page,
    /// `credentialId`.
    #[serde(rename = "credentialId")]
    credential_id: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct OnBehalfOf {
    #[serde(rename = "userId")]
    user_id: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SessionContext {
    #[serde(rename = "sessionIssuer")]
    session_issuer: Obj<SessionIssuer>,
    attributes: Obj<SessionAttributes>,
    #[serde(rename = "sourceIdentity")]
    source_identity: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SessionIssuer {
    #[serde(rename = "type")]
    kind: OStr,
    arn: OStr,
    #[serde(rename = "userName")]
    user_name: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SessionAttributes {
    #[serde(rename = "mfaAuthenticated")]
    mfa_authenticated: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct RequestParameters {
    #[serde(rename = "principalArn")]
    principal_arn: OStr,
    #[serde(rename = "sourceIdentity")]
    source_identity: OStr,
    name: OStr,
    #[serde(rename = "roleArn")]
    role_arn: OStr,
    #[serde(rename = "roleSessionName")]
    role_session_name: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct AdditionalEventData {
    #[serde(rename = "MFAUsed")]
    mfa_used: OStr,
    #[serde(rename = "LoginTo")]
    login_to: OStr,
    #[serde(rename = "SamlProviderArn")]
    saml_provider_arn: OStr,
    #[serde(rename = "CredentialType")]
    credential_type: OStr,
    /// Identity Center sign-in: shared by the events of one sign-in sequence.
    #[serde(rename = "AuthWorkflowID")]
    auth_workflow_id: OStr,
    /// Identity Center sign-in (2025): the user name the user signed in or federated with.
    #[serde(rename = "UserName")]
    user_name: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ArnHolder {
    arn: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Credentials {
    #[serde(rename = "accessKeyId")]
    access_key_id: OStr,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Resource {
    #[serde(rename = "ARN")]
    arn: OStr,
    #[serde(rename = "type")]
    kind: OStr,
}

/// `responseElements` or `serviceEventDetails`: the keys issuing calls carry, plus every
/// top-level scalar entry (`{"ConsoleLogin":"Success"}`, `{"UserAuthentication":"Success"}`).
#[derive(Default, Debug)]
struct Elements {
    assumed_role_arn: Option<String>,
    federated_user_arn: Option<String>,
    access_key_id: Option<String>,
    subject: Option<String>,
    subject_type: Option<String>,
    issuer: Option<String>,
    name_qualifier: Option<String>,
    source_identity: Option<String>,
    status: Vec<(String, String)>,
}

impl Elements {
    fn status_of(&self, event_name: &str) -> Option<&str> {
        self.status.iter().find(|(k, _)| k == event_name).map(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for Elements {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Elements;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Elements, M::Error> {
                let mut out = Elements::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let key: Cow<str> = key.0.unwrap_or_default();
                    let text = |map: &mut M| map.next_value::<OStr>().map(|v| v.get().map(str::to_owned));
                    match key.as_ref() {
                        "assumedRoleUser" => {
                            out.assumed_role_arn = map.next_value::<Obj<ArnHolder>>()?.0.and_then(|a| a.arn.0)
                        }
                        "federatedUser" => {
                            out.federated_user_arn = map.next_value::<Obj<ArnHolder>>()?.0.and_then(|a| a.arn.0)
                        }
                        "credentials" => {
                            out.access_key_id = map.next_value::<Obj<Credentials>>()?.0.and_then(|c| c.access_key_id.0)
                        }
                        "subject" => out.subject = text(&mut map)?,
                        "subjectType" => out.subject_type = text(&mut map)?,
                        "issuer" => out.issuer = text(&mut map)?,
                        "nameQualifier" => out.name_qualifier = text(&mut map)?,
                        "sourceIdentity" => out.source_identity = text(&mut map)?,
                        _ => {
                            if let Some(v) = text(&mut map)? {
                                out.status.push((key.into_owned(), v));
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// The nested objects of a kept record, read.
#[derive(Default)]
struct Parts {
    ui: UserIdentity,
    on_behalf_of: OnBehalfOf,
    sc: SessionContext,
    si: SessionIssuer,
    sa: SessionAttributes,
    rp: RequestParameters,
    re: Elements,
    aed: AdditionalEventData,
    sed: Elements,
    saml_resource: Option<String>,
}

impl Parts {
    fn read(top: &Top) -> Parts {
        let mut ui: UserIdentity = obj_from_raw(top.user_identity).unwrap_or_default();
        let mut sc = std::mem::take(&mut ui.session_context).0.unwrap_or_default();
        let si = std::mem::take(&mut sc.session_issuer).0.unwrap_or_default();
        let sa = std::mem::take(&mut sc.attributes).0.unwrap_or_default();
        let on_behalf_of = std::mem::take(&mut ui.on_behalf_of).0.unwrap_or_default();
        let saml_resource = seq_from_raw::<Resource>(top.resources)
            .into_iter()
            .filter_map(|r| {
                let arn = r.arn.get()?;
                let is_provider = r.kind.get() == Some("AWS::IAM::SAMLProvider") || arn.contains(":saml-provider/");
                is_provider.then(|| arn.to_owned())
            })
            .next();
        Parts {
            ui,
            on_behalf_of,
            sc,
            si,
            sa,
            rp: obj_from_raw(top.request_parameters).unwrap_or_default(),
            re: obj_from_raw(top.response_elements).unwrap_or_default(),
            aed: obj_from_raw(top.additional_event_data).unwrap_or_default(),
            sed: obj_from_raw(top.service_event_details).unwrap_or_default(),
            saml_resource,
        }
    }
}

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().and_then(crate::de::non_empty)
}

/// A LookupEvents event's outer fields, used where the embedded record lacks them.
pub(crate) struct Outer<'x> {
    pub event_id: Option<&'x str>,
    pub event_time: Option<&'x str>,
    pub event_source: Option<&'x str>,
    pub event_name: Option<&'x str>,
}

/// Parses a native record (its [`Top`] already read).
pub(crate) fn native(top: &Top, outer: Option<&Outer>) -> Result<Parsed<AwsEvent>, ParseError> {
    let event_source = top.event_source.get().or(outer.and_then(|o| o.event_source));
    let event_name = top.event_name.get().or(outer.and_then(|o| o.event_name));
    let event_time = top.event_time.get().or(outer.and_then(|o| o.event_time));
    let region = top.aws_region.get();
    if event_source.is_none() && event_name.is_none() {
        return Err(ParseError::WrongShape {
            expected: "CloudTrail",
            why: "the record has neither eventSource nor eventName".to_owned(),
        });
    }
    let Some(_) = build::classify(event_source, event_name, NATIVE_NAMES)? else {
        // Not a kept event: only its time and scope matter; read userIdentity only if needed.
        let account = match top.recipient_account_id.get() {
            Some(a) => Some(a.to_owned()),
            None => obj_from_raw::<UserIdentity>(top.user_identity).and_then(|u| u.account_id.get().map(str::to_owned)),
        };
        return Ok(build::irrelevant(event_time, build::scope(account.as_deref(), region)));
    };
    let p = Parts::read(top);
    let status = event_name.and_then(|n| p.re.status_of(n).or_else(|| p.sed.status_of(n)));
    let f = Fields {
        event_id: top.event_id.get().or(outer.and_then(|o| o.event_id)),
        event_time,
        event_source,
        event_name,
        region,
        recipient_account_id: top.recipient_account_id.get(),
        source_ip: top.source_ip.get(),
        user_agent: top.user_agent.get(),
        error_code: top.error_code.get(),
        error_message: top.error_message.get(),
        ui_type: p.ui.kind.get(),
        ui_arn: p.ui.arn.get(),
        ui_principal_id: p.ui.principal_id.get(),
        ui_account_id: p.ui.account_id.get(),
        ui_user_name: p.ui.user_name.get(),
        ui_access_key_id: p.ui.access_key_id.get(),
        ui_on_behalf_of_user_id: p.on_behalf_of.user_id.get(),
        ui_credential_id: p.ui.credential_id.get(),
        sc_source_identity: p.sc.source_identity.get(),
        sc_mfa_authenticated: p.sa.mfa_authenticated.get(),
        si_type: p.si.kind.get(),
        si_arn: p.si.arn.get(),
        si_user_name: p.si.user_name.get(),
        mfa_used: p.aed.mfa_used.get(),
        login_to: p.aed.login_to.get(),
        saml_provider_arn: p.aed.saml_provider_arn.get(),
        credential_type: p.aed.credential_type.get(),
        auth_workflow_id: p.aed.auth_workflow_id.get(),
        aed_user_name: p.aed.user_name.get(),
        status,
        resp_subject: opt(&p.re.subject),
        resp_subject_type: opt(&p.re.subject_type),
        resp_issuer: opt(&p.re.issuer),
        resp_name_qualifier: opt(&p.re.name_qualifier),
        resp_source_identity: opt(&p.re.source_identity),
        resp_assumed_role_arn: opt(&p.re.assumed_role_arn),
        resp_federated_user_arn: opt(&p.re.federated_user_arn),
        resp_access_key_id: opt(&p.re.access_key_id),
        req_principal_arn: p.rp.principal_arn.get(),
        req_source_identity: p.rp.source_identity.get(),
        req_name: p.rp.name.get(),
        req_role_arn: p.rp.role_arn.get(),
        req_role_session_name: p.rp.role_session_name.get(),
        resource_saml_provider: opt(&p.saml_resource),
        outcome_hint: None,
    };
    build::build(&f, NATIVE_NAMES)
}

/// Parses a LookupEvents event: the `CloudTrailEvent` string is the native record; its own
/// fields win over the outer `EventId`/`EventTime`/`EventSource`/`EventName`.
pub(crate) fn lookup(top: &Top) -> Result<Parsed<AwsEvent>, ParseError> {
    let outer = Outer {
        event_id: top.l_event_id.get(),
        event_time: top.l_event_time.get(),
        event_source: top.l_event_source.get(),
        event_name: top.l_event_name.get(),
    };
    let Some(raw) = top.l_cloudtrail_event else {
        return match build::classify(outer.event_source, outer.event_name, NATIVE_NAMES) {
            Ok(Some(_)) => Err(ParseError::Missing("CloudTrailEvent")),
            Ok(None) => Ok(build::irrelevant(outer.event_time, None)),
            Err(e) => Err(e),
        };
    };
    let text: Cow<str> = match raw.get().as_bytes().first() {
        Some(b'"') => Cow::Owned(
            serde_json::from_str::<String>(raw.get())
                .map_err(|e| ParseError::invalid("CloudTrailEvent", raw.get(), e.to_string()))?,
        ),
        Some(b'{') => Cow::Borrowed(raw.get()),
        _ => return Err(ParseError::invalid("CloudTrailEvent", raw.get(), "neither a JSON string nor an object")),
    };
    let inner: Top = match text.trim_start().as_bytes().first() {
        Some(b'{') => serde_json::from_str(&text)
            .map_err(|e| ParseError::invalid("CloudTrailEvent", text.as_ref(), format!("not a JSON object: {e}")))?,
        _ => return Err(ParseError::invalid("CloudTrailEvent", text.as_ref(), "does not hold a JSON object")),
    };
    native(&inner, Some(&outer))
}
