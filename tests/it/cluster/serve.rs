//! `tikv-bench serve`: the first line names PD, a TiKV client can use the
//! cluster, SIGTERM stops it cleanly, bad flags exit 2.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_pd_first_serves_a_client_and_stops_on_sigterm() {
    let mut child = Command::new(bin())
        .args(["serve", "--stores", "2", "--region-max-keys", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(3)
            .collect::<Result<Vec<String>, _>>()
    });
    let lines = tokio::time::timeout(Duration::from_secs(20), lines)
        .await
        .expect("serve prints its addresses")
        .unwrap()
        .unwrap();
    let pd = lines[0]
        .strip_prefix("pd=")
        .expect("the first line is pd=HOST:PORT");
    assert!(pd.starts_with("127.0.0.1:") && !pd.ends_with(":0"), "{pd}");
    assert!(lines[1].starts_with("store=1 127.0.0.1:"), "{}", lines[1]);
    assert!(lines[2].starts_with("store=2 127.0.0.1:"), "{}", lines[2]);

    let raw = tikv_client::RawClient::new(vec![pd.to_owned()])
        .await
        .unwrap();
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..100)
        .map(|i| (format!("k{i:03}").into_bytes(), b"v".to_vec()))
        .collect();
    raw.batch_put(pairs).await.unwrap();
    assert_eq!(
        raw.get(b"k042".to_vec()).await.unwrap(),
        Some(b"v".to_vec())
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SIGTERM") && err.contains("stopped"), "{err}");
}

#[test]
fn serve_refuses_bad_flags_with_exit_2() {
    for args in [
        &["--stores", "0"][..],
        &["--stores", "17"],
        &["--busy", "1.5"],
        &["--region-max-keys", "3"],
        &["--store-offline", "2:1s"],
        &["--store-offline", "5:1s:1s"],
        &["--split-every", "soon"],
        &["--pd", "not-an-address"],
        &["--lock-wait-timeout", "2m"],
        &["--latency", "1ms", "--write-latency", "2ms"],
        &["--read-latency", "soon"],
        &["--transport-load", "-1"],
    ] {
        let out = Command::new(bin())
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "serve {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.is_empty(), "serve {args:?} says nothing");
        assert!(
            out.stdout.is_empty(),
            "serve {args:?} printed {:?}",
            out.stdout
        );
    }
}
