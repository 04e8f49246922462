//! Keys you bring: [`Key`] (32 bytes, zeroized on drop, never printed), [`KeyId`], the
//! [`KeyRing`] (many keys by id, one active for encryption, any known key decrypts) and
//! [`Keys`], the shared, swappable handle the codec reads from, so keys rotate while workers run.
//!
//! Where keys come from is a [`KeyProvider`]: a key file, environment variables, or an async
//! hook for a KMS or Vault (see [`provider`]).

pub mod provider;

use std::{collections::BTreeMap, fmt, str::FromStr, sync::Arc, time::Duration};

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use arc_swap::ArcSwap;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use zeroize::{Zeroize, Zeroizing};

pub use provider::{EnvKeyProvider, FileKeyProvider, HookKeyProvider, KeyProvider};

use crate::error::{CodecError, KeyError};

/// The length of an AES-256 key in bytes.
pub const KEY_LEN: usize = 32;

/// The longest key id accepted, in bytes.
pub const MAX_KEY_ID_LEN: usize = 256;

/// A 256-bit AES key. The bytes are wiped from memory when the last copy is dropped, and
/// neither `Debug` nor any error message ever shows them.
#[derive(Clone)]
pub struct Key {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl Key {
    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(KeyError::WrongLength { len: bytes.len() });
        }
        key.copy_from_slice(bytes);
        Ok(Self { bytes: key })
    }

    /// A key from its standard base64 text (as `openssl rand -base64 32` prints it);
    /// surrounding whitespace is ignored.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let decoded =
            Zeroizing::new(
                BASE64
                    .decode(text.trim())
                    .map_err(|e| KeyError::NotBase64 {
                        reason: e.to_string(),
                    })?,
            );
        Self::from_bytes(&decoded)
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(key.as_mut())
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self { bytes: key })
    }

    /// The key as standard base64, for writing it to a key file or a secret store. The
    /// returned string is wiped when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.bytes.as_ref()))
    }

    /// The raw key bytes (for the cipher).
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl PartialEq for Key {
    /// Constant-time comparison, so comparing keys leaks nothing through timing.
    fn eq(&self, other: &Self) -> bool {
        self.bytes
            .iter()
            .zip(other.bytes.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// The name of a key, written in clear into every payload it encrypts
/// (`encryption-key-id`): 1 to 256 visible ASCII characters, no commas. Key ids are not secret;
/// do not put secrets in them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// A key id, if `id` is 1 to 256 visible ASCII characters without commas.
    pub fn new(id: impl Into<String>) -> Result<Self, KeyError> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= MAX_KEY_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        if valid {
            Ok(Self(id))
        } else {
            Err(KeyError::InvalidKeyId { id })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for KeyId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Keys by id, one of them active. The active key encrypts every new payload; any key of the
/// ring decrypts. To rotate, add the new key, make it active, and keep the old one until every
/// workflow that holds payloads encrypted with it has finished (and its history is deleted).
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, Key>,
    active: KeyId,
}

impl KeyRing {
    /// A ring with one key, which is active.
    pub fn new(id: KeyId, key: Key) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), key);
        Self { keys, active: id }
    }

    /// A ring from several keys and the id of the active one.
    pub fn from_keys(
        keys: impl IntoIterator<Item = (KeyId, Key)>,
        active: &KeyId,
    ) -> Result<Self, KeyError> {
        let mut map: BTreeMap<KeyId, Key> = BTreeMap::new();
        for (id, key) in keys {
            if let Some(existing) = map.get(&id) {
                if *existing != key {
                    return Err(KeyError::DuplicateKeyId { id: id.0 });
                }
                continue;
            }
            map.insert(id, key);
        }
        if map.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut ring = Self {
            active: active.clone(),
            keys: map,
        };
        ring.set_active(active)?;
        Ok(ring)
    }

    /// A ring from the list form used by [`EnvKeyProvider`]:
    /// `id:base64key[,id:base64key…]`. The active key is `active` if given, else the first
    /// listed. `source_name` names where the text came from, for error messages.
    pub fn parse_list(
        list: &str,
        active: Option<&str>,
        source_name: &str,
    ) -> Result<Self, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            source_name: source_name.to_string(),
            reason,
        };
        let mut keys = Vec::new();
        for (index, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            // Base64 never holds ':', so the last one separates the id (which may hold ':', as
            // KMS key ARNs do) from the key.
            let Some((id, key)) = entry.rsplit_once(':') else {
                return Err(invalid(format!(
                    "entry {} has no `id:` prefix (expected `id:base64key`)",
                    index + 1
                )));
            };
            let id = KeyId::new(id.trim())?;
            let key = Key::from_base64(key).map_err(|e| invalid(format!("key {id}: {e}")))?;
            keys.push((id, key));
        }
        let active = match active.map(str::trim).filter(|a| !a.is_empty()) {
            Some(active) => KeyId::new(active)?,
            None => keys
                .first()
                .map(|(id, _)| id.clone())
                .ok_or(KeyError::Empty)?,
        };
        Self::from_keys(keys, &active)
    }

    /// Adds a key (an id already present with the same key is a no-op; with another key an
    /// error). The active key does not change.
    pub fn insert(&mut self, id: KeyId, key: Key) -> Result<(), KeyError> {
        match self.keys.get(&id) {
            Some(existing) if *existing == key => Ok(()),
            Some(_) => Err(KeyError::DuplicateKeyId { id: id.0 }),
            None => {
                self.keys.insert(id, key);
                Ok(())
            }
        }
    }

    /// Makes `id` the key that encrypts from now on.
    pub fn set_active(&mut self, id: &KeyId) -> Result<(), KeyError> {
        if !self.keys.contains_key(id) {
            return Err(KeyError::UnknownActiveKey {
                id: id.0.clone(),
                known: self.ids().map(KeyId::as_str).collect::<Vec<_>>().join(", "),
            });
        }
        self.active = id.clone();
        Ok(())
    }

    /// Removes a retired key; the active key cannot be removed.
    pub fn remove(&mut self, id: &KeyId) -> Option<Key> {
        if *id == self.active {
            return None;
        }
        self.keys.remove(id)
    }

    /// The id of the active key.
    pub fn active_id(&self) -> &KeyId {
        &self.active
    }

    /// The active key and its id.
    pub fn active(&self) -> (&KeyId, &Key) {
        // The constructors and `set_active` only ever name a key that is in the map, and
        // `remove` never removes the active one.
        match self.keys.get_key_value(&self.active) {
            Some(pair) => pair,
            None => unreachable!("the active key is always in the ring"),
        }
    }

    /// The key with this id, if the ring holds it.
    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.get(id)
    }

    /// The ids the ring holds, in order.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least its active key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The keys a codec uses: a cheaply cloned handle on a [`KeyRing`] that can be replaced at any
