//! One API test suite, run against every `Store` implementation.
//!
//! Each behaviour is a plain function over `&dyn Store`; `api_suite!` instantiates all of them
//! for one backend, so a new backend gets the whole suite by adding one line.

use lockstep_server::store::{
    FORMAT_KEY, FORMAT_VERSION, Keyspace, MemoryStore, SledStore, Store, StoreError, WriteBatch,
};
use tempfile::TempDir;

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A store plus whatever must live as long as it (the temp dir of a disk store).
struct Fixture {
    store: Box<dyn Store>,
    _dir: Option<TempDir>,
}

fn memory() -> Fixture {
    Fixture {
        store: Box::new(MemoryStore::new()),
        _dir: None,
    }
}

fn sled() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        store: Box::new(SledStore::open(dir.path()).unwrap()),
        _dir: Some(dir),
    }
}

fn put(store: &dyn Store, ks: Keyspace, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(ks, key, value);
    store.apply(&batch).unwrap();
}

fn entries(pairs: &[(&[u8], &[u8])]) -> Entries {
    pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

// ---- behaviours ----

fn get_put_delete(store: &dyn Store) {
    assert_eq!(store.get(Keyspace::History, b"k").unwrap(), None);
    put(store, Keyspace::History, b"k", b"v1");
    assert_eq!(
        store.get(Keyspace::History, b"k").unwrap(),
        Some(b"v1".to_vec())
    );
    put(store, Keyspace::History, b"k", b"v2");
    assert_eq!(
        store.get(Keyspace::History, b"k").unwrap(),
        Some(b"v2".to_vec())
    );
    let mut batch = WriteBatch::new();
    batch.delete(Keyspace::History, b"k");
    store.apply(&batch).unwrap();
    assert_eq!(store.get(Keyspace::History, b"k").unwrap(), None);
    // Deleting a missing key is fine.
    store.apply(&batch).unwrap();
}

fn empty_key_and_value_and_large_value(store: &dyn Store) {
    put(store, Keyspace::Tasks, b"", b"");
    assert_eq!(store.get(Keyspace::Tasks, b"").unwrap(), Some(Vec::new()));
    let big = vec![0xA5; 1 << 20];
    put(store, Keyspace::Tasks, b"big", &big);
    assert_eq!(store.get(Keyspace::Tasks, b"big").unwrap(), Some(big));
}

fn keyspaces_are_independent(store: &dyn Store) {
    for (i, ks) in Keyspace::ALL.iter().enumerate() {
        put(store, *ks, b"same", &[i as u8]);
    }
    for (i, ks) in Keyspace::ALL.iter().enumerate() {
        assert_eq!(store.get(*ks, b"same").unwrap(), Some(vec![i as u8]));
    }
}

fn batch_applies_across_keyspaces(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    for ks in Keyspace::ALL {
        batch.put(ks, b"a", ks.name()).put(ks, b"b", b"x".to_vec());
    }
    batch.delete(Keyspace::Timers, b"b");
    store.apply(&batch).unwrap();
    for ks in Keyspace::ALL {
        assert_eq!(
            store.get(ks, b"a").unwrap(),
            Some(ks.name().as_bytes().to_vec())
        );
        let expected_b = (ks != Keyspace::Timers).then(|| b"x".to_vec());
        assert_eq!(store.get(ks, b"b").unwrap(), expected_b);
    }
}

fn rejected_batch_applies_nothing(store: &dyn Store) {
    put(store, Keyspace::Executions, b"before", b"1");
    let mut batch = WriteBatch::new();
    batch
        .put(Keyspace::Executions, b"new", b"1".to_vec())
        .delete(Keyspace::Executions, b"before")
        .put(Keyspace::History, b"new", b"1".to_vec())
        .put(Keyspace::Meta, FORMAT_KEY, b"hijack".to_vec());
    let err = store.apply(&batch).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ReservedKey {
                keyspace: Keyspace::Meta,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.get(Keyspace::Executions, b"new").unwrap(), None);
    assert_eq!(store.get(Keyspace::History, b"new").unwrap(), None);
    assert_eq!(
        store.get(Keyspace::Executions, b"before").unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(
        store.get(Keyspace::Meta, FORMAT_KEY).unwrap(),
        Some(FORMAT_VERSION.to_be_bytes().to_vec())
    );
}

fn later_ops_in_a_batch_win(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch
        .put(Keyspace::Visibility, b"k", b"1".to_vec())
        .put(Keyspace::Visibility, b"k", b"2".to_vec())
        .put(Keyspace::Visibility, b"gone", b"1".to_vec())
        .delete(Keyspace::Visibility, b"gone")
        .delete(Keyspace::Visibility, b"back")
        .put(Keyspace::Visibility, b"back", b"3".to_vec());
    store.apply(&batch).unwrap();
    assert_eq!(
        store
            .scan_prefix(Keyspace::Visibility, b"", usize::MAX)
            .unwrap(),
        entries(&[(b"back", b"3"), (b"k", b"2")])
    );
}

fn empty_batch_is_a_no_op(store: &dyn Store) {
    store.apply(&WriteBatch::new()).unwrap();
    for ks in Keyspace::ALL {
        let all = store.scan_prefix(ks, b"", usize::MAX).unwrap();
        let expected = if ks == Keyspace::Meta { 1 } else { 0 };
        assert_eq!(all.len(), expected, "{ks}");
    }
    store.flush().unwrap();
}

fn seed_scan_data(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    // Inserted out of order, including keys around the prefix boundaries.
    for key in [
        &b"b\x00"[..],
        b"a",
        b"b",
        b"ba",
        b"b\xff",
        b"bb\x01",
        b"c",
        b"a\xff",
        b"bz",
    ] {
        batch.put(Keyspace::History, key, [b"v:", key].concat());
    }
    batch.put(Keyspace::Timers, b"b1", b"other keyspace".to_vec());
    store.apply(&batch).unwrap();
}

fn keys(found: &Entries) -> Vec<&[u8]> {
    for (key, value) in found {
        assert_eq!(value, &[b"v:", key.as_slice()].concat());
    }
    found.iter().map(|(k, _)| k.as_slice()).collect()
}

fn scan_prefix_order_and_limit(store: &dyn Store) {
    seed_scan_data(store);
    let all_b = store
        .scan_prefix(Keyspace::History, b"b", usize::MAX)
        .unwrap();
    assert_eq!(
        keys(&all_b),
        [&b"b"[..], b"b\x00", b"ba", b"bb\x01", b"bz", b"b\xff"]
    );
    let first_two = store.scan_prefix(Keyspace::History, b"b", 2).unwrap();
    assert_eq!(keys(&first_two), [&b"b"[..], b"b\x00"]);
    assert!(
        store
            .scan_prefix(Keyspace::History, b"b", 0)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .scan_prefix(Keyspace::History, b"d", 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .scan_prefix(Keyspace::History, b"", usize::MAX)
            .unwrap()
            .len(),
        9
    );
    assert_eq!(
        keys(&store.scan_prefix(Keyspace::History, b"bb", 10).unwrap()),
        [&b"bb\x01"[..]]
    );
}

fn scan_range_bounds_and_limit(store: &dyn Store) {
    seed_scan_data(store);
    let ks = Keyspace::History;
    let r = store
        .scan_range(ks, b"a\xff", Some(b"ba"), usize::MAX)
        .unwrap();
    assert_eq!(
        keys(&r),
        [&b"a\xff"[..], b"b", b"b\x00"],
        "start inclusive, end exclusive"
    );
    let r = store.scan_range(ks, b"bb", None, usize::MAX).unwrap();
    assert_eq!(
        keys(&r),
        [&b"bb\x01"[..], b"bz", b"b\xff", b"c"],
        "unbounded end"
    );
    let r = store.scan_range(ks, b"", None, 3).unwrap();
    assert_eq!(keys(&r), [&b"a"[..], b"a\xff", b"b"], "limit");
    assert!(store.scan_range(ks, b"", None, 0).unwrap().is_empty());
    assert!(
        store
            .scan_range(ks, b"c", Some(b"a"), 10)
            .unwrap()
            .is_empty(),
        "inverted"
    );
    assert!(
        store
            .scan_range(ks, b"b", Some(b"b"), 10)
            .unwrap()
            .is_empty(),
        "empty"
    );
    assert!(store.scan_range(ks, b"d", None, 10).unwrap().is_empty());
}

fn starts_with_only_the_format_record(store: &dyn Store) {
    assert_eq!(
        store.scan_prefix(Keyspace::Meta, b"", usize::MAX).unwrap(),
        vec![(FORMAT_KEY.to_vec(), FORMAT_VERSION.to_be_bytes().to_vec())]
    );
}

macro_rules! api_suite {
    ($backend:ident: $($behaviour:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $behaviour() {
                    let fixture = super::$backend();
                    super::$behaviour(fixture.store.as_ref());
                }
            )+
        }
    };
}

macro_rules! for_every_store {
    ($($backend:ident),+) => {
        $(
            api_suite!($backend:
                get_put_delete,
                empty_key_and_value_and_large_value,
                keyspaces_are_independent,
                batch_applies_across_keyspaces,
                rejected_batch_applies_nothing,
                later_ops_in_a_batch_win,
                empty_batch_is_a_no_op,
                scan_prefix_order_and_limit,
                scan_range_bounds_and_limit,
                starts_with_only_the_format_record,
            );
        )+
    };
}

for_every_store!(memory, sled);

#[test]
fn sled_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        seed_scan_data(&store);
        store.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store
            .scan_prefix(Keyspace::History, b"", usize::MAX)
            .unwrap()
            .len(),
        9
    );
    assert_eq!(
        store.get(Keyspace::Timers, b"b1").unwrap(),
        Some(b"other keyspace".to_vec())
    );
}
