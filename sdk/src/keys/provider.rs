//! Where keys come from: the [`KeyProvider`] trait and three providers — a key file
//! ([`FileKeyProvider`]), environment variables ([`EnvKeyProvider`]) and async hooks for a KMS
//! or Vault-style service ([`HookKeyProvider`]).
//!
//! # The key file
//! TOML, readable by its owner only (mode 0600 or 0400; anything wider is refused):
//! ```toml
//! active = "2026-11"                       # encrypts new payloads
//!
//! [keys]                                   # every key here decrypts
//! "2026-11" = "q8m2…base64 of 32 bytes…="
//! "2026-05" = "Zr4T…base64 of 32 bytes…="
//! ```
//!
//! # The environment
//! `LOCKSTEP_CODEC_KEYS=id:base64key[,id:base64key…]`; the first key is active unless
//! `LOCKSTEP_CODEC_ACTIVE_KEY` names another.

use std::{collections::BTreeMap, future::Future, path::PathBuf, sync::Arc};

use futures::future::BoxFuture;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{Key, KeyId, KeyRing, wipe};
use crate::error::KeyError;

/// A source of keys. `load` returns the whole ring (called at start and on every
/// [`crate::Keys::reload`]); `fetch` is asked for one key id that a payload names but the ring
/// lacks (default: no such key). Implementations must never log key material.
pub trait KeyProvider: Send + Sync + 'static {
    /// Loads the key ring.
    fn load(&self) -> BoxFuture<'_, Result<KeyRing, KeyError>>;

    /// Fetches the key with this id, or `None` if it does not exist.
    fn fetch<'a>(&'a self, id: &'a KeyId) -> BoxFuture<'a, Result<Option<Key>, KeyError>> {
        let _ = id;
        Box::pin(async { Ok(None) })
    }
}

/// A fixed ring is its own provider.
impl KeyProvider for KeyRing {
    fn load(&self) -> BoxFuture<'_, Result<KeyRing, KeyError>> {
        let ring = self.clone();
        Box::pin(async move { Ok(ring) })
    }
}

/// Reads a TOML key file (see the [module docs](self)) on every load, so editing the file and
/// calling [`crate::Keys::reload`] (or running [`crate::Keys::spawn_reload`]) rotates keys.
#[derive(Clone, Debug)]
pub struct FileKeyProvider {
    path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: String,
    keys: BTreeMap<String, String>,
}

impl FileKeyProvider {
    /// A provider reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Reads and parses the file now.
    pub fn read(&self) -> Result<KeyRing, KeyError> {
        let path = &self.path;
        let read_error = |source| KeyError::Read {
            path: path.clone(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        check_permissions(path, &metadata)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(read_error)?);
        let invalid = |reason: String| KeyError::Invalid {
            source_name: path.display().to_string(),
            reason,
        };
        // The parser's message quotes the offending line, which may hold a key: keep only the
        // position.
        let file: KeyFile = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].lines().count().max(1);
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            invalid(format!(
                "not a key file{at} (expected `active = \"id\"` and a [keys] table of \
                 \"id\" = \"base64\")"
            ))
        })?;
        let KeyFile { active, keys } = file;
        let mut parsed = Vec::with_capacity(keys.len());
        let mut failure = None;
        for (id, key_text) in keys {
            if failure.is_none() {
                match (KeyId::new(id), Key::from_base64(&key_text)) {
                    (Ok(id), Ok(key)) => parsed.push((id, key)),
                    (Err(e), _) => failure = Some(e),
                    (Ok(id), Err(e)) => failure = Some(invalid(format!("key {id}: {e}"))),
                }
            }
            wipe(key_text);
        }
        if let Some(error) = failure {
            return Err(error);
        }
        KeyRing::from_keys(parsed, &KeyId::new(active)?)
    }
}

