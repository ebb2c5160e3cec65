//! Benchmarks of the storage engine, uncontended, beside bare `BTreeMap`
//! baselines measured in the same run:
//!
//! - `storage/btreemap_get`, `storage/btreemap_insert`: the floor.
//! - `storage/raw_get`, `storage/raw_put`: the raw key space.
//! - `storage/txn_get`: an MVCC point read at a snapshot.
//! - `storage/txn_optimistic_2key`, `storage/txn_pessimistic_2key`: whole
//!   transactions (begin, read-modify-write two keys, commit) through the
//!   client protocol over the in-process transport.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use tikv_bench::backend::Inproc;
use tikv_bench::client::{Txn, TxnOptions};
use tikv_bench::storage::Storage;
use tikv_bench::vocab::{Events, LockMode};

const KEYS: usize = 100_000;

fn key(i: usize) -> Vec<u8> {
    format!("user{:010}", i.wrapping_mul(2_654_435_761) % KEYS).into_bytes()
}

const VALUE: &[u8] = &[b'v'; 64];

/// A storage with `KEYS` keys in both key spaces.
fn loaded() -> Arc<Storage> {
    let s = Arc::new(Storage::default());
    let rt = current_thread();
    let t = Inproc::new(s.clone());
    rt.block_on(async {
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1_000) {
            let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
                .await
                .expect("begin");
            for &i in chunk {
                txn.put(&key(i), VALUE);
                s.raw().put(&key(i), VALUE, true);
            }
            txn.commit(&mut Events::default()).await.expect("load");
        }
    });
    s
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn storage(c: &mut Criterion) {
    let mut g = c.benchmark_group("storage");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    let mut map: BTreeMap<Vec<u8>, Vec<u8>> = (0..KEYS).map(|i| (key(i), VALUE.to_vec())).collect();
    let mut i = 0usize;
    g.bench_function("btreemap_get", |b| {
        b.iter(|| {
            i += 1;
            black_box(map.get(&key(i)));
        })
    });
    g.bench_function("btreemap_insert", |b| {
        b.iter(|| {
            i += 1;
            black_box(map.insert(key(i), VALUE.to_vec()));
        })
    });

    let s = loaded();
    g.bench_function("raw_get", |b| {
        b.iter(|| {
            i += 1;
            black_box(s.raw().get(&key(i)));
        })
    });
    g.bench_function("raw_put", |b| {
        b.iter(|| {
            i += 1;
            s.raw().put(&key(i), VALUE, true);
        })
    });
    let snapshot = s.timestamp();
    g.bench_function("txn_get", |b| {
        b.iter(|| {
            i += 1;
            black_box(s.kv_get(&key(i), snapshot, &[]).expect("no lock"));
        })
    });

    let rt = current_thread();
    let t = Inproc::new(s.clone());
    for (name, mode) in [
        ("txn_optimistic_2key", LockMode::Optimistic),
        ("txn_pessimistic_2key", LockMode::Pessimistic),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 2;
                let (k1, k2) = (key(i), key(i + 1));
                rt.block_on(async {
                    let mut ev = Events::default();
                    let mut txn = Txn::begin(&t, mode, TxnOptions::default())
                        .await
                        .expect("begin");
                    for k in [&k1, &k2] {
                        txn.get_for_update(k, &mut ev).await.expect("read");
                        txn.put(k, VALUE);
                    }
                    txn.commit(&mut ev).await.expect("uncontended commit")
                })
            })
        });
    }
    g.finish();
}
