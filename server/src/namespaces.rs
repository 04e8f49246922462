//! Namespaces: registered, persisted in the store, cached in memory. Each carries a payload
//! policy (`any` or `encrypted-only`) that the engine enforces on every payload it stores.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    str::FromStr,
    sync::{Arc, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::store::{Committer, Keyspace, StoreError, WriteBatch};

/// The namespace every server has from its first start.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The `data` key through which the Temporal API reads and sets the payload policy.
pub const PAYLOAD_POLICY_KEY: &str = "lockstep.payload-policy";

/// Whether a namespace accepts cleartext payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadPolicy {
    /// Any payload is stored (the Temporal default).
    #[default]
    Any,
    /// Only payloads whose metadata says `encoding: binary/encrypted` are accepted.
    EncryptedOnly,
}

impl PayloadPolicy {
    /// The policy's name as written in configuration and namespace data.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadPolicy::Any => "any",
            PayloadPolicy::EncryptedOnly => "encrypted-only",
        }
    }
}

impl fmt::Display for PayloadPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PayloadPolicy {
    type Err = NamespaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "any" => Ok(PayloadPolicy::Any),
            "encrypted-only" => Ok(PayloadPolicy::EncryptedOnly),
            other => Err(NamespaceError::Invalid(format!(
                "{PAYLOAD_POLICY_KEY} must be \"any\" or \"encrypted-only\", not {other:?}"
            ))),
        }
    }
}

/// A namespace as stored.
#[derive(Clone, PartialEq, Message)]
pub struct NamespaceRecord {
    /// Unique name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Stable id (a UUID), also accepted by DescribeNamespace.
    #[prost(string, tag = "2")]
    pub id: String,
    /// Free text.
    #[prost(string, tag = "3")]
    pub description: String,
    /// Owner's e-mail, free text.
    #[prost(string, tag = "4")]
    pub owner_email: String,
    /// Retention of closed executions, in seconds.
    #[prost(int64, tag = "5")]
    pub retention_seconds: i64,
    /// 0 = any, 1 = encrypted-only.
    #[prost(int32, tag = "6")]
    pub payload_policy: i32,
    /// User data (free key/value pairs), without the payload policy key.
    #[prost(map = "string, string", tag = "7")]
    pub data: HashMap<String, String>,
    /// Registration time, milliseconds since the epoch.
    #[prost(int64, tag = "8")]
    pub created_unix_ms: i64,
    /// Registered custom search attributes: name → `IndexedValueType` (see
    /// [`search_attributes`](crate::search_attributes)).
    #[prost(map = "string, int32", tag = "9")]
    pub search_attributes: HashMap<String, i32>,
}

impl NamespaceRecord {
    /// The payload policy.
    pub fn payload_policy(&self) -> PayloadPolicy {
        match self.payload_policy {
            1 => PayloadPolicy::EncryptedOnly,
            _ => PayloadPolicy::Any,
        }
    }

    fn set_payload_policy(&mut self, policy: PayloadPolicy) {
        self.payload_policy = match policy {
            PayloadPolicy::Any => 0,
            PayloadPolicy::EncryptedOnly => 1,
        };
    }

    /// The retention period.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.retention_seconds).unwrap_or(0))
    }
}

/// What registering a namespace needs.
#[derive(Clone, Debug, Default)]
pub struct NewNamespace {
    /// Name (validated).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Owner's e-mail.
    pub owner_email: String,
    /// Retention; None = the default.
    pub retention: Option<Duration>,
    /// User data; may carry [`PAYLOAD_POLICY_KEY`].
    pub data: HashMap<String, String>,
}

/// Changes to a namespace; None leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct NamespaceUpdate {
    /// New description.
    pub description: Option<String>,
    /// New owner e-mail.
    pub owner_email: Option<String>,
    /// New retention.
    pub retention: Option<Duration>,
    /// Keys to set (merged into the existing data); may carry [`PAYLOAD_POLICY_KEY`].
    pub data: HashMap<String, String>,
}

