//! Raw get throughput of four clients against one running stand-in (or any
//! TiKV), at the same concurrency: tikv-bench's client (the per-op path
//! `run` uses: `TikvBackend::execute`, events included) over unary RPCs
//! and over BatchCommands streams (`transport: batch`), the official
//! `tikv-client` crate, and a bare tonic RawGet loop with the same number of
//! channels per store, routed by a region table read once from PD.
//!
//! Run by `scripts/bench-clients.sh`, which starts the stand-in; by hand:
//! `cargo run --release --example bench_clients -- --pd 127.0.0.1:PORT`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use tikv_bench::backend::{Backend, TargetInfo, TikvBackend};
use tikv_bench::client::Dialer;
use tikv_bench::client::config::TransportKind;
use tikv_bench::client::stores::connect_pool;
use tikv_bench::client::{Client, Ctx, RequestStats};
use tikv_bench::proto::kvrpcpb::{Context, RawGetRequest};
use tikv_bench::proto::metapb;
use tikv_bench::proto::tikvpb::tikv_client::TikvClient;
use tikv_bench::vocab::Events;
use tikv_bench::workload::ClientConfig;
use tikv_bench::workload::ops::{Op, get};
use tokio::time::Instant;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
struct Args {
    /// PD address of the cluster.
    #[arg(long)]
    pd: String,
    /// Pool sizes (channels per store) to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    pools: Vec<u32>,
    /// Concurrent tasks issuing gets.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured time per client and pool size.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    duration: Duration,
    /// Untimed run before each measurement.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    warmup: Duration,
    /// Keys written before the runs (and read by them).
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Skip writing the keys (they are there already).
    #[arg(long)]
    no_load: bool,
    /// Rounds over the clients per pool size (the best round counts).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Which clients to run (for profiling one alone).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ours,batched,official,bare"
    )]
    clients: Vec<String>,
}

fn key(i: usize) -> Vec<u8> {
    format!("bench{i:08}").into_bytes()
}

/// Runs `concurrency` copies of `op` for warmup + duration; ops/s over the
/// measured part. Each task owns a state `S` that every op takes and gives
/// back (the per-worker events of the driver).
async fn measure<S, F, Fut>(args: &Args, op: F) -> f64
where
    S: Default + Send + 'static,
    F: Fn(S, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (S, bool)> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let measured_from = start + args.warmup;
    let end = measured_from + args.duration;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..args.concurrency {
        let (op, done, failed) = (op.clone(), done.clone(), failed.clone());
        let keys = args.keys;
        tasks.push(tokio::spawn(async move {
            let mut x =
                0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let (mut n, mut bad) = (0u64, 0u64);
            let mut state = S::default();
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (s, ok) = op(state, (x % keys as u64) as usize).await;
                state = s;
                let now = Instant::now();
                if now >= end {
                    break;
                }
                if now >= measured_from {
                    n += 1;
                    bad += u64::from(!ok);
                }
            }
            done.fetch_add(n, Ordering::Relaxed);
            failed.fetch_add(bad, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await.expect("bench task");
    }
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("  ({failed} failed gets)");
    }
    done.load(Ordering::Relaxed) as f64 / args.duration.as_secs_f64()
}

async fn ours(args: &Args, pool: u32, transport: TransportKind) -> f64 {
    let config = ClientConfig {
        pool_size: pool,
        transport,
        ..ClientConfig::default()
    };
    let target = TargetInfo {
        kind: "external".into(),
        description: "bench".into(),
    };
    let backend = TikvBackend::connect(std::slice::from_ref(&args.pd), &config, target)
        .await
        .expect("our client connects");
    let backend = Arc::new(backend);
    let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..args.keys).map(key).collect());
    measure(args, move |mut events: Events, i| {
        let (backend, keys) = (backend.clone(), keys.clone());
        async move {
            let ok = backend
                .execute(&Op::Get(get::GetArgs { key: &keys[i] }), &mut events)
                .await
                .is_ok();
            events.clear();
            (events, ok)
        }
    })
    .await
}

async fn official(args: &Args) -> f64 {
    let client = tikv_client::RawClient::new(vec![args.pd.clone()])
        .await
        .expect("the official client connects");
    let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..args.keys).map(key).collect());
    measure(args, move |(), i| {
        let (client, keys) = (client.clone(), keys.clone());
        async move { ((), client.get(keys[i].clone()).await.is_ok()) }
    })
    .await
}

/// The bare loop's routing table: regions by start key, each with its
/// request context and the index of its leader's store.
struct Table {
    regions: Vec<(Vec<u8>, Context, usize)>,
    stores: Vec<Vec<TikvClient<Channel>>>,
    next: Vec<AtomicUsize>,
}

