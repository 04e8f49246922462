//! Lockstep server: a durable-execution service that speaks Temporal's `WorkflowService` gRPC
//! API, over mutual TLS only, with its state in an embedded sled database.
//!
//! # Layout
//! - `config`: the server configuration (TOML), validated at start-up.
//! - `tls`: rustls TLS 1.3 with a required client certificate, hot reload, the accept loop.
//! - `auth`: principals, the policy, the tower layer that authorizes every RPC.
//! - `api`: the WorkflowService handlers (thin: decode, call, map errors).
//! - `namespaces`: the namespace registry and payload policies.
//! - `search_attributes`: the typed custom search attributes registered per namespace, and
//!   the checks of the values starts and upserts set.
//! - `engine`: the pure state machine of one workflow run (events, commands, retries, timeouts).
//! - `executions`: requests → engine → one atomic batch → effects (queues, timers, long polls).
//! - `matching`: task queues with long-poll hand-off.
//! - `timers`: the wheel that fires durable timers.
//! - `tokens`: signed task tokens.
//! - `visibility`: list/count executions with a subset of Temporal's list-filter language.
//! - `store`: the `Store` trait, its sled and in-memory implementations, group commit.
//! - `server`: wiring and serving.
//! - `grpc`, `operator_grpc`: the tonic server traits generated from `temporalio-protos`'
//!   descriptors.
//!
//! # Never
//! - There is no plaintext listener and no flag that creates one.
//! - The server never holds payload keys and never decodes `Payload.data` — except search
//!   attribute values, which are clear-text JSON by Temporal's design so they can be indexed.
//! - No RPC reaches a handler before the authorization layer has allowed it.
//! - Nothing is acknowledged before it is flushed to disk.

pub mod api;
pub mod auth;
pub mod config;
pub mod engine;
pub mod executions;
pub mod matching;
pub mod namespaces;
pub mod search_attributes;
pub mod server;
pub mod store;
pub mod timers;
pub mod tls;
pub mod tokens;
pub mod visibility;

pub use config::{NamespaceSpec, ServerConfig};
pub use server::{BoundServer, ServerError};

/// The tonic server traits for `temporal.api.workflowservice.v1.WorkflowService`, generated at
/// build time with Unimplemented defaults for every method Lockstep does not serve.
pub mod grpc {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("temporal.api.workflowservice.v1");
}

/// The tonic server traits for `temporal.api.operatorservice.v1.OperatorService` (the search
/// attribute methods are served; the others answer Unimplemented).
pub mod operator_grpc {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("temporal.api.operatorservice.v1");
}