/// time (by hand with [`Keys::replace`], or from the provider with [`Keys::reload`] /
/// [`Keys::spawn_reload`]). Every clone sees the same ring, so a client and a worker that share
/// a `Keys` rotate together without a restart.
///
/// When a payload names a key id the ring lacks, the provider's [`KeyProvider::fetch`] is asked
/// for it (the KMS pattern of Temporal's TypeScript sample) and the key is kept in the ring.
#[derive(Clone)]
pub struct Keys {
    ring: Arc<ArcSwap<KeyRing>>,
    provider: Option<Arc<dyn KeyProvider>>,
}

impl Keys {
    /// Fixed keys, without a provider.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring: Arc::new(ArcSwap::from_pointee(ring)),
            provider: None,
        }
    }

    /// Loads the ring from `provider` and keeps the provider for [`Keys::reload`] and for
    /// fetching unknown key ids.
    pub async fn load(provider: impl KeyProvider) -> Result<Self, KeyError> {
        let provider: Arc<dyn KeyProvider> = Arc::new(provider);
        let ring = provider.load().await?;
        Ok(Self {
            ring: Arc::new(ArcSwap::from_pointee(ring)),
            provider: Some(provider),
        })
    }

    /// Replaces the ring: payloads encoded from now on use its active key.
    pub fn replace(&self, ring: KeyRing) {
        tracing::info!(
            active = %ring.active_id(),
            keys = ring.len(),
            "payload key ring replaced"
        );
        self.ring.store(Arc::new(ring));
    }

    /// Loads the ring from the provider again and installs it; on error the current ring stays.
    /// Without a provider this does nothing.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let Some(provider) = &self.provider else {
            return Ok(());
        };
        let ring = provider.load().await?;
        let current = self.ring.load();
        let changed = current.active_id() != ring.active_id()
            || current.len() != ring.len()
            || ring
                .ids()
                .any(|id| current.get(id.as_str()) != ring.get(id.as_str()));
        if changed {
            self.replace(ring);
        }
        Ok(())
    }

    /// Reloads from the provider every `period` on the current tokio runtime, logging failures
    /// (never key material) and keeping the last good ring. Abort the returned task to stop.
    pub fn spawn_reload(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let keys = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) = keys.reload().await {
                    tracing::warn!(%error, "reloading payload keys failed; keeping the current keys");
                }
            }
        })
    }

    /// The current ring.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// The key for decrypting a payload that names `id`: from the ring, else from the
    /// provider's `fetch` (then kept in the ring).
    pub(crate) async fn decryption_key(&self, id: &str) -> Result<Key, CodecError> {
        if let Some(key) = self.ring.load().get(id) {
            return Ok(key.clone());
        }
        let unknown = || CodecError::UnknownKey {
            key_id: id.to_string(),
        };
        let Some(provider) = &self.provider else {
            return Err(unknown());
        };
        let Ok(key_id) = KeyId::new(id) else {
            return Err(unknown());
        };
        let Some(key) = provider.fetch(&key_id).await? else {
            return Err(unknown());
        };
        let mut inserted = Ok(());
        self.ring.rcu(|ring| {
            let mut ring = KeyRing::clone(ring);
            inserted = ring.insert(key_id.clone(), key.clone());
            ring
        });
        inserted?;
        tracing::info!(key_id = %key_id, "fetched a payload key from the key provider");
        Ok(key)
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("ring", &*self.ring.load())
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

/// Wipes a string that held key text.
pub(crate) fn wipe(mut text: String) {
    text.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_bytes(&[byte; KEY_LEN]).unwrap()
    }

    fn id(s: &str) -> KeyId {
        KeyId::new(s).unwrap()
    }

    #[test]
    fn keys_have_32_bytes() {
        assert!(matches!(
            Key::from_bytes(&[0; 16]),
            Err(KeyError::WrongLength { len: 16 })
        ));
        assert!(Key::from_bytes(&[0; 32]).is_ok());
        let generated = Key::generate().unwrap();
        assert_eq!(Key::from_base64(&generated.to_base64()).unwrap(), generated);
        assert!(matches!(
            Key::from_base64("not base64!"),
            Err(KeyError::NotBase64 { .. })
        ));
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = key(0xAB);
        let ring = KeyRing::new(id("k1"), key.clone());
        let keys = Keys::new(ring.clone());
        for text in [
            format!("{key:?}"),
            format!("{ring:?}"),
            format!("{keys:?}"),
            format!("{:?}", Some(&key)),
        ] {
            assert!(!text.contains("171"), "{text}");
            assert!(!text.to_lowercase().contains("ab"), "{text}");
            assert!(!text.contains(&*key.to_base64()), "{text}");
        }
        assert_eq!(
            format!("{ring:?}"),
            r#"KeyRing { active: "k1", ids: ["k1"] }"#
        );
    }

    #[test]
    fn key_ids_are_visible_ascii_without_commas() {
        for bad in ["", "a b", "a,b", "é", &"x".repeat(MAX_KEY_ID_LEN + 1)] {
            assert!(KeyId::new(bad).is_err(), "{bad:?}");
        }
        for good in ["test", "test-key-id", "arn:aws:kms:eu:1:key/abc", "2026-11"] {
            assert!(KeyId::new(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn ring_rotation() {
        let mut ring = KeyRing::new(id("a"), key(1));
        ring.insert(id("b"), key(2)).unwrap();
        assert_eq!(ring.active_id().as_str(), "a");
        ring.set_active(&id("b")).unwrap();
        assert_eq!(ring.active().0.as_str(), "b");
        assert!(ring.get("a").is_some());
        assert!(ring.remove(&id("b")).is_none(), "the active key stays");
        assert!(ring.remove(&id("a")).is_some());
        assert!(matches!(
            ring.set_active(&id("zzz")),
            Err(KeyError::UnknownActiveKey { .. })
        ));
        assert!(matches!(
            ring.insert(id("b"), key(3)),
            Err(KeyError::DuplicateKeyId { .. })
        ));
        ring.insert(id("b"), key(2)).unwrap();
    }

    #[test]
    fn parse_list_reads_ids_and_keys() {
        let a = key(1).to_base64();
        let b = key(2).to_base64();
        let ring = KeyRing::parse_list(&format!("a:{}, arn:kms:b:{}", *a, *b), None, "T").unwrap();
        assert_eq!(ring.active_id().as_str(), "a");
        assert_eq!(ring.get("arn:kms:b"), Some(&key(2)));
        let ring = KeyRing::parse_list(&format!("a:{},b:{}", *a, *b), Some("b"), "T").unwrap();
        assert_eq!(ring.active_id().as_str(), "b");
        assert!(matches!(
            KeyRing::parse_list("", None, "T"),
            Err(KeyError::Empty)
        ));
        let error = KeyRing::parse_list(&a, None, "T").unwrap_err().to_string();
        assert!(error.contains("no `id:` prefix"), "{error}");
        assert!(!error.contains(&*a), "{error}");
        let error = KeyRing::parse_list("a:c2hvcnQ=", None, "T")
            .unwrap_err()
            .to_string();
        assert!(error.contains("32 bytes"), "{error}");
        assert!(matches!(
            KeyRing::parse_list(&format!("a:{}", *a), Some("c"), "T"),
            Err(KeyError::UnknownActiveKey { .. })
        ));
    }
}
