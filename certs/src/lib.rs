//! Certificates for Lockstep's mTLS: a small CA, server and client certificates, principal
//! naming, inspection, and a ready-made dev PKI.
//!
//! Every Lockstep listener requires TLS 1.3 with client certificates; this crate makes those
//! certificates and reads them back. The `lockstep certs` CLI and the server's tests call it.
//!
//! # Layout
//! - `ca`: [`Ca`], a certificate authority: generate one, or load it from its PEM files.
//! - `issue`: [`Ca::issue_server`] and [`Ca::issue_client`], leaf certificates.
//! - `certified`: [`CertifiedKey`], a PEM certificate with its PEM key, and writing them out.
//! - `principal`: [`principal_uri`] (names → `spiffe://lockstep/<name>`) and
//!   [`principal_from_der`] (the principal a verified client certificate speaks for).
//! - `inspect`: [`inspect_pem`] and [`CertInfo`], what a certificate says, for humans.
//! - `files`: [`write_private_file`], writing with the right permissions.
//! - [`dev`] (public): [`DevPki`], a dev CA, server and client certificates created once and
//!   reused.
//! - `error`: [`CertError`].
//!
//! # Never
//! - Never print, log or put in an error message a private key: `Debug` of [`CertifiedKey`]
//!   and [`Ca`] redacts it, [`inspect_pem`] skips key blocks, errors name key files by path.
//! - Never write a key file with permissions wider than 0600, not even for an instant: key
//!   files are created with mode 0600 (never chmod-ed afterwards) and renamed into place.
//! - Never shell out (to `openssl` or anything else): everything is done in-process with
//!   rcgen, ring and x509-parser.
//!
//! Private keys in memory are wiped on drop (best effort: the PEM strings and rcgen's copy).

#![forbid(unsafe_code)]

mod ca;
mod certified;
pub mod dev;
mod error;
mod files;
mod inspect;
mod issue;
mod principal;

pub use ca::Ca;
pub use certified::CertifiedKey;
pub use dev::{DEV_PRINCIPALS, DevPki};
pub use error::CertError;
pub use files::write_private_file;
pub use inspect::{CertInfo, inspect_file, inspect_pem};
pub use principal::{
    DEFAULT_TRUST_DOMAIN, Principal, SPIFFE_SCHEME, principal_from_der, principal_uri,
};
