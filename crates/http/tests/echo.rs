//! Token endpoints, or a proxy or WAF in front of them, that echo the request (issue 17): the
//! credentials it carried, in the form they travelled (a percent-encoded client secret, a signed
//! JWT assertion), never reach an error message.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trailproof_http::jwt::SigningKey;
use trailproof_http::{RetryPolicy, Secret, TokenSource};

/// A server that answers every request with `status` and the request, verbatim, as its body
/// (`content_type` says how: an HTML error page, or JSON quoting the body).
async fn echo_server(status: u16, json: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/v2.0/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                // Headers, then the body by its length.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_string))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let echoed = String::from_utf8_lossy(&req).to_string();
                let (ctype, body) = if json {
                    ("application/json", serde_json::json!({"message": "blocked", "request": echoed}).to_string())
                } else {
                    ("text/html", format!("<html><body><pre>{echoed}</pre></body></html>"))
                };
                let resp = format!(
                    "HTTP/1.1 {status} Blocked\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    url
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        initial: Duration::from_millis(1),
        max: Duration::from_millis(2),
        max_server_wait: Duration::from_secs(1),
    }
}

async fn refusal(url: &str, form: trailproof_http::oauth::FormFn) -> String {
    let http = trailproof_http::client(Duration::from_secs(5)).unwrap();
    let ts = TokenSource::new(http, url::Url::parse(url).unwrap(), policy(), form);
    ts.token().await.expect_err("the endpoint refuses").to_string()
}

#[tokio::test]
async fn a_url_encoded_client_secret_echoed_by_a_token_endpoint_is_not_shown() {
    // Entra client secrets carry `~` (form encoding writes %7E) and may carry `+`, `/`, `=`.
    let secret = Secret::new("Q8x~Tp.Rz_4kL+9m/VnW=cd3FgH7jK2lM");
    for (status, json) in [(400, false), (401, true), (502, false), (503, true)] {
        let url = echo_server(status, json).await;
        let s = secret.clone();
        let msg = refusal(
            &url,
            Box::new(move || {
                Ok(vec![
                    ("grant_type", Secret::plain("client_credentials")),
                    ("client_id", Secret::plain("11111111-2222-3333-4444-555555555555")),
                    ("client_secret", s.clone()),
                ])
            }),
        )
        .await;
        assert!(msg.contains("/oauth2/v2.0/token"), "{msg}");
        for leak in ["Q8x", "%7E", "%7e", "Tp.Rz_4kL", "client_secret"] {
            assert!(!msg.contains(leak), "HTTP {status}: {leak:?} in {msg}");
        }
    }
}

#[tokio::test]
async fn a_signed_jwt_assertion_echoed_by_a_token_endpoint_is_not_shown() {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../collect/tests/keys/client-private.pem"),
    )
    .unwrap();
    let key = SigningKey::from_pem(&Secret::new(pem), "the test key").unwrap();
    let claims = serde_json::json!({"iss": "svc@project.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/admin.reports.audit.readonly", "aud": "https://oauth2.googleapis.com/token", "exp": 4102444800i64, "iat": 4102441200i64});
    let assertion = key.sign(&claims).unwrap();
    let signature = assertion.expose().rsplit('.').next().unwrap().to_string();
    for (status, json) in [(400, true), (400, false), (500, false)] {
        let url = echo_server(status, json).await;
        let a = assertion.clone();
        let msg = refusal(
            &url,
            Box::new(move || {
                Ok(vec![
                    ("grant_type", Secret::plain("urn:ietf:params:oauth:grant-type:jwt-bearer")),
                    ("assertion", a.clone()),
                ])
            }),
        )
        .await;
        for leak in [assertion.expose(), &signature, &signature[..40], "eyJ"] {
            assert!(!msg.contains(leak), "HTTP {status}: {leak:?} in {msg}");
        }
    }
}
