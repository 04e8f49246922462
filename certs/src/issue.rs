//! Issuing leaf certificates: servers (serverAuth, DNS and IP SANs) and clients (clientAuth,
//! the principal as a URI SAN).
//!
//! Every leaf gets a fresh ECDSA P-256 key, a random 128-bit serial, `CA:FALSE`, key usage
//! `digitalSignature` and an authority key identifier pointing at the CA.

use std::net::IpAddr;

use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::DnsName;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::ca::Ca;
use crate::certified::CertifiedKey;
use crate::error::CertError;
use crate::principal::{DEFAULT_TRUST_DOMAIN, Principal};

/// How far in the past validity starts, so that a peer whose clock runs a little behind ours
/// does not see a brand-new certificate as not yet valid.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Longest subject CN (RFC 5280 `ub-common-name`) for the CA, whose name is free text.
const MAX_CA_NAME_LEN: usize = 64;

impl Ca {
    /// Issues a server certificate valid for `days` days (never past the CA's own expiry):
    /// EKU serverAuth, a SAN for each DNS name and IP address, CN = the first DNS name (or the
    /// first IP address when there is no DNS name).
    pub fn issue_server(
        &self,
        dns_names: &[String],
        ips: &[IpAddr],
        days: u32,
    ) -> Result<CertifiedKey, CertError> {
        let (not_before, not_after) = validity_days(days)?;
        let mut sans = Vec::with_capacity(dns_names.len() + ips.len());
        for name in dns_names {
            sans.push(SanType::DnsName(dns_san(name)?));
        }
        sans.extend(ips.iter().copied().map(SanType::IpAddress));
        let common_name = match (dns_names.first(), ips.first()) {
            (Some(name), _) => name.clone(),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => {
                return Err(CertError::InvalidRequest(
                    "a server certificate needs at least one DNS name or IP address".into(),
                ));
            }
        };
        let params = leaf_params(
            &common_name,
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            not_before,
            not_after.min(self.info().not_after),
        )?;
        self.sign_leaf(&params, "server certificate")
    }

    /// Issues a client certificate for `principal` valid for `days` days (never past the CA's
    /// own expiry): EKU clientAuth, URI SAN = [`crate::principal_uri`]`(principal,
    /// DEFAULT_TRUST_DOMAIN)`, CN = the principal's path (`worker`).
    pub fn issue_client(&self, principal: &str, days: u32) -> Result<CertifiedKey, CertError> {
        let (not_before, not_after) = validity_days(days)?;
        self.issue_client_with_validity(principal, not_before, not_after.min(self.info().not_after))
    }

