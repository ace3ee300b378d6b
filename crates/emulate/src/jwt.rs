//! Verification of the signed JWTs clients present (Okta private_key_jwt client assertions,
//! Google service-account JWT-bearer assertions).

use jsonwebtoken::dangerous::insecure_decode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::clock::wall_ms;

/// Why an assertion was refused (text for the vendor's error description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwtFail {
    Malformed(String),
    Signature,
    Expired,
    /// exp/iat missing, or the lifetime is too long.
    Lifetime,
}

/// Verifies `token` with `key_pem` (RSA or EC public key; RS256/384/512, PS256/384/512,
/// ES256/384) when given, else only decodes it. Checks `exp` (60 s leeway) and that the
/// lifetime `exp - iat` is at most `max_lifetime_s`. Returns the claims.
pub(crate) fn verify(token: &str, key_pem: Option<&str>, max_lifetime_s: i64) -> Result<Value, JwtFail> {
    let header = decode_header(token).map_err(|e| JwtFail::Malformed(e.to_string()))?;
    let claims: Value = match key_pem {
        Some(pem) => {
            let key = match header.alg {
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem.as_bytes()),
                Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()),
                other => return Err(JwtFail::Malformed(format!("algorithm {other:?} is not allowed"))),
            }
            .map_err(|_| JwtFail::Signature)?;
            let mut v = Validation::new(header.alg);
            v.validate_aud = false;
            v.validate_exp = false;
            v.required_spec_claims.clear();
            match decode::<Value>(token, &key, &v) {
                Ok(d) => d.claims,
                Err(e) => {
                    return Err(match e.kind() {
                        jsonwebtoken::errors::ErrorKind::InvalidSignature
                        | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                        | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
                        | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                        | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey => JwtFail::Signature,
                        _ => JwtFail::Malformed(e.to_string()),
                    });
                }
            }
        }
        None => insecure_decode::<Value>(token).map_err(|e| JwtFail::Malformed(e.to_string()))?.claims,
    };
    let num = |k: &str| claims.get(k).and_then(Value::as_f64).map(|f| f as i64);
    let now_s = wall_ms() / 1000;
    let Some(exp) = num("exp") else { return Err(JwtFail::Lifetime) };
    if exp + 60 < now_s {
        return Err(JwtFail::Expired);
    }
    let iat = num("iat").unwrap_or(now_s);
    if exp - iat > max_lifetime_s || iat > now_s + 300 {
        return Err(JwtFail::Lifetime);
    }
    Ok(claims)
}

/// The `aud` claim as a list (it may be a string or an array).
pub(crate) fn audiences(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}
