//! The AWS side: one [`AwsEvent`] per sign-in relevant CloudTrail record.

use crate::{Millis, Outcome};
use serde::{Deserialize, Serialize};

/// The CloudTrail events trailproof keeps. Everything else is counted as irrelevant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, get_size2::GetSize)]
pub enum AwsEventKind {
    /// `signin.amazonaws.com` ConsoleLogin (success and failure).
    ConsoleLogin,
    /// `signin.amazonaws.com` GetSigninToken: the federation endpoint exchanged credentials for
    /// a console sign-in token (broker flows).
    GetSigninToken,
    /// `sts.amazonaws.com` GetFederationToken: a broker minted federated-user credentials.
    GetFederationToken,
    /// `sts.amazonaws.com` AssumeRoleWithSAML.
    AssumeRoleWithSaml,
    /// `signin.amazonaws.com` CheckMfa (IAM user MFA step).
    CheckMfa,
    /// `signin.amazonaws.com` SwitchRole.
    SwitchRole,
    /// Identity Center sign-in: `signin.amazonaws.com` UserAuthentication.
    UserAuthentication,
    /// Identity Center sign-in: `signin.amazonaws.com` CredentialChallenge.
    CredentialChallenge,
    /// Identity Center sign-in: `signin.amazonaws.com` CredentialVerification.
    CredentialVerification,
    /// Identity Center portal: `sso.amazonaws.com` Authenticate.
    SsoAuthenticate,
    /// Identity Center portal: `sso.amazonaws.com` Federate (user picked an account/role).
    SsoFederate,
}

impl AwsEventKind {
    pub const ALL: [AwsEventKind; 11] = [
        AwsEventKind::ConsoleLogin,
        AwsEventKind::GetSigninToken,
        AwsEventKind::GetFederationToken,
        AwsEventKind::AssumeRoleWithSaml,
        AwsEventKind::CheckMfa,
        AwsEventKind::SwitchRole,
        AwsEventKind::UserAuthentication,
        AwsEventKind::CredentialChallenge,
        AwsEventKind::CredentialVerification,
        AwsEventKind::SsoAuthenticate,
        AwsEventKind::SsoFederate,
    ];

    /// Classifies an `(eventSource, eventName)` pair; `None` for events trailproof skips.
    pub fn classify(event_source: &str, event_name: &str) -> Option<AwsEventKind> {
        use AwsEventKind::*;
        let kind = match (event_source, event_name) {
            ("signin.amazonaws.com", "ConsoleLogin") => ConsoleLogin,
            ("signin.amazonaws.com", "GetSigninToken") => GetSigninToken,
            ("signin.amazonaws.com", "CheckMfa") => CheckMfa,
            ("signin.amazonaws.com", "SwitchRole") => SwitchRole,
            ("signin.amazonaws.com", "UserAuthentication") => UserAuthentication,
            ("signin.amazonaws.com", "CredentialChallenge") => CredentialChallenge,
            ("signin.amazonaws.com", "CredentialVerification") => CredentialVerification,
            ("sts.amazonaws.com", "GetFederationToken") => GetFederationToken,
            ("sts.amazonaws.com", "AssumeRoleWithSAML") => AssumeRoleWithSaml,
            ("sso.amazonaws.com", "Authenticate") => SsoAuthenticate,
            ("sso.amazonaws.com", "Federate") => SsoFederate,
            _ => return None,
        };
        Some(kind)
    }

    /// The CloudTrail `eventName`.
    pub fn event_name(self) -> &'static str {
        use AwsEventKind::*;
        match self {
            ConsoleLogin => "ConsoleLogin",
            GetSigninToken => "GetSigninToken",
            GetFederationToken => "GetFederationToken",
            AssumeRoleWithSaml => "AssumeRoleWithSAML",
            CheckMfa => "CheckMfa",
            SwitchRole => "SwitchRole",
            UserAuthentication => "UserAuthentication",
            CredentialChallenge => "CredentialChallenge",
            CredentialVerification => "CredentialVerification",
            SsoAuthenticate => "Authenticate",
            SsoFederate => "Federate",
        }
    }

    /// The CloudTrail `eventSource`.
    pub fn event_source(self) -> &'static str {
        use AwsEventKind::*;
        match self {
            GetFederationToken | AssumeRoleWithSaml => "sts.amazonaws.com",
            SsoAuthenticate | SsoFederate => "sso.amazonaws.com",
            _ => "signin.amazonaws.com",
        }
    }

    /// Stable key used in the store (`event_name` is ambiguous only for the `sso` pair).
    pub fn as_str(self) -> &'static str {
        use AwsEventKind::*;
        match self {
            SsoAuthenticate => "sso:Authenticate",
            SsoFederate => "sso:Federate",
            other => other.event_name(),
        }
    }

    pub fn parse(s: &str) -> Option<AwsEventKind> {
        AwsEventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One sign-in relevant CloudTrail record, normalized. Fields a record does not carry are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, get_size2::GetSize)]