    /// Like [`Ca::issue_client`] with an explicit validity window, which may lie entirely in the
    /// past or the future: for testing that expired and not-yet-valid certificates are refused.
    pub fn issue_client_with_validity(
        &self,
        principal: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<CertifiedKey, CertError> {
        if not_after <= not_before {
            return Err(CertError::InvalidRequest(format!(
                "the validity window ends ({not_after}) before it starts ({not_before})"
            )));
        }
        let principal = Principal::parse(principal, DEFAULT_TRUST_DOMAIN)?;
        let uri = principal
            .uri()
            .try_into()
            .map_err(|e| CertError::generate("client certificate", e))?;
        let params = leaf_params(
            principal.name(),
            vec![SanType::URI(uri)],
            ExtendedKeyUsagePurpose::ClientAuth,
            not_before,
            not_after,
        )?;
        self.sign_leaf(&params, "client certificate")
    }

    fn sign_leaf(
        &self,
        params: &CertificateParams,
        what: &'static str,
    ) -> Result<CertifiedKey, CertError> {
        let key = Zeroizing::new(
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                .map_err(|e| CertError::generate(what, e))?,
        );
        let cert = params
            .signed_by(&*key, &self.issuer)
            .map_err(|e| CertError::generate(what, e))?;
        Ok(CertifiedKey::new(
            cert.pem(),
            Zeroizing::new(key.serialize_pem()),
        ))
    }
}

fn leaf_params(
    common_name: &str,
    subject_alt_names: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.subject_alt_names = subject_alt_names;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

/// A subject with just a CN, for the CA (free text, so checked here).
pub(crate) fn distinguished_name(common_name: &str) -> Result<DistinguishedName, CertError> {
    if common_name.trim().is_empty()
        || common_name.len() > MAX_CA_NAME_LEN
        || common_name.chars().any(char::is_control)
    {
        return Err(CertError::InvalidRequest(format!(
            "CA name {common_name:?} must be 1 to {MAX_CA_NAME_LEN} bytes of printable text"
        )));
    }
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    Ok(name)
}

/// `[now - CLOCK_SKEW, now + days]`.
pub(crate) fn validity_days(days: u32) -> Result<(OffsetDateTime, OffsetDateTime), CertError> {
    if days == 0 {
        return Err(CertError::InvalidRequest(
            "validity must be at least 1 day".into(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    Ok((now - CLOCK_SKEW, now + Duration::days(i64::from(days))))
}

/// A random positive 128-bit serial (RFC 5280 wants them unpredictable, at most 20 bytes).
pub(crate) fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CertError::Generate {
            what: "serial number",
            reason: "the system random source failed".into(),
        })?;
    // Clear the sign bit (serials are positive) and keep the first byte non-zero so the
    // DER encoding is always the full 16 bytes.
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok(SerialNumber::from_slice(&bytes))
}

/// A DNS SAN: a host name, or a wildcard `*.example.com`; IP addresses belong in IP SANs.
fn dns_san(name: &str) -> Result<Ia5String, CertError> {
    let invalid = |why: &str| CertError::InvalidRequest(format!("DNS name {name:?} {why}"));
    if name.parse::<IpAddr>().is_ok() {
        return Err(invalid(
            "is an IP address; pass it as an IP address instead",
        ));
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    DnsName::try_from(host).map_err(|_| invalid("is not a valid host name"))?;
    name.try_into().map_err(|_| invalid("is not ASCII"))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::inspect::{certificates_in_pem, parse_certificate};
    use crate::{CertInfo, inspect_pem, principal_from_der};

    fn info_of(leaf: &CertifiedKey) -> CertInfo {
        let mut infos = inspect_pem(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(infos.len(), 1);
        infos.remove(0)
    }

    fn der(leaf: &CertifiedKey) -> Vec<u8> {
        certificates_in_pem(leaf.cert_pem.as_bytes(), "test")
            .unwrap()
            .remove(0)
    }

    #[test]
    fn server_certificate_has_the_sans_and_server_auth() {
        let ca = Ca::generate("CA", 30).unwrap();
        let ips = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        let names = ["localhost".to_owned(), "*.lockstep.test".to_owned()];
        let leaf = ca.issue_server(&names, &ips, 7).unwrap();
        let info = info_of(&leaf);
        assert_eq!(info.subject, "CN=localhost");
        assert_eq!(info.issuer, "CN=CA");
        assert_eq!(info.dns_names, names);
        assert_eq!(info.ip_addresses, ips);
        assert!(info.uris.is_empty());
        assert_eq!(info.extended_key_usage, ["serverAuth"]);
        assert!(!info.is_ca);
        assert!(
            info.principal.is_none(),
            "a serverAuth-only certificate cannot be a client"
        );
        assert_eq!(
            (info.not_after - info.not_before - CLOCK_SKEW).whole_days(),
            7
        );

        let der = der(&leaf);
        let cert = parse_certificate(&der, "test").unwrap();
        let bc = cert.basic_constraints().unwrap().unwrap().value;
        assert!(!bc.ca);
        assert!(cert.key_usage().unwrap().unwrap().value.digital_signature());
        // A certificate without a URI SAN speaks for its CN.
        assert_eq!(
            principal_from_der(&der).unwrap().as_deref(),
            Some("localhost")
        );
    }

    #[test]
    fn server_certificate_with_only_an_ip_uses_it_as_cn() {
        let ca = Ca::generate("CA", 30).unwrap();
        let leaf = ca
            .issue_server(&[], &[IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))], 1)
            .unwrap();
        assert_eq!(info_of(&leaf).subject, "CN=10.0.0.1");
    }

    #[test]
    fn bad_server_requests_are_refused() {
        let ca = Ca::generate("CA", 30).unwrap();
        let refused = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            matches!(
                ca.issue_server(&names, &[], 1),
                Err(CertError::InvalidRequest(_))
            )
        };
        assert!(refused(&[]));
        assert!(refused(&["127.0.0.1"]));
        assert!(refused(&["bad name"]));
        assert!(refused(&["-bad.example"]));
        assert!(refused(&["ünicode.example"]));
        assert!(refused(&[""]));
        assert!(matches!(
            ca.issue_server(&["localhost".into()], &[], 0),
            Err(CertError::InvalidRequest(_))
        ));
    }

    #[test]
    fn client_certificate_carries_the_principal() {
        let ca = Ca::generate("CA", 30).unwrap();
        let leaf = ca.issue_client("worker", 30).unwrap();
        let info = info_of(&leaf);
        assert_eq!(info.subject, "CN=worker");
        assert_eq!(info.uris, ["spiffe://lockstep/worker"]);
        assert!(info.dns_names.is_empty() && info.ip_addresses.is_empty());
        assert_eq!(info.extended_key_usage, ["clientAuth"]);
        assert_eq!(info.principal.as_deref(), Some("spiffe://lockstep/worker"));
        assert_eq!(
            principal_from_der(&der(&leaf)).unwrap().as_deref(),
            Some("spiffe://lockstep/worker")
        );

        let foreign = ca
            .issue_client("spiffe://example.org/ns/billing", 1)
            .unwrap();
        assert_eq!(info_of(&foreign).subject, "CN=ns/billing");
        assert_eq!(
            principal_from_der(&der(&foreign)).unwrap().as_deref(),
            Some("spiffe://example.org/ns/billing")
        );
        assert!(matches!(
            ca.issue_client("bad name", 1),
            Err(CertError::InvalidPrincipal { .. })
        ));
    }

    #[test]
    fn leaves_never_outlive_their_ca() {
        let ca = Ca::generate("CA", 2).unwrap();
        let leaf = ca.issue_client("worker", 365).unwrap();
        assert_eq!(info_of(&leaf).not_after, ca.info().not_after);
    }

    #[test]
    fn explicit_validity_windows_are_kept() {
        let ca = Ca::generate("CA", 30).unwrap();
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let expired = ca
            .issue_client_with_validity("worker", now - Duration::days(10), now - Duration::days(1))
            .unwrap();
        let info_expired = info_of(&expired);
        assert_eq!(info_expired.not_before, now - Duration::days(10));
        assert_eq!(info_expired.not_after, now - Duration::days(1));
        assert!(!info_expired.is_valid_at(now));

        let future = ca
            .issue_client_with_validity("worker", now + Duration::days(1), now + Duration::days(2))
            .unwrap();
        assert_eq!(info_of(&future).not_before, now + Duration::days(1));
        assert!(!info_of(&future).is_valid_at(now));

        assert!(matches!(
            ca.issue_client_with_validity("worker", now, now),
            Err(CertError::InvalidRequest(_))
        ));
    }

    #[test]
    fn serials_are_random_and_positive() {
        let ca = Ca::generate("CA", 30).unwrap();
        let a = info_of(&ca.issue_client("worker", 1).unwrap()).serial;
        let b = info_of(&ca.issue_client("worker", 1).unwrap()).serial;
        assert_ne!(a, b);
        assert_eq!(a.split(':').count(), 16);
        assert!(random_serial().unwrap().to_bytes()[0] & 0x80 == 0);
    }

    #[test]
    fn display_is_readable() {
        let ca = Ca::generate("CA", 30).unwrap();
        let ips = [IpAddr::V4(Ipv4Addr::LOCALHOST)];
        let text = info_of(&ca.issue_server(&["localhost".into()], &ips, 1).unwrap()).to_string();
        for needle in [
            "Subject:      CN=localhost",
            "Issuer:       CN=CA",
            "CA:           no",
            "Usage:        serverAuth",
            "DNS names:    localhost",
            "IP addresses: 127.0.0.1",
            "SHA-256:      ",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from\n{text}");
        }
        let text = info_of(&ca.issue_client("worker", 1).unwrap()).to_string();
        assert!(
            text.contains("Principal:    spiffe://lockstep/worker"),
            "{text}"
        );
    }
}
