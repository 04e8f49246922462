//! `connect` never speaks plaintext: `http://` is refused before dialling, the first byte on
//! the wire is a TLS handshake record, and bad TLS files are named in the error. (Connecting to
//! a real Lockstep server is tested end to end in `tests/tests/sdk_encryption.rs`.)

use std::path::Path;

use lockstep_certs::Ca;
use lockstep_sdk::{
    CodecOptions, ConnectError, ConnectOptions, Key, KeyId, KeyRing, Keys, TlsFiles,
};
use tokio::{io::AsyncReadExt, net::TcpListener};

fn codec() -> CodecOptions {
    CodecOptions::new(Keys::new(KeyRing::new(
        KeyId::new("k").unwrap(),
        Key::generate().unwrap(),
    )))
}

/// A CA and a client certificate under `dir`, in the start-dev layout.
fn dev_files(dir: &Path) -> TlsFiles {
    let ca = Ca::generate("connect test CA", 1).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    ca.issue_client("worker", 1)
        .unwrap()
        .write(&dir.join("worker.pem"), &dir.join("worker-key.pem"))
        .unwrap();
    TlsFiles::dev(dir, "worker")
}

#[tokio::test]
async fn plaintext_addresses_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for address in ["http://127.0.0.1:7233", "grpc://127.0.0.1:7233"] {
        let error = lockstep_sdk::connect(ConnectOptions::new(
            address,
            "default",
            dev_files(dir.path()),
            codec(),
        ))
        .await
        .unwrap_err();
        assert!(matches!(error, ConnectError::Plaintext { .. }), "{error}");
        assert!(error.to_string().contains("mTLS only"), "{error}");
    }
}

#[tokio::test]
async fn the_first_byte_on_the_wire_is_a_tls_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let first_bytes = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = [0u8; 3];
        socket.read_exact(&mut bytes).await.unwrap();
        bytes
    });
    let connecting = tokio::spawn(lockstep_sdk::connect(ConnectOptions::new(
        address,
        "default",
        dev_files(dir.path()),
        codec(),
    )));
    let bytes = tokio::time::timeout(std::time::Duration::from_secs(30), first_bytes)
        .await
        .expect("the client dials")
        .unwrap();
    // 0x16 = TLS handshake record, 0x03 0x01 = the record version of a ClientHello.
    assert_eq!(bytes, [0x16, 0x03, 0x01], "not a TLS ClientHello");
    connecting.abort();
}

#[tokio::test]
async fn bad_tls_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = dev_files(dir.path());
    std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
    let error = lockstep_sdk::connect(ConnectOptions::new(
        "127.0.0.1:1",
        "default",
        files.clone(),
        codec(),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ConnectError::TlsFile { path, .. } if path.ends_with("ca.pem")),
        "{error}"
    );

    // A good CA again, but the client key is missing.
    let files = dev_files(dir.path());
    std::fs::remove_file(dir.path().join("worker-key.pem")).unwrap();
    let error = lockstep_sdk::connect(ConnectOptions::new(
        "127.0.0.1:1",
        "default",
        files,
        codec(),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ConnectError::TlsFile { path, .. } if path.ends_with("worker-key.pem")),
        "{error}"
    );
}
