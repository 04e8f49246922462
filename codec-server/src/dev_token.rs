//! Dev bearer tokens: an Ed25519 signing key of their own (never the CA key) and short-lived
//! EdDSA JWTs for `lockstep certs token …`, so a browser or the `temporal` CLI can use the codec
//! server in development exactly as with a real identity provider.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use zeroize::Zeroizing;

/// The `iss` of dev tokens; put it in `[jwt] issuer` to accept them.
pub const DEV_TOKEN_ISSUER: &str = "lockstep-dev";
/// The `aud` of dev tokens; put it in `[jwt] audience` to accept them.
pub const DEV_TOKEN_AUDIENCE: &str = "lockstep-codec";
/// File name of the dev token signing key (PKCS#8 PEM, mode 0600).
pub const DEV_SIGNING_KEY_FILE: &str = "token-signing-key.pem";
/// File name of its public key (SPKI PEM), for `[jwt] public_keys`.
pub const DEV_PUBLIC_KEY_FILE: &str = "token-signing.pub.pem";
/// Longest lifetime of a dev token.
pub const DEV_TOKEN_MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Why a dev token or its key could not be made. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevTokenError {
    /// The signing key is not an Ed25519 PKCS#8 PEM key.
    #[error(
        "the token signing key {origin} is unusable: {reason}; it must be an Ed25519 PKCS#8 \
         `PRIVATE KEY` of its own (never the CA key) — remove it to have a new one made"
    )]
    InvalidKey {
        /// The file, or `<input>`.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a key file failed.
    #[error("cannot {action} {path}: {reason}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The subject is not a valid principal.
    #[error("{0}")]
    Subject(String),
    /// The requested lifetime or namespaces are not acceptable.
    #[error("invalid token request: {0}")]
    Request(String),
}

/// Makes the dev token signing key in `dir` unless it exists, and (re)writes its public key
/// beside it ([`DEV_PUBLIC_KEY_FILE`]). Returns the signing key's path.
///
/// The key is created with mode 0600; an existing key is reused as long as it is a valid
/// Ed25519 key (anything else is an error, never silently replaced).
pub fn ensure_dev_signing_key(dir: &Path) -> Result<PathBuf, DevTokenError> {
    let key_path = dir.join(DEV_SIGNING_KEY_FILE);
    let pair = if key_path.exists() {
        let pem = Zeroizing::new(fs::read(&key_path).map_err(|err| DevTokenError::Io {
            action: "read",
            path: key_path.clone(),
            reason: err.to_string(),
        })?);
        key_pair(&pem, &key_path.display().to_string())?
    } else {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| {
            DevTokenError::InvalidKey {
                origin: key_path.display().to_string(),
                reason: "the system random generator failed".into(),
            }
        })?;
        let pem = Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref())));
        lockstep_certs::write_private_file(&key_path, pem.as_bytes()).map_err(|err| {
            DevTokenError::Io {
                action: "write",
                path: key_path.clone(),
                reason: err.to_string(),
            }
        })?;
        key_pair(pem.as_bytes(), &key_path.display().to_string())?
    };
    let mut spki = ED25519_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki));
    let public_path = dir.join(DEV_PUBLIC_KEY_FILE);
    if fs::read(&public_path).ok().as_deref() != Some(public_pem.as_bytes()) {
        fs::write(&public_path, public_pem).map_err(|err| DevTokenError::Io {
            action: "write",
            path: public_path,
            reason: err.to_string(),
        })?;
    }
    Ok(key_path)
}

