//! Bearer tokens: a small JWT (JWS compact) verifier on `ring`, for EdDSA (Ed25519) and ES256
//! only — no `none`, no HMAC, no RSA, so no algorithm-confusion attacks.
//!
//! A token is accepted when its signature verifies against one of the configured public keys
//! (PEM `PUBLIC KEY` files or a JWKS file), `exp` has not passed, `nbf` (if present) has, `iss`
//! equals the configured issuer and `aud` names the configured audience. Its `sub` is the
//! principal. An optional `lockstep_namespaces` claim (a list of globs) narrows the token to those
//! namespaces; the policy must still grant the role.

use std::{fs, path::Path};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use globset::Glob;
use ring::signature::{self, UnparsedPublicKey};
use serde::Deserialize;

use crate::config::JwtConfig;

/// The claim that narrows a token to some namespaces.
pub const NAMESPACES_CLAIM: &str = "lockstep_namespaces";

/// Longest token accepted, in bytes (headers are bounded anyway; this bounds the work).
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest principal (`sub`) accepted, in bytes, as for certificate principals.
const MAX_SUBJECT_BYTES: usize = 255;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480); the 65-byte point follows.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The two signature algorithms accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// Ed25519 (`"alg": "EdDSA"`).
    EdDsa,
    /// ECDSA P-256 with SHA-256, fixed-width signatures (`"alg": "ES256"`).
    Es256,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

/// A public key tokens may be signed with.
pub(crate) struct VerifyingKey {
    /// The JWKS `kid`; keys from PEM files have none and are tried for any token.
    kid: Option<String>,
    algorithm: Algorithm,
    key: UnparsedPublicKey<Vec<u8>>,
}

impl VerifyingKey {
    /// A key from a DER SubjectPublicKeyInfo (Ed25519 or P-256).
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        if let Some(raw) = der.strip_prefix(ED25519_SPKI_PREFIX)
            && raw.len() == 32
        {
            return Ok(Self::new(None, Algorithm::EdDsa, raw.to_vec()));
        }
        if let Some(raw) = der.strip_prefix(P256_SPKI_PREFIX)
            && raw.len() == 65
            && raw[0] == 0x04
        {
            return Ok(Self::new(None, Algorithm::Es256, raw.to_vec()));
        }
        Err("only Ed25519 and P-256 (ES256) public keys are supported".into())
    }

    fn new(kid: Option<String>, algorithm: Algorithm, raw: Vec<u8>) -> Self {
        let alg: &'static dyn signature::VerificationAlgorithm = match algorithm {
            Algorithm::EdDsa => &signature::ED25519,
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        };
        Self {
            kid,
            algorithm,
            key: UnparsedPublicKey::new(alg, raw),
        }
    }
}

/// Why a token was refused. The text is safe to log and to return: it never quotes the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed token")]
    Malformed,
    /// `alg` is not EdDSA or ES256, or the header has `crit` extensions.
    #[error("unsupported token algorithm")]
    UnsupportedAlgorithm,
    /// No configured key verifies the signature.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is missing.
    #[error("token has no expiry")]
    NoExpiry,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong token issuer")]
    WrongIssuer,
    /// `aud` does not name the configured audience.
    #[error("wrong token audience")]
    WrongAudience,
    /// `sub` is missing, empty, too long or contains control characters.
    #[error("bad token subject")]
    BadSubject,
    /// The namespaces claim is not a list of valid globs.
    #[error("bad token namespaces claim")]
    BadNamespaces,
}

/// What a verified token says.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedToken {
    /// The principal (`sub`).
    pub(crate) subject: String,
    /// Namespace globs the token is limited to, if it carries the claim.
    pub(crate) namespaces: Option<Vec<globset::GlobMatcher>>,
}

impl VerifiedToken {
    /// Whether the token may be used in `namespace` (always, without the claim).
    pub(crate) fn covers(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| g.is_match(namespace)))
    }
}

