//! `lockstep-codec-server`: Temporal's remote-codec HTTP protocol (`/encode`, `/decode`) over
//! HTTPS, decoding payloads only for principals authorized on the namespace, with an audit log.
//!
//! The endpoints arrive with the issue that builds this crate; the crate exists now so the
//! workspace has the shape DESIGN.md describes.
//!
//! # Never
//! - Never log plaintext payloads or tokens.
//! - Never depend on `lockstep-server`.
