//! End-to-end test harness: starts the real `lockstep` binary (or the real Temporal dev server)
//! on a free loopback port with a temporary data directory, and builds real mTLS clients from
//! the dev certificates.
//!
//! # Layout
//! - `server`: [`DevServer`], a `lockstep server start-dev` child process, killed on drop.
//! - `clients`: gRPC channels and raw TLS connections with chosen client identities.
//! - `tools`: locating the `lockstep`, `temporal` and `lockstep-test-worker` binaries.
//! - `temporal_dev`: [`TemporalDevServer`], the real Temporal dev server (the differential
//!   baseline), killed on drop.
//! - `sdk`: the official Temporal Rust SDK as a client and worker: connecting ([`sdk::Target`]),
//!   the test workflows and activities, workers, and the scenarios every server must pass.
//!
//! Tests never talk to anything but 127.0.0.1 and clean up every process they start.

pub mod clients;
pub mod sdk;
pub mod server;
pub mod temporal_dev;
pub mod tools;

pub use clients::{Identity, workflow_client};
pub use server::DevServer;
pub use temporal_dev::TemporalDevServer;
