//! The authenticated caller of a connection.

use std::{fmt, net::SocketAddr, sync::Arc};

/// Who is calling: the principal read from the verified client certificate, and from where.
#[derive(Clone, Debug)]
pub struct Peer {
    principal: Arc<str>,
    remote: SocketAddr,
}

impl Peer {
    /// A peer for a principal whose certificate was verified.
    pub fn new(principal: Arc<str>, remote: SocketAddr) -> Self {
        Self { principal, remote }
    }

    /// The principal (a `spiffe://` URI from the certificate, else its common name).
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The remote socket address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.principal, self.remote)
    }
}
