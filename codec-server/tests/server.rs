//! The codec server over real HTTPS on 127.0.0.1: authentication, authorization, the codec
//! round trip, CORS, limits and the audit log.

mod common;

use common::{Client, KEY_ID, Options, TestServer, UI_ORIGIN, body, json_payload, now, parse};
use http::{Method, StatusCode};
use lockstep_codec_server::{DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, LimitsConfig};

const NS: &str = "default";

fn claims(sub: &str) -> serde_json::Value {
    serde_json::json!({
        "sub": sub, "iss": DEV_TOKEN_ISSUER, "aud": DEV_TOKEN_AUDIENCE, "exp": now() + 60,
    })
}

/// Encrypts `plain` through `/encode` as the `client` principal.
async fn encrypt(
    server: &TestServer,
    plain: &[lockstep_codec_server::Payload],
) -> Vec<lockstep_codec_server::Payload> {
    let token = server.token("client");
    let reply = server
        .client()
        .post("/encode", NS, Some(&token), body(plain))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    parse(&reply.body)
}

#[tokio::test]
async fn refused_credentials_are_401_or_403_audited_and_decode_nothing() {
    let server = TestServer::start().await;
    let encrypted = encrypt(&server, &[json_payload("secret")]).await;
    let calls = server.codec_calls();
    let client = server.client();
    let request = body(&encrypted);

    let mut expired = claims("spiffe://lockstep/viewer");
    expired["exp"] = (now() - 600).into();
    let mut wrong_audience = claims("spiffe://lockstep/viewer");
    wrong_audience["aud"] = "someone-else".into();
    let mut wrong_issuer = claims("spiffe://lockstep/viewer");
    wrong_issuer["iss"] = "someone-else".into();
    let foreign_key = {
        let dir = tempfile::tempdir().unwrap();
        let key = std::fs::read(lockstep_codec_server::ensure_dev_signing_key(dir.path()).unwrap())
            .unwrap();
        common::sign_eddsa(&key, &claims("spiffe://lockstep/viewer"))
    };
    let cases = [
        (None, StatusCode::UNAUTHORIZED, "credentials required"),
        (
            Some(server.signed(expired)),
            StatusCode::UNAUTHORIZED,
            "token expired",
        ),
        (
            Some(server.signed(wrong_audience)),
            StatusCode::UNAUTHORIZED,
            "wrong token audience",
        ),
        (
            Some(server.signed(wrong_issuer)),
            StatusCode::UNAUTHORIZED,
            "wrong token issuer",
        ),
        (
            Some(foreign_key),
            StatusCode::UNAUTHORIZED,
            "bad token signature",
        ),
        (
            Some("not-a-jwt".to_owned()),
            StatusCode::UNAUTHORIZED,
            "malformed token",
        ),
        (
            Some(server.token("stranger")),
            StatusCode::FORBIDDEN,
            "reader role",
        ),
    ];
    for (token, status, reason) in cases {
        let lines_before = server.audit_lines().len();
        let reply = client
            .post("/decode", NS, token.as_deref(), request.clone())
            .await;
        assert_eq!(reply.status, status, "{reason}: {}", reply.text());
        assert!(
            reply.text().len() < 200 && !reply.text().contains('{'),
            "short plain text"
        );
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
        let lines = server.audit_lines();
        assert_eq!(lines.len(), lines_before + 1, "one audit line per request");
        let line = &lines[lines.len() - 1];
        assert_eq!(line["status"], status.as_u16());
        assert_eq!(line["endpoint"], "decode");
        assert!(line["reason"].as_str().unwrap().contains(reason), "{line}");
        assert_eq!(
            line["payloads"],
            serde_json::Value::Null,
            "the body is never read"
        );
        assert_eq!(line["namespace"], NS);
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(line["principal"], serde_json::Value::Null);
        } else {
            assert_eq!(line["principal"], "spiffe://lockstep/stranger");
        }
    }
    // A reader of `default` is a stranger in `billing`.
    let viewer = server.token("viewer");
    let reply = client
        .post("/decode", "billing", Some(&viewer), request.clone())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A token narrowed to other namespaces is refused even where the policy grants the role.
    let narrowed = lockstep_codec_server::mint_dev_token(
        &server.signing_key,
        "viewer",
        &["orders-*".to_owned()],
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let reply = client.post("/decode", NS, Some(&narrowed), request).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(server.codec_calls(), calls, "the codec never ran");
    server.stop().await;
}

