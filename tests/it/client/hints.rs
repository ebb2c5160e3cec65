//! Our client against what a strict store answers (issue 14, point 9): a
//! raw read whose pairs carry errors fails, each attempt tells the store
//! how long it will wait (`max_execution_duration_ms`) so a write it gave
//! up on is not carried out, and a busy store is not asked again sooner
//! than its `backoff_ms` hint.

use std::time::{Duration, Instant};

use tikv_bench::client::{Client, ClientConfig, RequestStats};
use tikv_bench::vocab::ErrorKind;

use crate::client_util::*;

async fn connect_with(c: &tikv_bench::cluster::RunningCluster, config: ClientConfig) -> Client {
    Client::connect(&[c.pd_addr().to_string()], config)
        .await
        .expect("our client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_read_whose_pairs_carry_errors_fails() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.pair_error = 1.0;
    let c = start(cfg).await;
    let tikv = connect(&c).await;
    let raw = tikv.raw();
    let s = RequestStats::default();
    let pairs = vec![
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"2".to_vec()),
    ];
    raw.batch_put(&cx(&s, true), &pairs).await.unwrap();
    let scanned = raw.scan(&cx(&s, false), b"a", b"", 10).await;
    let err = scanned.expect_err("a scan whose pairs are errors is no data");
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(err.to_string().contains("injected pair error"), "{err}");
    let got = raw.batch_get(&cx(&s, false), &[b"a", b"b"]).await;
    let err = got.expect_err("nor is a batch get's");
    assert!(err.to_string().contains("injected pair error"), "{err}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_client_gave_up_on_is_not_carried_out() {
    let mut cfg = config(1, 1_000_000);
    cfg.faults.queue_wait = Duration::from_millis(400);
    let c = start(cfg).await;
    let tikv = connect_with(
        &c,
        ClientConfig {
            request_timeout: Duration::from_millis(150),
            ..client_config()
        },
    )
    .await;
    let s = RequestStats::default();
    let err = tikv
        .raw()
        .put(&cx(&s, true), b"k", b"v", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.undetermined());
    // The store finishes with the request at 400 ms: past the 150 ms the
    // client said it would wait, so it does not write.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        c.storage().raw().get(b"k"),
        None,
        "written after the client gave up"
    );
    assert_eq!(c.cluster().fault_counts().deadline_exceeded, 1);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_store_is_asked_again_no_sooner_than_its_backoff_hint() {
    const HINT: Duration = Duration::from_millis(300);
    let mut cfg = config(1, 1_000_000);
    cfg.faults.busy = 1.0;
    cfg.faults.busy_backoff = HINT;
    let c = start(cfg).await;
    let mut config = client_config();
    config.retry.max_attempts = 3;
    let tikv = connect_with(&c, config).await;
    let s = RequestStats::default();
    let began = Instant::now();
    // Watch the store's busy answers arrive while the read retries: the
    // nth arrives no sooner than (n - 1) hints after the read began.
    let (raw, op) = (tikv.raw(), cx(&s, false));
    let read = raw.get(&op, b"k");
    tokio::pin!(read);
    let mut seen: Vec<(u64, Duration)> = Vec::new();
    let busy_answers = || c.cluster().fault_counts().busy_answers;
    let result = loop {
        tokio::select! {
            r = &mut read => break r,
            _ = tokio::time::sleep(Duration::from_millis(1)) => {
                let n = busy_answers();
                if seen.last().map_or(0, |l| l.0) < n {
                    seen.push((n, began.elapsed()));
                }
            }
        }
    };
    seen.push((busy_answers(), began.elapsed()));
    let err = result.expect_err("busy on every attempt");
    assert_eq!(err.kind(), ErrorKind::ServerIsBusy, "{err}");
    assert_eq!(busy_answers(), 3, "three attempts reached the store");
    for &(n, at) in &seen {
        let earliest = HINT * (n as u32 - 1);
        assert!(
            at >= earliest,
            "busy answer {n} at {at:?}, before {earliest:?}: {seen:?}"
        );
    }
    let backoff_us = events(&s).get("backoff_server_is_busy_us");
    assert!(backoff_us >= 2 * HINT.as_micros() as u64, "{backoff_us} µs");
    c.shutdown().await;
}
