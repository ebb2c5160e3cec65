//! PD endpoints that are dead or die, the region cache's reactions to
//! splits, leader moves and an offline store, and TSO batching.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tikv_bench::client::stats::Reason;
use tikv_bench::client::{Client, RequestStats};
use tikv_bench::vocab::ErrorKind;

use crate::client_util::*;

#[tokio::test]
async fn a_dead_pd_endpoint_is_passed_over_for_a_live_one() {
    let c = start(config(2, 1_000_000)).await;
    let dead = dead_address();
    let live = c.pd_addr().to_string();
    let tikv = Client::connect(&[dead.clone(), live.clone()], client_config())
        .await
        .expect("connects through the live endpoint");
    assert_eq!(tikv.pd().leader_url(), format!("http://{live}"));
    assert_eq!(tikv.pd().cluster_id(), tikv_bench::cluster::CLUSTER_ID);
    let s = RequestStats::default();
    let raw = tikv.raw();
    raw.put(&cx(&s, true), b"k", b"v", None).await.unwrap();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert!(tikv.pd().timestamp().await.unwrap() > 0);

    let err = Client::connect(std::slice::from_ref(&dead), client_config())
        .await
        .expect_err("nothing answers");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains(&dead), "{err}");
    c.shutdown().await;
}

#[tokio::test]
async fn the_client_fails_over_when_its_pd_stops_answering() {
    // Two stand-ins share the fixed cluster id, so for PD calls they can
    // stand for two members of one cluster.
    let a = start(config(1, 1_000_000)).await;
    let b = start(config(1, 1_000_000)).await;
    let tikv = Client::connect(
        &[a.pd_addr().to_string(), b.pd_addr().to_string()],
        client_config(),
    )
    .await
    .unwrap();
    assert_eq!(tikv.pd().leader_url(), format!("http://{}", a.pd_addr()));
    let t1 = tikv.pd().timestamp().await.unwrap();
    a.shutdown().await;
    let t2 = tikv
        .pd()
        .timestamp()
        .await
        .expect("a timestamp from the other PD");
    assert!(t2 > t1);
    assert_eq!(tikv.pd().leader_url(), format!("http://{}", b.pd_addr()));
    assert!(tikv.pd().counters().reconnects.load(Ordering::Relaxed) >= 1);
    tikv.pd()
        .get_region(b"x")
        .await
        .expect("region calls go to the other PD too");
    b.shutdown().await;
}

// ---- region cache ------------------------------------------------------

fn region_requests(t: &Client) -> u64 {
    t.pd().counters().region_requests.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_split_answers_epoch_not_match_and_the_route_is_refreshed() {
    let c = start(config(3, 1_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = RequestStats::default();
    raw.put(&cx(&s, true), b"k1", b"one", None).await.unwrap();
    raw.put(&cx(&s, true), b"k5", b"five", None).await.unwrap();
    assert_eq!(tikv.cache().len(), 1);
    let asked = region_requests(&tikv);

    let left = c.split_at(b"k3").unwrap();
    let s = RequestStats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k5").await.unwrap(),
        Some(b"five".to_vec())
    );
    assert_eq!(s.retries(Reason::EpochNotMatch), 1, "{:?}", events(&s));
    let now = c.regions().locate(b"k5");
    let cached = tikv.cache().region_for(b"k5").unwrap();
    assert_eq!((cached.id, cached.version), (now.id, now.version));
    assert_eq!(tikv.cache().len(), 2, "both halves came with the error");
    assert_eq!(
        region_requests(&tikv),
        asked,
        "no PD call: current_regions sufficed"
    );

    // The left half was cached with a guessed leader; a wrong guess costs
    // one NotLeader, answered by its hint.
    let s = RequestStats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k1").await.unwrap(),
        Some(b"one".to_vec())
    );
    assert_eq!(s.retries(Reason::EpochNotMatch), 0);
    assert_eq!(tikv.cache().region_for(b"k1").unwrap().id, left);
    assert_eq!(
        tikv.cache().region_for(b"k1").unwrap().leader.1,
        c.regions().get(left).unwrap().leader
    );
    assert_eq!(region_requests(&tikv), asked);
    c.shutdown().await;
}

#[tokio::test]
async fn not_leader_with_a_hint_moves_the_leader_without_asking_pd() {
    let c = start(config(3, 1_000_000)).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = RequestStats::default();
    raw.put(&cx(&s, true), b"k", b"v", None).await.unwrap();
    let asked = region_requests(&tikv);
    let region = c.regions().locate(b"k");
    let other = region
        .peers
        .iter()
        .map(|p| p.store_id)
        .find(|&s| s != region.leader)
        .unwrap();
    c.regions().transfer_leader(region.id, other).unwrap();

    let s = RequestStats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(s.retries(Reason::NotLeader), 1);
    assert_eq!(s.hits(), 2, "both attempts were routed from the cache");
    assert_eq!(
        events(&s).get("backoff_not_leader_us"),
        0,
        "a hint needs no backoff"
    );
    assert_eq!(tikv.cache().get(region.id).unwrap().leader.1, other);
    assert_eq!(region_requests(&tikv), asked, "no PD call");
    c.shutdown().await;
}

#[tokio::test]
async fn an_offline_store_drops_its_regions_until_pd_moves_them() {
    let mut cfg = config(2, 1_000_000);
    cfg.faults.store_offline = Some(tikv_bench::cluster::config::Outage {
        store: 1,
        after: Duration::from_millis(200),
        duration: Duration::from_millis(1500),
        failover: Duration::from_millis(300),
    });
    let c = start(cfg).await;
    // Enough attempts to outlast the 300 ms until the failover.
    let mut patient = client_config();
    patient.retry.max_attempts = 100;
    let tikv = Client::connect(&[c.pd_addr().to_string()], patient)
        .await
        .unwrap();
    let raw = tikv.raw();
    let s = RequestStats::default();
    raw.put(&cx(&s, true), b"k", b"v", None).await.unwrap();
    assert_eq!(tikv.cache().region_for(b"k").unwrap().leader.1, 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Store 1 answers Unavailable; after the failover PD names store 2.
    let s = RequestStats::default();
    assert_eq!(
        raw.get(&cx(&s, false), b"k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert!(s.retries(Reason::StoreUnavailable) >= 1, "{:?}", events(&s));
    assert!(events(&s).get("backoff_store_unavailable_us") > 0);
    assert_eq!(tikv.cache().region_for(b"k").unwrap().leader.1, 2);
    c.shutdown().await;
}

// ---- TSO ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_timestamps_are_distinct_increasing_and_batched() {
    let c = start(config(1, 1_000_000)).await;
    let tikv = Arc::new(connect(&c).await);
    let rpcs = |t: &Client| t.pd().counters().tso_rpcs.load(Ordering::Relaxed);
    let before = rpcs(&tikv);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let t = tikv.clone();
        set.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..8 {
                got.push(t.pd().timestamp().await.expect("timestamp"));
            }
            got
        });
    }
    let mut all = BTreeSet::new();
    while let Some(got) = set.join_next().await {
        let got = got.unwrap();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "each caller's increase"
        );
        all.extend(got);
    }
    assert_eq!(all.len(), 64 * 8, "all distinct");
    let sent = rpcs(&tikv) - before;
    assert!(
        sent < 64 * 8,
        "{sent} TSO requests for {} timestamps",
        64 * 8
    );
    assert_eq!(
        tikv.pd().counters().tso_streams.load(Ordering::Relaxed),
        1,
        "one stream"
    );
    c.shutdown().await;
}
