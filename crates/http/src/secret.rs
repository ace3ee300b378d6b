//! Secrets and redaction.
//!
//! A [`Secret`] prints as `***` through `Debug` and `Display`; its text is reachable only through
//! [`Secret::expose`], which the request code calls at the last moment (a header value, a form
//! field, a signing key). Every secret made by this module, and every access token minted through
//! [`crate::oauth`], is also registered in a process-wide list that [`redact`] scrubs from any text
//! that leaves the HTTP layer (vendor error messages): defence in depth in case a server echoes a
//! credential back.

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

/// Adds a secret to the process-wide list [`redact`] scrubs. Multi-line secrets (PEM keys) are
/// registered line by line, so a fragment of a key is scrubbed too.
pub fn register(s: &Secret) {
    let mut parts: Vec<Arc<str>> = Vec::new();
    let text = s.expose();
    if text.len() >= MIN_REDACT_LEN {
        parts.push(Arc::from(text));
    }
    if text.contains('\n') {
        for line in text.lines().map(str::trim) {
            if line.len() >= 16 && !line.starts_with("-----") {
                parts.push(Arc::from(line));
            }
        }
    }
    if parts.is_empty() {
        return;
    }
    let mut r = registry().write().unwrap_or_else(|p| p.into_inner());
    for p in parts {
        if !r.iter().any(|x| **x == *p) {
            if r.len() >= MAX_REGISTERED {
                r.remove(0);
            }
            r.push(p);
        }
    }
}

/// Replaces every registered secret in `text` with `***`, and removes control characters
/// (text from servers ends up on terminals).
pub fn redact(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect();
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
        assert_eq!(out, "server said: bad token *** and key *** [31m");
        // Short strings are not registered (they would scrub ordinary words).
        let _ = Secret::new("abc");
        assert_eq!(redact("abc def"), "abc def");
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
