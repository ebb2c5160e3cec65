//! Raw get throughput of the stand-in cluster against a bare tonic server
//! that answers the same `RawGet` from a `HashMap`: same client, same
//! channel count, same keys, same process, both on loopback. Run by
//! `scripts/bench-standin.sh`.
//!
//! The client is a plain tonic `RawGet` loop: `--tasks` concurrent tasks
//! over `--channels` HTTP/2 channels (task i uses channel i mod C). The
//! stand-in runs one store (one region, so every get passes the full region
//! check and reaches one listener, like the bare server). The two servers
//! take turns, `--rounds` times each, after a warmup; the best round of
//! each is reported, and their ratio.
//!
//! Usage: standin_rawget [--channels C] [--tasks N] [--seconds S]
//!        [--rounds R] [--keys K]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tikv_bench::cluster::Cluster;
use tikv_bench::cluster::config::ClusterConfig;
use tikv_bench::proto::kvrpcpb::{Context, RawGetRequest, RawGetResponse};
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::proto::tikvpb::tikv_server::{Tikv, TikvServer};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

/// The baseline: a `Tikv` service that answers only RawGet, from a map.
struct Bare {
    map: Arc<HashMap<Vec<u8>, Vec<u8>>>,
}

#[tonic::async_trait]
impl Tikv for Bare {
    async fn raw_get(
        &self,
        request: Request<RawGetRequest>,
    ) -> Result<Response<RawGetResponse>, Status> {
        let req = request.into_inner();
        Ok(Response::new(match self.map.get(&req.key) {
            Some(v) => RawGetResponse {
                value: v.clone(),
                ..Default::default()
            },
            None => RawGetResponse {
                not_found: true,
                ..Default::default()
            },
        }))
    }
}

struct Args {
    channels: usize,
    tasks: usize,
    seconds: f64,
    rounds: usize,
    keys: usize,
}

fn args() -> Args {
    let mut a = Args {
        channels: 1,
        tasks: 32,
        seconds: 3.0,
        rounds: 3,
        keys: 10_000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        let bad = || -> ! {
            eprintln!("standin_rawget: bad value '{value}' for {}", pair[0]);
            std::process::exit(2)
        };
        match pair[0].as_str() {
            "--channels" => a.channels = value.parse().unwrap_or_else(|_| bad()),
            "--tasks" => a.tasks = value.parse().unwrap_or_else(|_| bad()),
            "--seconds" => a.seconds = value.parse().unwrap_or_else(|_| bad()),
            "--rounds" => a.rounds = value.parse().unwrap_or_else(|_| bad()),
            "--keys" => a.keys = value.parse().unwrap_or_else(|_| bad()),
            other => {
                eprintln!(
                    "standin_rawget: unknown flag '{other}'; flags: --channels --tasks --seconds --rounds --keys"
                );
                std::process::exit(2)
            }
        }
    }
    if a.channels == 0 || a.tasks == 0 || a.keys == 0 || a.rounds == 0 {
        eprintln!("standin_rawget: --channels, --tasks, --rounds and --keys must be at least 1");
        std::process::exit(2);
    }
    a
}

fn key(i: usize) -> Vec<u8> {
    format!("user{i:08}").into_bytes()
}

/// Runs the get loop against `addr` for `secs`; returns ops/s.
async fn measure(addr: SocketAddr, ctx: &Context, a: &Args, secs: f64) -> f64 {
    let mut channels = Vec::new();
    for _ in 0..a.channels {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))
                .expect("uri")
                .tcp_nodelay(true)
                .connect()
                .await
                .expect("connect"),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..a.tasks)
        .map(|t| {
            let mut client = TikvClient::new(channels[t % channels.len()].clone());
            let (stop, ops, ctx, keys) = (stop.clone(), ops.clone(), ctx.clone(), a.keys);
            tokio::spawn(async move {
                let mut i = t.wrapping_mul(7919);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 104_729) % keys;
                    let req = RawGetRequest {
                        context: Some(ctx.clone()),
                        key: key(i),
                        cf: String::new(),
                    };
                    let resp = client.raw_get(req).await.expect("raw get").into_inner();
                    assert!(resp.region_error.is_none() && !resp.not_found, "{resp:?}");
                    n += 1;
                }
                ops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("task");
    }
    ops.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let a = args();
    let value = vec![b'v'; 100];

    // The stand-in: one store, one region, the keys preloaded.
    let config = ClusterConfig {
        stores: 1,
        region_max_keys: u64::MAX,
        ..ClusterConfig::default()
    };
    let cluster = Cluster::new(config);
    for i in 0..a.keys {
        cluster.storage().raw().put(&key(i), &value, false);
    }
    let standin = cluster
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("stand-in starts");
    let region = standin.regions().locate(b"");
    let standin_addr = standin.store_addr(region.leader).expect("store");
    let standin_ctx = region.context_at(region.leader);

    // The bare server, on the same loopback.
    let map: HashMap<Vec<u8>, Vec<u8>> = (0..a.keys).map(|i| (key(i), value.clone())).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_addr = listener.local_addr().unwrap();
    let bare = tokio::spawn(
        Server::builder()
            .add_service(TikvServer::new(Bare { map: Arc::new(map) }))
            .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    let bare_ctx = standin_ctx.clone();

    // Warm both up, then alternate.
    measure(standin_addr, &standin_ctx, &a, 1.0).await;
    measure(bare_addr, &bare_ctx, &a, 1.0).await;
    let (mut best_standin, mut best_bare) = (0f64, 0f64);
    for round in 1..=a.rounds {
        let s = measure(standin_addr, &standin_ctx, &a, a.seconds).await;
        let b = measure(bare_addr, &bare_ctx, &a, a.seconds).await;
        eprintln!(
            "round {round}: stand-in {s:.0} ops/s, bare {b:.0} ops/s, ratio {:.2}",
            s / b
        );
        best_standin = best_standin.max(s);
        best_bare = best_bare.max(b);
    }
    println!(
        "channels={} tasks={} stand-in={:.0} ops/s bare={:.0} ops/s ratio={:.2}",
        a.channels,
        a.tasks,
        best_standin,
        best_bare,
        best_standin / best_bare
    );
    bare.abort();
    standin.shutdown().await;
}
