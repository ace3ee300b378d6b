//! CloudTrail sign-in records (formats.md 1.2–1.6), built as JSON values. These are the few
//! records that matter, so clarity wins over speed here (the noise is in `noise.rs`).

use rand::Rng;
use serde_json::{Value, json};
use trailproof_model::Idp;

use crate::rng::{self, Pcg64};
use crate::time;
use crate::world::{BROKER_USER, World};

/// A CloudTrail record about to be delivered.
pub struct CtRecord {
    pub account: usize,
    pub region: &'static str,
    pub time: i64,
    pub event_id: String,
    pub event_name: &'static str,
    /// `AwsEventKind::as_str()` of a kept event, `None` for noise (AssumeRole...).
    pub kind: Option<&'static str>,
    pub json: Value,
}

#[allow(clippy::too_many_arguments)]
fn common(
    w: &World,
    acct: usize,
    region: &'static str,
    t: i64,
    source: &str,
    name: &str,
    event_type: &str,
    identity: Value,
    ip: &str,
    ua: &str,
    rng: &mut Pcg64,
) -> (serde_json::Map<String, Value>, String) {
    let id = rng::uuid(rng);
    let mut m = serde_json::Map::new();
    m.insert("eventVersion".into(), json!(if rng.random_bool(0.5) { "1.08" } else { "1.09" }));
    m.insert("userIdentity".into(), identity);
    m.insert("eventTime".into(), json!(time::ct(t)));
    m.insert("eventSource".into(), json!(source));
    m.insert("eventName".into(), json!(name));
    m.insert("awsRegion".into(), json!(region));
    m.insert("sourceIPAddress".into(), json!(ip));
    m.insert("userAgent".into(), json!(ua));
    m.insert("eventID".into(), json!(id));
    m.insert("eventType".into(), json!(event_type));
    m.insert("recipientAccountId".into(), json!(w.accounts[acct].id));
    m.insert("managementEvent".into(), json!(true));
    m.insert("eventCategory".into(), json!("Management"));
    (m, id)
}

/// `userIdentity` of an assumed-role session. `role_path` is the IAM path of the role
/// (`aws-reserved/sso.amazonaws.com/` for Identity Center). `context = false` gives the minimal
/// shape real SAML ConsoleLogins show (no sessionContext, formats.md 1.2).
#[allow(clippy::too_many_arguments)]
pub fn ui_assumed_role(
    w: &World,
    acct: usize,
    role: &str,
    role_path: &str,
    session: &str,
    context: bool,
    created: i64,
    source_identity: Option<&str>,
    access_key: Option<&str>,
) -> Value {
    let id = &w.accounts[acct].id;
    let rid = w.role_id(acct, role);
    let mut u = json!({
        "type": "AssumedRole",
        "principalId": format!("{rid}:{session}"),
        "arn": format!("arn:aws:sts::{id}:assumed-role/{role}/{session}"),
        "accountId": id,
    });
    if let Some(k) = access_key {
        u["accessKeyId"] = json!(k);
    }
    if context {
        let mut sc = json!({
            "sessionIssuer": {"type": "Role", "principalId": rid, "arn": format!("arn:aws:iam::{id}:role/{role_path}{role}"),
                              "accountId": id, "userName": role},
            "webIdFederationData": {},
            "attributes": {"creationDate": time::ct(created), "mfaAuthenticated": "false"},
        });
        if let Some(si) = source_identity {
            sc["sourceIdentity"] = json!(si);
        }
        u["sessionContext"] = sc;
    }
    u
}

pub fn ui_federated(
    w: &World,
    acct: usize,
    name: &str,
    context: bool,
    created: i64,
    access_key: Option<&str>,
) -> Value {
    let id = &w.accounts[acct].id;
    let mut u = json!({
        "type": "FederatedUser",
        "principalId": format!("{id}:{name}"),
        "arn": format!("arn:aws:sts::{id}:federated-user/{name}"),
        "accountId": id,
    });
    if let Some(k) = access_key {
        u["accessKeyId"] = json!(k);
    }
    if context {
        let (aida, _) = &w.broker_ids[acct];
        u["sessionContext"] = json!({
            "sessionIssuer": {"type": "IAMUser", "principalId": aida, "arn": format!("arn:aws:iam::{id}:user/{BROKER_USER}"),
                              "accountId": id, "userName": BROKER_USER},
            "webIdFederationData": {},
            "attributes": {"creationDate": time::ct(created), "mfaAuthenticated": "false"},
        });
    }
    u
}

