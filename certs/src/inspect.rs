//! Reading certificates back: PEM bundles in, [`CertInfo`] out, for `lockstep certs inspect`
//! and for checks before reusing files on disk.
//!
//! PEM blocks other than certificates (a private key stored next to a certificate, say) are
//! skipped without being echoed anywhere.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ring::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::CertError;
use crate::files::read_public_file;
use crate::principal::principal_of;

/// What a certificate says, in plain values; `Display` renders it for humans.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `CN=worker`.
    pub subject: String,
    /// Issuer distinguished name, e.g. `CN=Lockstep dev CA`.
    pub issuer: String,
    /// Serial number, uppercase hex bytes separated by ':'.
    pub serial: String,
    /// Start of the validity window.
    pub not_before: OffsetDateTime,
    /// End of the validity window.
    pub not_after: OffsetDateTime,
    /// Whether the certificate may sign others (basicConstraints CA:TRUE).
    pub is_ca: bool,
    /// Extended key usages: `serverAuth`, `clientAuth`, ... (other OIDs in dotted form).
    pub extended_key_usage: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP address subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// URI subject alternative names.
    pub uris: Vec<String>,
    /// The principal the certificate authenticates as when used as a client certificate
    /// (see [`crate::principal_from_der`]); `None` for CA certificates and certificates whose
    /// extended key usage excludes client authentication.
    pub principal: Option<String>,
    /// SHA-256 of the DER certificate, uppercase hex bytes separated by ':' (as `openssl x509
    /// -fingerprint -sha256` prints it).
    pub sha256_fingerprint: String,
}

impl CertInfo {
    /// Whether `now` falls inside the validity window.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Extracts the fields of a parsed certificate.
    pub(crate) fn from_x509(der: &[u8], cert: &X509Certificate<'_>) -> Result<Self, String> {
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| e.to_string())?
            .is_some_and(|bc| bc.value.ca);
        let eku = cert.extended_key_usage().map_err(|e| e.to_string())?;
        let mut extended_key_usage = Vec::new();
        let mut may_be_client = true;
        if let Some(eku) = eku.map(|ext| ext.value) {
            let named = [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.server_auth, "serverAuth"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ];
            extended_key_usage.extend(
                named
                    .iter()
                    .filter(|(set, _)| *set)
                    .map(|(_, name)| (*name).to_owned()),
            );
            extended_key_usage.extend(eku.other.iter().map(|oid| oid.to_id_string()));
            may_be_client = eku.client_auth || eku.any;
        }

        let mut info = Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: hex_colon(trim_leading_zeros(cert.raw_serial())),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            is_ca,
            extended_key_usage,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            uris: Vec::new(),
            principal: None,
            sha256_fingerprint: sha256_fingerprint(der),
        };
        let san = cert.subject_alternative_name().map_err(|e| e.to_string())?;
        for name in san.into_iter().flat_map(|ext| &ext.value.general_names) {
            match name {
                GeneralName::DNSName(dns) => info.dns_names.push((*dns).to_owned()),
                GeneralName::URI(uri) => info.uris.push((*uri).to_owned()),
                GeneralName::IPAddress(bytes) => info.ip_addresses.extend(ip_from_san(bytes)),
                _ => {}
            }
        }
        if !is_ca && may_be_client {
            info.principal = principal_of(cert)?;
        }
        Ok(info)
    }
}

impl fmt::Display for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(items: &[T]) -> String {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
        writeln!(f, "Subject:      {}", self.subject)?;
        writeln!(f, "Issuer:       {}", self.issuer)?;
        writeln!(f, "Serial:       {}", self.serial)?;
        writeln!(f, "Not before:   {}", rfc3339(self.not_before))?;
        writeln!(f, "Not after:    {}", rfc3339(self.not_after))?;
        writeln!(f, "CA:           {}", if self.is_ca { "yes" } else { "no" })?;
        if !self.extended_key_usage.is_empty() {
            writeln!(f, "Usage:        {}", list(&self.extended_key_usage))?;
        }
        if let Some(principal) = &self.principal {
            writeln!(f, "Principal:    {principal}")?;
        }
        if !self.dns_names.is_empty() {
            writeln!(f, "DNS names:    {}", list(&self.dns_names))?;
        }
        if !self.ip_addresses.is_empty() {
            writeln!(f, "IP addresses: {}", list(&self.ip_addresses))?;
        }
        if !self.uris.is_empty() {
            writeln!(f, "URIs:         {}", list(&self.uris))?;
        }
        write!(f, "SHA-256:      {}", self.sha256_fingerprint)
    }
}

