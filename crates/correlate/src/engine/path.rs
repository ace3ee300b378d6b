//! docs/judging.md §1 (the path) and §2 (which IdPs are searched), and the AWS records behind a
//! session.

use super::*;

impl<'a> Index<'a> {
    pub(super) fn chain(&self, c: &'a AwsEvent) -> Chain<'a> {
        let Some(arn) = c.arn.as_deref() else {
            return Chain { saml: None, federation: None, signin_token: None };
        };
        let issued = self.issued.get(arn).map(Vec::as_slice).unwrap_or(&[]);
        let latest = |kind: AwsEventKind, lookback: Millis| {
            issued
                .iter()
                .rev()
                .find(|e| {
                    e.kind == Some(kind)
                        && e.time_ms <= c.time_ms + self.cfg.skew_ms
                        && e.time_ms >= c.time_ms - lookback
                })
                .copied()
        };
        let tokens = self.signin_tokens.get(arn).map(Vec::as_slice).unwrap_or(&[]);
        Chain {
            saml: latest(AwsEventKind::AssumeRoleWithSaml, SAML_LOOKBACK),
            federation: latest(AwsEventKind::GetFederationToken, FEDERATION_LOOKBACK),
            signin_token: tokens
                .iter()
                .rev()
                .find(|e| e.time_ms <= c.time_ms + self.cfg.skew_ms && e.time_ms >= c.time_ms - SIGNIN_TOKEN_LOOKBACK)
                .copied(),
        }
    }

    /// docs/judging.md §1.
    pub(super) fn path(&self, c: &AwsEvent, chain: &Chain<'_>) -> SessionPath {
        match c.principal_type.as_deref() {
            Some("IAMUser" | "Root") => SessionPath::AwsNative,
            Some("AssumedRole") => {
                if c.role_name.as_deref().is_some_and(|r| r.starts_with("AWSReservedSSO_")) {
                    SessionPath::IdentityCenter
                } else if c.saml_provider_arn.is_some() || chain.saml.is_some() {
                    SessionPath::Saml
                } else {
                    SessionPath::RoleBroker
                }
            }
            Some("FederatedUser") => SessionPath::FederationBroker,
            _ => SessionPath::AwsNative,
        }
    }

    /// docs/judging.md §2.
    pub(super) fn searched_idps(&self, c: &AwsEvent, path: SessionPath, chain: &Chain<'_>) -> Vec<Searched> {
        let cfg = self.cfg;
        let saml_arn = c.saml_provider_arn.as_deref().or(chain.saml.and_then(|a| a.saml_provider_arn.as_deref()));
        let issuers: Vec<&str> =
            [c.session_issuer_arn.as_deref(), chain.federation.and_then(|f| f.session_issuer_arn.as_deref())]
                .into_iter()
                .flatten()
                .collect();
        let mapped: Vec<Searched> = cfg
            .idps
            .iter()
            .filter(|r| match path {
                SessionPath::Saml => saml_arn.is_some_and(|a| r.saml_provider_arns.contains(a)),
                SessionPath::IdentityCenter => r.identity_center,
                SessionPath::FederationBroker => issuers.iter().any(|i| r.broker_issuer_arns.contains(*i)),
                SessionPath::RoleBroker => {
                    issuers.iter().any(|i| r.role_arns.contains(*i))
                        || c.role_name
                            .as_deref()
                            .is_some_and(|role| r.role_arns.iter().any(|ra| ra.rsplit('/').next() == Some(role)))
                }
                SessionPath::AwsNative => false,
            })
            .map(|r| Searched { provider: r.provider, scope: r.scope.clone() })
            .collect();
        if !mapped.is_empty() {
            return mapped;
        }
        if !cfg.idps.is_empty() {
            return cfg.idps.iter().map(|r| Searched { provider: r.provider, scope: r.scope.clone() }).collect();
        }
        self.snap.providers_present.iter().map(|p| Searched { provider: *p, scope: None }).collect()
    }
}