pub fn ui_iam_user(w: &World, acct: usize, name: &str, principal_id: &str, access_key: &str) -> Value {
    let id = &w.accounts[acct].id;
    json!({"type": "IAMUser", "principalId": principal_id, "arn": format!("arn:aws:iam::{id}:user/{name}"),
           "accountId": id, "accessKeyId": access_key, "userName": name})
}

pub fn ui_root(w: &World, acct: usize) -> Value {
    let id = &w.accounts[acct].id;
    json!({"type": "Root", "principalId": id, "arn": format!("arn:aws:iam::{id}:root"), "accountId": id, "accessKeyId": ""})
}

pub struct ConsoleLogin<'a> {
    pub acct: usize,
    pub region: &'static str,
    pub t: i64,
    pub identity: Value,
    pub ip: &'a str,
    pub ua: &'a str,
    pub success: bool,
    pub mfa_used: &'a str,
    pub saml_provider: Option<&'a str>,
    pub mfa_identifier: Option<String>,
    pub error_message: Option<&'a str>,
    pub login_to: &'a str,
}

pub fn console_login(w: &World, c: ConsoleLogin<'_>, rng: &mut Pcg64) -> CtRecord {
    let (mut m, id) = common(
        w,
        c.acct,
        c.region,
        c.t,
        "signin.amazonaws.com",
        "ConsoleLogin",
        "AwsConsoleSignIn",
        c.identity,
        c.ip,
        c.ua,
        rng,
    );
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), json!({"ConsoleLogin": if c.success { "Success" } else { "Failure" }}));
    let mut extra = json!({"LoginTo": c.login_to, "MobileVersion": "No", "MFAUsed": c.mfa_used});
    if let Some(arn) = c.saml_provider {
        extra["SamlProviderArn"] = json!(arn);
    }
    if let Some(mfa) = c.mfa_identifier {
        extra["MFAIdentifier"] = json!(mfa);
    }
    m.insert("additionalEventData".into(), extra);
    if let Some(e) = c.error_message {
        m.insert("errorMessage".into(), json!(e));
    }
    m.insert("readOnly".into(), json!(false));
    m.insert(
        "tlsDetails".into(),
        json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
               "clientProvidedHostHeader": if c.region == "us-east-1" { "signin.aws.amazon.com".to_string() } else { format!("{}.signin.aws.amazon.com", c.region) }}),
    );
    CtRecord {
        account: c.acct,
        region: c.region,
        time: c.t,
        event_id: id,
        event_name: "ConsoleLogin",
        kind: Some("ConsoleLogin"),
        json: Value::Object(m),
    }
}

pub struct Arws<'a> {
    pub acct: usize,
    pub idp: Idp,
    pub role: &'a str,
    pub session: &'a str,
    pub subject: &'a str,
    pub subject_type: &'a str,
    pub issuer: String,
    pub source_identity: Option<&'a str>,
    pub ip: &'a str,
    pub ua: &'a str,
    pub t: i64,
}

