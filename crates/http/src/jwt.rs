//! RS256 JWTs for client assertions: Okta private_key_jwt, Entra certificate credentials,
//! Google service-account JWT-bearer grants.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::HttpError;
use crate::secret::Secret;

/// An RSA private key ready to sign. Built once from PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8
/// `PRIVATE KEY`), so a bad key is reported when the source is set up, not mid-run.
#[derive(Clone)]
pub struct SigningKey {
    key: EncodingKey,
    /// `kid` header (Google: the key file's `private_key_id`).
    kid: Option<String>,
    /// `x5t` header (Entra: base64url SHA-1 thumbprint of the certificate).
    x5t: Option<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("key", &"***").field("kid", &self.kid).field("x5t", &self.x5t).finish()
    }
}

impl SigningKey {
    /// `what` names the key in errors (e.g. "the Okta private key file /etc/okta.pem").
    pub fn from_pem(pem: &Secret, what: &str) -> Result<SigningKey, HttpError> {
        let key = EncodingKey::from_rsa_pem(pem.expose().as_bytes()).map_err(|_| {
            HttpError::Config(format!("{what} is not an RSA private key in PEM form (PKCS#1 or PKCS#8)"))
        })?;
        // Sign once now: some malformed keys parse but cannot sign.
        let k = SigningKey { key, kid: None, x5t: None };
        k.sign(&serde_json::json!({"probe": true}))
            .map_err(|_| HttpError::Config(format!("{what} cannot sign RS256 JWTs (is it an RSA key?)")))?;
        Ok(k)
    }

    pub fn with_kid(mut self, kid: Option<String>) -> SigningKey {
        self.kid = kid.filter(|s| !s.is_empty());
        self
    }

    pub fn with_x5t(mut self, x5t: Option<String>) -> SigningKey {
        self.x5t = x5t.filter(|s| !s.is_empty());
        self
    }

    /// Signs `claims` with RS256 (header `typ: JWT`, plus `kid` / `x5t` when set).
    pub fn sign(&self, claims: &serde_json::Value) -> Result<Secret, HttpError> {
        let mut h = Header::new(Algorithm::RS256);
        h.typ = Some("JWT".into());
        h.kid = self.kid.clone();
        h.x5t = self.x5t.clone();
        let token = jsonwebtoken::encode(&h, claims, &self.key)
            .map_err(|e| HttpError::Config(format!("cannot sign a JWT: {}", e.kind_text())))?;
        Ok(Secret::new(token))
    }
}

trait KindText {
    fn kind_text(&self) -> String;
}

impl KindText for jsonwebtoken::errors::Error {
    fn kind_text(&self) -> String {
        // The error kinds carry no key material; keep the text short.
        format!("{:?}", self.kind()).chars().take(80).collect()
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A unique JWT id (`jti`): time and a process counter; uniqueness, not secrecy, is needed.
pub fn jti() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{:016x}{:08x}{:08x}", nanos, std::process::id(), crate::splitmix(nanos ^ n) as u32)
}

/// The `x5t` header value from a certificate thumbprint: 40 hex digits (as Azure shows it,
/// colons or spaces allowed) become base64url of the 20 bytes; anything else is taken as an
/// already encoded base64url value.
pub fn x5t_from_thumbprint(thumbprint: &str) -> Result<String, HttpError> {
    use base64::Engine;
    let hex: String = thumbprint.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
    if hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let bytes: Vec<u8> =
            (0..20).filter_map(|i| hex.get(2 * i..2 * i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
        return Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    }
    let t = thumbprint.trim();
    if (27..=28).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
    {
        return Ok(t.trim_end_matches('=').to_string());
    }
    Err(HttpError::Config(format!(
        "certificate_thumbprint {t:?} is neither a SHA-1 thumbprint in hex (40 digits) nor its base64url form"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_hex_to_x5t() {
        // SHA-1 of the empty string.
        let x = x5t_from_thumbprint("DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09").unwrap();
        assert_eq!(x, "2jmj7l5rSw0yVb_vlWAYkK_YBwk");
        assert_eq!(x5t_from_thumbprint("da39a3ee5e6b4b0d3255bfef95601890afd80709").unwrap(), x);
        assert_eq!(x5t_from_thumbprint("2jmj7l5rSw0yVb_vlWAYkK_YBwk").unwrap(), x);
        assert!(x5t_from_thumbprint("nope").is_err());
    }

    #[test]
    fn jti_is_unique() {
        let a = jti();
        let b = jti();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn bad_pem_is_a_config_error_without_key_text() {
        let s = Secret::new("-----BEGIN PRIVATE KEY-----\nnot-base64-at-all-xxxxxxxxxxxx\n-----END PRIVATE KEY-----");
        let e = SigningKey::from_pem(&s, "the key file k.pem").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("k.pem is not an RSA private key"), "{text}");
        assert!(!text.contains("not-base64"), "{text}");
    }
}
