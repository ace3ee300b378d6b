//! The demo's ticket receiver: a webhook endpoint on loopback that checks each delivery's
//! signature as a Standard Webhooks receiver does (`webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, the timestamp within five minutes) and counts
//! tickets by their dedup key, so the demo can show that every ticket arrived once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
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

/// The replay window: a delivery whose `webhook-timestamp` is further from now is refused (the
/// specification suggests a tolerance; five minutes is what its libraries use).
const TOLERANCE_S: u64 = 300;

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A Standard Webhooks signature check: the three headers, one `v1` signature of id, timestamp
/// and the exact body under the key, and a timestamp within the window.
fn verify(key: &[u8], headers: &HeaderMap, body: &[u8], now: u64) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let (Some(id), Some(ts), Some(sig)) = (h("webhook-id"), h("webhook-timestamp"), h("webhook-signature")) else {
        return false;
    };
    trailproof_notify::verify_standard(key, id, ts, sig, body, now, TOLERANCE_S)
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
    if !verify(&s.secret, &headers, &body, now_s()) {
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
    // The key the sink signs with: a `whsec_` secret base64-decoded, any other as its bytes.
    let key = match std::str::from_utf8(secret) {
        Ok(text) => trailproof_notify::webhook_key(text).map_err(std::io::Error::other)?,
        Err(_) => secret.to_vec(),
    };
    let state = Sink { secret: Arc::new(key), received: received.clone() };
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

    fn signed(key: &[u8], id: &str, ts: u64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        h.insert("webhook-signature", trailproof_notify::standard_signature(key, id, ts, body).parse().unwrap());
        h
    }

    #[test]
    fn a_signature_verifies_only_with_the_key_the_exact_body_and_a_fresh_timestamp() {
        let body = br#"{"dedup_key":"111122223333:e1"}"#;
        let now = 1_800_000_000;
        let h = signed(b"s3cret", "msg_1", now, body);
        assert!(verify(b"s3cret", &h, body, now + 10));
        assert!(!verify(b"other", &h, body, now));
        assert!(!verify(b"s3cret", &h, br#"{"dedup_key":"111122223333:e2"}"#, now));
        // A replay outside the window.
        assert!(!verify(b"s3cret", &h, body, now + TOLERANCE_S + 1));
        // The old header alone is not enough any more.
        let mut old = HeaderMap::new();
        old.insert(
            "x-trailproof-signature",
            format!("sha256={}", trailproof_notify::sign(b"s3cret", body)).parse().unwrap(),
        );
        assert!(!verify(b"s3cret", &old, body, now));
    }

    /// One HTTP/1.1 POST to the receiver; its status code.
    async fn post(addr: SocketAddr, headers: &HeaderMap, body: &[u8]) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut req = format!(
            "POST /hooks/trailproof HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
        }
        req.push_str("\r\n");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    }

    /// The receiver accepts what the webhook sink signs, with the demo's plain key and with a
    /// `whsec_` one, and refuses an unsigned delivery.
    #[tokio::test]
    async fn the_receiver_takes_deliveries_signed_with_either_form_of_secret() {
        for secret in ["demo-webhook-signing-key", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            let sink = start(secret.as_bytes()).await.unwrap();
            let key = trailproof_notify::webhook_key(secret).unwrap();
            let body = br#"{"dedup_key":"111122223333:e1"}"#;
            assert_eq!(post(sink.addr, &signed(&key, "msg_2", now_s(), body), body).await, 204);
            assert_eq!(post(sink.addr, &HeaderMap::new(), body).await, 401);
            let got = sink.received();
            assert_eq!((got.by_key.len(), got.bad_signatures), (1, 1));
        }
    }
}
