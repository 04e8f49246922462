//! Principal naming: who a client certificate speaks for.
//!
//! A principal is a SPIFFE-style URI, `spiffe://<trust-domain>/<path>`. Operators may type the
//! bare path (`worker`); it is placed in [`DEFAULT_TRUST_DOMAIN`] (or the trust domain given).
//! Client certificates carry the URI as a URI SAN, and the path as the subject CN so that tools
//! which only show the CN still show something meaningful.

use std::fmt;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::CertError;

/// The trust domain of principals given as bare names: `worker` is `spiffe://lockstep/worker`.
pub const DEFAULT_TRUST_DOMAIN: &str = "lockstep";

/// The URI scheme of principals.
pub const SPIFFE_SCHEME: &str = "spiffe://";

/// Longest principal accepted, as given (bare name or URI), in bytes.
const MAX_PRINCIPAL_LEN: usize = 255;

/// A validated principal: a trust domain and a non-empty path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    trust_domain: String,
    path: String,
}

impl Principal {
    /// Parses `principal`, either a bare path (`worker`, `team/worker`) placed in `trust_domain`,
    /// or a full `spiffe://` URI, which keeps its own trust domain.
    pub fn parse(principal: &str, trust_domain: &str) -> Result<Self, CertError> {
        let invalid = |reason: String| CertError::InvalidPrincipal {
            principal: principal.to_owned(),
            reason,
        };
        if principal.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if principal.len() > MAX_PRINCIPAL_LEN {
            return Err(invalid(format!(
                "it is {} bytes long, at most {MAX_PRINCIPAL_LEN} are allowed",
                principal.len()
            )));
        }
        let (domain, path) = match principal.strip_prefix(SPIFFE_SCHEME) {
            Some(rest) => rest
                .split_once('/')
                .ok_or_else(|| invalid("the URI has no path after the trust domain".into()))?,
            None if principal.contains("://") => {
                return Err(invalid("only `spiffe://` URIs are accepted".into()));
            }
            None => (trust_domain, principal),
        };
        check_trust_domain(domain).map_err(invalid)?;
        check_path(path).map_err(invalid)?;
        Ok(Self {
            trust_domain: domain.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The trust domain, e.g. `lockstep`.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The path without the leading '/', e.g. `worker`; used as the certificate's CN.
    pub fn name(&self) -> &str {
        &self.path
    }

    /// The full URI, e.g. `spiffe://lockstep/worker`.
    pub fn uri(&self) -> String {
        format!("{SPIFFE_SCHEME}{}/{}", self.trust_domain, self.path)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SPIFFE_SCHEME}{}/{}", self.trust_domain, self.path)
    }
}

/// The principal URI for `principal`: a bare name `worker` becomes `spiffe://<trust_domain>/worker`;
/// a value that already starts with `spiffe://` is kept as is.
///
/// Fails with [`CertError::InvalidPrincipal`] unless the value is non-empty, at most 255 bytes,
/// and made of path segments of `[A-Za-z0-9._-]` separated by '/' (no empty, `.` or `..`
/// segment); a trust domain must be lowercase `[a-z0-9._-]`.
pub fn principal_uri(principal: &str, trust_domain: &str) -> Result<String, CertError> {
    Principal::parse(principal, trust_domain).map(|p| p.uri())
}

/// The principal a verified client certificate (DER) speaks for: its first `spiffe://` URI SAN,
/// else its subject CN, else `None`.
///
/// Call this only on a certificate the TLS layer has already verified against the CA: this
/// function parses, it does not authenticate. Arbitrary bytes give an error, never a panic.
/// A principal containing control characters is refused (it would corrupt logs).
pub fn principal_from_der(der: &[u8]) -> Result<Option<String>, CertError> {
    let invalid = |reason: String| CertError::InvalidCertificate {
        origin: "<client certificate>".into(),
        reason,
    };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| invalid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    let principal = principal_of(&cert).map_err(invalid)?;
    if principal
        .as_deref()
        .is_some_and(|p| p.chars().any(char::is_control))
    {
        return Err(invalid("the principal contains control characters".into()));
    }
    Ok(principal)
}

/// The principal of a parsed certificate (see [`principal_from_der`]).
pub(crate) fn principal_of(cert: &X509Certificate<'_>) -> Result<Option<String>, String> {
    let san = cert.subject_alternative_name().map_err(|e| e.to_string())?;
    let spiffe = san
        .into_iter()
        .flat_map(|ext| &ext.value.general_names)
        .find_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(SPIFFE_SCHEME) => Some(*uri),
            _ => None,
        });
    if let Some(uri) = spiffe {
        return Ok(Some(uri.to_owned()));
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    Ok(cn.filter(|cn| !cn.is_empty()).map(str::to_owned))
}

/// SPIFFE trust domains are lowercase letters, digits, '.', '_' and '-'.
fn check_trust_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("the trust domain is empty".into());
    }
    match domain
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
    {
        Some(c) => Err(format!(
            "the trust domain {domain:?} contains {c:?}; trust domains use lowercase letters, digits, '.', '_' and '-'"
        )),
        None => Ok(()),
    }
}

