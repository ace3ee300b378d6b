//! The demo's ticket receiver: a webhook endpoint on loopback that checks each delivery's
//! HMAC-SHA256 signature and counts tickets by their dedup key, so the demo can show that every
//! ticket arrived once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Deliveries per dedup key (account + ConsoleLogin event id).
    pub by_key: BTreeMap<String, u64>,
    /// Deliveries whose signature did not verify (answered 401).
    pub bad_signatures: u64,
    /// Deliveries that were not JSON.
    pub bad_bodies: u64,
}

#[derive(Clone)]
struct Sink {
    secret: Arc<Vec<u8>>,
    received: Arc<Mutex<Received>>,
}

pub struct DemoSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl DemoSink {
    pub fn url(&self) -> String {
        format!("http://{}/hooks/trailproof", self.addr)
    }

    pub fn received(&self) -> Received {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn verify(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers.get("x-trailproof-signature").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(want) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&want).is_ok()
}

/// The dedup key of a delivery: the `dedup_key` field of the JSON body, else the idempotency
/// header.
fn dedup_key(headers: &HeaderMap, body: &serde_json::Value) -> Option<String> {
    body.get("dedup_key")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| headers.get("x-trailproof-delivery").and_then(|v| v.to_str().ok()).map(str::to_string))
}

async fn hook(State(s): State<Sink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !verify(&s.secret, &headers, &body) {
        if let Ok(mut r) = s.received.lock() {
            r.bad_signatures += 1;
        }
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        if let Ok(mut r) = s.received.lock() {
            r.bad_bodies += 1;
        }
        return StatusCode::BAD_REQUEST;
    };
    let key = dedup_key(&headers, &json).unwrap_or_else(|| "(no key)".into());
    if let Ok(mut r) = s.received.lock() {
        *r.by_key.entry(key).or_default() += 1;
    }
    StatusCode::NO_CONTENT
}

/// Starts the receiver on a free loopback port.
pub async fn start(secret: &[u8]) -> std::io::Result<DemoSink> {
    let received = Arc::new(Mutex::new(Received::default()));
    let state = Sink { secret: Arc::new(secret.to_vec()), received: received.clone() };
    let app = Router::new().route("/hooks/trailproof", post(hook)).with_state(state);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(DemoSink { addr, received, _shutdown: tx })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &[u8], body: &[u8]) -> HeaderMap {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        let mut h = HeaderMap::new();
        h.insert(
            "x-trailproof-signature",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())).parse().unwrap(),
        );
        h
    }

    #[test]
    fn a_signature_verifies_only_with_the_secret_and_the_exact_body() {
        let body = br#"{"dedup_key":"111122223333/e1"}"#;
        let h = signed(b"s3cret", body);
        assert!(verify(b"s3cret", &h, body));
        assert!(!verify(b"other", &h, body));
        assert!(!verify(b"s3cret", &h, br#"{"dedup_key":"111122223333/e2"}"#));
        assert!(!verify(b"s3cret", &HeaderMap::new(), body));
    }
}