/// AssumeRoleWithSAML (formats.md 1.4). Returns the record and the issued session ARN.
pub fn assume_role_with_saml(w: &World, a: Arws<'_>, rng: &mut Pcg64) -> (CtRecord, String) {
    let id = &w.accounts[a.acct].id;
    let nq = &w.name_qualifiers[a.acct][crate::world::idp_index(a.idp)];
    let provider = w.saml_provider_arn(a.acct, a.idp);
    let role_arn = format!("arn:aws:iam::{id}:role/{}", a.role);
    let rid = w.role_id(a.acct, a.role);
    let issued = format!("arn:aws:sts::{id}:assumed-role/{}/{}", a.role, a.session);
    let identity = json!({"type": "SAMLUser", "principalId": format!("{nq}:{}", a.subject), "userName": a.subject,
                          "identityProvider": nq});
    let (mut m, eid) = common(
        w,
        a.acct,
        "us-east-1",
        a.t,
        "sts.amazonaws.com",
        "AssumeRoleWithSAML",
        "AwsApiCall",
        identity,
        a.ip,
        a.ua,
        rng,
    );
    let mut req = json!({"sAMLAssertionID": format!("_{}", rng::hex(rng, 32)), "roleSessionName": a.session,
                         "durationSeconds": 3600, "roleArn": role_arn, "principalArn": provider});
    let mut resp = json!({
        "subjectType": a.subject_type,
        "issuer": a.issuer,
        "credentials": {"accessKeyId": format!("ASIA{}", rng::upper(rng, 16)), "expiration": time::sts_expiration(a.t + time::HOUR)},
        "nameQualifier": nq,
        "assumedRoleUser": {"assumedRoleId": format!("{rid}:{}", a.session), "arn": issued},
        "subject": a.subject,
        "audience": "https://signin.aws.amazon.com/saml",
    });
    if let Some(si) = a.source_identity {
        req["sourceIdentity"] = json!(si);
        resp["sourceIdentity"] = json!(si);
    }
    m.insert("requestParameters".into(), req);
    m.insert("responseElements".into(), resp);
    m.insert("requestID".into(), json!(rng::uuid(rng)));
    m.insert("readOnly".into(), json!(true));
    m.insert(
        "resources".into(),
        json!([{"ARN": role_arn, "accountId": id, "type": "AWS::IAM::Role"},
               {"ARN": provider, "accountId": id, "type": "AWS::IAM::SAMLProvider"}]),
    );
    (
        CtRecord {
            account: a.acct,
            region: "us-east-1",
            time: a.t,
            event_id: eid,
            event_name: "AssumeRoleWithSAML",
            kind: Some("AssumeRoleWithSAML"),
            json: Value::Object(m),
        },
        issued,
    )
}

/// GetFederationToken by the broker IAM user (formats.md 1.5). Returns the record and the
/// temporary access key it issued.
pub fn get_federation_token(
    w: &World,
    acct: usize,
    name: &str,
    ip: &str,
    ua: &str,
    t: i64,
    rng: &mut Pcg64,
) -> (CtRecord, String) {
    let id = &w.accounts[acct].id;
    let (aida, akia) = &w.broker_ids[acct];
    let identity = ui_iam_user(w, acct, BROKER_USER, aida, akia);
    let (mut m, eid) =
        common(w, acct, "us-east-1", t, "sts.amazonaws.com", "GetFederationToken", "AwsApiCall", identity, ip, ua, rng);
    let key = format!("ASIA{}", rng::upper(rng, 16));
    m.insert(
        "requestParameters".into(),
        json!({"name": name, "durationSeconds": 43200,
               "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}),
    );
    m.insert(
        "responseElements".into(),
        json!({"credentials": {"accessKeyId": key, "expiration": time::sts_expiration(t + 12 * time::HOUR)},
               "federatedUser": {"arn": format!("arn:aws:sts::{id}:federated-user/{name}"), "federatedUserId": format!("{id}:{name}")},
               "packedPolicySize": 9}),
    );
    m.insert("requestID".into(), json!(rng::uuid(rng)));
    m.insert("readOnly".into(), json!(true));
    (
        CtRecord {
            account: acct,
            region: "us-east-1",
            time: t,
            event_id: eid,
            event_name: "GetFederationToken",
            kind: Some("GetFederationToken"),
            json: Value::Object(m),
        },
        key,
    )
}

/// GetSigninToken at the federation endpoint (formats.md 1.5).
pub fn get_signin_token(
    w: &World,
    acct: usize,
    identity: Value,
    ip: &str,
    ua: &str,
    t: i64,
    rng: &mut Pcg64,
) -> CtRecord {
    let (mut m, eid) = common(
        w,
        acct,
        "us-east-1",
        t,
        "signin.amazonaws.com",
        "GetSigninToken",
        "AwsConsoleSignIn",
        identity,
        ip,
        ua,
        rng,
    );
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), json!({"GetSigninToken": "Success"}));
    m.insert("additionalEventData".into(), json!({"MobileVersion": "No", "MFAUsed": "No"}));
    m.insert("readOnly".into(), json!(false));
    CtRecord {
        account: acct,
        region: "us-east-1",
        time: t,
        event_id: eid,
        event_name: "GetSigninToken",
        kind: Some("GetSigninToken"),
        json: Value::Object(m),
    }
}