/// Paths are '/'-separated segments of `[A-Za-z0-9._-]`, none empty, `.` or `..`.
fn check_path(path: &str) -> Result<(), String> {
    for segment in path.split('/') {
        if segment.is_empty() {
            return Err("it has an empty path segment (leading, trailing or doubled '/')".into());
        }
        if segment == "." || segment == ".." {
            return Err(format!("it has a {segment:?} path segment"));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !matches!(c, 'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
        {
            let what = if c.is_whitespace() {
                "whitespace"
            } else if c.is_control() {
                "a control character"
            } else {
                "the character"
            };
            return Err(format!("it contains {what} {c:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(principal: &str) -> String {
        match principal_uri(principal, DEFAULT_TRUST_DOMAIN) {
            Err(CertError::InvalidPrincipal { reason, .. }) => reason,
            other => panic!("{principal:?}: expected InvalidPrincipal, got {other:?}"),
        }
    }

    #[test]
    fn bare_names_join_the_trust_domain() {
        assert_eq!(
            principal_uri("worker", DEFAULT_TRUST_DOMAIN).unwrap(),
            "spiffe://lockstep/worker"
        );
        assert_eq!(
            principal_uri("team-a/worker_1.x", "example.org").unwrap(),
            "spiffe://example.org/team-a/worker_1.x"
        );
    }

    #[test]
    fn spiffe_uris_are_kept() {
        let uri = "spiffe://prod.example/ns/billing/worker";
        assert_eq!(principal_uri(uri, DEFAULT_TRUST_DOMAIN).unwrap(), uri);
        let p = Principal::parse(uri, DEFAULT_TRUST_DOMAIN).unwrap();
        assert_eq!(p.trust_domain(), "prod.example");
        assert_eq!(p.name(), "ns/billing/worker");
        assert_eq!(p.to_string(), uri);
    }

    #[test]
    fn invalid_principals_say_why() {
        assert!(reason("").contains("empty"));
        assert!(reason("wor ker").contains("whitespace"));
        assert!(reason("worker\n").contains("whitespace"));
        assert!(reason("wor\u{7}ker").contains("control"));
        assert!(reason("a//b").contains("empty path segment"));
        assert!(reason("/worker").contains("empty path segment"));
        assert!(reason("worker/").contains("empty path segment"));
        assert!(reason("../etc").contains("\"..\""));
        assert!(reason("a/./b").contains("\".\""));
        assert!(reason("wörker").contains('ö'));
        assert!(reason("a:b").contains(':'));
        assert!(reason("https://lockstep/worker").contains("spiffe://"));
        assert!(reason("spiffe://lockstep").contains("no path"));
        assert!(reason("spiffe://lockstep/").contains("empty path segment"));
        assert!(reason("spiffe:///worker").contains("trust domain is empty"));
        assert!(reason("spiffe://LockStep/worker").contains("lowercase"));
        assert!(reason(&"a".repeat(256)).contains("at most 255"));
        assert_eq!(
            principal_uri(&"a".repeat(255), DEFAULT_TRUST_DOMAIN)
                .unwrap()
                .len(),
            255 + 18
        );
        assert!(principal_uri("worker", "Bad Domain").is_err());
    }

    #[test]
    fn error_message_says_what_is_allowed() {
        let message = principal_uri("a b", DEFAULT_TRUST_DOMAIN)
            .unwrap_err()
            .to_string();
        assert!(message.contains("letters, digits"), "{message}");
        assert!(message.contains("\"a b\""), "{message}");
    }

    #[test]
    fn garbage_der_is_an_error() {
        assert!(principal_from_der(&[]).is_err());
        assert!(principal_from_der(b"not a certificate").is_err());
        assert!(principal_from_der(&[0x30, 0x82, 0xff, 0xff, 0x00]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = principal_from_der(&bytes);
        }

        #[test]
        fn arbitrary_der_prefixes_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            // Start like a certificate so the parser goes deeper than the first tag.
            let mut bytes = vec![0x30, 0x82, 0x01, 0xf0, 0x30, 0x82, 0x01, 0x96, 0xa0, 0x03, 0x02, 0x01, 0x02];
            bytes.extend(tail);
            let _ = principal_from_der(&bytes);
        }
    }
}
