//! The one-paragraph explanation: sentences a reviewer can check against the evidence ids.

use trailproof_model::verdict::{MatchedBy, SessionPath, UnknownReason, Verdict};
use trailproof_model::{AwsEvent, IdpEvent, format_ms};

pub(crate) struct Story {
    parts: Vec<String>,
}

fn path_words(p: SessionPath) -> &'static str {
    match p {
        SessionPath::Saml => "SAML-federated",
        SessionPath::IdentityCenter => "IAM Identity Center",
        SessionPath::FederationBroker => "federation-broker (GetFederationToken)",
        SessionPath::RoleBroker => "role-broker (AssumeRole + GetSigninToken)",
        SessionPath::AwsNative => "IAM user/root",
    }
}

fn matched_words(m: MatchedBy) -> &'static str {
    match m {
        MatchedBy::SourceIdentity => "its SourceIdentity",
        MatchedBy::SamlSubject => "the SAML subject (NameID)",
        MatchedBy::Email => "the session name as e-mail",
        MatchedBy::Username => "the session name as user name",
        MatchedBy::LocalPart => "the session name as the local part of the e-mail",
        MatchedBy::Alias => "a configured alias",
        MatchedBy::Rule => "a configured identity rule",
        MatchedBy::Prefix => "the session name as a truncated prefix",
        MatchedBy::AwsPrincipal => "the AWS principal",
    }
}

impl Story {
    pub(crate) fn new(c: &AwsEvent, path: SessionPath) -> Story {
        let who = c.arn.as_deref().or(c.user_name.as_deref()).unwrap_or("an unnamed principal");
        let mut s =
            format!("{} console sign-in {} of {} at {}", path_words(path), c.event_id, who, format_ms(c.time_ms));
        if let Some(ip) = &c.source_ip {
            s.push_str(&format!(" from {ip}"));
        }
        s.push('.');
        Story { parts: vec![s] }
    }

    pub(crate) fn aws_link(&mut self, role: &str, e: &AwsEvent) {
        let what = match role {
            "assume_role_with_saml" => "AssumeRoleWithSAML",
            "get_federation_token" => "GetFederationToken",
            _ => "GetSigninToken",
        };
        let mut s = format!("{what} {} at {}", e.event_id, format_ms(e.time_ms));
        if let Some(ip) = &e.source_ip {
            s.push_str(&format!(" from {ip}"));
        }
        s.push_str(" issued or exchanged its credentials.");
        self.parts.push(s);
    }

    pub(crate) fn sso(&mut self, e: &IdpEvent, m: MatchedBy, user: &str) {
        let mut s = format!(
            "It matches {} user {user} by {}, whose SSO to {} ({}) is at {}",
            e.provider.as_str(),
            matched_words(m),
            e.app_name.as_deref().unwrap_or("the AWS application"),
            e.event_id,
            format_ms(e.time_ms)
        );
        if let Some(ip) = &e.source_ip {
            s.push_str(&format!(" from {ip}"));
        }
        s.push('.');
        self.parts.push(s);
    }

    pub(crate) fn note(&mut self, s: String) {
        self.parts.push(s);
    }

    pub(crate) fn verdict(&mut self, v: Verdict, r: Option<UnknownReason>) {
        self.parts.push(match (v, r) {
            (Verdict::Enforced, _) => "Verdict: MFA was enforced.".into(),
            (Verdict::NotEnforced, _) => "Verdict: MFA was not enforced.".into(),
            (Verdict::NoIdpLogin, _) => "Verdict: no IdP login stands behind this session.".into(),
            (Verdict::Unknown, Some(r)) => format!("Verdict: unknown ({}).", r.as_str()),
            (Verdict::Unknown, None) => "Verdict: unknown.".into(),
        });
    }

    pub(crate) fn finish(self) -> String {
        self.parts.join(" ")
    }
}
