//! Signed task tokens.
//!
//! A task token is what a worker sends back to complete, fail or heartbeat the task it polled.
//! To the worker it is opaque bytes; to the server it is [`TaskClaims`] — which namespace,
//! execution, event and attempt the task was for — signed with HMAC-SHA256 under a key only the
//! server holds. A token that does not verify is rejected before anything is looked up, so a
//! worker cannot forge one for another execution or namespace. A *stale* or *replayed* token
//! verifies (it was genuine once): the engine rejects it by comparing the claims (event ids,
//! attempt) with the execution's current state.
//!
//! # Format
//! `0x01` (version) ‖ claims (protobuf) ‖ HMAC-SHA256(key, version ‖ claims) (32 bytes).
//!
//! The Temporal SDKs require that a token never starts with `local_act_` (they use that prefix
//! for local activities): the version byte `0x01` guarantees it. Tokens are unique per attempt
//! because the attempt (and the event ids) are part of the claims.
//!
//! # Never
//! - The key is never logged or shown by `Debug`, and its bytes are zeroized on drop.
//! - The key file is never created readable by anyone but its owner, and a key file readable
//!   by group or others is refused rather than used or silently fixed.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Name of the key file inside the data directory.
pub const KEY_FILE_NAME: &str = "task-token.key";

/// Length of the HMAC key in bytes.
pub const KEY_LEN: usize = 32;

/// The first byte of every token this build signs.
const VERSION: u8 = 0x01;

/// Length of the HMAC-SHA256 tag at the end of a token.
const TAG_LEN: usize = 32;

/// What a task token proves: the task it was issued for.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub struct TaskClaims {
    /// The kind of task, a [`TaskKind`] as `i32` (use [`TaskClaims::kind()`]).
    #[prost(enumeration = "TaskKind", tag = "1")]
    pub kind: i32,
    /// The namespace (name) of the execution.
    #[prost(string, tag = "2")]
    pub namespace: String,
    /// The workflow id of the execution.
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    /// The run id of the execution.
    #[prost(string, tag = "4")]
    pub run_id: String,
    /// The id of the task's `*TaskScheduled` event.
    #[prost(int64, tag = "5")]
    pub scheduled_event_id: i64,
    /// The id of the task's `*TaskStarted` event (0 while it is not recorded yet).
    #[prost(int64, tag = "6")]
    pub started_event_id: i64,
    /// The attempt of the task, starting at 1.
    #[prost(int32, tag = "7")]
    pub attempt: i32,
    /// The query id, for query tasks; empty otherwise.
    #[prost(string, tag = "8")]
    pub query_id: String,
    /// Tells apart workflow tasks that share event ids and attempt: a dropped speculative task
    /// and the one after it (0 for every other task).
    #[prost(int64, tag = "9")]
    pub generation: i64,
}

/// The kind of task a token was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum TaskKind {
    /// Not set; never signed by the server.
    Unspecified = 0,
    /// A workflow task.
    WorkflowTask = 1,
    /// An activity task.
    ActivityTask = 2,
    /// A query (legacy query task).
    Query = 3,
}

