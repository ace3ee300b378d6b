//! Secrets and redaction.
//!
//! A [`Secret`] prints as `***` through `Debug` and `Display`; its text is reachable only through
//! [`Secret::expose`], which the request code calls at the last moment (a header value, a form
//! field, a signing key). Every secret made by this module, and every access token minted through
//! [`crate::oauth`], is also registered in a process-wide list that [`redact`] scrubs from any text
//! that leaves the HTTP layer (vendor error messages): defence in depth in case a server, or a
//! proxy or WAF error page in front of it, echoes the request back.
//!
//! # Every form a secret takes on the wire
//!
//! A server that echoes a request echoes what was sent, not the secret as configured. So this
//! module is the one place that knows each wire form, and [`register`] registers all of them:
//!
//! | form | where it is sent | registered as |
//! |---|---|---|
//! | the secret as configured | headers (`SSWS …`, `Bearer …`), JSON bodies | the text itself, and each line of a multi-line key |
//! | percent-encoded | form bodies (`client_secret=…` to a token endpoint), query strings | `application/x-www-form-urlencoded` (space as `+`), RFC 3986 (unreserved characters kept) and every byte but letters and digits encoded, each with upper- and lower-case hex |
//! | JSON-escaped | a server that echoes the request as JSON | `"` `\` and control characters escaped, and `/` as `\/` |
//! | HTTP Basic | `Authorization: Basic base64(user:secret)` (Jira, ServiceNow) | the base64 of `user:secret` ([`basic_auth`]), which contains neither the user nor the secret as text |
//! | a secret URL | Slack's incoming-webhook URL: the path *is* the credential | the URL's path and its query, each also percent-encoded |
//! | a JWT | a client assertion signed with a private key (Okta `private_key_jwt`, Entra certificate, Google JWT bearer) | the whole token, and its signature segment alone (a cut echo still holds it whole) |
//!
//! Text is redacted before it is cut to length, so a secret is never half inside a message.
//! An authentication endpoint's answer (an OAuth token endpoint's) is never echoed as it is:
//! only the OAuth `error` and `error_description` fields are read from it ([`crate::vendor`]).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

/// A credential or key. `Debug`/`Display` print `***`; compare with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `s` and registers it for [`redact`] (when at least 6 characters long; shorter
    /// strings would scrub ordinary words).
    pub fn new(s: impl Into<String>) -> Secret {
        let s: String = s.into();
        let secret = Secret(Arc::from(s));
        register(&secret);
        secret
    }

    /// A value that travels with secrets (a form field such as `grant_type` or `client_id`) but
    /// is not one: not registered for [`redact`], so messages naming it stay readable.
    pub fn plain(s: impl Into<String>) -> Secret {
        let s: String = s.into();
        Secret(Arc::from(s))
    }

    /// The secret text. Only for building the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a secret could not be loaded. Names the variable or file, never the content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("{what}: set {env_key} (an environment variable name) or {file_key} (a file path) in the configuration")]
    NotConfigured { what: String, env_key: &'static str, file_key: &'static str },
    #[error("{what}: set only one of {env_key} and {file_key}")]
    Both { what: String, env_key: &'static str, file_key: &'static str },
    #[error("{what}: the environment variable {var} is not set or empty")]
    EnvMissing { what: String, var: String },
    #[error("{what}: cannot read the file {path}: {why}")]
    File { what: String, path: String, why: String },
    #[error("{what}: the file {path} is empty")]
    FileEmpty { what: String, path: String },
}

/// Reads a secret from the environment variable `var`. Surrounding white space is removed.
pub fn from_env(what: &str, var: &str) -> Result<Secret, SecretError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        _ => Err(SecretError::EnvMissing { what: what.into(), var: var.into() }),
    }
}

/// Reads a secret from a file (API tokens, client secrets: surrounding white space removed;
/// keys keep their content but lose trailing white space).
pub fn from_file(what: &str, path: &str) -> Result<Secret, SecretError> {
    let text = std::fs::read_to_string(Path::new(path)).map_err(|e| SecretError::File {
        what: what.into(),
        path: path.into(),
        why: e.kind().to_string(),
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(SecretError::FileEmpty { what: what.into(), path: path.into() });
    }
    Ok(Secret::new(t))
}

/// Loads a secret named by a pair of configuration keys (`*_env`, `*_file`): exactly one must
/// be set.
pub fn load(
    what: &str,
    env_key: &'static str,
    env: &str,
    file_key: &'static str,
    file: &str,
) -> Result<Secret, SecretError> {
    match (env.trim(), file.trim()) {
        ("", "") => Err(SecretError::NotConfigured { what: what.into(), env_key, file_key }),
        (e, "") => from_env(what, e),
        ("", f) => from_file(what, f),
        _ => Err(SecretError::Both { what: what.into(), env_key, file_key }),
    }
}

const MAX_REGISTERED: usize = 4096;
const MIN_REDACT_LEN: usize = 6;

fn registry() -> &'static RwLock<Vec<Arc<str>>> {
    static R: OnceLock<RwLock<Vec<Arc<str>>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(Vec::new()))
}