/// Why a namespace operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// No such namespace.
    #[error("namespace {0:?} not found")]
    NotFound(String),
    /// The name is taken.
    #[error("namespace {0:?} already exists")]
    AlreadyExists(String),
    /// The request is invalid; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a namespace name: 2 to 255 characters from `[A-Za-z0-9._-]`, starting with a letter
/// or digit (Temporal's rule).
pub fn validate_name(name: &str) -> Result<(), NamespaceError> {
    let ok_len = (2..=255).contains(&name.len());
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(NamespaceError::Invalid(format!(
            "namespace name {name:?} is invalid: use 2 to 255 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )))
    }
}

/// The registry of namespaces: the store is the truth, the map a cache of it.
pub struct Namespaces {
    committer: Committer,
    by_name: RwLock<BTreeMap<String, Arc<NamespaceRecord>>>,
    /// Serializes writers so check-then-write (register, update) cannot race.
    write_lock: tokio::sync::Mutex<()>,
    /// The shortest retention a namespace may be given (the server's `min_retention_secs`).
    min_retention: Duration,
}

impl Namespaces {
    /// Loads every namespace from the store.
    pub fn load(committer: Committer) -> Result<Self, NamespaceError> {
        let mut by_name = BTreeMap::new();
        for (key, value) in committer
            .store()
            .scan_prefix(Keyspace::Namespaces, b"", usize::MAX)?
        {
            let record = NamespaceRecord::decode(value.as_slice()).map_err(|err| {
                NamespaceError::Store(StoreError::Decode {
                    keyspace: Keyspace::Namespaces,
                    key: String::from_utf8_lossy(&key).into_owned(),
                    reason: err.to_string(),
                })
            })?;
            by_name.insert(record.name.clone(), Arc::new(record));
        }
        Ok(Self {
            committer,
            by_name: RwLock::new(by_name),
            write_lock: tokio::sync::Mutex::new(()),
            min_retention: Duration::from_secs(crate::config::DEFAULT_MIN_RETENTION_SECS),
        })
    }

    /// Sets the shortest retention namespaces may be registered or updated with (default 1 h).
    pub fn with_min_retention(mut self, min_retention: Duration) -> Self {
        self.min_retention = min_retention;
        self
    }

    /// The namespace called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<NamespaceRecord>> {
        self.read().get(name).cloned()
    }

    /// The namespace with id `id`.
    pub fn get_by_id(&self, id: &str) -> Option<Arc<NamespaceRecord>> {
        self.read().values().find(|ns| ns.id == id).cloned()
    }

    /// All namespaces, by name.
    pub fn list(&self) -> Vec<Arc<NamespaceRecord>> {
        self.read().values().cloned().collect()
    }

    /// Registers a namespace; fails if the name is taken.
    pub async fn register(
        &self,
        new: NewNamespace,
    ) -> Result<Arc<NamespaceRecord>, NamespaceError> {
        validate_name(&new.name)?;
        let _guard = self.write_lock.lock().await;
        if self.get(&new.name).is_some() {
            return Err(NamespaceError::AlreadyExists(new.name));
        }
        let mut record = NamespaceRecord {
            name: new.name,
            id: uuid::Uuid::new_v4().to_string(),
            description: new.description,
            owner_email: new.owner_email,
            retention_seconds: 0,
            payload_policy: 0,
            data: HashMap::new(),
            created_unix_ms: now_unix_ms(),
            search_attributes: HashMap::new(),
        };
        let retention = new.retention.unwrap_or(Duration::from_secs(
            crate::config::default_retention_hours() * 3600,
        ));
        set_retention(&mut record, retention, self.min_retention)?;
        apply_data(&mut record, new.data)?;
        self.save(record).await
    }

    /// Registers `name` with `policy` unless it exists (used at start for configured namespaces).
    pub async fn ensure(
        &self,
        name: &str,
        policy: PayloadPolicy,
        retention: Duration,
    ) -> Result<Arc<NamespaceRecord>, NamespaceError> {
        if let Some(existing) = self.get(name) {
            return Ok(existing);
        }
        let data = HashMap::from([(PAYLOAD_POLICY_KEY.to_string(), policy.as_str().to_string())]);
        match self
            .register(NewNamespace {
                name: name.into(),
                retention: Some(retention),
                data,
                ..NewNamespace::default()
            })
            .await
        {
            Err(NamespaceError::AlreadyExists(_)) => self
                .get(name)
                .ok_or_else(|| NamespaceError::NotFound(name.into())),
            other => other,
        }
    }

    /// Applies `update` to namespace `name`.
    pub async fn update(
        &self,
        name: &str,
        update: NamespaceUpdate,
    ) -> Result<Arc<NamespaceRecord>, NamespaceError> {
        let min_retention = self.min_retention;
        self.modify(name, |record| {
            if let Some(description) = update.description {
                record.description = description;
            }
            if let Some(owner_email) = update.owner_email {
                record.owner_email = owner_email;
            }
            if let Some(retention) = update.retention {
                set_retention(record, retention, min_retention)?;
            }
            apply_data(record, update.data)?;
            Ok(true)
        })
        .await
    }

    /// Changes namespace `name` with `change` (on a copy) and stores the result when `change`
    /// says it changed something; an error changes nothing. Writers are serialized.
    pub async fn modify<E: From<NamespaceError>>(
        &self,
        name: &str,
        change: impl FnOnce(&mut NamespaceRecord) -> Result<bool, E>,
    ) -> Result<Arc<NamespaceRecord>, E> {
        let _guard = self.write_lock.lock().await;
        let current = self
            .get(name)
            .ok_or_else(|| NamespaceError::NotFound(name.into()))?;
        let mut record = NamespaceRecord::clone(&current);
        if !change(&mut record)? {
            return Ok(current);
        }
        Ok(self.save(record).await?)
    }

    async fn save(&self, record: NamespaceRecord) -> Result<Arc<NamespaceRecord>, NamespaceError> {
        let mut batch = WriteBatch::default();
        batch.put(
            Keyspace::Namespaces,
            record.name.as_bytes().to_vec(),
            record.encode_to_vec(),
        );
        self.committer.commit(batch).await?;
        let record = Arc::new(record);
        self.write().insert(record.name.clone(), record.clone());
        Ok(record)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<NamespaceRecord>>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still whole
        // because every write is a single insert.
        self.by_name.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<NamespaceRecord>>> {
        self.by_name.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn set_retention(
    record: &mut NamespaceRecord,
    retention: Duration,
    min_retention: Duration,
) -> Result<(), NamespaceError> {
    if retention < min_retention {
        return Err(NamespaceError::Invalid(format!(
            "retention must be at least {} s (the server's min_retention_secs)",
            min_retention.as_secs()
        )));
    }
    record.retention_seconds = i64::try_from(retention.as_secs())
        .map_err(|_| NamespaceError::Invalid("retention is too long".into()))?;
    Ok(())
}

fn apply_data(
    record: &mut NamespaceRecord,
    mut data: HashMap<String, String>,
) -> Result<(), NamespaceError> {
    if let Some(policy) = data.remove(PAYLOAD_POLICY_KEY) {
        record.set_payload_policy(policy.parse()?);
    }
    record.data.extend(data);
    Ok(())
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::MemoryStore;

    fn registry() -> (Committer, Namespaces) {
        let committer = Committer::start(Arc::new(MemoryStore::default()));
        let namespaces = Namespaces::load(committer.clone()).unwrap();
        (committer, namespaces)
    }

    #[tokio::test]
    async fn register_get_list_and_reload() {
        let (committer, namespaces) = registry();
        let data = HashMap::from([(PAYLOAD_POLICY_KEY.into(), "encrypted-only".into())]);
        let created = namespaces
            .register(NewNamespace {
                name: "orders".into(),
                data,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(created.payload_policy(), PayloadPolicy::EncryptedOnly);
        assert_eq!(created.retention(), Duration::from_secs(72 * 3600));
        assert!(namespaces.get_by_id(&created.id).is_some());
        let reloaded = Namespaces::load(committer).unwrap();
        assert_eq!(reloaded.get("orders").unwrap().as_ref(), created.as_ref());
    }

    #[tokio::test]
    async fn duplicates_and_bad_input_change_nothing() {
        let (_, namespaces) = registry();
        namespaces
            .ensure("default", PayloadPolicy::Any, Duration::from_secs(86400))
            .await
            .unwrap();
        let again = namespaces
            .register(NewNamespace {
                name: "default".into(),
                ..Default::default()
            })
            .await;
        assert!(matches!(again, Err(NamespaceError::AlreadyExists(_))));
        for bad in ["", "a", "-x", "has space", "ünï"] {
            let result = namespaces
                .register(NewNamespace {
                    name: bad.into(),
                    ..Default::default()
                })
                .await;
            assert!(matches!(result, Err(NamespaceError::Invalid(_))), "{bad:?}");
        }
        let bad_policy = namespaces
            .update(
                "default",
                NamespaceUpdate {
                    description: Some("changed".into()),
                    data: HashMap::from([(PAYLOAD_POLICY_KEY.into(), "maybe".into())]),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(bad_policy, Err(NamespaceError::Invalid(_))));
        assert_eq!(namespaces.get("default").unwrap().description, "");
        assert_eq!(namespaces.list().len(), 1);
    }

    #[tokio::test]
    async fn retention_is_bounded_by_the_configured_minimum() {
        let (committer, namespaces) = registry();
        let short = |name: &str| NewNamespace {
            name: name.into(),
            retention: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let refused = namespaces.register(short("quick")).await;
        assert!(
            matches!(&refused, Err(NamespaceError::Invalid(m)) if m.contains("at least 3600 s")),
            "{refused:?}"
        );
        let namespaces = Namespaces::load(committer)
            .unwrap()
            .with_min_retention(Duration::from_secs(1));
        let created = namespaces.register(short("quick")).await.unwrap();
        assert_eq!(created.retention(), Duration::from_secs(2));
        let too_short = namespaces
            .update(
                "quick",
                NamespaceUpdate {
                    retention: Some(Duration::from_millis(500)),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(too_short, Err(NamespaceError::Invalid(_))));
        assert_eq!(
            namespaces.get("quick").unwrap().retention(),
            Duration::from_secs(2)
        );
    }

    #[tokio::test]
    async fn modify_stores_only_changes_and_nothing_on_error() {
        let (committer, namespaces) = registry();
        namespaces
            .ensure("default", PayloadPolicy::Any, Duration::from_secs(86400))
            .await
            .unwrap();
        let unchanged = namespaces
            .modify::<NamespaceError>("default", |record| {
                record.description = "not saved".into();
                Ok(false)
            })
            .await
            .unwrap();
        assert_eq!(unchanged.description, "");
        let failed = namespaces
            .modify("default", |record| {
                record.search_attributes.insert("Lost".into(), 2);
                Err(NamespaceError::Invalid("no".into()))
            })
            .await;
        assert!(failed.is_err());
        namespaces
            .modify::<NamespaceError>("default", |record| {
                record.search_attributes.insert("Customer".into(), 2);
                Ok(true)
            })
            .await
            .unwrap();
        let reloaded = Namespaces::load(committer).unwrap();
        let record = reloaded.get("default").unwrap();
        assert_eq!(record.description, "");
        assert_eq!(
            record.search_attributes,
            HashMap::from([("Customer".to_string(), 2)])
        );
        let missing = namespaces
            .modify::<NamespaceError>("nope", |_| Ok(true))
            .await;
        assert!(matches!(missing, Err(NamespaceError::NotFound(_))));
    }

    #[tokio::test]
    async fn update_merges_data() {
        let (_, namespaces) = registry();
        namespaces
            .ensure("default", PayloadPolicy::Any, Duration::from_secs(86400))
            .await
            .unwrap();
        let updated = namespaces
            .update(
                "default",
                NamespaceUpdate {
                    retention: Some(Duration::from_secs(7200)),
                    data: HashMap::from([
                        ("team".into(), "payments".into()),
                        (PAYLOAD_POLICY_KEY.into(), "encrypted-only".into()),
                    ]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.retention(), Duration::from_secs(7200));
        assert_eq!(updated.payload_policy(), PayloadPolicy::EncryptedOnly);
        assert_eq!(
            updated.data.get("team").map(String::as_str),
            Some("payments")
        );
    }
}
