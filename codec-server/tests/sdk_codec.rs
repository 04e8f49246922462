//! The real thing end to end: a TOML config file, `serve`, lockstep-sdk's AES-256-GCM codec
//! over a key file, and payloads encrypted the way a Lockstep worker encrypts them.

mod common;

use std::{os::unix::fs::PermissionsExt, time::Duration};

use common::{Client, POLICY, json_payload, parse};
use http::{Method, StatusCode};
use lockstep_codec_server::{
    CodecServerConfig, DEV_TOKEN_AUDIENCE, DEV_TOKEN_ISSUER, ensure_dev_signing_key,
    mint_dev_token, serve,
};
use lockstep_sdk::{EncryptionCodec, Key, KeyId, KeyRing, Keys};

#[tokio::test]
async fn serve_decodes_sdk_payloads_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let pki = lockstep_certs::DevPki::ensure(&path.join("pki"), &["viewer", "client"]).unwrap();
    let signing_key = std::fs::read(ensure_dev_signing_key(&path.join("tokens")).unwrap()).unwrap();
    std::fs::write(path.join("policy.toml"), POLICY).unwrap();
    let key = Key::generate().unwrap();
    let key_file = path.join("keys.toml");
    std::fs::write(
        &key_file,
        format!("active = \"k1\"\n[keys]\nk1 = \"{}\"\n", &*key.to_base64()),
    )
    .unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config_path = path.join("codec.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"
listen = "127.0.0.1:{port}"
policy = "policy.toml"
audit_log = "audit.jsonl"

[tls]
cert = "pki/server.pem"
key = "pki/server-key.pem"
client_ca = "pki/ca.pem"

[jwt]
issuer = "{DEV_TOKEN_ISSUER}"
audience = "{DEV_TOKEN_AUDIENCE}"
public_keys = ["tokens/token-signing.pub.pem"]

[keys]
file = "keys.toml"
format = "hardened"
"#
        ),
    )
    .unwrap();
    let config = CodecServerConfig::load(&config_path).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(config, async {
        let _ = stopped.await;
    }));

    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = Client::new(addr, &pki.ca_cert(), None);
    let mut up = false;
    for _ in 0..100 {
        if let Ok(reply) = client.send(Method::GET, "/health", &[], Vec::new()).await {
            up = reply.status == StatusCode::OK;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the codec server came up");

    // A worker of namespace `default` encrypts with the same key file.
    let worker_keys = Keys::new(KeyRing::new(KeyId::new("k1").unwrap(), key.clone()));
    let worker = EncryptionCodec::hardened(worker_keys.clone(), "default");
    let secret = json_payload("card 4111");
    let sealed = worker.encode_payload(&secret).unwrap();
    let plain = json_payload("visible");
    let viewer = mint_dev_token(&signing_key, "viewer", &[], Duration::from_secs(60)).unwrap();
    let reply = client
        .post(
            "/default/decode",
            "default",
            Some(&viewer),
            common::body(&[sealed.clone(), plain.clone()]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(parse(&reply.body), vec![secret.clone(), plain]);

    // The server's own /encode output is what a worker of that namespace reads back.
    let client_token =
        mint_dev_token(&signing_key, "client", &[], Duration::from_secs(60)).unwrap();
    let reply = client
        .post(
            "/encode",
            "default",
            Some(&client_token),
            common::body(std::slice::from_ref(&secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let encoded = parse(&reply.body);
    assert_eq!(encoded[0].metadata["encryption-namespace"], b"default");
    assert_eq!(
        worker.decode_payload(encoded[0].clone()).await.unwrap(),
        secret
    );

    // A payload of another namespace, replayed by someone allowed to read `default`, stays shut.
    let other = EncryptionCodec::hardened(worker_keys, "billing");
    let foreign = other
        .encode_payload(&json_payload("billing secret"))
        .unwrap();
    let reply = client
        .post(
            "/decode",
            "default",
            Some(&viewer),
            common::body(&[foreign]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!reply.text().contains("billing secret"));

    // A tampered ciphertext is a per-request error, and the server keeps serving.
    let mut tampered = sealed.clone();
    let last = tampered.data.len() - 1;
    tampered.data[last] ^= 0x01;
    let reply = client
        .post(
            "/decode",
            "default",
            Some(&viewer),
            common::body(&[tampered]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!reply.text().contains("4111"));
    let reply = client
        .post(
            "/decode",
            "default",
            Some(&viewer),
            common::body(std::slice::from_ref(&sealed)),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "still serving: {}",
        reply.text()
    );
    assert_eq!(parse(&reply.body), vec![secret.clone()]);

    let audit = std::fs::read_to_string(path.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"key_ids\":[\"k1\"]"), "{audit}");
    assert!(!audit.contains("4111") && !audit.contains(&viewer));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn serve_refuses_to_start_without_keys() {
    let config = CodecServerConfig::parse(
        r#"
listen = "127.0.0.1:0"
policy = "p.toml"
audit_log = "a.jsonl"
[tls]
cert = "c.pem"
key = "k.pem"
client_ca = "ca.pem"
"#,
        "test",
    )
    .unwrap();
    let err = serve(config, async {}).await.unwrap_err().to_string();
    assert!(err.contains("[keys]"), "{err}");
}
