//! Live collection from Microsoft Graph **beta** `GET /beta/auditLogs/signIns` (formats.md 3.1,
//! 3.3): the I/O half of this crate. The collector (`trailproof-collect`) decides which time
//! windows to read and keeps checkpoints; this module knows how to ask Graph.
//!
//! - Why beta: v1.0 sign-ins lack `authenticationDetails`, `authenticationRequirement`,
//!   `sessionId` and the other fields the MFA rules read.
//! - Which sign-ins: Graph beta lists **interactive** user sign-ins unless `signInEventTypes` is
//!   filtered on; this collector reads them (query 0 of a window) and, unless `non_interactive =
//!   false`, the **non-interactive** user sign-ins too (query 1, `signInEventTypes/any(t: t eq
//!   'nonInteractiveUser')`, the filter Microsoft's own examples use). Non-interactive sign-ins
//!   do start console sessions: Microsoft logs "single sign-on (SSO) to a web or Windows app on
//!   a Microsoft Entra joined PC (without providing an authentication factor or interacting with
//!   a Microsoft Entra prompt)" as one (MicrosoftDocs/entra-docs
//!   `docs/identity/monitoring-health/concept-noninteractive-sign-ins.md`, "Log details"); such a
//!   sign-in to the AWS app carries the MFA claim of the token it was made with ("MFA requirement
//!   satisfied by claim in the token"), which the parser reads as carried. With `app_ids` the
//!   non-interactive query asks for those applications only; without, for every application
//!   (non-interactive sign-ins outnumber interactive ones many times over: set `app_ids`).
//! - Authentication: client credentials at `<authority>/<tenant>/oauth2/v2.0/token`, scope
//!   `https://graph.microsoft.com/.default` (or `<graph_url>/.default` for the national clouds),
//!   with the client secret (`client_secret_env` / `client_secret_file`), or with a certificate:
//!   a client assertion JWT (RS256, header `x5t` = base64url of the certificate's SHA-1
//!   thumbprint, `aud` = the token URL, `iss` = `sub` = client id, 10 minutes) signed with
//!   `certificate_key_file`. Needs `AuditLog.Read.All` and `Directory.Read.All` (application
//!   permissions, admin consent) and an Entra ID P1/P2 licence.
//! - Requests: `$filter=createdDateTime ge A and createdDateTime le B` (unquoted ISO 8601, both
//!   ends inclusive), with `and (appId eq 'x' or appId eq 'y')` when `app_ids` is set: one `or`
//!   group in one stream, so a time window is read by one paged query (the grouping is standard
//!   OData; Graph documents `eq` on `appId`, the `or` group is UNCONFIRMED against the live
//!   service — a 400 would say so loudly, never drop data silently). `$top=1000`. Results come
//!   newest first; follow `@odata.nextLink` (checked to point at the configured Graph host)
//!   until absent.
//! - Rate: `requests_per_10s` (default 5, Graph's limit for identity and access reports per app
//!   per tenant); 429s are retried after `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use trailproof_http::jwt::{SigningKey, jti, now_s, x5t_from_thumbprint};
use trailproof_http::pace::Pacer;
use trailproof_http::secret::{self, Secret};
use trailproof_http::{Api, ApiStats, Auth, ConnectOptions, HttpError, Page, TokenSource, checked_link, endpoint};
use trailproof_model::config::EntraSource;
use trailproof_model::time::{Millis, format_ms};
use url::Url;

pub const SIGNINS_PATH: &str = "/beta/auditLogs/signIns";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// The scope for the global cloud (and any non-Microsoft host, e.g. an emulator).
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
pub const MAX_TOP: u32 = 1000;
/// Default pacing: 5 requests per 10 seconds (formats.md 3.1, throttling).
pub const DEFAULT_REQUESTS_PER_10S: u32 = 5;

/// How the app authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    ClientSecret,
    Certificate,
}

