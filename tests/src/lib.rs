//! End-to-end test harness: starts the real `lockstep` binary on a free loopback port with a
//! temporary data directory, and builds real mTLS clients from the dev certificates.
//!
//! # Layout
//! - `server`: [`DevServer`], a `lockstep server start-dev` child process, killed on drop.
//! - `clients`: gRPC channels and raw TLS connections with chosen client identities.
//! - `tools`: locating the `lockstep` and `temporal` binaries.
//!
//! Tests never talk to anything but 127.0.0.1 and clean up every process they start.

pub mod clients;
pub mod server;
pub mod tools;

pub use clients::{Identity, workflow_client};
pub use server::DevServer;
