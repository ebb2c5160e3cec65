//! API V2 on the stand-in: TiKV's version check (which store takes which
//! request), PD's keyspace lookup and keyspace splits, and the official
//! client's V2 API (`Config::with_keyspace`) isolated per keyspace.

use tikv_bench::cluster::RunningCluster;
use tikv_bench::cluster::config::ClusterConfig;
use tikv_bench::proto::keyspacepb::keyspace_client::KeyspaceClient;
use tikv_bench::proto::keyspacepb::{KeyspaceState, LoadKeyspaceRequest};
use tikv_bench::proto::kvrpcpb::{self, ApiVersion as Wire, Context, KvPair};
use tikv_bench::proto::pdpb::ErrorType;
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::vocab::ApiVersion;
use tikv_client::{Config, RawClient, TransactionClient};

use crate::cluster_util::*;

fn v2_config(keyspaces: &[&str]) -> ClusterConfig {
    let mut c = config(2, 1_000_000);
    c.api_version = ApiVersion::V2;
    c.keyspaces = keyspaces.iter().map(|s| s.to_string()).collect();
    c
}

fn versioned(v: ApiVersion) -> ClusterConfig {
    let mut c = config(1, 1_000_000);
    c.api_version = v;
    c
}

/// A store client and the context aiming at the region holding `key`
/// (an encoded key), carrying request version `v`.
async fn aim(
    c: &RunningCluster,
    key: &[u8],
    v: Wire,
) -> (TikvClient<tonic::transport::Channel>, Context) {
    let region = c.cluster().regions().locate(key);
    let store = region.leader_peer().store_id;
    let addr = c.store_addr(store).expect("store address");
    let client = TikvClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the store");
    let mut ctx = region.context_at(store);
    ctx.api_version = v as i32;
    (client, ctx)
}

