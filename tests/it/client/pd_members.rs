//! PD followers: a member that does not lead names the leader in
//! GetMembers and answers every other call "not leader"; our client, given
//! only a follower's address, finds the leader, and during an election
//! (no member leads for a while) it waits for the new leader instead of
//! taking a follower for it.

use std::time::Duration;

use tikv_bench::client::{Client, RequestStats, Txn, TxnOptions};
use tikv_bench::cluster::{Cluster, RunningCluster};
use tikv_bench::proto::pdpb::{GetAllStoresRequest, GetMembersRequest};
use tikv_bench::vocab::{Events, LockMode};
use tonic::Code;

use crate::client_util::*;
use crate::cluster_util::pd_client;

async fn start_two_members() -> RunningCluster {
    Cluster::new(config(2, 1_000_000))
        .with_pd_members(2)
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("the stand-in starts")
}

/// A raw write and read, a region lookup, and a transaction: every kind of
/// call our client makes to PD (TSO stream, unary calls).
async fn ops(tikv: &Client, tag: u8) {
    let s = RequestStats::default();
    let key = [b'k', tag];
    tikv.raw()
        .put(&cx(&s, true), &key, &[tag], None)
        .await
        .expect("raw put");
    tikv.pd().get_region(&key).await.expect("PD GetRegion");
    let mut ev = Events::default();
    let t = tikv.transport(cx(&s, true));
    let mut txn = Txn::begin(&t, LockMode::Optimistic, TxnOptions::default())
        .await
        .expect("a start timestamp");
    txn.put(&key, &[tag]);
    txn.commit(&mut ev).await.expect("commit");
}

#[tokio::test]
async fn a_pd_follower_names_the_leader_and_answers_the_rest_not_leader() {
    let c = start_two_members().await;
    let [leader, follower] = c.pd_addrs()[..] else {
        panic!("two members")
    };
    let mut f = pd_client(follower).await;
    let members = f
        .get_members(GetMembersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 2);
    let named = members.leader.expect("a leader").client_urls;
    assert_eq!(named, vec![format!("http://{leader}")]);
    let err = f
        .get_all_stores(GetAllStoresRequest::default())
        .await
        .expect_err("a follower serves no store listing");
    assert_eq!(
        (err.code(), err.message()),
        (Code::Unavailable, "not leader")
    );
    c.shutdown().await;
}

#[tokio::test]
async fn our_client_given_a_follower_finds_the_leader_and_waits_out_an_election() {
    let c = start_two_members().await;
    let [leader, follower] = c.pd_addrs()[..] else {
        panic!("two members")
    };
    let tikv = Client::connect(&[follower.to_string()], client_config())
        .await
        .expect("connects through the follower");
    assert_eq!(tikv.pd().leader_url(), format!("http://{leader}"));
    ops(&tikv, 1).await;

    // An election: no member leads for 300 ms, then the follower does.
    c.set_pd_leader(None);
    let elect = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.set_pd_leader(Some(1));
    };
    tokio::join!(ops(&tikv, 2), elect);
    assert_eq!(tikv.pd().leader_url(), format!("http://{follower}"));
    ops(&tikv, 3).await;
    c.shutdown().await;
}
