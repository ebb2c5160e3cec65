//! A TiFlash store and learner peers: PD lists the store with the label
//! `engine=tiflash` and every region with a learner on it; the store
//! answers every KV call UNIMPLEMENTED; our client never sends it a request
//! nor opens a channel to it, and never takes a learner for a leader, even
//! when PD reports no leader and the learner is the first peer listed.

use tikv_bench::client::{Client, RequestStats, Txn, TxnOptions};
use tikv_bench::cluster::{Cluster, RunningCluster};
use tikv_bench::proto::kvrpcpb::{GetRequest, RawGetRequest};
use tikv_bench::proto::metapb::PeerRole;
use tikv_bench::proto::pdpb::{GetAllStoresRequest, GetRegionRequest};
use tikv_bench::vocab::{Events, LockMode, Pair};
use tonic::Code;

use crate::client_util::{client_config, cx};
use crate::cluster_util::*;

async fn start_tiflash(hide_leaders: bool) -> RunningCluster {
    let mut config = config(3, 1_000_000);
    config.tiflash = true;
    let cluster = Cluster::new(config);
    let cluster = if hide_leaders {
        cluster.with_region_leaders_hidden()
    } else {
        cluster
    };
    cluster
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the stand-in starts")
}

#[tokio::test]
async fn pd_lists_the_tiflash_store_and_a_learner_of_every_region() {
    let c = start_tiflash(false).await;
    let (flash, _) = c.tiflash_store().expect("a TiFlash store");
    assert_eq!(flash, 4, "after the three TiKV stores");
    let mut pd = pd_client(c.pd_addr()).await;
    let stores = pd
        .get_all_stores(GetAllStoresRequest::default())
        .await
        .unwrap()
        .into_inner()
        .stores;
    assert_eq!(stores.len(), 4);
    let labelled: Vec<u64> = stores
        .iter()
        .filter(|s| {
            s.labels
                .iter()
                .any(|l| l.key == "engine" && l.value == "tiflash")
        })
        .map(|s| s.id)
        .collect();
    assert_eq!(labelled, vec![flash]);

    c.split_at(b"m").unwrap();
    for key in [&b"a"[..], &b"z"[..]] {
        let resp = pd
            .get_region(GetRegionRequest {
                region_key: key.to_vec(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let region = resp.region.unwrap();
        let learners: Vec<u64> = region
            .peers
            .iter()
            .filter(|p| p.role == PeerRole::Learner as i32)
            .map(|p| p.store_id)
            .collect();
        assert_eq!(learners, vec![flash], "{region:?}");
        assert_eq!(
            region.peers[0].store_id, flash,
            "the learner is listed first"
        );
        let leader = resp.leader.unwrap();
        assert_ne!(leader.store_id, flash);
        assert_eq!(leader.role, PeerRole::Voter as i32);
    }
    c.shutdown().await;
}

#[tokio::test]
async fn the_tiflash_store_answers_kv_calls_unimplemented() {
    let c = start_tiflash(false).await;
    let (flash, addr) = c.tiflash_store().unwrap();
    let region = c.regions().locate(b"");
    let mut store = store_client(addr).await;
    let get = store
        .kv_get(GetRequest {
            context: Some(region.context_at(flash)),
            key: b"k".to_vec(),
            version: 1,
        })
        .await
        .expect_err("TiFlash serves no KvGet");
    assert_eq!(get.code(), Code::Unimplemented, "{get:?}");
    let raw = store
        .raw_get(RawGetRequest {
            context: Some(region.context_at(flash)),
            key: b"k".to_vec(),
            ..Default::default()
        })
        .await
        .expect_err("TiFlash serves no RawGet");
    assert_eq!(raw.code(), Code::Unimplemented, "{raw:?}");
    assert_eq!(c.tiflash_calls(), 2);
    c.shutdown().await;
}

/// Raw and transactional ops through our client, over several regions.
async fn ops(tikv: &Client) {
    let s = RequestStats::default();
    let raw = tikv.raw();
    for i in 0..20u8 {
        let key = [b'r', b'a' + i];
        raw.put(&cx(&s, true), &key, &[i], None)
            .await
            .expect("raw put");
        let got = raw.get(&cx(&s, false), &key).await.expect("raw get");
        assert_eq!(got, Some(vec![i]));
    }
    let pairs: Vec<Pair> = (0..10u8).map(|i| (vec![b'x', b'a' + i], vec![i])).collect();
    raw.batch_put(&cx(&s, true), &pairs)
        .await
        .expect("batch put");
    let scanned = raw.scan(&cx(&s, false), b"r", b"s", 100).await.unwrap();
    assert_eq!(scanned.len(), 20);

    let mut ev = Events::default();
    for mode in [LockMode::Optimistic, LockMode::Pessimistic] {
        let t = tikv.transport(cx(&s, true));
        let mut txn = Txn::begin(&t, mode, TxnOptions::default()).await.unwrap();
        for i in 0..10u8 {
            let key = [b't', b'a' + i * 2];
            if mode == LockMode::Pessimistic {
                txn.get_for_update(&key, &mut ev).await.expect("lock");
            }
            txn.put(&key, &[i]);
        }
        txn.commit(&mut ev).await.expect("commit");
        let t = tikv.transport(cx(&s, false));
        let mut read = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
            .await
            .unwrap();
        let got = read.get(b"tc", &mut ev).await.expect("txn get");
        assert_eq!(got, Some(vec![1]));
    }
}

async fn no_request_reaches_tiflash(hide_leaders: bool) {
    let c = start_tiflash(hide_leaders).await;
    for key in [&b"g"[..], b"p", b"rk", b"tg", b"x"] {
        c.split_at(key).unwrap();
    }
    let (flash, _) = c.tiflash_store().unwrap();
    let tikv = Client::connect(&[c.pd_addr().to_string()], client_config())
        .await
        .expect("connects");
    ops(&tikv).await;
    assert_eq!(c.tiflash_calls(), 0, "no request went to the TiFlash store");
    let connected: Vec<u64> = tikv.stores().list().iter().map(|s| s.0).collect();
    assert!(
        !connected.contains(&flash),
        "no channel to the TiFlash store: {connected:?}"
    );
    for region in tikv.cache().regions() {
        assert_ne!(region.leader.1, flash, "{region:?}");
    }
    c.shutdown().await;
}

#[tokio::test]
async fn our_client_never_routes_to_tiflash_when_pd_names_the_leaders() {
    no_request_reaches_tiflash(false).await;
}

#[tokio::test]
async fn our_client_never_takes_a_learner_for_the_leader_when_pd_knows_none() {
    no_request_reaches_tiflash(true).await;
}
