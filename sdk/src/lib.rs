//! `lockstep-sdk`: secure defaults for the official Temporal Rust SDK — an AES-256-GCM payload
//! codec with your own keys and rotation, encrypted failures, and an mTLS-only connection.
//!
//! The codec, key providers and connection arrive with the issue that builds this crate; the
//! crate exists now so the workspace has the shape DESIGN.md describes.
//!
//! # Never
//! - Never depend on `lockstep-server`: the server never holds keys, and the SDK never needs it.
//! - Never log or `Debug`-print key material.