/// Every certificate in a PEM bundle, in order. Other PEM blocks (private keys included) are
/// skipped and never echoed. A lone DER certificate is accepted too.
pub fn inspect_pem(pem: &[u8]) -> Result<Vec<CertInfo>, CertError> {
    inspect_from(pem, "<input>")
}

/// [`inspect_pem`] on the contents of a file; errors name the file.
pub fn inspect_file(path: &Path) -> Result<Vec<CertInfo>, CertError> {
    let pem = read_public_file(path)?;
    inspect_from(&pem, &path.display().to_string())
}

fn inspect_from(pem: &[u8], origin: &str) -> Result<Vec<CertInfo>, CertError> {
    let ders = match certificates_in_pem(pem, origin) {
        // Not PEM at all, but maybe one DER certificate (what `openssl x509 -outform der` writes).
        Err(CertError::NoCertificate { .. }) if pem.first() == Some(&0x30) => vec![pem.to_vec()],
        other => other?,
    };
    ders.iter()
        .map(|der| {
            let cert = parse_certificate(der, origin)?;
            CertInfo::from_x509(der, &cert).map_err(|reason| CertError::InvalidCertificate {
                origin: origin.to_owned(),
                reason,
            })
        })
        .collect()
}

/// The DER of every `CERTIFICATE` block in `pem`; at least one, else [`CertError::NoCertificate`].
pub(crate) fn certificates_in_pem(pem: &[u8], origin: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let ders = CertificateDer::pem_slice_iter(pem)
        .map(|der| der.map(|der| der.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::InvalidPem {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
    if ders.is_empty() {
        return Err(CertError::NoCertificate {
            origin: origin.to_owned(),
        });
    }
    Ok(ders)
}

/// Parses exactly one DER certificate (trailing bytes are an error).
pub(crate) fn parse_certificate<'a>(
    der: &'a [u8],
    origin: &str,
) -> Result<X509Certificate<'a>, CertError> {
    let invalid = |reason: String| CertError::InvalidCertificate {
        origin: origin.to_owned(),
        reason,
    };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| invalid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(invalid(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    Ok(cert)
}

/// PEM text of one DER certificate, LF line endings.
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("CERTIFICATE", der), config)
}

/// SHA-256 of `der`, uppercase hex bytes separated by ':'.
pub(crate) fn sha256_fingerprint(der: &[u8]) -> String {
    hex_colon(digest::digest(&digest::SHA256, der).as_ref())
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

fn ip_from_san(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_else(|_| time.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_formats_like_openssl() {
        assert_eq!(hex_colon(&[0x0a, 0xff, 0x00]), "0A:FF:00");
        assert_eq!(trim_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim_leading_zeros(&[0]), &[0]);
        assert_eq!(trim_leading_zeros(&[]), &[] as &[u8]);
    }

    #[test]
    fn san_ip_bytes() {
        assert_eq!(
            ip_from_san(&[127, 0, 0, 1]),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            ip_from_san(&Ipv6Addr::LOCALHOST.octets()),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(ip_from_san(&[1, 2, 3]), None);
    }

    #[test]
    fn no_certificate_and_bad_pem_are_errors() {
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = inspect_pem(key_only).unwrap_err();
        assert!(matches!(err, CertError::NoCertificate { .. }), "{err:?}");
        assert!(!err.to_string().contains("AAAA"));
        assert!(matches!(
            inspect_pem(b"hello").unwrap_err(),
            CertError::NoCertificate { .. }
        ));
        let truncated = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert!(matches!(
            inspect_pem(truncated).unwrap_err(),
            CertError::InvalidPem { .. }
        ));
        let not_x509 = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            inspect_pem(not_x509).unwrap_err(),
            CertError::InvalidCertificate { .. }
        ));
        assert!(inspect_pem(&[0x30, 0x03, 0x02, 0x01]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = inspect_pem(&bytes);
        }
    }
}
