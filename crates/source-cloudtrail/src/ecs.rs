//! Elastic Common Schema documents written by the Elastic Agent / Filebeat `aws.cloudtrail`
//! pipeline (formats.md 1.9), as a search hit's `_source` or on their own.
//!
//! The document is walked once; every scalar leaf is named by its dotted path, so nested
//! objects (`{"aws":{"cloudtrail":{...}}}`), dotted keys (`"aws.cloudtrail.user_identity.arn"`)
//! and any mix of the two read the same. Arrays keep their parent's path. Only the paths listed
//! in [`Ecs::set`] are kept; the first value seen for a path wins.

use crate::build::{self, ECS_NAMES, Fields};
use crate::de::{Str, non_empty};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use trailproof_model::{AwsEvent, ParseError, Parsed};

const FLAT_RESPONSE: &str = "aws.cloudtrail.flattened.response_elements.";
const FLAT_SERVICE: &str = "aws.cloudtrail.flattened.service_event_details.";

/// The ECS fields trailproof reads.
#[derive(Debug, Default)]
pub(crate) struct Ecs {
    event_id: Option<String>,
    timestamp: Option<String>,
    provider: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    pub(crate) original: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    recipient_account_id: Option<String>,
    source_address: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    ui_type: Option<String>,
    ui_arn: Option<String>,
    ui_access_key_id: Option<String>,
    sc_mfa_authenticated: Option<String>,
    sc_source_identity: Option<String>,
    si_type: Option<String>,
    si_arn: Option<String>,
    si_user_name: Option<String>,
    aed_mfa_used: Option<String>,
    aed_login_to: Option<String>,
    aed_saml_provider_arn: Option<String>,
    aed_credential_type: Option<String>,
    aed_auth_workflow_id: Option<String>,
    aed_user_name: Option<String>,
    cl_mfa_used: Option<String>,
    cl_login_to: Option<String>,
    resp_subject: Option<String>,
    resp_subject_type: Option<String>,
    resp_issuer: Option<String>,
    resp_name_qualifier: Option<String>,
    resp_source_identity: Option<String>,
    resp_assumed_role_arn: Option<String>,
    resp_federated_user_arn: Option<String>,
    resp_access_key_id: Option<String>,
    req_principal_arn: Option<String>,
    req_source_identity: Option<String>,
    req_name: Option<String>,
    req_role_arn: Option<String>,
    req_role_session_name: Option<String>,
    resource_saml_provider: Option<String>,
    /// Scalar entries of the flattened `response_elements` / `service_event_details`.
    response_status: Vec<(String, String)>,
    service_status: Vec<(String, String)>,
}

impl Ecs {
    /// Reads an ECS document.
    pub(crate) fn read(raw: &[u8]) -> Result<Ecs, serde_json::Error> {
        let mut out = Ecs::default();
        let mut path = String::new();
        let mut de = serde_json::Deserializer::from_slice(raw);
        Collect { path: &mut path, out: &mut out }.deserialize(&mut de)?;
        de.end()?;
        Ok(out)
    }

    /// Whether the document carries any of the ECS keys that identify an event.
    pub(crate) fn is_ecs(&self) -> bool {
        self.event_id.is_some() || self.provider.is_some() || self.action.is_some() || self.original.is_some()
    }