/// Adds a secret, in every form it takes on the wire (see the module docs), to the process-wide
/// list [`redact`] scrubs. Multi-line secrets (PEM keys) are registered line by line too, so a
/// fragment of a key is scrubbed as well.
pub fn register(s: &Secret) {
    let text = s.expose();
    let mut parts: Vec<String> = Vec::new();
    if text.len() >= MIN_REDACT_LEN {
        parts.extend(wire_forms(text));
    }
    if text.contains('\n') {
        for line in text.lines().map(str::trim) {
            if line.len() >= 16 && !line.starts_with("-----") {
                parts.extend(wire_forms(line));
            }
        }
    }
    if let Some(sig) = jwt_signature(text) {
        parts.push(sig.to_string());
    }
    if let Ok(u) = url::Url::parse(text)
        && matches!(u.scheme(), "http" | "https")
    {
        // A secret URL (Slack's incoming webhook): its path and query are the credential.
        for piece in [u.path(), u.query().unwrap_or("")] {
            if piece.len() >= MIN_REDACT_LEN && piece != "/" {
                parts.extend(wire_forms(piece));
            }
        }
    }
    add(parts);
}

fn add(parts: Vec<String>) {
    if parts.is_empty() {
        return;
    }
    let mut r = registry().write().unwrap_or_else(|p| p.into_inner());
    for p in parts {
        if p.len() >= MIN_REDACT_LEN && !r.iter().any(|x| **x == *p) {
            if r.len() >= MAX_REGISTERED {
                r.remove(0);
            }
            r.push(Arc::from(p));
        }
    }
}

/// `text` as it may travel: itself, percent-encoded (three encoders' sets, either hex case) and
/// JSON-escaped.
fn wire_forms(text: &str) -> Vec<String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let mut out = vec![text.to_string()];
    let form: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    for encoded in
        [form, utf8_percent_encode(text, RFC3986).to_string(), utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()]
    {
        out.push(lower_hex(&encoded));
        out.push(encoded);
    }
    if let Ok(json) = serde_json::to_string(text) {
        let inner = &json[1..json.len() - 1];
        out.push(inner.to_string());
        out.push(inner.replace('/', "\\/"));
    }
    out.sort();
    out.dedup();
    out
}

