//! Client assertions the emulators do not verify: Entra's certificate credential (x5t).

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trailproof_http::ConnectOptions;
use trailproof_model::config::EntraSource;

use crate::common::*;

/// Answers one token request and hands back its form body.
async fn one_token_request(listener: tokio::net::TcpListener) -> String {
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(i) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if buf.len() >= i + 4 + len {
                let body = String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string();
                let resp = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"test-access-token-000"}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    resp.len()
                );
                sock.write_all(head.as_bytes()).await.unwrap();
                sock.write_all(resp.as_bytes()).await.unwrap();
                return body;
            }
        }
    }
}

#[tokio::test]
async fn entra_certificate_credential_sends_a_signed_assertion_with_x5t() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(one_token_request(listener));
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/client-private.pem");
    // openssl x509 -in tests/keys/client-cert.pem -noout -fingerprint -sha1
    let thumbprint = "4B:63:37:C4:75:CB:0D:79:07:44:EA:7D:A9:63:07:A4:DC:0D:E2:F5";
    let cfg = EntraSource {
        tenant_id: TENANT.into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        certificate_key_file: key.into(),
        certificate_thumbprint: thumbprint.into(),
        authority_url: url.clone(),
        graph_url: url.clone(),
        ..Default::default()
    };
    let api = trailproof_source_entra::fetch::connect(&cfg, &ConnectOptions::default()).unwrap();
    let token = api.token_source().unwrap().token().await.unwrap();
    assert_eq!(token.expose(), "test-access-token-000");
    let body = server.await.unwrap();
    let form: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    assert!(!form.contains_key("client_secret"));

    let jwt = &form["client_assertion"];
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let bytes: Vec<u8> = thumbprint.split(':').map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
    assert_eq!(header.x5t.as_deref(), Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes).as_str()));
    let token_url = format!("{url}/{TENANT}/oauth2/v2.0/token");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[token_url.as_str()]);
    v.set_issuer(&["11111111-2222-3333-4444-555555555555"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(KEY_PUB.as_bytes()).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 32));
}