    fn set(&mut self, path: &str, value: &str) {
        let Some(value) = non_empty(value) else { return };
        let slot = match path {
            "event.id" => &mut self.event_id,
            "@timestamp" => &mut self.timestamp,
            "event.provider" => &mut self.provider,
            "event.action" => &mut self.action,
            "event.outcome" => &mut self.outcome,
            "event.original" => &mut self.original,
            "cloud.region" => &mut self.region,
            "cloud.account.id" => &mut self.account_id,
            "source.address" => &mut self.source_address,
            "source.ip" => &mut self.source_ip,
            "user_agent.original" => &mut self.user_agent,
            "user.id" => &mut self.user_id,
            "user.name" => &mut self.user_name,
            "aws.cloudtrail.recipient_account_id" => &mut self.recipient_account_id,
            "aws.cloudtrail.error_code" => &mut self.error_code,
            "aws.cloudtrail.error_message" => &mut self.error_message,
            "aws.cloudtrail.user_identity.type" => &mut self.ui_type,
            "aws.cloudtrail.user_identity.arn" => &mut self.ui_arn,
            "aws.cloudtrail.user_identity.access_key_id" => &mut self.ui_access_key_id,
            "aws.cloudtrail.user_identity.session_context.mfa_authenticated" => &mut self.sc_mfa_authenticated,
            "aws.cloudtrail.user_identity.session_context.source_identity" => &mut self.sc_source_identity,
            "aws.cloudtrail.user_identity.session_context.session_issuer.type" => &mut self.si_type,
            "aws.cloudtrail.user_identity.session_context.session_issuer.arn" => &mut self.si_arn,
            "aws.cloudtrail.user_identity.session_context.session_issuer.user_name" => &mut self.si_user_name,
            "aws.cloudtrail.flattened.additional_eventdata.MFAUsed" => &mut self.aed_mfa_used,
            "aws.cloudtrail.flattened.additional_eventdata.LoginTo" => &mut self.aed_login_to,
            "aws.cloudtrail.flattened.additional_eventdata.SamlProviderArn" => &mut self.aed_saml_provider_arn,
            "aws.cloudtrail.flattened.additional_eventdata.CredentialType" => &mut self.aed_credential_type,
            "aws.cloudtrail.flattened.additional_eventdata.AuthWorkflowID" => &mut self.aed_auth_workflow_id,
            "aws.cloudtrail.flattened.additional_eventdata.UserName" => &mut self.aed_user_name,
            "aws.cloudtrail.console_login.additional_eventdata.mfa_used" => &mut self.cl_mfa_used,
            "aws.cloudtrail.console_login.additional_eventdata.login_to" => &mut self.cl_login_to,
            "aws.cloudtrail.flattened.response_elements.subject" => &mut self.resp_subject,
            "aws.cloudtrail.flattened.response_elements.subjectType" => &mut self.resp_subject_type,
            "aws.cloudtrail.flattened.response_elements.issuer" => &mut self.resp_issuer,
            "aws.cloudtrail.flattened.response_elements.nameQualifier" => &mut self.resp_name_qualifier,
            "aws.cloudtrail.flattened.response_elements.sourceIdentity" => &mut self.resp_source_identity,
            "aws.cloudtrail.flattened.response_elements.assumedRoleUser.arn" => &mut self.resp_assumed_role_arn,
            "aws.cloudtrail.flattened.response_elements.federatedUser.arn" => &mut self.resp_federated_user_arn,
            "aws.cloudtrail.flattened.response_elements.credentials.accessKeyId" => &mut self.resp_access_key_id,
            "aws.cloudtrail.flattened.request_parameters.principalArn" => &mut self.req_principal_arn,
            "aws.cloudtrail.flattened.request_parameters.sourceIdentity" => &mut self.req_source_identity,
            "aws.cloudtrail.flattened.request_parameters.name" => &mut self.req_name,
            "aws.cloudtrail.flattened.request_parameters.roleArn" => &mut self.req_role_arn,
            "aws.cloudtrail.flattened.request_parameters.roleSessionName" => &mut self.req_role_session_name,
            "aws.cloudtrail.resources.arn" if value.contains(":saml-provider/") => &mut self.resource_saml_provider,
            _ => {
                // One-level scalar entries such as `response_elements.ConsoleLogin` or
                // `service_event_details.UserAuthentication`.
                let entry = |prefix: &str| path.strip_prefix(prefix).filter(|k| !k.is_empty() && !k.contains('.'));
                if let Some(k) = entry(FLAT_RESPONSE) {
                    self.response_status.push((k.to_owned(), value.to_owned()));
                } else if let Some(k) = entry(FLAT_SERVICE) {
                    self.service_status.push((k.to_owned(), value.to_owned()));
                }
                return;
            }
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }

    /// The normalized event from the ECS fields (without `event.original`).
    pub(crate) fn build(&self) -> Result<Parsed<AwsEvent>, ParseError> {
        fn o(s: &Option<String>) -> Option<&str> {
            s.as_deref()
        }
        let ptype = o(&self.ui_type).unwrap_or("");
        let session_type = ptype.eq_ignore_ascii_case("AssumedRole") || ptype.eq_ignore_ascii_case("FederatedUser");
        let has_issuer = self.si_type.is_some() || self.si_arn.is_some() || self.si_user_name.is_some();
        // The pipeline overwrites `user.name` (userIdentity.userName) with the session issuer's
        // userName: it is the user's name only when there is no session issuer.
        let (user_name, issuer_name) = if session_type || has_issuer {
            (None, o(&self.si_user_name).or(o(&self.user_name)))
        } else {
            (o(&self.user_name), o(&self.si_user_name))
        };
        let action = o(&self.action);
        fn status_of<'s>(list: &'s [(String, String)], name: Option<&str>) -> Option<&'s str> {
            let name = name?;
            list.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }
        let f = Fields {
            event_id: o(&self.event_id),
            event_time: o(&self.timestamp),
            event_source: o(&self.provider),
            event_name: o(&self.action),
            region: o(&self.region),
            recipient_account_id: o(&self.recipient_account_id),
            source_ip: o(&self.source_address).or(o(&self.source_ip)),
            user_agent: o(&self.user_agent),
            error_code: o(&self.error_code),
            error_message: o(&self.error_message),
            ui_type: o(&self.ui_type),
            ui_arn: o(&self.ui_arn),
            ui_principal_id: o(&self.user_id),
            ui_account_id: o(&self.account_id),
            ui_user_name: user_name,
            ui_access_key_id: o(&self.ui_access_key_id),
            // The pipeline maps neither `onBehalfOf` nor `credentialId` to a field of its own.
            ui_on_behalf_of_user_id: None,
            ui_credential_id: None,
            sc_source_identity: o(&self.sc_source_identity),
            sc_mfa_authenticated: o(&self.sc_mfa_authenticated),
            si_type: o(&self.si_type),
            si_arn: o(&self.si_arn),
            si_user_name: issuer_name,
            mfa_used: o(&self.aed_mfa_used).or(o(&self.cl_mfa_used)),
            login_to: o(&self.aed_login_to).or(o(&self.cl_login_to)),
            saml_provider_arn: o(&self.aed_saml_provider_arn),
            credential_type: o(&self.aed_credential_type),
            auth_workflow_id: o(&self.aed_auth_workflow_id),
            aed_user_name: o(&self.aed_user_name),
            status: status_of(&self.response_status, action).or_else(|| status_of(&self.service_status, action)),
            resp_subject: o(&self.resp_subject),
            resp_subject_type: o(&self.resp_subject_type),
            resp_issuer: o(&self.resp_issuer),
            resp_name_qualifier: o(&self.resp_name_qualifier),
            resp_source_identity: o(&self.resp_source_identity),
            resp_assumed_role_arn: o(&self.resp_assumed_role_arn),
            resp_federated_user_arn: o(&self.resp_federated_user_arn),
            resp_access_key_id: o(&self.resp_access_key_id),
            req_principal_arn: o(&self.req_principal_arn),
            req_source_identity: o(&self.req_source_identity),
            req_name: o(&self.req_name),
            req_role_arn: o(&self.req_role_arn),
            req_role_session_name: o(&self.req_role_session_name),
            resource_saml_provider: o(&self.resource_saml_provider),
            outcome_hint: o(&self.outcome),
        };
        build::build(&f, ECS_NAMES)
    }
}

/// Walks a value, naming each scalar leaf by its dotted path.
struct Collect<'c> {
    path: &'c mut String,
    out: &'c mut Ecs,
}

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! leaf {
    ($name:ident, $t:ty) => {
        fn $name<E: serde::de::Error>(self, v: $t) -> Result<(), E> {
            self.out.set(self.path, &v.to_string());
            Ok(())
        }
    };
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an ECS document")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let len = self.path.len();
            if len > 0 {
                self.path.push('.');
            }
            self.path.push_str(key.0.as_deref().unwrap_or(""));
            map.next_value_seed(Collect { path: &mut *self.path, out: &mut *self.out })?;
            self.path.truncate(len);
        }
        Ok(())
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq.next_element_seed(Collect { path: &mut *self.path, out: &mut *self.out })?.is_some() {}
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.out.set(self.path, v);
        Ok(())
    }
    leaf!(visit_bool, bool);
    leaf!(visit_i64, i64);
    leaf!(visit_u64, u64);
    leaf!(visit_f64, f64);
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}