/// A connected tenant.
#[derive(Debug)]
pub struct EntraApi {
    api: Api,
    graph: Url,
    tenant: String,
    app_filter: Option<String>,
    top: u32,
    kind: AuthKind,
    non_interactive: bool,
}

/// The `$filter` term that lists non-interactive user sign-ins (Graph beta `signIn`,
/// `signInEventTypes`; the form of Microsoft's examples, e.g. MicrosoftDocs/entra-docs
/// `reports-faq.yml` and the sign-in logs' Graph example).
pub const NON_INTERACTIVE_FILTER: &str = "signInEventTypes/any(t: t eq 'nonInteractiveUser')";

/// `.default` scope of the Graph host: national clouds have their own.
fn scope_for(graph: &Url) -> String {
    match graph.host_str() {
        Some(h @ ("graph.microsoft.us" | "dod-graph.microsoft.us" | "microsoftgraph.chinacloudapi.cn")) => {
            format!("https://{h}/.default")
        }
        _ => GRAPH_SCOPE.to_string(),
    }
}

/// OData string literal: `'` doubled.
fn odata_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `appId` part of the filter for the configured applications.
fn app_filter(app_ids: &[String]) -> Option<String> {
    let ids: Vec<&str> = app_ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    match ids.as_slice() {
        [] => None,
        [one] => Some(format!("appId eq {}", odata_str(one))),
        many => Some(format!(
            "({})",
            many.iter().map(|id| format!("appId eq {}", odata_str(id))).collect::<Vec<_>>().join(" or ")
        )),
    }
}

