//! Webhook signatures by the Standard Webhooks specification (v1.0.0,
//! https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
//! `webhook-id`, `webhook-timestamp` (Unix seconds, fresh on every attempt, so that a receiver's
//! replay window protects it) and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`. The key is the secret's bytes after `whsec_`, base64-decoded; a
//! secret without that prefix is used as it is (the specification allows reusing an existing
//! secret when migrating: "You can even reuse existing webhook signing secrets").
//!
//! The old `X-Trailproof-Signature: sha256=<hex HMAC of the body>` is sent too for this version,
//! and will be dropped in the next.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

/// The HMAC key a webhook secret stands for: `whsec_<base64>` decoded, any other secret as its
/// bytes.
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, String> {
    let s = secret.trim();
    match s.strip_prefix("whsec_") {
        Some(b64) => {
            let key = STANDARD
                .decode(b64)
                .map_err(|e| format!("the whsec_ secret is not valid base64 after its prefix: {e}"))?;
            if key.is_empty() {
                return Err("the whsec_ secret is empty after its prefix".into());
            }
            Ok(key)
        }
        None => Ok(s.as_bytes().to_vec()),
    }
}

fn mac(key: &[u8]) -> Hmac<sha2::Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// `v1,<base64>`: the `webhook-signature` value for one attempt.
pub fn standard_signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1,{}", STANDARD.encode(m.finalize().into_bytes()))
}

/// Whether one of the space-separated `v1,` signatures of a `webhook-signature` header is the
/// one of this id, timestamp and body (compared in constant time), and the timestamp is within
/// `tolerance_s` of `now_s`. What a receiver does.
pub fn verify_standard(
    key: &[u8],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_s: u64,
    tolerance_s: u64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<u64>() else { return false };
    if ts.abs_diff(now_s) > tolerance_s || id.is_empty() || id.contains('.') {
        return false;
    }
    signatures.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).any(|b64| {
        let Ok(want) = STANDARD.decode(b64) else { return false };
        let mut m = mac(key);
        m.update(id.as_bytes());
        m.update(b".");
        m.update(ts.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m.verify_slice(&want).is_ok()
    })
}

/// Hex HMAC-SHA256 of `body` under `key`: the old `X-Trailproof-Signature: sha256=…` header
/// (kept for one version).
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// The `webhook-id` of a delivery: the same for every attempt of one (dedup key, version,
/// action), never containing `.` (the specification forbids it in the signed id).
pub(crate) fn delivery_id(delivery: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(delivery.as_bytes());
    format!("msg_{}", &hex::encode(h)[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the Standard Webhooks reference libraries check against (secret, id,
    /// timestamp, body and signature as published with the specification's libraries).
    #[test]
    fn the_specifications_test_vector() {
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = standard_signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let now = 1_614_265_330 + 10;
        assert!(verify_standard(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &sig, body, now, 300));
        // Several signatures (a key rotation): one match is enough.
        let two = format!("v1,AAAA {sig}");
        assert!(verify_standard(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &two, body, now, 300));
        // Another body, id, timestamp, key, or a replay outside the window: refused.
        assert!(!verify_standard(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &sig, b"{}", now, 300));
        assert!(!verify_standard(&key, "msg_other", "1614265330", &sig, body, now, 300));
        assert!(!verify_standard(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331", &sig, body, now, 300));
        assert!(!verify_standard(b"other", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &sig, body, now, 300));
        assert!(!verify_standard(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &sig, body, now + 600, 300));
    }

    #[test]
    fn secrets_and_ids() {
        assert_eq!(webhook_key("plain-key").unwrap(), b"plain-key");
        assert!(webhook_key("whsec_!!!").is_err());
        assert!(webhook_key("whsec_").is_err());
        let a = delivery_id("111122223333:e1/v1/create");
        assert_eq!(a, delivery_id("111122223333:e1/v1/create"));
        assert_ne!(a, delivery_id("111122223333:e1/v2/update"));
        assert!(a.starts_with("msg_") && !a.contains('.'));
    }
}