#[tokio::test]
async fn a_reader_decodes_mixed_payloads_and_only_a_client_encodes() {
    let server = TestServer::start().await;
    let plain = vec![
        json_payload("one"),
        json_payload("two"),
        json_payload("three"),
    ];
    let encrypted = encrypt(&server, &plain[..2]).await;
    assert_eq!(encrypted.len(), 2);
    for payload in &encrypted {
        assert_eq!(payload.metadata["encoding"], b"binary/encrypted");
        assert!(!String::from_utf8_lossy(&payload.data).contains("one"));
    }
    let encode_line = server.last_audit();
    assert_eq!(encode_line["principal"], "spiffe://lockstep/client");
    assert_eq!(encode_line["key_ids"], serde_json::json!([KEY_ID]));
    assert_eq!(encode_line["payloads"], 2);

    // Two encrypted, one plain, one empty: all four come back, in order.
    let mixed = vec![
        encrypted[0].clone(),
        plain[2].clone(),
        encrypted[1].clone(),
        lockstep_codec_server::Payload::default(),
    ];
    let viewer = server.token("viewer");
    let client = server.client();
    for path in [
        "/decode",
        "/default/decode",
        "/codec/v1/decode?preserveStorageRefs=true",
    ] {
        let reply = client.post(path, NS, Some(&viewer), body(&mixed)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let decoded = parse(&reply.body);
        assert_eq!(decoded.len(), 4);
        assert_eq!(decoded[0], plain[0]);
        assert_eq!(decoded[1], plain[2]);
        assert_eq!(decoded[2], plain[1]);
        assert!(decoded[3].data.is_empty());
    }
    let line = server.last_audit();
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["auth"], "bearer");
    assert_eq!(line["principal"], "spiffe://lockstep/viewer");
    assert_eq!(line["payloads"], 4);
    assert_eq!(line["key_ids"], serde_json::json!([KEY_ID]));
    assert_eq!(line["path"], "/codec/v1/decode", "never the query string");

    // Encoding needs the client role: a reader is refused.
    let reply = client
        .post("/encode", NS, Some(&viewer), body(&plain))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.text().contains("client role"), "{}", reply.text());
    // Admin implies every role, everywhere.
    let admin = server.token("admin");
    let reply = client
        .post("/encode", "elsewhere", Some(&admin), body(&plain))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // A codec error (a payload bound to another namespace) is a 400 with the codec's words.
    let reply = client
        .post("/decode", "elsewhere", Some(&admin), body(&encrypted))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().contains("another namespace"),
        "{}",
        reply.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn mtls_principals_work_and_foreign_certificates_are_refused_in_the_handshake() {
    let server = TestServer::start().await;
    let encrypted = encrypt(&server, &[json_payload("via mtls")]).await;

    let reply = server
        .mtls_client("viewer")
        .post("/decode", NS, None, body(&encrypted))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(parse(&reply.body)[0], json_payload("via mtls"));
    let line = server.last_audit();
    assert_eq!(line["auth"], "mtls");
    assert_eq!(line["principal"], "spiffe://lockstep/viewer");

    let reply = server
        .mtls_client("stranger")
        .post("/decode", NS, None, body(&encrypted))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // A bearer token, when sent, decides: a bad one is not rescued by a good certificate.
    let reply = server
        .mtls_client("viewer")
        .post("/decode", NS, Some("garbage"), body(&encrypted))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let other = tempfile::tempdir().unwrap();
    let other_pki = lockstep_certs::DevPki::ensure(other.path(), &["viewer"]).unwrap();
    let lines_before = server.audit_lines().len();
    let foreign = Client::new(
        server.addr,
        &server.pki.ca_cert(),
        Some((
            other_pki.client_cert("viewer"),
            other_pki.client_key("viewer"),
        )),
    );
    let result = foreign
        .send(
            Method::POST,
            "/decode",
            &[("x-namespace", NS)],
            body(&encrypted),
        )
        .await;
    assert!(
        result.is_err(),
        "a certificate from another CA must not get an answer"
    );
    assert_eq!(
        server.audit_lines().len(),
        lines_before,
        "no request was ever served"
    );

    // Without a client CA configured, certificates are not requested and tokens still work.
    let tokens_only = TestServer::start_with(Options {
        client_ca: false,
        ..Options::default()
    })
    .await;
    let reply = tokens_only
        .mtls_client("viewer")
        .post("/decode", NS, None, body(&[json_payload("x")]))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    tokens_only.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let server = TestServer::start().await;
    let client = server.client();
    let preflight = |origin: &'static str| {
        let client = &client;
        async move {
            client
                .send(
                    Method::OPTIONS,
                    "/default/decode",
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        (
                            "access-control-request-headers",
                            "authorization,x-namespace,content-type",
                        ),
                    ],
                    Vec::new(),
                )
                .await
                .unwrap()
        }
    };
    let ok = preflight(UI_ORIGIN).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(ok.header("access-control-allow-origin"), Some(UI_ORIGIN));
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    assert!(
        ok.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let allowed_headers = ok
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "authorization-extras",
        "x-namespace",
        "content-type",
    ] {
        assert!(allowed_headers.contains(name), "{name}");
    }
    assert_eq!(ok.header("vary"), Some("Origin"));

    let refused = preflight("https://evil.example.com").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.header("access-control-allow-origin").is_none());

    // The real request from the UI: credentials and the CORS headers on the answer.
    let token = format!("Bearer {}", server.token("viewer"));
    let request = body(&[json_payload("x")]);
    let headers = [
        ("origin", UI_ORIGIN),
        ("authorization", token.as_str()),
        ("authorization-extras", "id-token-not-logged"),
        ("x-namespace", NS),
        ("content-type", "application/json"),
    ];
    let reply = client
        .send(Method::POST, "/decode", &headers, request.clone())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some(UI_ORIGIN));
    // Errors carry the CORS headers too, so the UI can show them.
    let no_token = [("origin", UI_ORIGIN), ("x-namespace", NS)];
    let reply = client
        .send(Method::POST, "/decode", &no_token, request.clone())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("access-control-allow-origin"), Some(UI_ORIGIN));
    // A foreign page cannot make the server decode, even with a valid token.
    let mut foreign = headers;
    foreign[0] = ("origin", "https://evil.example.com");
    let reply = client
        .send(Method::POST, "/decode", &foreign, request)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.header("access-control-allow-origin").is_none());
    server.stop().await;
}