/// Sets up the client for `cfg`: loads the credential, builds the token source and the pacer.
pub fn connect(cfg: &EntraSource, opts: &ConnectOptions) -> Result<EntraApi, HttpError> {
    let tenant = cfg.tenant_id.trim().to_string();
    if tenant.is_empty() || tenant.contains(['/', '?', '#', ' ']) {
        return Err(HttpError::Config("entra: set tenant_id (the directory id or a verified domain)".into()));
    }
    let client_id = cfg.client_id.trim().to_string();
    if client_id.is_empty() {
        return Err(HttpError::Config("entra: set client_id (the app registration's application id)".into()));
    }
    let authority = trailproof_http::base_url(
        "entra authority_url",
        if cfg.authority_url.trim().is_empty() { DEFAULT_AUTHORITY } else { &cfg.authority_url },
    )?;
    let graph = trailproof_http::base_url(
        "entra graph_url",
        if cfg.graph_url.trim().is_empty() { DEFAULT_GRAPH } else { &cfg.graph_url },
    )?;
    let http = trailproof_http::client(opts.timeout)?;
    let mut token_url = authority.clone();
    {
        let base_path = authority.path().trim_end_matches('/').to_string();
        token_url.set_path(&format!("{base_path}/{tenant}/oauth2/v2.0/token"));
    }
    let scope = scope_for(&graph);
    let has_secret = !cfg.client_secret_env.trim().is_empty() || !cfg.client_secret_file.trim().is_empty();
    let has_cert = !cfg.certificate_key_file.trim().is_empty() || !cfg.certificate_thumbprint.trim().is_empty();
    let (form, kind): (trailproof_http::oauth::FormFn, AuthKind) = match (has_secret, has_cert) {
        (true, true) => {
            return Err(HttpError::Config(
                "entra: set either a client secret (client_secret_env / client_secret_file) or a certificate \
                 (certificate_key_file + certificate_thumbprint), not both"
                    .into(),
            ));
        }
        (false, false) => {
            return Err(HttpError::Config(
                "entra: no credentials: set client_secret_env or client_secret_file, or certificate_key_file \
                 and certificate_thumbprint"
                    .into(),
            ));
        }
        (true, false) => {
            let secret = secret::load(
                "Entra client secret",
                "client_secret_env",
                &cfg.client_secret_env,
                "client_secret_file",
                &cfg.client_secret_file,
            )?;
            let client_id = client_id.clone();
            let form: trailproof_http::oauth::FormFn = Box::new(move || {
                Ok(vec![
                    ("grant_type", Secret::plain("client_credentials")),
                    ("client_id", Secret::plain(client_id.clone())),
                    ("client_secret", secret.clone()),
                    ("scope", Secret::plain(scope.clone())),
                ])
            });
            (form, AuthKind::ClientSecret)
        }
        (false, true) => {
            if cfg.certificate_key_file.trim().is_empty() || cfg.certificate_thumbprint.trim().is_empty() {
                return Err(HttpError::Config(
                    "entra: a certificate credential needs both certificate_key_file and certificate_thumbprint".into(),
                ));
            }
            let pem = secret::from_file("Entra certificate key", cfg.certificate_key_file.trim())?;
            let key =
                SigningKey::from_pem(&pem, &format!("the Entra certificate key file {}", cfg.certificate_key_file))?
                    .with_x5t(Some(x5t_from_thumbprint(&cfg.certificate_thumbprint)?));
            let aud = token_url.to_string();
            let client_id = client_id.clone();
            let form: trailproof_http::oauth::FormFn = Box::new(move || {
                let now = now_s();
                let claims = serde_json::json!({
                    "aud": aud, "iss": client_id, "sub": client_id,
                    "jti": jti(), "nbf": now, "iat": now, "exp": now + 600,
                });
                Ok(vec![
                    ("grant_type", Secret::plain("client_credentials")),
                    ("client_id", Secret::plain(client_id.clone())),
                    ("scope", Secret::plain(scope.clone())),
                    ("client_assertion_type", Secret::plain("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")),
                    ("client_assertion", key.sign(&claims)?),
                ])
            });
            (form, AuthKind::Certificate)
        }
    };
    let ts = TokenSource::new(http.clone(), token_url, opts.policy, form);
    let per_10s = cfg.requests_per_10s.unwrap_or(DEFAULT_REQUESTS_PER_10S);
    let pacer = Arc::new(Pacer::new(per_10s, Duration::from_secs(10)));
    let api = Api::new(http, pacer, opts.policy, Auth::Bearer(Arc::new(ts))).with_observer(opts.observer.clone());
    Ok(EntraApi {
        api,
        graph,
        tenant,
        app_filter: app_filter(&cfg.app_ids),
        top: opts.page_size_or(MAX_TOP),
        kind,
        non_interactive: cfg.non_interactive.unwrap_or(true),
    })
}

#[derive(Deserialize)]
struct GraphPage {
    value: Vec<IgnoredAny>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
}

fn read_page(body: &[u8]) -> Result<GraphPage, String> {
    serde_json::from_slice::<GraphPage>(body).map_err(|e| e.to_string())
}

impl EntraApi {
    /// The tenant as configured (an id or a domain).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn auth_kind(&self) -> AuthKind {
        self.kind
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn stats(&self) -> ApiStats {
        self.api.stats()
    }

    pub fn graph(&self) -> &Url {
        &self.graph
    }

    /// The `$filter` for sign-ins created in `[from, to]` (both inclusive).
    pub fn filter(&self, from: Millis, to: Millis) -> String {
        let mut f = format!("createdDateTime ge {} and createdDateTime le {}", format_ms(from), format_ms(to));
        if let Some(apps) = &self.app_filter {
            f.push_str(" and ");
            f.push_str(apps);
        }
        f
    }

    /// The first page of (interactive) sign-ins created in `[from, to]`, newest first.
    pub fn window_url(&self, from: Millis, to: Millis) -> Url {
        self.query_url(0, from, to)
    }

    /// Paged queries per time window: interactive sign-ins, then (unless turned off)
    /// non-interactive ones.
    pub fn queries(&self) -> usize {
        if self.non_interactive { 2 } else { 1 }
    }

    /// Whether non-interactive sign-ins are read, and to which applications.
    pub fn non_interactive(&self) -> Option<&str> {
        self.non_interactive.then(|| self.app_filter.as_deref().unwrap_or("every application"))
    }