/// Verifies bearer tokens against the configured keys, issuer and audience.
pub(crate) struct TokenVerifier {
    issuer: String,
    audience: String,
    leeway_secs: u64,
    keys: Vec<VerifyingKey>,
}

impl TokenVerifier {
    /// Loads the keys named by `config`.
    pub(crate) fn load(config: &JwtConfig) -> Result<Self, String> {
        let mut keys = Vec::new();
        for path in &config.public_keys {
            keys.extend(load_pem_keys(path)?);
        }
        if let Some(path) = &config.jwks {
            keys.extend(load_jwks(path)?);
        }
        if keys.is_empty() {
            return Err("[jwt] names no usable public key".into());
        }
        Ok(Self::new(config, keys))
    }

    /// A verifier with the given keys.
    pub(crate) fn new(config: &JwtConfig, keys: Vec<VerifyingKey>) -> Self {
        Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_secs: config.leeway_secs,
            keys,
        }
    }

    /// Verifies `token` at `now` (Unix seconds).
    pub(crate) fn verify(&self, token: &str, now: u64) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header_b64)?;
        if header.crit.is_some() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let algorithm =
            Algorithm::from_name(&header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
        let signature = URL_SAFE_NO_PAD
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed)?;
        // The signing input is the first two parts exactly as sent.
        let signed = &token.as_bytes()[..header_b64.len() + 1 + claims_b64.len()];
        let verified = self
            .keys
            .iter()
            .filter(|k| k.algorithm == algorithm)
            .filter(|k| match (&k.kid, &header.kid) {
                (Some(key_kid), Some(token_kid)) => key_kid == token_kid,
                _ => true,
            })
            .any(|k| k.key.verify(signed, &signature).is_ok());
        if !verified {
            return Err(TokenError::BadSignature);
        }
        // Only now, with a genuine signature, are the claims worth reading.
        let claims: Claims = decode_json(claims_b64)?;
        self.check_claims(claims, now)
    }

    fn check_claims(&self, claims: Claims, now: u64) -> Result<VerifiedToken, TokenError> {
        let now = now as f64;
        let leeway = self.leeway_secs as f64;
        let exp = claims.exp.ok_or(TokenError::NoExpiry)?;
        if !exp.is_finite() || now > exp + leeway {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = claims.nbf
            && (!nbf.is_finite() || now + leeway < nbf)
        {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
        let audience_ok = match &claims.aud {
            Some(Audience::One(aud)) => *aud == self.audience,
            Some(Audience::Many(auds)) => auds.contains(&self.audience),
            None => false,
        };
        if !audience_ok {
            return Err(TokenError::WrongAudience);
        }
        let subject = claims.sub.ok_or(TokenError::BadSubject)?;
        if subject.is_empty()
            || subject.len() > MAX_SUBJECT_BYTES
            || subject.chars().any(char::is_control)
        {
            return Err(TokenError::BadSubject);
        }
        let namespaces = claims
            .namespaces
            .map(|globs| {
                globs
                    .iter()
                    .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| TokenError::BadNamespaces)
            })
            .transpose()?;
        Ok(VerifiedToken {
            subject,
            namespaces,
        })
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default, rename = "lockstep_namespaces")]
    namespaces: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Every `PUBLIC KEY` block of a PEM file.