#[cfg(unix)]
fn check_permissions(path: &std::path::Path, metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(
    _path: &std::path::Path,
    _metadata: &std::fs::Metadata,
) -> Result<(), KeyError> {
    Ok(())
}

impl KeyProvider for FileKeyProvider {
    fn load(&self) -> BoxFuture<'_, Result<KeyRing, KeyError>> {
        Box::pin(async move { self.read() })
    }
}

/// Reads keys from environment variables (see the [module docs](self)); by default
/// `LOCKSTEP_CODEC_KEYS` and `LOCKSTEP_CODEC_ACTIVE_KEY`. Environment variables are easy to
/// leak (process listings, crash reports, child processes): prefer a key file or a KMS outside
/// development.
#[derive(Clone, Debug)]
pub struct EnvKeyProvider {
    keys_var: String,
    active_var: String,
}

impl EnvKeyProvider {
    /// The variable that lists the keys by default.
    pub const DEFAULT_KEYS_VAR: &'static str = "LOCKSTEP_CODEC_KEYS";
    /// The variable that names the active key by default.
    pub const DEFAULT_ACTIVE_VAR: &'static str = "LOCKSTEP_CODEC_ACTIVE_KEY";

    /// Reads the keys from `keys_var` and the active key id from `active_var` (optional).
    pub fn new(keys_var: impl Into<String>, active_var: impl Into<String>) -> Self {
        Self {
            keys_var: keys_var.into(),
            active_var: active_var.into(),
        }
    }

    /// Reads the variables now.
    pub fn read(&self) -> Result<KeyRing, KeyError> {
        let list = std::env::var(&self.keys_var).map_err(|_| KeyError::MissingEnv {
            name: self.keys_var.clone(),
        })?;
        let list = Zeroizing::new(list);
        let active = std::env::var(&self.active_var).ok();
        KeyRing::parse_list(&list, active.as_deref(), &self.keys_var)
    }
}

impl Default for EnvKeyProvider {
    fn default() -> Self {
        Self::new(Self::DEFAULT_KEYS_VAR, Self::DEFAULT_ACTIVE_VAR)
    }
}

impl KeyProvider for EnvKeyProvider {
    fn load(&self) -> BoxFuture<'_, Result<KeyRing, KeyError>> {
        Box::pin(async move { self.read() })
    }
}

type LoadHook = dyn Fn() -> BoxFuture<'static, Result<KeyRing, KeyError>> + Send + Sync;
type FetchHook = dyn Fn(KeyId) -> BoxFuture<'static, Result<Option<Key>, KeyError>> + Send + Sync;

/// A provider made of async closures, for a KMS, Vault or any key service:
///
/// ```no_run
/// # async fn example() -> Result<(), lockstep_sdk::KeyError> {
/// use lockstep_sdk::{HookKeyProvider, Key, KeyError, KeyId, KeyRing, Keys};
///
/// // Stand-ins for calls to your key service.
/// async fn current_key_from_vault() -> Result<(KeyId, Key), KeyError> { unimplemented!() }
/// async fn key_from_vault(id: &KeyId) -> Result<Option<Key>, KeyError> { unimplemented!() }
///
/// let keys = Keys::load(
///     HookKeyProvider::new(|| async {
///         let (id, key) = current_key_from_vault().await?;
///         Ok(KeyRing::new(id, key))
///     })
///     // Payloads naming a key id the ring lacks (encrypted before a rotation): ask for it.
///     .on_unknown_key(|id| async move { key_from_vault(&id).await }),
/// )
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HookKeyProvider {
    load: Arc<LoadHook>,
    fetch: Option<Arc<FetchHook>>,
}

impl HookKeyProvider {
    /// A provider whose ring comes from `load`.
    pub fn new<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<KeyRing, KeyError>> + Send + 'static,
    {
        Self {
            load: Arc::new(move || Box::pin(load())),
            fetch: None,
        }
    }