    /// The first page of query `q` (0: interactive, 1: non-interactive) for `[from, to]`.
    pub fn query_url(&self, q: usize, from: Millis, to: Millis) -> Url {
        let mut f = self.filter(from, to);
        if q == 1 {
            f.push_str(" and ");
            f.push_str(NON_INTERACTIVE_FILTER);
        }
        let mut u = endpoint(&self.graph, SIGNINS_PATH);
        u.query_pairs_mut().append_pair("$filter", &f).append_pair("$top", &self.top.to_string());
        u
    }

    /// A stored next link, if it still points at this Graph host's sign-ins.
    pub fn resume_url(&self, stored: &str) -> Option<Url> {
        checked_link(&self.graph, stored, SIGNINS_PATH).ok()
    }

    /// GETs one page. A body that is not a Graph page is retried as a truncated response.
    pub async fn page(&self, url: &Url) -> Result<Page, HttpError> {
        let reply = self.api.get(url, &|b| read_page(b).map(|_| ())).await?;
        let page = read_page(&reply.body).map_err(|why| HttpError::Protocol { path: reply.path.clone(), why })?;
        let next = match page.next.as_deref().filter(|s| !s.is_empty()) {
            Some(l) => Some(checked_link(&self.graph, l, SIGNINS_PATH)?),
            None => None,
        };
        Ok(Page { body: reply.body, next, records: page.value.len(), path: reply.path })
    }

    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        match self.api.auth() {
            Auth::Bearer(ts) => Some(ts),
            _ => None,
        }
    }

    /// The smallest request that proves the app may read sign-ins: one sign-in of the last hour.
    pub fn probe_url(&self, now: Millis) -> Url {
        let mut u = endpoint(&self.graph, SIGNINS_PATH);
        u.query_pairs_mut()
            .append_pair("$filter", &format!("createdDateTime ge {}", format_ms(now - 3_600_000)))
            .append_pair("$top", "1");
        u
    }
}