/// Why a key could not be loaded or a token did not verify.
///
/// Every verification error means the same thing to a client — "task token is not valid"
/// (NotFound) — the variants only tell the logs why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Reading or creating the key file failed. Fatal at start-up.
    #[error("cannot {action} task token key file {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "create"…).
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The key file does not hold exactly [`KEY_LEN`] bytes. Fatal at start-up.
    #[error(
        "task token key file {} must hold exactly {KEY_LEN} bytes; it holds {len}{}",
        path.display(),
        if *len > KEY_LEN { " or more" } else { "" }
    )]
    KeySize {
        /// The key file.
        path: PathBuf,
        /// How many bytes it holds (at most `KEY_LEN + 1`; reading stops there).
        len: usize,
    },
    /// The key file is accessible to group or others. Fatal at start-up.
    #[error(
        "task token key file {} has mode {mode:04o}; it must not be accessible to group or \
         others (chmod 600 it, or delete it to make the server create a new key, which \
         invalidates outstanding task tokens)",
        path.display()
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The system random source failed while generating a key. Fatal at start-up.
    #[error("cannot generate a task token key: the system random source failed")]
    Random,
    /// The token is shorter than a version byte and a tag.
    #[error("task token is too short")]
    TooShort,
    /// The token's version byte is not one this build signs.
    #[error("task token has unknown version {0}")]
    UnknownVersion(u8),
    /// The token's HMAC does not match: forged, damaged, or signed with another key.
    #[error("task token signature does not verify")]
    BadSignature,
    /// The signature verified but the claims do not decode (a bug, or another build's format).
    #[error("task token claims do not decode: {0}")]
    Malformed(#[from] prost::DecodeError),
}

/// The server's secret HMAC key for task tokens.
///
/// `Debug` does not show the key, and its bytes are zeroized on drop. (The HMAC state `ring`
/// derives from it is built per call and lives only briefly on the stack.)
pub struct TokenKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl TokenKey {
    /// Loads `<data_dir>/task-token.key`, or creates it with fresh random bytes.
    ///
    /// A new file is created with mode 0600 from the start (never widened, then narrowed) and
    /// synced to disk before use. An existing file is refused, with an error naming it, if it
    /// does not hold exactly 32 bytes or if any group/other permission bit is set. A file that
    /// a crash left short on the very first start is refused the same way; deleting it lets
    /// the server create a new key.
    pub fn load_or_create(data_dir: &Path) -> Result<TokenKey, TokenError> {
        let path = data_dir.join(KEY_FILE_NAME);
        match File::open(&path) {
            Ok(file) => Self::read(file, &path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match Self::create(&path) {
                // Another process created it first: use theirs.
                Err(TokenError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    let file = File::open(&path).map_err(|e| io_error("read", &path, e))?;
                    Self::read(file, &path)
                }
                created => created,
            },
            Err(e) => Err(io_error("read", &path, e)),
        }
    }

    /// A key from raw bytes (tests, or keys managed elsewhere).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> TokenKey {
        TokenKey {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// Signs `claims`: `0x01` ‖ claims (protobuf) ‖ HMAC-SHA256 over both.
    pub fn sign(&self, claims: &TaskClaims) -> Vec<u8> {
        let mut token = Vec::with_capacity(1 + claims.encoded_len() + TAG_LEN);
        token.push(VERSION);
        claims.encode_raw(&mut token);
        let tag = hmac::sign(&self.hmac_key(), &token);
        token.extend_from_slice(tag.as_ref());
        token
    }

    /// Checks `token`'s signature (in constant time) and returns its claims.
    ///
    /// Only says the token was issued by this server; whether it still names the current
    /// task is for the caller to check against the execution's state.
    pub fn verify(&self, token: &[u8]) -> Result<TaskClaims, TokenError> {
        if token.len() < 1 + TAG_LEN {
            return Err(TokenError::TooShort);
        }
        if token[0] != VERSION {
            return Err(TokenError::UnknownVersion(token[0]));
        }
        let (signed, tag) = token.split_at(token.len() - TAG_LEN);
        hmac::verify(&self.hmac_key(), signed, tag).map_err(|_| TokenError::BadSignature)?;
        Ok(TaskClaims::decode(&signed[1..])?)
    }

    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.bytes.as_slice())
    }

