//! Raw calls across many churning regions against a BTreeMap model.

use std::collections::{BTreeMap, BTreeSet};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tikv_bench::client::RequestStats;

use crate::client_util::*;

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn model_scan(m: &Model, start: &[u8], end: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.range(start.to_vec()..)
        .take_while(|(k, _)| end.is_empty() || k.as_slice() < end)
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_calls_across_many_regions_match_a_model() {
    let c = start(churning(config(3, 150))).await;
    for i in (200..3000).step_by(200) {
        c.split_at(&key(i)).unwrap();
    }
    let tikv = connect_atomic(&c).await;
    let raw = tikv.raw();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut model = Model::new();
    let s = RequestStats::default();
    for chunk in (0..3000).collect::<Vec<_>>().chunks(250) {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = chunk
            .iter()
            .map(|&i| (key(i), format!("v{i}").into_bytes()))
            .collect();
        raw.batch_put(&cx(&s, true), &pairs).await.unwrap();
        model.extend(pairs);
    }
    let doomed: Vec<Vec<u8>> = (0..3000).step_by(7).map(key).collect();
    raw.batch_delete(&cx(&s, true), &doomed).await.unwrap();
    for k in &doomed {
        model.remove(k);
    }
    raw.delete_range(&cx(&s, true), &key(1000), &key(1400))
        .await
        .unwrap();
    model
        .retain(|k, _| k.as_slice() < key(1000).as_slice() || k.as_slice() >= key(1400).as_slice());

    for round in 0..150 {
        let start = key(rng.random_range(0..3100));
        let end = match round % 3 {
            0 => Vec::new(),
            _ => key(rng.random_range(0..3200)),
        };
        let limit = rng.random_range(1..600);
        let got = raw.scan(&cx(&s, false), &start, &end, limit).await.unwrap();
        assert_eq!(
            got,
            model_scan(&model, &start, &end, limit as usize),
            "scan from {} to {} limit {limit}",
            start.escape_ascii(),
            end.escape_ascii()
        );
    }
    // A bounded scan ending in the last region that finds fewer rows than
    // its limit ends there (the official client's suspected quirk).
    let got = raw
        .scan(&cx(&s, false), &key(2990), &key(9999), 100)
        .await
        .unwrap();
    assert_eq!(got, model_scan(&model, &key(2990), &key(9999), 100));

    let wanted: Vec<Vec<u8>> = (0..200).map(|_| key(rng.random_range(0..3000))).collect();
    let mut got = raw.batch_get(&cx(&s, false), &wanted).await.unwrap();
    got.sort();
    got.dedup();
    let want: Vec<_> = wanted
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|k| model.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    assert_eq!(got, want);

    let k = key(1);
    let swap = raw
        .compare_and_swap(&cx(&s, true), &k, Some(b"wrong"), b"x", None)
        .await
        .unwrap();
    assert!(!swap.succeed);
    assert_eq!(swap.previous, Some(b"v1".to_vec()));
    let swap = raw
        .compare_and_swap(&cx(&s, true), &k, Some(b"v1"), b"x", None)
        .await
        .unwrap();
    assert!(swap.succeed);
    let swap = raw
        .compare_and_swap(&cx(&s, true), &key(0), None, b"new", None)
        .await
        .unwrap();
    assert!(swap.succeed, "k00000 was deleted, so absent");
    assert_eq!(
        raw.get(&cx(&s, false), &key(0)).await.unwrap(),
        Some(b"new".to_vec())
    );

    assert!(c.regions().len() > 15, "{} regions", c.regions().len());
    let e = events(&s);
    assert!(e.get("region_cache_hits") > 0);
    c.shutdown().await;
}

/// A write larger than TiKV's raft entry limit (8 MiB by default) gets
/// RaftEntryTooLarge from the store, and the client gives up at once, as
/// client-go does: no retry makes it fit. (It was retried like any other
/// region error until the attempts ran out.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_too_large_for_one_raft_entry_fails_at_once() {
    let c = start(config(3, 1_000_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = RequestStats::default();
    let err = raw
        .put(&cx(&s, true), &key(0), &vec![b'x'; 9 << 20], None)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("raft entry of"), "{msg}");
    assert_eq!(s.total_retries(), 0, "not retried: {msg}");
    assert_eq!(c.storage().raw().len(), 0, "nothing written");
    c.shutdown().await;
}

/// A raw batch put goes out in pieces of at most 16 KiB, as client-go's
/// does, so a batch of any size fits TiKV's raft entries. (Our client sent
/// each region's part whole: 9 MiB was refused with RaftEntryTooLarge.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_put_goes_out_in_pieces_that_fit() {
    let c = start(config(3, 1_000_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = RequestStats::default();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..9).map(|i| (key(i), vec![b'x'; 1 << 20])).collect();
    raw.batch_put(&cx(&s, true), &pairs).await.unwrap();
    assert_eq!(c.storage().raw().len(), 9);
    let small: Vec<(Vec<u8>, Vec<u8>)> = (100..1100).map(|i| (key(i), vec![b'y'; 100])).collect();
    raw.batch_put(&cx(&s, true), &small).await.unwrap();
    assert_eq!(c.storage().raw().len(), 1009);
    c.shutdown().await;
}

/// TiKV's API V1 keeps raw data and transactional long values in one column
/// family: through the gRPC stand-in, a raw scan over keys a transaction
/// wrote returns its long value under the key's encoding with the start_ts
/// appended; a raw delete of that entry breaks the transactional read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_scan_sees_transactional_long_values_as_api_v1_stores_them() {
    use tikv_bench::client::{Txn, TxnOptions};
    use tikv_bench::vocab::{Events, LockMode};

    let c = start(config(1, 1_000_000)).await;
    let tikv = connect(&c).await;
    let s = RequestStats::default();
    let t = tikv.transport(cx(&s, true));
    let mut ev = Events::default();
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    txn.put(b"user1", &[b's'; 100]);
    txn.put(b"user2", &[b'l'; 300]);
    txn.commit(&mut ev).await.unwrap();

    let raw = tikv.raw();
    let seen = raw
        .scan(&cx(&s, false), b"user", b"user~", 10)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1, "the long value only: {seen:?}");
    let (key, value) = &seen[0];
    assert_eq!(value, &vec![b'l'; 300]);
    assert!(
        key.starts_with(b"user2\0\0\0\xfc") && key.len() == 9 + 8,
        "the memcomparable encoding of user2, then 8 bytes of timestamp: {key:?}"
    );
    assert_eq!(raw.get(&cx(&s, false), b"user2").await.unwrap(), None);

    raw.delete(&cx(&s, true), key).await.unwrap();
    let mut read = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    let e = read
        .get(b"user2", &mut ev)
        .await
        .expect_err("its value is gone");
    assert!(e.to_string().contains("default not found"), "{e}");
    c.shutdown().await;
}

/// As client-go, our client refuses a compare-and-swap outside atomic mode
/// before sending it: TiKV would not latch the client's plain writes, so
/// the CAS would not be atomic against them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cas_outside_atomic_mode_is_refused_before_it_is_sent() {
    let c = start(config(1, 1_000_000)).await;
    let plain = connect(&c).await;
    let s = RequestStats::default();
    let e = plain
        .raw()
        .compare_and_swap(&cx(&s, true), b"k", None, b"v", None)
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("needs the client's atomic mode"),
        "{e}"
    );
    assert_eq!(c.storage().raw().get(b"k"), None, "nothing was written");
    let atomic = connect_atomic(&c).await;
    let swap = atomic
        .raw()
        .compare_and_swap(&cx(&s, true), b"k", None, b"v", None)
        .await
        .unwrap();
    assert!(swap.succeed);
    c.shutdown().await;
}
