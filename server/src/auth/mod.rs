//! Identity and authorization: the principal comes from the verified client certificate, a
//! policy maps principals to roles per namespace, and one tower layer checks every RPC before
//! any handler runs. Deny by default; this module never sees payloads.
//!
//! - `peer`: the authenticated caller of a connection.
//! - the TOML policy (grants of roles on namespaces to principals) lives in `lockstep-policy`,
//!   shared with the codec server.
//! - `permissions`: what each RPC requires.
//! - `namespace_field`: reads a request's namespace without decoding the message.
//! - `layer`: the tower layer.

mod layer;
mod namespace_field;
mod peer;
mod permissions;

pub use layer::{AuthLayer, Authorize, AuthorizedNamespace};
pub use lockstep_policy::{Policy, PolicyError, Role};
pub use peer::Peer;
pub use permissions::{Requirement, operator_requirement, requirement};