    fn read(mut file: File, path: &Path) -> Result<TokenKey, TokenError> {
        let metadata = file.metadata().map_err(|e| io_error("read", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(TokenError::InsecurePermissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        if !metadata.is_file() {
            return Err(io_error(
                "read",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        // One byte more than a key, to tell "too long" from "exactly right".
        let mut buf = Zeroizing::new([0u8; KEY_LEN + 1]);
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error("read", path, e)),
            }
        }
        if len != KEY_LEN {
            return Err(TokenError::KeySize {
                path: path.to_owned(),
                len,
            });
        }
        let mut key = TokenKey::from_bytes([0; KEY_LEN]);
        key.bytes.copy_from_slice(&buf[..KEY_LEN]);
        Ok(key)
    }

    fn create(path: &Path) -> Result<TokenKey, TokenError> {
        let mut key = TokenKey::from_bytes([0; KEY_LEN]);
        SystemRandom::new()
            .fill(key.bytes.as_mut_slice())
            .map_err(|_| TokenError::Random)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| io_error("create", path, e))?;
        file.write_all(key.bytes.as_slice())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("write", path, e))?;
        // Make the new directory entry durable too, so a restart finds the same key.
        #[cfg(unix)]
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error("sync the directory of", path, e))?;
        }
        Ok(key)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> TokenError {
    TokenError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(seed: u8) -> TokenKey {
        TokenKey::from_bytes([seed; KEY_LEN])
    }

    fn claims() -> TaskClaims {
        let mut claims = TaskClaims {
            namespace: "default".into(),
            workflow_id: "order-42".into(),
            run_id: "0b6c9f1e-6f55-4c3a-9d8e-2f1a7e0c4b11".into(),
            scheduled_event_id: 5,
            started_event_id: 6,
            attempt: 1,
            ..TaskClaims::default()
        };
        claims.set_kind(TaskKind::ActivityTask);
        claims
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let key = key(7);
        let token = key.sign(&claims());
        assert_eq!(token[0], VERSION);
        let verified = key.verify(&token).unwrap();
        assert_eq!(verified, claims());
        assert_eq!(verified.kind(), TaskKind::ActivityTask);
    }

    #[test]
    fn tokens_differ_per_attempt() {
        let key = key(7);
        let second = TaskClaims {
            attempt: 2,
            ..claims()
        };
        assert_ne!(key.sign(&claims()), key.sign(&second));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_rejected() {
        let key = key(7);
        let token = key.sign(&claims());
        for byte in 0..token.len() {
            for bit in 0..8 {
                let mut tampered = token.clone();
                tampered[byte] ^= 1 << bit;
                let err = key.verify(&tampered).unwrap_err();
                if byte == 0 {
                    assert!(matches!(err, TokenError::UnknownVersion(_)), "{err:?}");
                } else {
                    assert!(matches!(err, TokenError::BadSignature), "{err:?}");
                }
            }
        }
    }

    #[test]
    fn a_token_signed_with_another_key_is_rejected() {
        let token = key(1).sign(&claims());
        assert!(matches!(
            key(2).verify(&token),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn truncated_or_extended_tokens_are_rejected() {
        let key = key(7);
        let token = key.sign(&claims());
        for len in 0..token.len() {
            let err = key.verify(&token[..len]).unwrap_err();
            if len < 1 + TAG_LEN {
                assert!(matches!(err, TokenError::TooShort), "{len}: {err:?}");
            } else {
                assert!(matches!(err, TokenError::BadSignature), "{len}: {err:?}");
            }
        }
        let mut longer = token;
        longer.push(0);
        assert!(matches!(key.verify(&longer), Err(TokenError::BadSignature)));
    }

    #[test]
    fn undecodable_claims_under_a_valid_signature_are_malformed() {
        let key = key(7);
        // Field 1 as a length-delimited field running past the end.
        let mut token = vec![VERSION, 0x0a, 0x7f];
        let tag = hmac::sign(&key.hmac_key(), &token);
        token.extend_from_slice(tag.as_ref());
        assert!(matches!(key.verify(&token), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let shown = format!("{:?}", key(0xab));
        assert_eq!(shown, "TokenKey(<redacted>)");
    }

    fn arb_claims() -> impl Strategy<Value = TaskClaims> {
        (
            any::<i32>(),
            ".{0,20}",
            ".{0,40}",
            ".{0,40}",
            any::<i64>(),
            any::<i64>(),
            any::<i32>(),
            ".{0,20}",
        )
            .prop_map(
                |(kind, namespace, workflow_id, run_id, scheduled, started, attempt, query)| {
                    TaskClaims {
                        kind,
                        namespace,
                        workflow_id,
                        run_id,
                        scheduled_event_id: scheduled,
                        started_event_id: started,
                        attempt,
                        query_id: query,
                        generation: scheduled.wrapping_mul(31),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn tokens_never_start_with_the_local_activity_prefix(
            claims in arb_claims(),
            seed in any::<[u8; KEY_LEN]>(),
        ) {
            let key = TokenKey::from_bytes(seed);
            let token = key.sign(&claims);
            prop_assert!(!token.starts_with(b"local_act_"));
            prop_assert_eq!(key.verify(&token).unwrap(), claims);
        }
    }

    #[cfg(unix)]
    mod key_file {
        use std::fs;
        use std::os::unix::fs::PermissionsExt;

        use super::*;

        fn mode(path: &Path) -> u32 {
            fs::metadata(path).unwrap().permissions().mode() & 0o777
        }

        #[test]
        fn is_created_0600_and_reused() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEY_FILE_NAME);
            let first = TokenKey::load_or_create(dir.path()).unwrap();
            assert_eq!(mode(&path), 0o600);
            assert_eq!(fs::read(&path).unwrap().len(), KEY_LEN);
            let token = first.sign(&claims());

            let second = TokenKey::load_or_create(dir.path()).unwrap();
            assert_eq!(second.sign(&claims()), token);
            assert_eq!(second.verify(&token).unwrap(), claims());
        }

        #[test]
        fn new_keys_are_random() {
            let a = tempfile::tempdir().unwrap();
            let b = tempfile::tempdir().unwrap();
            let token_a = TokenKey::load_or_create(a.path()).unwrap().sign(&claims());
            let key_b = TokenKey::load_or_create(b.path()).unwrap();
            assert!(matches!(
                key_b.verify(&token_a),
                Err(TokenError::BadSignature)
            ));
        }

        #[test]
        fn a_group_or_world_readable_file_is_refused() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEY_FILE_NAME);
            for bad in [0o644, 0o640, 0o604, 0o660] {
                fs::write(&path, [1u8; KEY_LEN]).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
                let err = TokenKey::load_or_create(dir.path()).unwrap_err();
                assert!(
                    matches!(err, TokenError::InsecurePermissions { mode, .. } if mode == bad),
                    "{err:?}"
                );
                assert!(
                    err.to_string().contains(&path.display().to_string()),
                    "{err}"
                );
                // Refused, not fixed.
                assert_eq!(mode(&path), bad);
                fs::remove_file(&path).unwrap();
            }
        }

        #[test]
        fn a_file_of_the_wrong_size_is_refused() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(KEY_FILE_NAME);
            for len in [0, 16, KEY_LEN - 1, KEY_LEN + 1, 4096] {
                fs::write(&path, vec![1u8; len]).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
                let err = TokenKey::load_or_create(dir.path()).unwrap_err();
                assert!(matches!(err, TokenError::KeySize { .. }), "{len}: {err:?}");
                assert!(
                    err.to_string().contains(&path.display().to_string()),
                    "{err}"
                );
                assert_eq!(fs::read(&path).unwrap().len(), len, "left alone");
            }
        }

        #[test]
        fn a_missing_data_dir_is_an_error_naming_the_file() {
            let dir = tempfile::tempdir().unwrap();
            let missing = dir.path().join("nope");
            let err = TokenKey::load_or_create(&missing).unwrap_err();
            assert!(matches!(err, TokenError::Io { .. }), "{err:?}");
            assert!(err.to_string().contains(KEY_FILE_NAME), "{err}");
        }
    }
}
