//! PD through its gRPC client (members, stores, regions, GC safe point),
//! the services called without a socket, and TSO.

use tikv_bench::cluster::{CLUSTER_ID, Cluster};
use tikv_bench::codec;
use tikv_bench::proto::kvrpcpb::RawPutRequest;
use tikv_bench::proto::pdpb::pd_server::Pd as _;
use tikv_bench::proto::pdpb::{
    self, GetAllStoresRequest, GetGcSafePointRequest, GetMembersRequest, GetRegionByIdRequest,
    GetRegionRequest, GetStoreRequest, ScanRegionsRequest, TsoRequest, UpdateGcSafePointRequest,
};
use tonic::Code;

use super::header;
use crate::cluster_util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pd_answers_members_stores_regions_and_the_gc_safe_point() {
    let c = start(config(3, 1_000_000)).await;
    let mut pd = pd_client(c.pd_addr()).await;
    let m = pd
        .get_members(GetMembersRequest { header: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.header.unwrap().cluster_id, CLUSTER_ID);
    let url = format!("http://{}", c.pd_addr());
    assert_eq!(m.leader.unwrap().client_urls, std::slice::from_ref(&url));
    assert_eq!(m.members[0].client_urls, [url]);

    for (id, addr) in c.store_addrs() {
        let s = pd
            .get_store(GetStoreRequest {
                header: header(),
                store_id: id,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(s.header.unwrap().error.is_none());
        let store = s.store.unwrap();
        assert_eq!(
            (store.id, store.address, store.state),
            (id, addr.to_string(), 0)
        );
    }
    let unknown = pd
        .get_store(GetStoreRequest {
            header: header(),
            store_id: 42,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(unknown.header.unwrap().error.is_some() && unknown.store.is_none());
    let all = pd
        .get_all_stores(GetAllStoresRequest {
            header: header(),
            exclude_tombstone_stores: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.stores.len(), 3);

    c.split_at(b"g").unwrap();
    c.split_at(b"p").unwrap();
    let scan = pd
        .scan_regions(ScanRegionsRequest {
            header: header(),
            start_key: codec::encode(b"h"),
            limit: 0,
            end_key: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scan.regions.len(), 2);
    assert_eq!(scan.region_metas.len(), 2);
    assert_eq!(scan.leaders.len(), 2);
    assert_eq!(scan.region_metas[0].end_key, codec::encode(b"p"));
    let by_id = pd
        .get_region_by_id(GetRegionByIdRequest {
            header: header(),
            region_id: scan.region_metas[1].id,
            need_buckets: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.region.unwrap().start_key, codec::encode(b"p"));
    assert!(by_id.leader.is_some());

    let update = |sp| UpdateGcSafePointRequest {
        header: header(),
        safe_point: sp,
    };
    let r = pd
        .update_gc_safe_point(update(100))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.new_safe_point, 100);
    let r = pd
        .update_gc_safe_point(update(50))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.new_safe_point, 100, "never backwards");
    let g = pd
        .get_gc_safe_point(GetGcSafePointRequest { header: header() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(g.safe_point, 100);
    c.shutdown().await;
}

#[tokio::test]
async fn services_answer_without_a_socket() {
    let cluster = Cluster::new(config(2, 1_000_000));
    let pd = cluster.pd_service();
    let r = pd
        .get_region(tonic::Request::new(GetRegionRequest {
            header: header(),
            region_key: b"k".to_vec(),
            need_buckets: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.region.unwrap().id, cluster.regions().locate(b"k").id);
    use tikv_bench::proto::tikvpb::tikv_server::Tikv as _;
    let region = cluster.regions().locate(b"k");
    let store = cluster.store_service(region.leader).unwrap();
    store
        .raw_put(tonic::Request::new(RawPutRequest {
            context: ctx(&region),
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(cluster.storage().raw().get(b"k"), Some(b"v".to_vec()));
    assert!(cluster.store_service(3).is_none());
}

fn tso_request(count: u32) -> TsoRequest {
    TsoRequest {
        header: header(),
        count,
        dc_location: String::new(),
    }
}

fn ts(t: &pdpb::Timestamp) -> u64 {
    ((t.physical as u64) << 18) + t.logical as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tso_is_strictly_increasing_across_batches_and_streams() {
    let c = start(config(1, 1_000_000)).await;
    let (tx1, rx1) = tokio::sync::mpsc::channel(8);
    let (tx2, rx2) = tokio::sync::mpsc::channel(8);
    let mut pd1 = pd_client(c.pd_addr()).await;
    let mut pd2 = pd_client(c.pd_addr()).await;
    let mut s1 = pd1.tso(tokio_stream(rx1)).await.unwrap().into_inner();
    let mut s2 = pd2.tso(tokio_stream(rx2)).await.unwrap().into_inner();
    let mut last = 0u64;
    for (i, count) in [1u32, 10, 3, 64, 1, 7].into_iter().enumerate() {
        let (tx, stream) = if i % 2 == 0 {
            (&tx1, &mut s1)
        } else {
            (&tx2, &mut s2)
        };
        tx.send(tso_request(count)).await.unwrap();
        let r = stream
            .message()
            .await
            .unwrap()
            .expect("one response per request");
        assert_eq!(r.count, count);
        let top = ts(r.timestamp.as_ref().unwrap());
        let first = top + 1 - u64::from(count);
        assert!(first > last, "batch {i} overlaps the one before");
        last = top;
        assert_eq!(
            c.storage().tso().last(),
            top,
            "PD and the engine share a clock"
        );
    }
    // The engine's own timestamps continue after PD's.
    assert!(c.storage().timestamp() > last);

    // A zero count ends the stream with an error.
    tx1.send(tso_request(0)).await.unwrap();
    assert_eq!(
        s1.message().await.unwrap_err().code(),
        Code::InvalidArgument
    );
    c.shutdown().await;
}

/// A stream of TSO requests fed by a channel.
fn tokio_stream(
    rx: tokio::sync::mpsc::Receiver<TsoRequest>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = TsoRequest> {
    tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(rx)
}