/// sts:AssumeRole (not a sign-in event: counted as noise). Returns the record and the access key.
#[allow(clippy::too_many_arguments)]
pub fn assume_role(
    w: &World,
    acct: usize,
    caller: Value,
    role: &str,
    session: &str,
    ip: &str,
    ua: &str,
    t: i64,
    rng: &mut Pcg64,
) -> (CtRecord, String) {
    let id = &w.accounts[acct].id;
    let (mut m, eid) =
        common(w, acct, "us-east-1", t, "sts.amazonaws.com", "AssumeRole", "AwsApiCall", caller, ip, ua, rng);
    let key = format!("ASIA{}", rng::upper(rng, 16));
    m.insert(
        "requestParameters".into(),
        json!({"roleArn": format!("arn:aws:iam::{id}:role/{role}"), "roleSessionName": session, "durationSeconds": 3600}),
    );
    m.insert(
        "responseElements".into(),
        json!({"credentials": {"accessKeyId": key, "expiration": time::sts_expiration(t + time::HOUR)},
               "assumedRoleUser": {"assumedRoleId": format!("{}:{session}", w.role_id(acct, role)),
                                   "arn": format!("arn:aws:sts::{id}:assumed-role/{role}/{session}")}}),
    );
    m.insert("requestID".into(), json!(rng::uuid(rng)));
    m.insert("readOnly".into(), json!(true));
    m.insert(
        "resources".into(),
        json!([{"ARN": format!("arn:aws:iam::{id}:role/{role}"), "accountId": id, "type": "AWS::IAM::Role"}]),
    );
    (
        CtRecord {
            account: acct,
            region: "us-east-1",
            time: t,
            event_id: eid,
            event_name: "AssumeRole",
            kind: None,
            json: Value::Object(m),
        },
        key,
    )
}

/// IAM user MFA step before the ConsoleLogin.
#[allow(clippy::too_many_arguments)]
pub fn check_mfa(
    w: &World,
    acct: usize,
    identity: Value,
    ip: &str,
    ua: &str,
    t: i64,
    region: &'static str,
    rng: &mut Pcg64,
) -> CtRecord {
    let (mut m, eid) =
        common(w, acct, region, t, "signin.amazonaws.com", "CheckMfa", "AwsConsoleSignIn", identity, ip, ua, rng);
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), json!({"CheckMfa": "Success"}));
    m.insert("additionalEventData".into(), json!({"MfaType": "Virtual MFA"}));
    m.insert("readOnly".into(), json!(false));
    CtRecord {
        account: acct,
        region,
        time: t,
        event_id: eid,
        event_name: "CheckMfa",
        kind: Some("CheckMfa"),
        json: Value::Object(m),
    }
}

/// The shapes of Identity Center's sign-in events by period (AWS Security Blog, "Important
/// changes to CloudTrail events for AWS IAM Identity Center",
/// https://aws.amazon.com/blogs/security/modifications-to-aws-cloudtrail-event-data-of-iam-identity-center/;
/// IAM Identity Center User Guide, "Understanding sign-in events" and "Username in sign-in
/// CloudTrail events").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcShape {
    /// The User Guide's 2020 examples: eventVersion 1.08, `userIdentity` of type `Unknown` with
    /// `userName` and `principalId` (the account), nothing else.
    Legacy,
    /// Early 2025 (the blog's "before"): as Legacy, plus `onBehalfOf`, `credentialId` and
    /// `additionalEventData.UserName`.
    Transition,
    /// Since July 14, 2025 (eventVersion 1.09): `IdentityCenterUser` with `accountId`,
    /// `onBehalfOf` and `credentialId`, no `userName` nor `principalId` (real record:
    /// elastic/integrations `packages/aws/data_stream/cloudtrail/_dev/test/pipeline/
    /// test-user-authentication.log`).
    Current,
}

/// Who signs in to the AWS access portal, and in which shape CloudTrail writes it.
pub struct IcUser<'a> {
    /// The user name typed (or federated with).
    pub user_name: &'a str,
    /// The identity store user id.
    pub ic_user_id: &'a str,
    /// The access portal session id (`credentialId`).
    pub credential_id: &'a str,
    pub shape: IcShape,
}