/// `%2F` → `%2f`: some servers echo percent-encoding in lower case.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex = 0;
    for c in s.chars() {
        if c == '%' {
            hex = 2;
            out.push(c);
        } else if hex > 0 {
            hex -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The signature segment of a compact JWS (`header.payload.signature`, base64url), if `text` is one.
fn jwt_signature(text: &str) -> Option<&str> {
    let mut parts = text.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let b64url = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (parts.next().is_none() && h.starts_with("eyJ") && b64url(h) && b64url(p) && b64url(sig) && sig.len() >= 16)
        .then_some(sig)
}

/// The `Authorization` header value of HTTP Basic for `user` and `secret`
/// (`Basic base64(user:secret)`), registered for [`redact`] with its base64 part: the base64 holds
/// neither the user nor the secret as text, so registering the secret alone would not scrub it.
pub fn basic_auth(user: &str, secret: &Secret) -> Secret {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", secret.expose()));
    let unpadded = encoded.trim_end_matches('=').to_string();
    add(vec![encoded.clone(), unpadded]);
    Secret::new(format!("Basic {encoded}"))
}

/// Replaces every registered secret, in every registered form, in `text` with `***`, and makes
/// the rest inert (`trailproof_model::text::inert_lines`: U+FFFD for control characters, line
/// breaks kept; text from servers ends up on terminals). Redact before cutting a text to length.
pub fn redact(text: &str) -> String {
    let mut out = trailproof_model::inert_lines(text).into_owned();
    let r = registry().read().unwrap_or_else(|p| p.into_inner());
    // Longest first, so a whole key is replaced before its lines.
    let mut hits: Vec<&Arc<str>> = r.iter().filter(|s| out.contains(&***s)).collect();
    hits.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in hits {
        out = out.replace(&**s, "***");
    }
    out
}

/// The path of a URL, without query or fragment: what errors and logs may show of a request.
pub fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => u.path().to_string(),
        Err(_) => {
            let no_query = url.split(['?', '#']).next().unwrap_or("");
            match no_query.find("://") {
                Some(i) => {
                    let rest = no_query.get(i + 3..).unwrap_or("");
                    rest.find('/').and_then(|j| rest.get(j..)).unwrap_or("/").to_string()
                }
                None => no_query.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_print_stars() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_scrubs_registered_secrets_and_key_lines() {
        let _ = Secret::new("tok-ABCDEF123456");
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----";
        let _ = Secret::new(pem);
        let out = redact("server said: bad token tok-ABCDEF123456 and key MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\u{1b}[31m");
        assert_eq!(out, "server said: bad token *** and key ***\u{FFFD}[31m");
        // Short strings are not registered (they would scrub ordinary words).
        let _ = Secret::new("abc");
        assert_eq!(redact("abc def"), "abc def");
    }

    #[test]
    fn every_wire_form_of_a_secret_is_scrubbed() {
        // An Entra client secret with the characters its secrets carry (`~`, `.`, `_`) and a few
        // that form encoding changes.
        let _ = Secret::new("Xy8Q~abc.DEF_ghi+j/k=l m");
        for form in [
            "Xy8Q~abc.DEF_ghi+j/k=l m",
            "Xy8Q%7Eabc.DEF_ghi%2Bj%2Fk%3Dl+m",
            "Xy8Q%7eabc.DEF_ghi%2bj%2fk%3dl+m",
            "Xy8Q~abc.DEF_ghi%2Bj%2Fk%3Dl%20m",
            "Xy8Q%7Eabc%2EDEF%5Fghi%2Bj%2Fk%3Dl%20m",
            "Xy8Q~abc.DEF_ghi+j\\/k=l m",
        ] {
            let out = redact(&format!("client_id=app&client_secret={form}&scope=x"));
            assert_eq!(out, "client_id=app&client_secret=***&scope=x", "{form}");
        }
        // HTTP Basic: the base64 of user:secret.
        let token = Secret::new("ATATT3xFfGF0-jira-token");
        let header = basic_auth("bot@example.com", &token);
        assert_eq!(header.expose(), "Basic Ym90QGV4YW1wbGUuY29tOkFUQVRUM3hGZkdGMC1qaXJhLXRva2Vu");
        let out = redact("proxy echo: Authorization: Basic Ym90QGV4YW1wbGUuY29tOkFUQVRUM3hGZkdGMC1qaXJhLXRva2Vu");
        assert_eq!(out, "proxy echo: Authorization: ***");
        // A secret URL: its path and query, however they are shown.
        let _ = Secret::new("https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx?k=secretquery1");
        let out = redact("POST /services/T0001/B0002/abcdefghijklmnopqrstuvwx HTTP/1.1, q=k=secretquery1");
        assert_eq!(out, "POST *** HTTP/1.1, q=***");
        assert_eq!(redact("path %2Fservices%2FT0001%2FB0002%2Fabcdefghijklmnopqrstuvwx"), "path ***");
        // A JWT: whole, and its signature alone when the echo cut the rest.
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJzYUBwLmlhbSJ9.c2lnbmF0dXJlLXNlZ21lbnQtb2YtdGhlLWp3dC1hYmNk";
        let _ = Secret::new(jwt);
        assert_eq!(redact(&format!("assertion={jwt}")), "assertion=***");
        assert_eq!(
            redact("cut: eyJpc3MiOiJzYUBwLmlhbSJ9.c2lnbmF0dXJlLXNlZ21lbnQtb2YtdGhlLWp3dC1hYmNk"),
            "cut: eyJpc3MiOiJzYUBwLmlhbSJ9.***"
        );
    }

    #[test]
    fn load_requires_exactly_one_source() {
        let e = load("Okta API token", "token_env", "", "token_file", "").unwrap_err();
        assert!(e.to_string().contains("token_env"), "{e}");
        let e = load("Okta API token", "token_env", "A", "token_file", "b").unwrap_err();
        assert!(matches!(e, SecretError::Both { .. }));
        let e = load("x", "token_env", "TRAILPROOF_SURELY_UNSET_VAR", "token_file", "").unwrap_err();
        assert_eq!(e.to_string(), "x: the environment variable TRAILPROOF_SURELY_UNSET_VAR is not set or empty");
        let dir = std::env::temp_dir().join(format!("tp-secret-{}", std::process::id()));
        std::fs::write(&dir, "  s3cr3t-from-file\n").unwrap();
        let s = load("x", "token_env", "", "token_file", dir.to_str().unwrap()).unwrap();
        assert_eq!(s.expose(), "s3cr3t-from-file");
        std::fs::remove_file(&dir).unwrap();
        // PATH is set wherever tests run.
        let s = from_env("x", "PATH").unwrap();
        assert_eq!(s.expose(), std::env::var("PATH").unwrap().trim());
        let e = from_file("x", "/nonexistent/trailproof/secret").unwrap_err();
        assert!(e.to_string().starts_with("x: cannot read the file /nonexistent/trailproof/secret"), "{e}");
    }

    #[test]
    fn path_of_drops_query_and_host() {
        assert_eq!(path_of("https://x.okta.com/api/v1/logs?after=abc&limit=1000"), "/api/v1/logs");
        assert_eq!(path_of("http://127.0.0.1:9/beta/auditLogs/signIns?$skiptoken=x"), "/beta/auditLogs/signIns");
        assert_eq!(path_of("not a url?q=1"), "not a url");
    }
}
