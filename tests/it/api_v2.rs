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
            let bound = tikv_bench::codec::encode(&tikv_bench::cluster::keyspace_prefix(mode, id));
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