/// What to tell the user when a check or a collection fails with `e`.
pub fn fix_hint(e: &HttpError) -> Option<&'static str> {
    let code = e.vendor_code().unwrap_or("");
    let msg = e.to_string();
    if msg.contains("AADSTS7000215") || msg.contains("AADSTS7000222") {
        return Some(
            "the client secret is wrong or expired: create a new one (App registrations > Certificates & secrets) and use its Value, not its Secret ID",
        );
    }
    if msg.contains("AADSTS700016") {
        return Some("client_id is not an application in this tenant: check client_id and tenant_id");
    }
    if msg.contains("AADSTS90002") || msg.contains("AADSTS900023") {
        return Some("tenant_id was not found: use the directory (tenant) id or a verified domain");
    }
    if msg.contains("AADSTS700027") || msg.contains("AADSTS700024") {
        return Some(
            "the certificate assertion was refused: upload the certificate to the app registration and check certificate_thumbprint and the machine clock",
        );
    }
    match (e, code) {
        (_, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") => {
            Some("reading sign-in logs through Graph needs an Entra ID P1 or P2 licence in the tenant")
        }
        (_, "Authorization_RequestDenied") | (HttpError::Refused { status: 403, .. }, _) => Some(
            "grant the app the Microsoft Graph application permissions AuditLog.Read.All and Directory.Read.All, \
             with admin consent",
        ),
        (HttpError::Unauthorized { .. }, _) => Some(
            "Graph refused the access token: check that the token is for Microsoft Graph (graph_url) and the tenant",
        ),
        (HttpError::TokenRefused { .. }, _) => {
            Some("check tenant_id, client_id and the credential in the app registration")
        }
        (HttpError::GaveUp { .. }, _) => Some(
            "check graph_url / authority_url, the network path (proxy, firewall) and the Microsoft 365 status page",
        ),
        (HttpError::Config(_) | HttpError::Secret(_), _) => {
            Some("fix the [[collect.entra]] entry of the configuration")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> EntraSource {
        EntraSource {
            tenant_id: "00000000-0000-0000-0000-0000000e1a00".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret_file: concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into(),
            ..Default::default()
        }
    }

    #[test]
    fn filter_with_times_and_apps() {
        let mut c = cfg();
        let api = connect(&c, &ConnectOptions::default()).unwrap();
        assert_eq!(
            api.filter(1_767_225_600_000, 1_767_229_199_999),
            "createdDateTime ge 2026-01-01T00:00:00Z and createdDateTime le 2026-01-01T00:59:59.999Z"
        );
        c.app_ids = vec!["aws-1".into()];
        let api = connect(&c, &ConnectOptions::default()).unwrap();
        assert!(api.filter(0, 1).ends_with(" and appId eq 'aws-1'"), "{}", api.filter(0, 1));
        c.app_ids = vec!["a".into(), "o'b".into(), " ".into()];
        let api = connect(&c, &ConnectOptions { page_size: Some(50), ..Default::default() }).unwrap();
        assert!(api.filter(0, 1).ends_with(" and (appId eq 'a' or appId eq 'o''b')"), "{}", api.filter(0, 1));
        let u = api.window_url(0, 1);
        assert_eq!(u.as_str().split('?').next(), Some("https://graph.microsoft.com/beta/auditLogs/signIns"));
        assert!(u.query().unwrap().ends_with("&%24top=50"), "{u}");
    }

    #[test]
    fn non_interactive_sign_ins_are_a_second_query() {
        let mut c = cfg();
        c.app_ids = vec!["aws-1".into()];
        let api = connect(&c, &ConnectOptions::default()).unwrap();
        assert_eq!(api.queries(), 2);
        let q1 = api.query_url(1, 0, 1);
        let f: String = q1.query_pairs().find(|(k, _)| k == "$filter").map(|(_, v)| v.into_owned()).unwrap();
        assert!(f.ends_with(" and appId eq 'aws-1' and signInEventTypes/any(t: t eq 'nonInteractiveUser')"), "{f}");
        assert!(!api.window_url(0, 1).as_str().contains("signInEventTypes"));
        c.non_interactive = Some(false);
        let api = connect(&c, &ConnectOptions::default()).unwrap();
        assert_eq!((api.queries(), api.non_interactive()), (1, None));
    }

    #[test]
    fn scopes_per_cloud() {
        assert_eq!(scope_for(&Url::parse("https://graph.microsoft.com").unwrap()), GRAPH_SCOPE);
        assert_eq!(
            scope_for(&Url::parse("https://graph.microsoft.us").unwrap()),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(scope_for(&Url::parse("http://127.0.0.1:8080").unwrap()), GRAPH_SCOPE);
    }

    #[test]
    fn credentials_are_required_and_exclusive() {
        let mut c = cfg();
        c.client_secret_file.clear();
        assert!(connect(&c, &ConnectOptions::default()).unwrap_err().to_string().contains("no credentials"));
        let mut c = cfg();
        c.certificate_thumbprint = "ab".into();
        assert!(connect(&c, &ConnectOptions::default()).unwrap_err().to_string().contains("not both"));
        let mut c = cfg();
        c.tenant_id = "".into();
        assert!(connect(&c, &ConnectOptions::default()).unwrap_err().to_string().contains("tenant_id"));
    }

    #[test]
    fn page_parsing() {
        let p = read_page(br#"{"@odata.context":"x","value":[{"id":"1"},{"id":"2"}],"@odata.nextLink":"https://g/n"}"#)
            .unwrap();
        assert_eq!(p.value.len(), 2);
        assert_eq!(p.next.as_deref(), Some("https://g/n"));
        assert!(read_page(br#"{"value":[{"id":"1"},{"id":"#).is_err());
        assert!(read_page(br#"[1,2]"#).is_err());
    }
}