#[tokio::test]
async fn routes_methods_and_http2() {
    let server = TestServer::start().await;
    let client = server.client();
    for path in ["/health", "/healthz"] {
        let reply = client
            .send(Method::GET, path, &[], Vec::new())
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK);
    }
    let reply = client
        .send(Method::GET, "/nope", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = client
        .send(Method::POST, "/decode/", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = client
        .send(Method::GET, "/decode", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
    let reply = client
        .send(Method::DELETE, "/health", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    // Missing X-Namespace, once authenticated.
    let token = format!("Bearer {}", server.token("viewer"));
    let reply = client
        .send(
            Method::POST,
            "/decode",
            &[("authorization", &token)],
            body(&[]),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text().contains("X-Namespace"));

    let h2 = server.client().http2(&server.pki.ca_cert());
    let viewer = server.token("viewer");
    let reply = h2
        .post("/decode", NS, Some(&viewer), body(&[json_payload("h2")]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(parse(&reply.body), vec![json_payload("h2")]);
    server.stop().await;
}

#[tokio::test]
async fn malformed_oversized_and_too_many_are_refused() {
    let server = TestServer::start_with(Options {
        limits: LimitsConfig {
            max_body_bytes: 64 * 1024,
            max_payloads: 5,
            ..LimitsConfig::default()
        },
        ..Options::default()
    })
    .await;
    let client = server.client();
    let viewer = server.token("viewer");
    let calls = server.codec_calls();

    for bad in [
        &b"{not json"[..],
        b"",
        br#"{"payloads":[{"data":"%%%"}]}"#,
        br#"{"payloads":7}"#,
    ] {
        let reply = client
            .post("/decode", NS, Some(&viewer), bad.to_vec())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(server.last_audit()["outcome"], "bad_request");
    }

    let big = body(&[json_payload(&"x".repeat(100 * 1024))]);
    let reply = client.post("/decode", NS, Some(&viewer), big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.last_audit()["outcome"], "body_too_large");

    let six: Vec<_> = (0..6).map(|i| json_payload(&i.to_string())).collect();
    let reply = client.post("/decode", NS, Some(&viewer), body(&six)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let line = server.last_audit();
    assert_eq!(line["outcome"], "too_many_payloads");
    assert_eq!(line["payloads"], 6);
    let reply = client
        .post("/decode", NS, Some(&viewer), body(&six[..5]))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        server.codec_calls(),
        calls + 1,
        "only the valid request reached the codec"
    );
    server.stop().await;
}

#[tokio::test]
async fn each_principal_is_rate_limited() {
    let server = TestServer::start_with(Options {
        limits: LimitsConfig {
            requests_per_second: 0.01,
            burst: 3,
            ..LimitsConfig::default()
        },
        ..Options::default()
    })
    .await;
    let client = server.client();
    let viewer = server.token("viewer");
    let request = body(&[json_payload("r")]);
    for _ in 0..3 {
        let reply = client
            .post("/decode", NS, Some(&viewer), request.clone())
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let reply = client
        .post("/decode", NS, Some(&viewer), request.clone())
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(server.last_audit()["outcome"], "rate_limited");
    // Another principal has its own bucket, whether by token or certificate.
    let admin = server.token("admin");
    let reply = client
        .post("/decode", NS, Some(&admin), request.clone())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn the_audit_log_never_holds_data_plaintext_or_tokens() {
    const CANARY: &str = "CANARY-7f3a9e-plaintext";
    let server = TestServer::start().await;
    let client = server.client();
    let plain = vec![json_payload(CANARY)];
    let encrypted = encrypt(&server, &plain).await;
    let viewer = server.token("viewer");
    let reply = client
        .post("/decode", NS, Some(&viewer), body(&encrypted))
        .await;
    assert!(String::from_utf8_lossy(&reply.body).contains(&base64_of(CANARY)));
    // Refusals that carry the canary in the body, the token, a header, or the query string.
    let mut expired = claims("spiffe://lockstep/viewer");
    expired["exp"] = (now() - 600).into();
    let expired = server.signed(expired);
    let stranger = server.token("stranger");
    client
        .post("/decode", NS, Some(&expired), body(&plain))
        .await;
    client
        .post("/decode", NS, Some(&stranger), body(&plain))
        .await;
    client
        .post("/encode", NS, Some(&viewer), body(&plain))
        .await;
    client
        .post(
            &format!("/decode?access_token={viewer}&q={CANARY}"),
            NS,
            Some(&viewer),
            body(&plain),
        )
        .await;
    let bad_json = format!(r#"{{"payloads":"{CANARY}"}}"#).into_bytes();
    let reply = client.post("/decode", NS, Some(&viewer), bad_json).await;
    assert!(
        !reply.text().contains(CANARY),
        "errors never echo the request"
    );
    let bad_meta = format!(r#"{{"payloads":[{{"metadata":{{"{CANARY}":"{CANARY}"}}}}]}}"#);
    client
        .post("/decode", NS, Some(&viewer), bad_meta.into_bytes())
        .await;
    let auth_extras = [
        ("authorization-extras", CANARY),
        ("x-namespace", NS),
        ("authorization", "Bearer x"),
    ];
    client
        .send(Method::POST, "/decode", &auth_extras, Vec::new())
        .await
        .unwrap();

    let audit = server.audit_text();
    assert!(server.audit_lines().len() >= 9);
    for secret in [
        CANARY.to_owned(),
        base64_of(CANARY),
        viewer.clone(),
        expired.clone(),
        stranger.clone(),
        viewer.split('.').nth(1).unwrap().to_owned(),
    ] {
        assert!(!audit.contains(&secret), "audit log leaks {secret:?}");
    }
    for payload in &encrypted {
        let data =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &payload.data);
        assert!(!audit.contains(&data[..16]), "audit log holds ciphertext");
    }
    server.stop().await;
}

fn base64_of(text: &str) -> String {
    let json = serde_json::to_vec(text).unwrap();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, json)
}

#[tokio::test]
async fn only_tls_1_3_is_offered() {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let server = TestServer::start().await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.pki.ca_cert()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    assert!(connector.connect(name, tcp).await.is_err());
    server.stop().await;
}
