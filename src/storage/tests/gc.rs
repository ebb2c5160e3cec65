//! Garbage collection: what a pass at a safe point removes and keeps, and a
//! property test of concurrent transactions with passes in between.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::storage::mvcc::WriteKind;

const LONG: usize = 300;

fn long(tag: u8) -> Vec<u8> {
    vec![tag; LONG]
}

/// A whole sweep at `sp`, `step` keys at a time.
fn sweep(s: &Storage, sp: u64, step: usize) -> GcCounts {
    let mut total = GcCounts::default();
    let mut from = Vec::new();
    loop {
        let (c, next) = s.gc_step(sp, &from, step);
        total.add(&c);
        match next {
            Some(k) => from = k,
            None => return total,
        }
    }
}

#[test]
fn keeps_the_newest_put_at_the_safe_point_and_everything_newer() {
    let s = Storage::default();
    let c1 = write(&s, &[(K, &long(1))]);
    let c2 = write(&s, &[(K, &long(2))]);
    let sp = s.timestamp();
    let c3 = write(&s, &[(K, &long(3))]);
    assert_eq!(s.version_count(), (3, 3));
    let got = sweep(&s, sp, 1);
    assert_eq!((got.versions, got.rollbacks, got.long_values), (1, 0, 1));
    assert_eq!(s.version_count(), (2, 2));
    assert_eq!(s.kv_get(K, sp, &[]), Ok(Some(long(2))));
    assert_eq!(s.kv_get(K, c2, &[]), Ok(Some(long(2))));
    assert_eq!(s.kv_get(K, c3, &[]), Ok(Some(long(3))));
    // The version only a read below the safe point needed is gone.
    assert_eq!(s.kv_get(K, c1, &[]), Ok(None));
    assert_eq!(s.stats().gc, got);
}

#[test]
fn a_newest_delete_at_the_safe_point_goes_with_everything_older() {
    let s = Storage::default();
    write(&s, &[(K, b"v")]);
    let ts = s.timestamp();
    prewrite(&s, vec![Mutation::delete(K)], K, ts).expect("prewrite");
    s.commit(&[K.to_vec()], ts, s.timestamp()).expect("commit");
    write(&s, &[(b"other", b"x")]);
    let sp = s.timestamp();
    let got = sweep(&s, sp, 8);
    assert_eq!(got.versions, 2);
    assert_eq!(s.mvcc.write_records(K), vec![]);
    assert_eq!(s.kv_get(K, sp, &[]), Ok(None));
    assert_eq!(s.kv_get(b"other", sp, &[]), Ok(Some(b"x".to_vec())));
}

#[test]
fn rollback_records_at_or_below_the_safe_point_go_newer_ones_stay() {
    let s = Storage::default();
    let put = write(&s, &[(K, b"v")]);
    let old = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, long(7))], K, old).expect("prewrite");
    s.batch_rollback(&[K.to_vec()], old).expect("rollback");
    let sp = s.timestamp();
    let young = s.timestamp();
    s.batch_rollback(&[K.to_vec()], young).expect("rollback");
    let got = sweep(&s, sp, 8);
    assert_eq!(got.rollbacks, 1);
    let left = s.mvcc.write_records(K);
    assert_eq!(
        left,
        vec![(young, WriteKind::Rollback), (put, WriteKind::Put)]
    );
    assert_eq!(s.version_count().1, 0, "the rolled-back long value is gone");
}

#[test]
fn a_step_collects_at_most_its_keys_and_names_the_next() {
    let s = Storage::default();
    for k in [b"a", b"b", b"c"] {
        write(&s, &[(k, b"1")]);
        write(&s, &[(k, b"2")]);
    }
    let sp = s.timestamp();
    let (c, next) = s.gc_step(sp, b"", 2);
    assert_eq!((c.keys, c.versions), (2, 2));
    assert_eq!(next.as_deref(), Some(&b"c"[..]));
    let (c, next) = s.gc_step(sp, b"c", 2);
    assert_eq!((c.keys, c.versions, next), (1, 1, None));
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    /// Begin a transaction writing these (key index, value or delete).
    Begin(Vec<(usize, Option<u8>)>),
    /// Prewrite the n-th begun transaction.
    Prewrite(usize),
    /// Commit the n-th prewritten transaction.
    Commit(usize),
    /// Roll back the n-th prewritten transaction.
    Rollback(usize),
    /// A GC pass at a safe point this far (per mille) from the last one
    /// toward the highest allowed.
    Gc(u16),
}

fn step() -> impl Strategy<Value = Step> {
    let mutation = (0..4usize, proptest::option::weighted(0.8, any::<u8>()));
    prop_oneof![
        2 => proptest::collection::vec(mutation, 1..3).prop_map(Step::Begin),
        2 => (0..4usize).prop_map(Step::Prewrite),
        2 => (0..4usize).prop_map(Step::Commit),
        1 => (0..4usize).prop_map(Step::Rollback),
        1 => (0..=1000u16).prop_map(Step::Gc),
    ]
}