    /// Asks `fetch` for key ids that payloads name but the ring lacks; `Ok(None)` means the
    /// key does not exist. It is called again for every payload naming an id it did not
    /// return, so cache negative answers in the hook if the service is rate-limited.
    pub fn on_unknown_key<F, Fut>(mut self, fetch: F) -> Self
    where
        F: Fn(KeyId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Key>, KeyError>> + Send + 'static,
    {
        self.fetch = Some(Arc::new(move |id| Box::pin(fetch(id))));
        self
    }
}

impl std::fmt::Debug for HookKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookKeyProvider")
            .field("fetch", &self.fetch.is_some())
            .finish_non_exhaustive()
    }
}

impl KeyProvider for HookKeyProvider {
    fn load(&self) -> BoxFuture<'_, Result<KeyRing, KeyError>> {
        (self.load)()
    }

    fn fetch<'a>(&'a self, id: &'a KeyId) -> BoxFuture<'a, Result<Option<Key>, KeyError>> {
        match &self.fetch {
            Some(fetch) => fetch(id.clone()),
            None => Box::pin(async { Ok(None) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::keys::KEY_LEN;

    fn write_key_file(dir: &std::path::Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("keys.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn key_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let a = Key::generate().unwrap();
        let b = Key::generate().unwrap();
        let text = format!(
            "active = \"b\"\n[keys]\na = \"{}\"\n\"b\" = \"{}\"\n",
            *a.to_base64(),
            *b.to_base64()
        );
        let path = write_key_file(dir.path(), &text, 0o600);
        let ring = FileKeyProvider::new(&path).read().unwrap();
        assert_eq!(ring.active().0.as_str(), "b");
        assert_eq!(ring.get("a"), Some(&a));
        assert_eq!(ring.get("b"), Some(&b));
    }

    #[test]
    fn key_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::from_bytes(&[7; KEY_LEN]).unwrap();
        let text = format!("active = \"a\"\n[keys]\na = \"{}\"\n", *key.to_base64());
        let path = write_key_file(dir.path(), &text, 0o644);
        let error = FileKeyProvider::new(&path).read().unwrap_err();
        assert!(matches!(
            error,
            KeyError::InsecurePermissions { mode: 0o644, .. }
        ));
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn key_file_errors_never_quote_keys() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::generate().unwrap();
        let secret = key.to_base64();
        for text in [
            format!("active = \"a\"\n[keys]\na = \"{}\" junk\n", *secret),
            format!("active = \"a\"\n[keys]\na = \"{}\"\nextra = 1\n", *secret),
            format!("active = \"zz\"\n[keys]\na = \"{}\"\n", *secret),
            format!("active = \"a\"\n[keys]\na = \"{}AAAA\"\n", *secret),
            format!("actve = \"a\"\n[keys]\na = \"{}\"\n", *secret),
        ] {
            let path = write_key_file(dir.path(), &text, 0o600);
            let error = FileKeyProvider::new(&path).read().unwrap_err().to_string();
            assert!(!error.contains(&secret[..16]), "{error}");
        }
    }

    #[tokio::test]
    async fn hook_provider_loads_and_fetches() {
        let a = Key::from_bytes(&[1; KEY_LEN]).unwrap();
        let b = Key::from_bytes(&[2; KEY_LEN]).unwrap();
        let ring = KeyRing::new(KeyId::new("a").unwrap(), a.clone());
        let provider = HookKeyProvider::new(move || {
            let ring = ring.clone();
            async move { Ok(ring) }
        })
        .on_unknown_key(move |id| {
            let b = b.clone();
            async move { Ok((id.as_str() == "b").then_some(b)) }
        });
        let keys = crate::Keys::load(provider).await.unwrap();
        assert_eq!(keys.ring().len(), 1);
        assert!(keys.decryption_key("b").await.is_ok());
        assert_eq!(keys.ring().len(), 2, "a fetched key is kept");
        assert!(matches!(
            keys.decryption_key("c").await,
            Err(crate::CodecError::UnknownKey { .. })
        ));
    }
}