pub struct AwsEvent {
    /// CloudTrail `eventID` (the dedupe key).
    pub event_id: String,
    pub time_ms: Millis,
    pub kind: Option<AwsEventKind>,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub outcome: Outcome,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `userIdentity.type` as written (AssumedRole, FederatedUser, IAMUser, Root, SAMLUser, ...).
    pub principal_type: Option<String>,
    pub arn: Option<String>,
    pub principal_id: Option<String>,
    /// `userIdentity.userName` (IAM user name, Identity Center user name, root alias).
    pub user_name: Option<String>,
    /// Role name for assumed-role sessions (from the ARN, else the session issuer).
    pub role_name: Option<String>,
    /// Role session name (AssumedRole) or federated user name (FederatedUser), from the ARN,
    /// else from `principalId` after the colon.
    pub session_name: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub session_issuer_type: Option<String>,
    pub source_identity: Option<String>,
    /// `sessionContext.attributes.mfaAuthenticated` (AWS-side MFA only).
    pub mfa_authenticated: Option<bool>,
    /// `additionalEventData.MFAUsed`, case-insensitive. Authoritative only for IAM users and root.
    pub mfa_used: Option<bool>,
    /// ConsoleLogin `additionalEventData.SamlProviderArn`, or AssumeRoleWithSAML `principalArn`.
    pub saml_provider_arn: Option<String>,
    /// AssumeRoleWithSAML `responseElements.subject` (the SAML NameID).
    pub saml_subject: Option<String>,
    pub saml_subject_type: Option<String>,
    pub saml_issuer: Option<String>,
    pub saml_name_qualifier: Option<String>,
    /// The ARN of the credentials the call issued: AssumeRoleWithSAML
    /// `assumedRoleUser.arn`, GetFederationToken `federatedUser.arn`.
    pub issued_arn: Option<String>,
    /// `responseElements.credentials.accessKeyId` of an issuing call.
    pub issued_access_key_id: Option<String>,
    /// `userIdentity.accessKeyId` (empty strings are `None`).
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Identity Center `additionalEventData.CredentialType` (e.g. `PASSWORD,TOTP`, `EXTERNAL_IDP`).
    pub credential_type: Option<String>,
    pub login_to: Option<String>,
    /// Identity Center sign-in: `additionalEventData.AuthWorkflowID`, shared by the
    /// CredentialChallenge / CredentialVerification / UserAuthentication events of one sign-in.
    pub auth_workflow_id: Option<String>,
    /// Identity Center user: `userIdentity.onBehalfOf.userId` (the identity store's user id).
    pub identity_store_user_id: Option<String>,
    /// Identity Center user: `userIdentity.credentialId`.
    pub credential_id: Option<String>,
}

/// The parts of an IAM/STS ARN that identify a console session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArnParts {
    pub partition: String,
    pub service: String,
    pub account_id: String,
    /// `assumed-role`, `federated-user`, `user`, `role`, `root`, `saml-provider`, ...
    pub resource_type: String,
    /// For `assumed-role`: the role name. For `user`/`role`: the last path segment.
    pub name: Option<String>,
    /// For `assumed-role`: the role session name. For `federated-user`: the federated name.
    pub session: Option<String>,
}

/// Splits an ARN like `arn:aws-us-gov:sts::111122223333:assumed-role/Admin/alice@example.com`.
/// Works for every partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso*`). Returns `None` for
/// strings that are not ARNs.
pub fn split_arn(arn: &str) -> Option<ArnParts> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let partition = it.next()?.to_string();
    let service = it.next()?.to_string();
    let _region = it.next()?;
    let account_id = it.next()?.to_string();
    let resource = it.next()?;
    if partition.is_empty() {
        return None;
    }
    let (resource_type, rest) = match resource.split_once('/') {
        Some((t, r)) => (t.to_string(), Some(r)),
        None => (resource.to_string(), None),
    };
    let mut parts = ArnParts { partition, service, account_id, resource_type, ..Default::default() };
    match (parts.resource_type.as_str(), rest) {
        ("assumed-role", Some(r)) => {
            // The role name never contains '/' in an assumed-role ARN (the path is dropped);
            // the session name cannot contain '/' either.
            let (role, session) = r.split_once('/').unwrap_or((r, ""));
            parts.name = Some(role.to_string());
            parts.session = (!session.is_empty()).then(|| session.to_string());
        }
        ("federated-user", Some(r)) => parts.session = Some(r.to_string()),
        (_, Some(r)) => parts.name = r.rsplit('/').next().map(str::to_string),
        (_, None) => {}
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_role_arn_in_every_partition() {
        for p in ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"] {
            let a = split_arn(&format!("arn:{p}:sts::111122223333:assumed-role/Admin/alice@example.com")).unwrap();
            assert_eq!(a.partition, p);
            assert_eq!(a.account_id, "111122223333");
            assert_eq!(a.resource_type, "assumed-role");
            assert_eq!(a.name.as_deref(), Some("Admin"));
            assert_eq!(a.session.as_deref(), Some("alice@example.com"));
        }
    }

    #[test]
    fn federated_user_and_role_path() {
        let f = split_arn("arn:aws:sts::111122223333:federated-user/jdoe").unwrap();
        assert_eq!(f.session.as_deref(), Some("jdoe"));
        let r = split_arn(
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_Admin_ccf1d4a38ab69010",
        )
        .unwrap();
        assert_eq!(r.name.as_deref(), Some("AWSReservedSSO_Admin_ccf1d4a38ab69010"));
        let root = split_arn("arn:aws:iam::111122223333:root").unwrap();
        assert_eq!(root.resource_type, "root");
        assert!(split_arn("not-an-arn").is_none());
        assert!(split_arn("").is_none());
    }

    #[test]
    fn kinds_round_trip() {
        for k in AwsEventKind::ALL {
            assert_eq!(AwsEventKind::parse(k.as_str()), Some(k));
            assert_eq!(AwsEventKind::classify(k.event_source(), k.event_name()), Some(k));
        }
        assert_eq!(AwsEventKind::classify("ec2.amazonaws.com", "RunInstances"), None);
    }
}