const KEYS: [&[u8]; 4] = [b"k0", b"k1", b"k2", b"k3"];

/// An even byte makes a long value, an odd one a short value.
fn value_of(b: u8) -> Vec<u8> {
    if b.is_multiple_of(2) {
        vec![b; LONG]
    } else {
        vec![b]
    }
}

#[derive(Debug, Default)]
struct Model {
    /// key -> commit_ts -> value (None: deleted).
    committed: BTreeMap<usize, BTreeMap<u64, Option<Vec<u8>>>>,
    begun: Vec<(u64, Vec<Mutation>)>,
    prewritten: Vec<(u64, Vec<Mutation>)>,
    safe_point: u64,
}

impl Model {
    fn expect(&self, key: usize, ts: u64) -> Option<Vec<u8>> {
        let versions = self.committed.get(&key)?;
        versions.range(..=ts).next_back()?.1.clone()
    }

    /// The highest safe point allowed: now, but never past a running
    /// transaction's start_ts (begun or holding locks).
    fn bound(&self, s: &Storage) -> u64 {
        let running = self.begun.iter().chain(&self.prewritten).map(|t| t.0);
        running.min().unwrap_or(u64::MAX).min(s.timestamp())
    }
}

fn apply(s: &Storage, m: &mut Model, st: Step) {
    match st {
        Step::Begin(muts) => {
            let muts: BTreeMap<usize, Option<u8>> = muts.into_iter().collect();
            let muts = muts
                .into_iter()
                .map(|(k, v)| match v {
                    Some(b) => Mutation::put(KEYS[k], value_of(b)),
                    None => Mutation::delete(KEYS[k]),
                })
                .collect();
            m.begun.push((s.timestamp(), muts));
        }
        Step::Prewrite(i) if i < m.begun.len() => {
            let (ts, muts) = m.begun.remove(i);
            let primary = muts[0].key.clone();
            if prewrite(s, muts.clone(), &primary, ts).is_ok() {
                m.prewritten.push((ts, muts));
            }
        }
        Step::Commit(i) if i < m.prewritten.len() => {
            let (ts, muts) = m.prewritten.remove(i);
            let keys: Vec<Vec<u8>> = muts.iter().map(|x| x.key.clone()).collect();
            let cts = s.timestamp();
            s.commit(&keys, ts, cts).expect("commit");
            for x in muts {
                let k = KEYS
                    .iter()
                    .position(|k| *k == x.key.as_slice())
                    .expect("key");
                let v = (x.op == MutationOp::Put).then_some(x.value);
                m.committed.entry(k).or_default().insert(cts, v);
            }
        }
        Step::Rollback(i) if i < m.prewritten.len() => {
            let (ts, muts) = m.prewritten.remove(i);
            let keys: Vec<Vec<u8>> = muts.iter().map(|x| x.key.clone()).collect();
            s.batch_rollback(&keys, ts).expect("rollback");
        }
        Step::Gc(per_mille) => {
            let bound = m.bound(s).max(m.safe_point);
            let span = bound - m.safe_point;
            m.safe_point += (u128::from(span) * u128::from(per_mille) / 1000) as u64;
            sweep(s, m.safe_point, 1 + usize::from(per_mille % 3));
            check(s, m);
        }
        _ => {}
    }
}

/// Every read at or above the safe point answers as the model says; below
/// it, at most the one Put a read at the safe point needs is left per key.
fn check(s: &Storage, m: &Model) {
    let sp = m.safe_point;
    let running: Vec<u64> = m.prewritten.iter().map(|t| t.0).collect();
    for (i, key) in KEYS.iter().enumerate() {
        let mut at: Vec<u64> = vec![sp, s.timestamp()];
        if let Some(v) = m.committed.get(&i) {
            at.extend(v.keys().copied().filter(|&c| c >= sp));
        }
        for ts in at {
            let got = s.kv_get(key, ts, &running).expect("read");
            assert_eq!(got, m.expect(i, ts), "key {i} at {ts}, safe point {sp}");
        }
        let below: Vec<(u64, WriteKind)> = s
            .mvcc
            .write_records(key)
            .into_iter()
            .filter(|(c, _)| *c <= sp)
            .collect();
        assert!(below.len() <= 1, "key {i}: {below:?} at or below {sp}");
        if let Some((_, kind)) = below.first() {
            assert_eq!(*kind, WriteKind::Put, "key {i}");
        }
    }
    assert_eq!(s.version_count().1, s.mvcc.long_value_refs(), "long values");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gc_keeps_what_reads_at_or_above_the_safe_point_need(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        let s = Storage::default();
        let mut m = Model::default();
        for st in steps {
            apply(&s, &mut m, st);
        }
        apply(&s, &mut m, Step::Gc(1000));
    }
}