fn ic_identity(w: &World, u: &IcUser<'_>) -> Value {
    let id = &w.accounts[0].id;
    let on_behalf = json!({"userId": u.ic_user_id, "identityStoreArn": w.ic_store_arn()});
    match u.shape {
        IcShape::Legacy => json!({"type": "Unknown", "principalId": id, "arn": "", "accountId": id, "accessKeyId": "",
                                  "userName": u.user_name}),
        IcShape::Transition => json!({"type": "Unknown", "userName": u.user_name, "accountId": id, "principalId": id,
                                      "onBehalfOf": on_behalf, "credentialId": u.credential_id}),
        IcShape::Current => json!({"type": "IdentityCenterUser", "arn": "", "accountId": id, "accessKeyId": "",
                                   "onBehalfOf": on_behalf, "credentialId": u.credential_id}),
    }
}

/// One step of an Identity Center sign-in (formats.md 1.6): `CredentialChallenge`,
/// `CredentialVerification` or `UserAuthentication`, in the management account (the first),
/// us-east-1. `login_to` is given for `UserAuthentication` only.
pub struct IcStep<'a> {
    pub name: &'static str,
    /// Whether this event carries `additionalEventData.UserName` (written once per successful
    /// sign-in since 2025: on the first `PASSWORD` challenge, or on the `UserAuthentication` of
    /// an `EXTERNAL_IDP` sign-in; never in the Legacy shape).
    pub names_user: bool,
    pub credential_type: &'a str,
    pub success: bool,
    pub workflow: &'a str,
    pub request_id: &'a str,
    pub login_to: Option<&'a str>,
    pub ip: &'a str,
    pub ua: &'a str,
    pub t: i64,
}

pub fn ic_sign_in_event(w: &World, u: &IcUser<'_>, s: IcStep<'_>, rng: &mut Pcg64) -> CtRecord {
    let acct = 0;
    let (mut m, eid) = common(
        w,
        acct,
        "us-east-1",
        s.t,
        "signin.amazonaws.com",
        s.name,
        "AwsServiceEvent",
        ic_identity(w, u),
        s.ip,
        s.ua,
        rng,
    );
    m.insert("eventVersion".into(), json!(if u.shape == IcShape::Legacy { "1.08" } else { "1.09" }));
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), Value::Null);
    let mut extra = json!({"AuthWorkflowID": s.workflow});
    if s.names_user && u.shape != IcShape::Legacy {
        extra["UserName"] = json!(u.user_name);
    }
    if let Some(to) = s.login_to {
        extra["LoginTo"] = json!(to);
    }
    extra["CredentialType"] = json!(s.credential_type);
    m.insert("additionalEventData".into(), extra);
    m.insert("requestID".into(), json!(s.request_id));
    m.insert("serviceEventDetails".into(), json!({s.name: if s.success { "Success" } else { "Failure" }}));
    m.insert("readOnly".into(), json!(false));
    CtRecord {
        account: acct,
        region: "us-east-1",
        time: s.t,
        event_id: eid,
        event_name: s.name,
        kind: Some(s.name),
        json: Value::Object(m),
    }
}

/// The access portal's start URL.
pub fn ic_portal_url(w: &World) -> String {
    format!("https://{}.awsapps.com/start/", w.ic_store_id)
}

/// Identity Center portal `Federate`: the user picked an account and permission set (shape
/// UNCONFIRMED in formats.md 1.6). The 2025 shapes carry the sign-in's identity, with the
/// portal session's `credentialId`.
#[allow(clippy::too_many_arguments)]
pub fn ic_federate(
    w: &World,
    u: &IcUser<'_>,
    target_acct: usize,
    perm_set: &str,
    ip: &str,
    ua: &str,
    t: i64,
    rng: &mut Pcg64,
) -> CtRecord {
    let acct = 0;
    let id = &w.accounts[acct].id;
    let identity = match u.shape {
        IcShape::Legacy => {
            json!({"type": "Unknown", "principalId": format!("{id}:{}", u.user_name), "accountId": id, "userName": u.user_name})
        }
        _ => ic_identity(w, u),
    };
    let (mut m, eid) =
        common(w, acct, "us-east-1", t, "sso.amazonaws.com", "Federate", "AwsServiceEvent", identity, ip, ua, rng);
    m.insert("requestParameters".into(), Value::Null);
    m.insert("responseElements".into(), Value::Null);
    m.insert("serviceEventDetails".into(), json!({"account_id": w.accounts[target_acct].id, "role_name": perm_set}));
    m.insert("readOnly".into(), json!(false));
    CtRecord {
        account: acct,
        region: "us-east-1",
        time: t,
        event_id: eid,
        event_name: "Federate",
        kind: Some("sso:Federate"),
        json: Value::Object(m),
    }
}