impl Table {
    async fn read(tikv: &Client, pool: u32) -> Table {
        let stores = tikv.pd().get_all_stores().await.expect("stores");
        let mut ids = Vec::new();
        let mut channels = Vec::new();
        for s in &stores {
            ids.push(s.id);
            channels.push(
                connect_pool(
                    &s.address,
                    pool as usize,
                    &Dialer::plain(Duration::from_secs(3)),
                )
                .await
                .expect("store reachable"),
            );
        }
        let mut regions = Vec::new();
        for info in tikv.pd().all_regions().await.expect("regions") {
            let leader = info.leader.expect("a leader");
            let r = info.region;
            let store = ids
                .iter()
                .position(|&id| id == leader.store_id)
                .expect("known store");
            let context = Context {
                region_id: r.id,
                region_epoch: r.region_epoch,
                peer: Some(metapb::Peer {
                    id: leader.id,
                    store_id: leader.store_id,
                    ..Default::default()
                }),
                ..Default::default()
            };
            regions.push((r.start_key, context, store));
        }
        regions.sort_by(|a, b| a.0.cmp(&b.0));
        Table {
            next: channels.iter().map(|_| AtomicUsize::new(0)).collect(),
            stores: channels,
            regions,
        }
    }

    fn client(&self, key: &[u8]) -> (Context, TikvClient<Channel>) {
        let at = self
            .regions
            .partition_point(|(start, _, _)| start.as_slice() <= key)
            - 1;
        let (_, ctx, store) = &self.regions[at];
        let pool = &self.stores[*store];
        let i = self.next[*store].fetch_add(1, Ordering::Relaxed) % pool.len();
        (ctx.clone(), pool[i].clone())
    }
}

async fn bare(args: &Args, tikv: &Client, pool: u32) -> f64 {
    let table = Arc::new(Table::read(tikv, pool).await);
    let keys: Arc<Vec<Vec<u8>>> = Arc::new((0..args.keys).map(key).collect());
    measure(args, move |(), i| {
        let (table, keys) = (table.clone(), keys.clone());
        async move {
            let (context, mut client) = table.client(&keys[i]);
            let req = RawGetRequest {
                context: Some(context),
                key: keys[i].clone(),
                cf: String::new(),
            };
            let ok = match client.raw_get(req).await {
                Ok(r) => r.get_ref().region_error.is_none() && r.get_ref().error.is_empty(),
                Err(_) => false,
            };
            ((), ok)
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let tikv = Client::connect(std::slice::from_ref(&args.pd), ClientConfig::default())
        .await
        .expect("our client connects");
    if !args.no_load {
        let stats = RequestStats::default();
        for chunk in (0..args.keys).collect::<Vec<_>>().chunks(500) {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                chunk.iter().map(|&i| (key(i), vec![b'v'; 100])).collect();
            let cx = Ctx::new(&stats, Duration::from_secs(30), true);
            tikv.raw().batch_put(&cx, &pairs).await.expect("load");
        }
        // Let the split checker finish before the routing tables are read.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let regions = tikv.pd().all_regions().await.expect("regions");
    let stores = tikv.pd().get_all_stores().await.expect("stores");
    println!(
        "raw get, {} keys, {} regions over {} stores, concurrency {}, {} per run (after {} warmup), best of {} round(s)",
        args.keys,
        regions.len(),
        stores.len(),
        args.concurrency,
        humantime::format_duration(args.duration),
        humantime::format_duration(args.warmup),
        args.rounds
    );
    println!();
    println!(
        "| pool | ours unary ops/s | ours batched ops/s | official ops/s | bare tonic ops/s | unary/official | unary/bare | batched/unary | batched/bare |"
    );
    println!("|-----:|-----:|-----:|-----:|-----:|-----:|-----:|-----:|-----:|");
    let mut spread = Vec::new();
    for &pool in &args.pools {
        let mut rounds = Rounds::default();
        let run = |name: &str| args.clients.iter().any(|c| c == name);
        for _ in 0..args.rounds {
            if run("ours") {
                rounds
                    .unary
                    .push(ours(&args, pool, TransportKind::Unary).await);
            }
            if run("batched") {
                rounds
                    .batched
                    .push(ours(&args, pool, TransportKind::Batch).await);
            }
            if run("official") {
                rounds.official.push(official(&args).await);
            }
            if run("bare") {
                rounds.bare.push(bare(&args, &tikv, pool).await);
            }
        }
        let (u, c, f, b) = rounds.best();
        println!(
            "| {pool} | {u:.0} | {c:.0} | {f:.0} | {b:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            u / f,
            u / b,
            c / u,
            c / b
        );
        spread.push((pool, rounds));
    }
    println!();
    println!("every round, ops/s:");
    for (pool, r) in spread {
        println!(
            "pool {pool}: unary {}; batched {}; official {}; bare {}",
            list(&r.unary),
            list(&r.batched),
            list(&r.official),
            list(&r.bare)
        );
    }
}

/// Each client's ops/s in every round of one pool size.
#[derive(Default)]
struct Rounds {
    unary: Vec<f64>,
    batched: Vec<f64>,
    official: Vec<f64>,
    bare: Vec<f64>,
}

impl Rounds {
    /// The best round of each (0 for a client not run).
    fn best(&self) -> (f64, f64, f64, f64) {
        let max = |v: &[f64]| v.iter().copied().fold(0f64, f64::max);
        (
            max(&self.unary),
            max(&self.batched),
            max(&self.official),
            max(&self.bare),
        )
    }
}

fn list(v: &[f64]) -> String {
    let each: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
    each.join(", ")
}