async fn raw_put(c: &RunningCluster, key: &[u8], v: Wire) -> kvrpcpb::RawPutResponse {
    let route = tikv_bench::codec::encode(key);
    let (mut client, ctx) = aim(c, &route, v).await;
    client
        .raw_put(kvrpcpb::RawPutRequest {
            context: Some(ctx),
            key: key.to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
        .await
        .expect("raw put answers")
        .into_inner()
}

async fn txn_get(c: &RunningCluster, key: &[u8], v: Wire) -> kvrpcpb::GetResponse {
    let route = tikv_bench::codec::encode(key);
    let (mut client, ctx) = aim(c, &route, v).await;
    client
        .kv_get(kvrpcpb::GetRequest {
            context: Some(ctx),
            key: key.to_vec(),
            version: u64::MAX,
        })
        .await
        .expect("get answers")
        .into_inner()
}

fn abort_of(e: Option<kvrpcpb::KeyError>) -> String {
    e.map(|e| e.abort).unwrap_or_default()
}

#[tokio::test]
async fn a_v2_store_refuses_v1_key_forms_as_tikv_does() {
    let c = start(v2_config(&[])).await;
    // V2 raw request on a key without the raw prefix.
    let r = raw_put(&c, b"plain", Wire::V2).await;
    assert_eq!(
        r.error,
        "Key mode mismatched with the request mode, cmd: raw_put, storage: V2, key: 706C61696E"
    );
    assert!(r.region_error.is_none());
    // A V1 raw request: V2 stores take V1 requests for TiDB txn keys only.
    let r = raw_put(&c, b"r\0\0\0k", Wire::V1).await;
    assert!(
        r.error.starts_with("Api version in request does not match with TiKV storage, cmd: raw_put, storage: V2, request: V1"),
        "{}",
        r.error
    );
    // V1 txn request on a keyspace key: not TiDB's, refused; on a TiDB key: served.
    let g = txn_get(&c, b"x\0\0\0k", Wire::V1).await;
    assert!(
        abort_of(g.error).contains("Key mode mismatched"),
        "keyspace key in a V1 request"
    );
    let g = txn_get(&c, b"t_1", Wire::V1).await;
    assert!(g.error.is_none() && g.not_found, "{g:?}");
    // The right forms pass.
    assert_eq!(raw_put(&c, b"r\0\0\0k", Wire::V2).await.error, "");
    let g = txn_get(&c, b"x\0\0\0k", Wire::V2).await;
    assert!(g.error.is_none() && g.not_found, "{g:?}");
    // An unbounded raw scan is in no key mode: refused in its first pair.
    let (mut client, ctx) = aim(&c, &tikv_bench::codec::encode(b"r\0\0\0"), Wire::V2).await;
    let scan = client
        .raw_scan(kvrpcpb::RawScanRequest {
            context: Some(ctx),
            start_key: b"r\0\0\0".to_vec(),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("raw scan answers")
        .into_inner();
    let first: Option<&KvPair> = scan.kvs.first();
    assert_eq!(scan.kvs.len(), 1);
    assert!(
        first
            .and_then(|p| p.error.as_ref())
            .is_some_and(|e| e.abort.contains("range: (Some(\"72000000\"), None)")),
        "{scan:?}"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn a_v1_store_refuses_v2_requests_and_v1ttl_refuses_txn() {
    let c = start(versioned(ApiVersion::V1)).await;
    let r = raw_put(&c, b"r\0\0\0k", Wire::V2).await;
    assert!(r.error.contains("storage: V1, request: V2"), "{}", r.error);
    let g = txn_get(&c, b"x\0\0\0k", Wire::V2).await;
    assert!(abort_of(g.error).contains("storage: V1, request: V2"));
    assert_eq!(raw_put(&c, b"k", Wire::V1).await.error, "");
    c.shutdown().await;

    let c = start(versioned(ApiVersion::V1Ttl)).await;
    assert_eq!(raw_put(&c, b"k", Wire::V1).await.error, "");
    let g = txn_get(&c, b"k", Wire::V1).await;
    assert_eq!(
        abort_of(g.error),
        "Api version in request does not match with TiKV storage, cmd: get, storage: V1ttl, request: V1"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn pd_loads_known_keyspaces_and_answers_unknown_ones_as_pd() {
    let c = start(v2_config(&["alpha", "beta"])).await;
    let mut pd = KeyspaceClient::connect(format!("http://{}", c.pd_addr()))
        .await
        .expect("connect to PD");
    for (name, id) in [("DEFAULT", 0), ("alpha", 1), ("beta", 2)] {
        let r = pd
            .load_keyspace(LoadKeyspaceRequest {
                header: None,
                name: name.into(),
            })
            .await
            .expect("load keyspace")
            .into_inner();
        let meta = r.keyspace.expect("a known keyspace has its meta");
        assert_eq!((meta.id, meta.name.as_str()), (id, name));
        assert_eq!(meta.state, KeyspaceState::Enabled as i32);
    }
    let r = pd
        .load_keyspace(LoadKeyspaceRequest {
            header: None,
            name: "gamma".into(),
        })
        .await
        .expect("an unknown keyspace is an answer, not a gRPC error")
        .into_inner();
    assert!(r.keyspace.is_none());
    let err = r.header.and_then(|h| h.error).expect("an error header");
    assert_eq!(err.r#type, ErrorType::EntryNotFound as i32);
    assert_eq!(
        err.message,
        "[PD:keyspace:ErrKeyspaceNotFound]keyspace does not exist"
    );
    // No region spans two keyspaces: each keyspace's raw and txn bounds
    // (ids 0..=3 in both modes) start a region.
    let starts: Vec<Vec<u8>> = c.regions().all().iter().map(|r| r.start.clone()).collect();
    for mode in [b'r', b'x'] {
        for id in 0..=3 {
            let bound = tikv_bench::codec::encode(&tikv_bench::codec::keyspace_prefix(mode, id));
            assert!(starts.contains(&bound), "no region starts at {mode} {id}");
        }
    }
    c.shutdown().await;
}

fn pairs(kvs: Vec<tikv_client::KvPair>) -> Vec<(Vec<u8>, Vec<u8>)> {
    kvs.into_iter().map(|kv| (Vec::from(kv.0), kv.1)).collect()
}

/// The official client's V2 API: raw and transactional calls on the same
/// user keys in two keyspaces never see each other.
#[tokio::test]
async fn the_official_client_in_two_keyspaces_stays_isolated() {
    let c = start(v2_config(&["alpha", "beta"])).await;
    let pd = vec![c.pd_addr().to_string()];
    let raw_a = RawClient::new_with_config(pd.clone(), Config::default().with_keyspace("alpha"))
        .await
        .expect("raw client in alpha");
    let raw_b = RawClient::new_with_config(pd.clone(), Config::default().with_keyspace("beta"))
        .await
        .expect("raw client in beta");
    let txn_a =
        TransactionClient::new_with_config(pd.clone(), Config::default().with_keyspace("alpha"))
            .await
            .expect("txn client in alpha");
    for i in 0..20u8 {
        raw_a
            .put(vec![b'k', i], vec![b'a', i])
            .await
            .expect("put alpha");
        raw_b
            .put(vec![b'k', i], vec![b'b', i])
            .await
            .expect("put beta");
    }
    assert_eq!(raw_a.get(vec![b'k', 3]).await.unwrap(), Some(vec![b'a', 3]));
    assert_eq!(raw_b.get(vec![b'k', 3]).await.unwrap(), Some(vec![b'b', 3]));
    let got = pairs(
        raw_a
            .scan(vec![b'k']..vec![b'l'], 100)
            .await
            .expect("scan alpha"),
    );
    assert_eq!(got.len(), 20);
    assert!(
        got.iter().all(|(k, v)| k[0] == b'k' && v[0] == b'a'),
        "{got:?}"
    );
    let all = pairs(
        raw_b
            .scan(vec![]..vec![], 100)
            .await
            .expect("unbounded scan in beta"),
    );
    assert_eq!(all.len(), 20, "a keyspace-wide scan sees only its keyspace");
    assert!(all.iter().all(|(_, v)| v[0] == b'b'));

    // Transactions on the same user keys: raw never sees them, nor they raw.
    let mut t = txn_a.begin_optimistic().await.expect("begin");
    assert_eq!(t.get(vec![b'k', 3]).await.expect("txn get"), None);
    t.put(vec![b'k', 3], b"txn".to_vec()).await.expect("buffer");
    t.put(vec![b'k', 99], b"txn".to_vec())
        .await
        .expect("buffer");
    t.commit().await.expect("commit");
    let mut t = txn_a.begin_optimistic().await.expect("begin");
    assert_eq!(t.get(vec![b'k', 3]).await.unwrap(), Some(b"txn".to_vec()));
    let scanned: Vec<_> = t
        .scan(vec![b'k']..vec![b'l'], 100)
        .await
        .expect("txn scan")
        .collect();
    assert_eq!(scanned.len(), 2);
    t.rollback().await.expect("rollback");
    assert_eq!(raw_a.get(vec![b'k', 3]).await.unwrap(), Some(vec![b'a', 3]));
    assert_eq!(raw_a.get(vec![b'k', 99]).await.unwrap(), None);
    c.shutdown().await;
}

/// Our client under API V2 in keyspace `name` (atomic: CAS is used).
async fn ours(c: &RunningCluster, name: &str) -> tikv_bench::client::Client {
    let config = tikv_bench::client::ClientConfig {
        api_version: ApiVersion::V2,
        keyspace: Some(name.to_string()),
        atomic: true,
        ..crate::client_util::client_config()
    };
    tikv_bench::client::Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .unwrap_or_else(|e| panic!("our client connects in {name}: {e}"))
}

fn key(i: u8) -> Vec<u8> {
    vec![b'k', i]
}

/// Our client's raw API and transactions on the same user keys in two
/// keyspaces: each keyspace and each mode sees only its own keys, and the
/// engine holds them under their keyspace's prefixes.
#[tokio::test]
async fn our_client_in_two_keyspaces_keeps_keyspaces_and_modes_apart() {
    use tikv_bench::client::{RequestStats, Txn, TxnOptions};
    use tikv_bench::vocab::{Events, LockMode};
    let c = start(v2_config(&["alpha", "beta"])).await;
    let (a, b) = (ours(&c, "alpha").await, ours(&c, "beta").await);
    let stats = RequestStats::default();
    let cx = crate::client_util::cx(&stats, true);
    // A TTL travels with the keyspace's key; RawGetKeyTTL asks by it.
    let minute = std::time::Duration::from_secs(60);
    a.raw()
        .put(&cx, b"t", b"v", Some(minute))
        .await
        .expect("put with ttl");
    let left = a.raw().get_key_ttl(&cx, b"t").await.expect("ttl in alpha");
    assert!(
        left.is_some_and(|d| d > std::time::Duration::ZERO && d <= minute),
        "{left:?}"
    );
    assert_eq!(
        b.raw().get_key_ttl(&cx, b"t").await.expect("ttl in beta"),
        None
    );
    a.raw().delete(&cx, b"t").await.expect("delete");
    for i in 0..20u8 {
        a.raw()
            .put(&cx, &key(i), &[b'a', i], None)
            .await
            .expect("put alpha");
        b.raw()
            .put(&cx, &key(i), &[b'b', i], None)
            .await
            .expect("put beta");
    }
    assert_eq!(
        a.raw().get(&cx, &key(3)).await.unwrap(),
        Some(vec![b'a', 3])
    );
    assert_eq!(
        b.raw().get(&cx, &key(3)).await.unwrap(),
        Some(vec![b'b', 3])
    );
    // Bounded and unbounded scans see their keyspace's keys, as user keys.
    let got = a
        .raw()
        .scan(&cx, b"k", b"l", 100)
        .await
        .expect("scan alpha");
    let want: Vec<(Vec<u8>, Vec<u8>)> = (0..20).map(|i| (key(i), vec![b'a', i])).collect();
    assert_eq!(got, want);
    let all = b.raw().scan(&cx, b"", b"", 100).await.expect("scan beta");
    assert_eq!(all.len(), 20, "an unbounded scan stays in its keyspace");
    assert!(
        all.iter().all(|(k, v)| k[0] == b'k' && v[0] == b'b'),
        "{all:?}"
    );
    // Batches, CAS and delete range are encoded too.
    let keys: Vec<Vec<u8>> = (0..5).map(key).collect();
    let mut got = a.raw().batch_get(&cx, &keys).await.expect("batch get");
    got.sort();
    assert_eq!(got, want[..5].to_vec());
    let (raw_a, raw_b) = (a.raw(), b.raw());
    let swap = raw_b.compare_and_swap(&cx, b"k\x01", Some(&[b'b', 1]), b"swapped", None);
    assert!(swap.await.expect("cas").succeed);
    let _ = raw_a;
    a.raw()
        .batch_put(&cx, &[(key(50), b"x".to_vec())])
        .await
        .expect("batch put");
    b.raw()
        .delete_range(&cx, b"k\x0a", b"")
        .await
        .expect("delete range");
    a.raw()
        .batch_delete(&cx, &[key(0)])
        .await
        .expect("batch delete");
    assert_eq!(a.raw().scan(&cx, b"", b"", 100).await.unwrap().len(), 20);
    assert_eq!(b.raw().scan(&cx, b"", b"", 100).await.unwrap().len(), 10);
    assert_eq!(
        b.raw().get(&cx, &key(1)).await.unwrap(),
        Some(b"swapped".to_vec())
    );
    assert_eq!(
        a.raw().get(&cx, &key(1)).await.unwrap(),
        Some(vec![b'a', 1])
    );

    // A transaction on the same user keys in alpha: raw never sees it.
    let t = a.transport(cx);
    let mut events = Events::default();
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    assert_eq!(
        txn.get(&key(3), &mut events).await.unwrap(),
        None,
        "txn sees no raw key"
    );
    txn.put(&key(3), b"txn");
    txn.put(&key(99), b"txn");
    txn.commit(&mut events).await.expect("commit");
    let mut txn = Txn::begin(&t, LockMode::Pessimistic, TxnOptions::default())
        .await
        .unwrap();
    let got = txn.get_for_update(&key(3), &mut events).await.unwrap();
    assert_eq!(got, Some(b"txn".to_vec()));
    let got = txn
        .batch_get(&[key(3), key(4), key(99)], &mut events)
        .await
        .unwrap();
    assert_eq!(got, [Some(b"txn".to_vec()), None, Some(b"txn".to_vec())]);
    txn.rollback(&mut events).await.expect("rollback");
    assert_eq!(
        a.raw().get(&cx, &key(3)).await.unwrap(),
        Some(vec![b'a', 3])
    );
    assert_eq!(a.raw().get(&cx, &key(99)).await.unwrap(), None);
    // A lock left by a transaction that went away is met and resolved by
    // its full key (the store reports it so).
    let short = TxnOptions {
        lock_ttl: 10,
        ..TxnOptions::default()
    };
    let mut gone = Txn::begin(&t, LockMode::Pessimistic, short).await.unwrap();
    gone.get_for_update(&key(7), &mut events)
        .await
        .expect("lock");
    drop(gone);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .unwrap();
    txn.put(&key(7), b"after");
    let mut resolved = Events::default();
    txn.commit(&mut resolved)
        .await
        .expect("commit past the dead lock");
    assert_eq!(resolved.get("locks_resolved"), 1, "{resolved:?}");
    assert_eq!(c.storage().lock_info(b"x\0\0\x01k\x07"), None);

    // The engine holds every key under its keyspace's prefix (alpha is 1,
    // beta 2; raw `r`, transactional `x`).
    let raw = c.storage().raw();
    assert_eq!(raw.get(b"r\0\0\x01k\x03"), Some(vec![b'a', 3]));
    assert_eq!(raw.get(b"r\0\0\x02k\x03"), Some(vec![b'b', 3]));
    assert_eq!(raw.get(b"k\x03"), None);
    let ts = c.storage().timestamp();
    let txn_value = c.storage().kv_get(b"x\0\0\x01k\x03", ts, &[]);
    assert_eq!(txn_value, Ok(Some(b"txn".to_vec())));
    assert_eq!(
        raw.scan(b"", b"r", 10, true, false),
        vec![],
        "no key outside a keyspace"
    );
    c.shutdown().await;
}

/// A keyspace PD does not know is refused at connect, by name.
#[tokio::test]
async fn an_unknown_keyspace_is_refused_at_connect_by_name() {
    let c = start(v2_config(&["alpha"])).await;
    let config = tikv_bench::client::ClientConfig {
        api_version: ApiVersion::V2,
        keyspace: Some("gamma".into()),
        ..crate::client_util::client_config()
    };
    let err = tikv_bench::client::Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .expect_err("gamma is not a keyspace");
    let msg = err.to_string();
    assert!(
        msg.contains("keyspace 'gamma'") && msg.contains("ErrKeyspaceNotFound"),
        "{msg}"
    );
    c.shutdown().await;
}

/// The keys the engine holds between `start` and `end`: raw ones, and
/// transactional ones as of now.
fn stored(c: &RunningCluster, start: &[u8], end: &[u8]) -> (usize, usize) {
    let raw = c.storage().raw().scan(start, end, usize::MAX, true, false);
    let scan = tikv_bench::txn_types::SnapshotScan {
        start,
        end,
        limit: usize::MAX,
        version: c.storage().timestamp(),
        key_only: true,
        reverse: false,
        resolved_locks: &[],
    };
    (raw.len(), c.storage().kv_scan(&scan).len())
}

/// A workload of raw puts, gets and scans and transactions on the same
/// keys, run by the driver through our client in keyspace `a`, then `b`,
/// of one embedded cluster: no op fails, and the engine holds each run's
/// keys under its keyspace's prefixes and nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_workload_runs_in_two_keyspaces_of_one_cluster() {
    let yaml = |ks: &str| {
        format!(
            "name: v2-{ks}\nkeys: {{records: 300}}\nduration: 400ms\nconcurrency: 4\n\
             ops:\n  - {{type: put, weight: 2}}\n  - {{type: get, weight: 2}}\n\
             \x20 - {{type: scan, length: {{min: 1, max: 20}}, weight: 1}}\n\
             \x20 - {{type: txn, reads: 1, writes: 2, weight: 2}}\n\
             client: {{api_version: v2, keyspace: {ks}}}\n"
        )
    };
    let mut wa = crate::util::workload(&yaml("a"));
    assert_eq!(
        wa.cluster.api_version,
        ApiVersion::V2,
        "the cluster follows the client"
    );
    wa.cluster.keyspaces = vec!["a".into(), "b".into()];
    let c = tikv_bench::cluster::Cluster::new(wa.cluster.clone())
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in starts");
    let (ra, rb) = {
        let wb = crate::util::workload(&yaml("b"));
        let ra = crate::util::run(&wa, crate::client_util::backend(&c, &wa.client).await).await;
        let rb = crate::util::run(&wb, crate::client_util::backend(&c, &wb.client).await).await;
        (ra, rb)
    };
    for r in [&ra, &rb] {
        for (name, op) in &r.ops {
            assert!(op.ok > 0, "{}: {name} never ran", r.name);
            assert_eq!(
                (op.failed, op.unknown),
                (0, 0),
                "{}: {name}: {:?}",
                r.name,
                op.error_samples
            );
        }
    }
    // Keyspace a is 1, b is 2: raw and transactional keys under each
    // prefix, nothing outside them.
    for id in [1u8, 2] {
        let (raw, _) = stored(&c, &[b'r', 0, 0, id], &[b'r', 0, 0, id + 1]);
        let (_, txn) = stored(&c, &[b'x', 0, 0, id], &[b'x', 0, 0, id + 1]);
        assert!(
            raw >= 300 && txn > 0,
            "keyspace {id}: {raw} raw, {txn} txn keys"
        );
    }
    assert_eq!(stored(&c, b"", b"r\0\0\x01"), (0, 0));
    assert_eq!(stored(&c, b"r\0\0\x03", b"x\0\0\x01"), (0, 0));
    assert_eq!(stored(&c, b"x\0\0\x03", b""), (0, 0));
    c.shutdown().await;
}

/// The shipped bank and readback checks (raw and over txns), under API V2
/// in a keyspace of their own, pass through our client on the faulty stand-in they
/// configure (splits, leader moves, busy answers), briefly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_and_readback_checks_pass_under_v2() {
    for file in [
        "check-bank.yaml",
        "check-readback.yaml",
        "check-readback-txn.yaml",
    ] {
        let path = crate::util::root().join("workloads").join(file);
        let mut w = tikv_bench::workload::Workload::load(&path).expect("shipped workload");
        crate::util::shorten(&mut w, std::time::Duration::from_millis(1200));
        w.client.api_version = ApiVersion::V2;
        w.client.keyspace = Some("checks".into());
        w.cluster.api_version = ApiVersion::V2;
        w.cluster.keyspaces = vec!["checks".into()];
        let c = tikv_bench::cluster::Cluster::new(w.cluster.clone())
            .with_seed(w.seed)
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("stand-in starts");
        let r = crate::util::run(&w, crate::client_util::backend(&c, &w.client).await).await;
        let splits = c.cluster().fault_counts().splits;
        let (raw, _) = stored(&c, b"r\0\0\x01", b"r\0\0\x02");
        let (_, txn) = stored(&c, b"x\0\0\x01", b"x\0\0\x02");
        c.shutdown().await;
        assert!(splits > 0, "{file}: no split happened");
        assert!(raw + txn > 0, "{file}: nothing stored in the keyspace");
        let verdicts = crate::checks::verdicts(&r);
        assert!(!verdicts.is_empty(), "{file}");
        for v in verdicts {
            assert!(v.passed, "{file}: {v}\n{:#?}", v.violations);
        }
        let failed: u64 = r.ops.values().map(|o| o.failed).sum();
        assert_eq!(failed, 0, "{file}: {:?}", r.ops);
    }
}