fn load_pem_keys(path: &Path) -> Result<Vec<VerifyingKey>, String> {
    let text = fs::read(path).map_err(|err| {
        format!(
            "cannot read the JWT public key file {}: {err}",
            path.display()
        )
    })?;
    let blocks = pem::parse_many(&text)
        .map_err(|err| format!("{} is not valid PEM: {err}", path.display()))?;
    let keys = blocks
        .iter()
        .filter(|block| block.tag() == "PUBLIC KEY")
        .map(|block| {
            VerifyingKey::from_spki_der(block.contents())
                .map_err(|err| format!("{}: {err}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(format!(
            "{} holds no `PUBLIC KEY` PEM block (an Ed25519 or P-256 public key)",
            path.display()
        ));
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
}

/// The Ed25519 and P-256 signing keys of a JWKS file; other keys (RSA, encryption) are skipped.
fn load_jwks(path: &Path) -> Result<Vec<VerifyingKey>, String> {
    let text = fs::read(path)
        .map_err(|err| format!("cannot read the JWKS file {}: {err}", path.display()))?;
    let jwks: Jwks = serde_json::from_slice(&text)
        .map_err(|err| format!("{} is not a JWKS document: {err}", path.display()))?;
    let mut keys = Vec::new();
    for (index, jwk) in jwks.keys.iter().enumerate() {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let coordinate = |value: &Option<String>, name: &str| {
            let text = value
                .as_deref()
                .ok_or_else(|| format!("{}: key #{index} has no `{name}`", path.display()))?;
            let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| {
                format!("{}: key #{index} `{name}` is not base64url", path.display())
            })?;
            if bytes.len() != 32 {
                return Err(format!(
                    "{}: key #{index} `{name}` is not 32 bytes",
                    path.display()
                ));
            }
            Ok(bytes)
        };
        let (algorithm, raw) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => (Algorithm::EdDsa, coordinate(&jwk.x, "x")?),
            ("EC", Some("P-256")) => {
                let mut point = vec![0x04];
                point.extend(coordinate(&jwk.x, "x")?);
                point.extend(coordinate(&jwk.y, "y")?);
                (Algorithm::Es256, point)
            }
            _ => {
                tracing::info!(path = %path.display(), index, kty = %jwk.kty, "JWKS key skipped: not Ed25519 or P-256");
                continue;
            }
        };
        if let Some(alg) = &jwk.alg
            && Algorithm::from_name(alg) != Some(algorithm)
        {
            return Err(format!(
                "{}: key #{index} says alg {alg:?}, which does not fit its curve",
                path.display()
            ));
        }
        keys.push(VerifyingKey::new(jwk.kid.clone(), algorithm, raw));
    }
    if keys.is_empty() {
        return Err(format!(
            "{} holds no Ed25519 or P-256 signing key",
            path.display()
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use ring::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
    };

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn config() -> JwtConfig {
        JwtConfig {
            issuer: "iss".into(),
            audience: "aud".into(),
            public_keys: Vec::new(),
            jwks: None,
            leeway_secs: 30,
        }
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn ed_pair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn ed_token(
        pair: &Ed25519KeyPair,
        header: serde_json::Value,
        claims: serde_json::Value,
    ) -> String {
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"sub": "spiffe://lockstep/viewer", "iss": "iss", "aud": "aud", "exp": NOW + 60})
    }

    fn ed_verifier(pair: &Ed25519KeyPair) -> TokenVerifier {
        let key = VerifyingKey::new(None, Algorithm::EdDsa, pair.public_key().as_ref().to_vec());
        TokenVerifier::new(&config(), vec![key])
    }

    #[test]
    fn accepts_a_good_eddsa_token() {
        let pair = ed_pair();
        let token = ed_token(&pair, serde_json::json!({"alg": "EdDSA"}), claims());
        let verified = ed_verifier(&pair).verify(&token, NOW).unwrap();
        assert_eq!(verified.subject, "spiffe://lockstep/viewer");
        assert!(verified.covers("any"));
    }

    #[test]
    fn checks_every_claim() {
        let pair = ed_pair();
        let verifier = ed_verifier(&pair);
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT"});
        let with = |key: &str, value: serde_json::Value| {
            let mut c = claims();
            c[key] = value;
            ed_token(&pair, header.clone(), c)
        };
        let check = |token: String| verifier.verify(&token, NOW).err();
        assert_eq!(
            check(with("exp", (NOW - 31).into())),
            Some(TokenError::Expired)
        );
        assert_eq!(check(with("exp", (NOW - 29).into())), None, "leeway");
        assert_eq!(
            check(with("exp", "soon".into())),
            Some(TokenError::Malformed)
        );
        assert_eq!(
            check(with("nbf", (NOW + 100).into())),
            Some(TokenError::NotYetValid)
        );
        assert_eq!(check(with("nbf", (NOW - 1).into())), None);
        assert_eq!(
            check(with("iss", "other".into())),
            Some(TokenError::WrongIssuer)
        );
        assert_eq!(
            check(with("aud", "other".into())),
            Some(TokenError::WrongAudience)
        );
        assert_eq!(check(with("aud", serde_json::json!(["x", "aud"]))), None);
        assert_eq!(check(with("sub", "".into())), Some(TokenError::BadSubject));
        assert_eq!(
            check(with("sub", "a\nb".into())),
            Some(TokenError::BadSubject)
        );
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check(ed_token(&pair, header.clone(), no_exp)),
            Some(TokenError::NoExpiry)
        );
        let narrowed = with("lockstep_namespaces", serde_json::json!(["orders-*"]));
        let verified = verifier.verify(&narrowed, NOW).unwrap();
        assert!(verified.covers("orders-eu") && !verified.covers("default"));
    }

    #[test]
    fn refuses_forgeries_and_other_algorithms() {
        let pair = ed_pair();
        let verifier = ed_verifier(&pair);
        let other = ed_token(&ed_pair(), serde_json::json!({"alg": "EdDSA"}), claims());
        assert_eq!(
            verifier.verify(&other, NOW).err(),
            Some(TokenError::BadSignature)
        );
        let good = ed_token(&pair, serde_json::json!({"alg": "EdDSA"}), claims());
        let (input, _) = good.rsplit_once('.').unwrap();
        let mut tampered_claims = claims();
        tampered_claims["sub"] = "spiffe://lockstep/admin".into();
        let swapped = format!(
            "{}.{}.{}",
            input.split('.').next().unwrap(),
            b64(&tampered_claims),
            good.rsplit('.').next().unwrap()
        );
        assert_eq!(
            verifier.verify(&swapped, NOW).err(),
            Some(TokenError::BadSignature)
        );
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none"})),
            b64(&claims())
        );
        assert_eq!(
            verifier.verify(&none, NOW).err(),
            Some(TokenError::UnsupportedAlgorithm)
        );
        let hs = ed_token(&pair, serde_json::json!({"alg": "HS256"}), claims());
        assert_eq!(
            verifier.verify(&hs, NOW).err(),
            Some(TokenError::UnsupportedAlgorithm)
        );
        let crit = ed_token(
            &pair,
            serde_json::json!({"alg": "EdDSA", "crit": ["x"]}),
            claims(),
        );
        assert_eq!(
            verifier.verify(&crit, NOW).err(),
            Some(TokenError::UnsupportedAlgorithm)
        );
        for junk in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &"x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(verifier.verify(junk, NOW).is_err());
        }
    }

    #[test]
    fn es256_tokens_from_a_jwks_file_with_kids() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])}
        ]});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        fs::write(&path, serde_json::to_vec(&jwks).unwrap()).unwrap();
        let keys = load_jwks(&path).unwrap();
        assert_eq!(keys.len(), 1);
        let verifier = TokenVerifier::new(&config(), keys);
        let sign = |kid: &str| {
            let input = format!(
                "{}.{}",
                b64(&serde_json::json!({"alg": "ES256", "kid": kid})),
                b64(&claims())
            );
            let sig = pair.sign(&rng, input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        };
        assert!(verifier.verify(&sign("k1"), NOW).is_ok());
        assert_eq!(
            verifier.verify(&sign("k2"), NOW).err(),
            Some(TokenError::BadSignature)
        );
    }

    #[test]
    fn spki_parsing_accepts_only_the_two_curves() {
        let pair = ed_pair();
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(pair.public_key().as_ref());
        assert_eq!(
            VerifyingKey::from_spki_der(&der).unwrap().algorithm,
            Algorithm::EdDsa
        );
        assert!(VerifyingKey::from_spki_der(&der[..40]).is_err());
        assert!(VerifyingKey::from_spki_der(b"junk").is_err());
    }
}
