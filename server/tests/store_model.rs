//! Model test: random operation sequences applied to `SledStore` (with flushes and simulated
//! restarts), to `MemoryStore`, and to a plain `BTreeMap` model; after every step every
//! keyspace of both stores must equal the model.

use std::collections::BTreeMap;
use std::path::Path;

use lockstep_server::store::{
    FORMAT_KEY, FORMAT_VERSION, Keyspace, MemoryStore, SledStore, Store, WriteBatch, WriteOp,
};
use proptest::prelude::*;

type Model = BTreeMap<Keyspace, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Clone, Debug)]
enum Step {
    /// A batch of one or more writes (a single put or delete is a batch of one).
    Apply(Vec<WriteOp>),
    Flush,
    /// Drop the sled store and open it again from the same dir.
    Reopen,
    ScanPrefix(Keyspace, Vec<u8>, usize),
    ScanRange(Keyspace, Vec<u8>, Option<Vec<u8>>, usize),
}

fn keyspace() -> impl Strategy<Value = Keyspace> {
    prop::sample::select(Keyspace::ALL.to_vec())
}

/// Short keys over a tiny alphabet: collisions, prefixes and 0x00/0xFF edges are common.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', 0xff]), 0..4)
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        3 => (keyspace(), key(), prop::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(keyspace, key, value)| WriteOp::Put { keyspace, key, value }),
        1 => (keyspace(), key()).prop_map(|(keyspace, key)| WriteOp::Delete { keyspace, key }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => write_op().prop_map(|op| Step::Apply(vec![op])),
        4 => prop::collection::vec(write_op(), 1..8).prop_map(Step::Apply),
        1 => Just(Step::Flush),
        1 => Just(Step::Reopen),
        1 => (keyspace(), key(), 0usize..6).prop_map(|(ks, p, l)| Step::ScanPrefix(ks, p, l)),
        1 => (keyspace(), key(), prop::option::of(key()), 0usize..6)
            .prop_map(|(ks, s, e, l)| Step::ScanRange(ks, s, e, l)),
    ]
}

fn new_model() -> Model {
    let mut model: Model = Keyspace::ALL
        .iter()
        .map(|ks| (*ks, BTreeMap::new()))
        .collect();
    model
        .entry(Keyspace::Meta)
        .or_default()
        .insert(FORMAT_KEY.to_vec(), FORMAT_VERSION.to_be_bytes().to_vec());
    model
}

fn apply_to_model(model: &mut Model, ops: &[WriteOp]) {
    for op in ops {
        let map = model.entry(op.keyspace()).or_default();
        match op {
            WriteOp::Put { key, value, .. } => {
                map.insert(key.clone(), value.clone());
            }
            WriteOp::Delete { key, .. } => {
                map.remove(key);
            }
        }
    }
}

fn model_range(
    model: &Model,
    ks: Keyspace,
    keep: impl Fn(&[u8]) -> bool,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    model[&ks]
        .iter()
        .filter(|(k, _)| keep(k))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn assert_matches_model(store: &dyn Store, model: &Model) -> Result<(), TestCaseError> {
    for ks in Keyspace::ALL {
        let all = store.scan_prefix(ks, b"", usize::MAX).unwrap();
        let expected = model_range(model, ks, |_| true, usize::MAX);
        prop_assert_eq!(all, expected, "keyspace {}", ks);
    }
    Ok(())
}

fn run(dir: &Path, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut sled = Some(SledStore::open(dir).unwrap());
    let memory = MemoryStore::new();
    let mut model = new_model();
    for step in steps {
        let sled_store = sled.as_ref().unwrap();
        match &step {
            Step::Apply(ops) => {
                let mut batch = WriteBatch::new();
                for op in ops {
                    match op.clone() {
                        WriteOp::Put {
                            keyspace,
                            key,
                            value,
                        } => batch.put(keyspace, key, value),
                        WriteOp::Delete { keyspace, key } => batch.delete(keyspace, key),
                    };
                }
                sled_store.apply(&batch).unwrap();
                memory.apply(&batch).unwrap();
                apply_to_model(&mut model, ops);
            }
            Step::Flush => sled_store.flush().unwrap(),
            Step::Reopen => {
                drop(sled.take());
                sled = Some(SledStore::open(dir).unwrap());
            }
            Step::ScanPrefix(ks, prefix, limit) => {
                let expected = model_range(&model, *ks, |k| k.starts_with(prefix), *limit);
                prop_assert_eq!(
                    &sled_store.scan_prefix(*ks, prefix, *limit).unwrap(),
                    &expected
                );
                prop_assert_eq!(&memory.scan_prefix(*ks, prefix, *limit).unwrap(), &expected);
            }
            Step::ScanRange(ks, start, end, limit) => {
                let in_range = |k: &[u8]| {
                    k >= start.as_slice() && end.as_ref().is_none_or(|e| k < e.as_slice())
                };
                let expected = model_range(&model, *ks, in_range, *limit);
                let end = end.as_deref();
                prop_assert_eq!(
                    &sled_store.scan_range(*ks, start, end, *limit).unwrap(),
                    &expected
                );
                prop_assert_eq!(
                    &memory.scan_range(*ks, start, end, *limit).unwrap(),
                    &expected
                );
            }
        }
        assert_matches_model(sled.as_ref().unwrap(), &model)?;
        assert_matches_model(&memory, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sled_and_memory_match_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), steps)?;
    }
}