/// Signs a dev token: EdDSA JWT with `sub` = the principal URI of `subject` (a bare name such as
/// `viewer` becomes `spiffe://lockstep/viewer`), `iss` = [`DEV_TOKEN_ISSUER`], `aud` =
/// [`DEV_TOKEN_AUDIENCE`], `iat` now and `exp` after `ttl` (at most [`DEV_TOKEN_MAX_TTL`]).
/// A non-empty `namespaces` (globs) limits the token to those namespaces; the codec server's
/// policy must still grant the role there.
pub fn mint_dev_token(
    signing_key_pem: &[u8],
    subject: &str,
    namespaces: &[String],
    ttl: Duration,
) -> Result<String, DevTokenError> {
    let pair = key_pair(signing_key_pem, "<input>")?;
    let subject = lockstep_certs::principal_uri(subject, lockstep_certs::DEFAULT_TRUST_DOMAIN)
        .map_err(|err| DevTokenError::Subject(err.to_string()))?;
    if ttl.is_zero() || ttl > DEV_TOKEN_MAX_TTL {
        return Err(DevTokenError::Request(format!(
            "the lifetime must be between 1 s and {} h",
            DEV_TOKEN_MAX_TTL.as_secs() / 3600
        )));
    }
    for namespace in namespaces {
        if namespace.is_empty() || globset::Glob::new(namespace).is_err() {
            return Err(DevTokenError::Request(format!(
                "namespace {namespace:?} is not a name or glob"
            )));
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": DEV_TOKEN_ISSUER,
        "aud": DEV_TOKEN_AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + ttl.as_secs().max(1),
    });
    if !namespaces.is_empty() {
        claims[crate::jwt::NAMESPACES_CLAIM] = serde_json::json!(namespaces);
    }
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

fn key_pair(pem_bytes: &[u8], origin: &str) -> Result<Ed25519KeyPair, DevTokenError> {
    let invalid = |reason: &str| DevTokenError::InvalidKey {
        origin: origin.into(),
        reason: reason.into(),
    };
    let block = pem::parse(pem_bytes).map_err(|_| invalid("not PEM"))?;
    if block.tag() != "PRIVATE KEY" {
        return Err(invalid("not a `PRIVATE KEY` (PKCS#8) block"));
    }
    let der = Zeroizing::new(block.into_contents());
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| invalid("not an Ed25519 key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::JwtConfig, jwt::TokenVerifier};

    fn verifier(dir: &Path) -> TokenVerifier {
        TokenVerifier::load(&JwtConfig {
            issuer: DEV_TOKEN_ISSUER.into(),
            audience: DEV_TOKEN_AUDIENCE.into(),
            public_keys: vec![dir.join(DEV_PUBLIC_KEY_FILE)],
            jwks: None,
            leeway_secs: 0,
        })
        .unwrap()
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn the_key_is_private_reused_and_its_tokens_verify() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = ensure_dev_signing_key(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let first = fs::read(&key_path).unwrap();
        assert_eq!(ensure_dev_signing_key(dir.path()).unwrap(), key_path);
        assert_eq!(fs::read(&key_path).unwrap(), first, "reused, not replaced");

        let token = mint_dev_token(&first, "viewer", &[], Duration::from_secs(60)).unwrap();
        let verified = verifier(dir.path()).verify(&token, now()).unwrap();
        assert_eq!(verified.subject, "spiffe://lockstep/viewer");
        assert!(verified.covers("anything"));
        assert!(
            verifier(dir.path()).verify(&token, now() + 120).is_err(),
            "expires"
        );

        let narrow = mint_dev_token(
            &first,
            "viewer",
            &["orders-*".into()],
            Duration::from_secs(60),
        )
        .unwrap();
        let verified = verifier(dir.path()).verify(&narrow, now()).unwrap();
        assert!(verified.covers("orders-eu") && !verified.covers("default"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = fs::read(ensure_dev_signing_key(dir.path()).unwrap()).unwrap();
        let mint =
            |subject: &str, ttl: u64| mint_dev_token(&key, subject, &[], Duration::from_secs(ttl));
        assert!(matches!(mint("../x", 60), Err(DevTokenError::Subject(_))));
        assert!(matches!(mint("viewer", 0), Err(DevTokenError::Request(_))));
        assert!(matches!(
            mint("viewer", 90_000),
            Err(DevTokenError::Request(_))
        ));
        // An ECDSA key (like the dev CA's) is refused, and the error never shows the key.
        let rng = SystemRandom::new();
        let ec = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        let ec_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", ec.as_ref()));
        let err = mint_dev_token(ec_pem.as_bytes(), "viewer", &[], Duration::from_secs(60))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Ed25519") && !err.contains(&ec_pem[40..60]));
        fs::write(dir.path().join(DEV_SIGNING_KEY_FILE), ec_pem).unwrap();
        assert!(
            ensure_dev_signing_key(dir.path()).is_err(),
            "never silently replaced"
        );
    }
}
