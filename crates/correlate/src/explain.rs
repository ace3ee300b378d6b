//! The one-paragraph explanation: sentences a reviewer can check against the evidence ids.

use trailproof_model::verdict::{MatchedBy, SessionPath, UnknownReason, Verdict};
use trailproof_model::{AwsEvent, IdpEvent, format_ms};

/// Which of a session's AWS records are in the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Links {
    pub saml: bool,
    pub federation: bool,
    pub signin_token: bool,
}

pub(crate) struct Story {
    parts: Vec<String>,
}

fn path_words(p: SessionPath) -> &'static str {
    match p {
        SessionPath::Saml => "SAML-federated",
        SessionPath::IdentityCenter => "IAM Identity Center",
        SessionPath::FederationBroker => "federation-broker",
        SessionPath::RoleBroker => "role-broker",
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

    /// Says which of the AWS records a path rests on are not in the store (docs/judging.md §6:
    /// the explanation names only stored records).
    pub(crate) fn missing_links(&mut self, path: SessionPath, stored: Links) {
        let s = match path {
            SessionPath::Saml if !stored.saml => {
                "It is SAML-federated by the ConsoleLogin's SamlProviderArn; no AssumeRoleWithSAML of this session is in the store."
            }
            SessionPath::FederationBroker => match (stored.federation, stored.signin_token) {
                (false, false) => {
                    "Neither the GetFederationToken call that issued this federated user's credentials nor a GetSigninToken exchanging them is in the store."
                }
                (false, true) => {
                    "The GetFederationToken call that issued this federated user's credentials is not in the store."
                }
                (true, false) => {
                    "No GetSigninToken call exchanging these credentials for a console sign-in is in the store."
                }
                (true, true) => return,
            },
            SessionPath::RoleBroker if !stored.signin_token => {
                "It is an assumed role without SAML; no GetSigninToken call exchanging its credentials for a console sign-in is in the store, and the AssumeRole call that issued them is not collected."
            }
            SessionPath::RoleBroker => "The AssumeRole call that issued the role's credentials is not collected.",
            _ => return,
        };
        self.parts.push(s.into());
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
