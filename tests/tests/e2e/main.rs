//! End-to-end tests against the real `lockstep` binary: one test binary, a module per area.

mod authz;
mod clients;
mod mtls;
mod operations;
mod reset;
mod retention;
mod search_attributes;
mod tasks;
mod visibility;
mod workflow_cli;
