//! `tikv-bench serve`: runs a stand-in cluster until SIGINT or SIGTERM.
//!
//! Its first line on stdout is `pd=HOST:PORT` (flushed at once, so a script
//! can read it), then one `store=ID HOST:PORT` line per store. Flags set the
//! same [`ClusterConfig`] a workload's `cluster:` section does.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::BadInput;
use super::tls::ServeTlsArgs;
use crate::cluster::config::{BusyBurst, ClusterConfig, Faults, Latency, MIN_GC_LIFE_TIME, Outage};
use crate::cluster::{Cluster, DEFAULT_SEED};
use crate::vocab::ApiVersion;

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example: tikv-bench serve --stores 3 --region-max-keys 1000 \
    --split-every 2s --store-offline 2:10s:5s\n\
    The first stdout line is pd=HOST:PORT; give that address to a TiKV client."
)]
pub struct ServeArgs {
    /// Stores, each on its own loopback port (1 to 16).
    #[arg(long, default_value_t = ClusterConfig::DEFAULT_STORES)]
    pub stores: u32,
    /// PD's address. The default port 0 picks a free port, so the stand-in
    /// never fights another process over 2379; read the chosen address from
    /// the first line printed (pd=HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub pd: SocketAddr,
    /// A region splits once it holds more keys than this (at least 10).
    #[arg(long, default_value_t = ClusterConfig::DEFAULT_REGION_MAX_KEYS)]
    pub region_max_keys: u64,
    /// Fault: split the region with the most keys this often (e.g. 500ms).
    #[arg(long, value_parser = parse_duration)]
    pub split_every: Option<Duration>,
    /// Fault: move a random region's leadership to another peer this often.
    #[arg(long, value_parser = parse_duration)]
    pub transfer_leader_every: Option<Duration>,
    /// Fault: take store STORE offline AFTER the start FOR a while, as
    /// STORE:AFTER:FOR (e.g. 2:10s:5s); its leaderships fail over after 300ms.
    #[arg(long, value_parser = parse_outage, value_name = "STORE:AFTER:FOR")]
    pub store_offline: Option<Outage>,
    /// Fault: answer a store request ServerIsBusy with this probability (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub busy: f64,
    /// Fault: a busy burst, every store answering ServerIsBusy from AFTER
    /// the start FOR a while, as AFTER:FOR[:P] (e.g. 10s:2s, or 10s:2s:0.5
    /// for half the requests; P defaults to 1).
    #[arg(long, value_parser = parse_busy_burst, value_name = "AFTER:FOR[:P]")]
    pub busy_burst: Option<BusyBurst>,
    /// Fault: the backoff the busy answers suggest (`backoff_ms`, e.g.
    /// 50ms); none by default.
    #[arg(long, value_parser = parse_duration)]
    pub busy_backoff: Option<Duration>,
    /// Fault: latency added to every store request, on the wire (e.g. 2ms).
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["read_latency", "write_latency"])]
    pub latency: Option<Duration>,
    /// Fault: latency added to each read request (KvGet, KvScan, the raw
    /// reads, ...), on the wire; with --write-latency, instead of --latency.
    #[arg(long, value_parser = parse_duration)]
    pub read_latency: Option<Duration>,
    /// Fault: latency added to each write request (what goes through Raft
    /// on TiKV: prewrite, commit, pessimistic lock, rollbacks, raw writes),
    /// on the wire.
    #[arg(long, value_parser = parse_duration)]
    pub write_latency: Option<Duration>,
    /// Fault: the latency faults above apply to this store only (its id,
    /// 1 to --stores), the others answer at once: a slow store.
    #[arg(long, value_name = "STORE")]
    pub latency_store: Option<u32>,
    /// Fault: time every store request waits in the store before it runs
    /// (e.g. 5ms); a request that waits past its max_execution_duration_ms
    /// is not carried out.
    #[arg(long, value_parser = parse_duration)]
    pub queue_wait: Option<Duration>,
    /// Fault: answer each pair of a raw scan or batch get as an error with
    /// this probability (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub pair_error: f64,
    /// Fault: the transport load every store reports in its BatchCommands
    /// answers (`transport_layer_load`; TiKV's gRPC CPU use in percent,
    /// client-go batches more above 200), in place of its requests in
    /// flight.
    #[arg(long, value_name = "N")]
    pub transport_load: Option<u64>,
    /// How long a pessimistic lock waits for a held lock when the request
    /// asks for the default (at most 60s).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub lock_wait_timeout: Duration,
    /// Add a TiFlash store (label engine=tiflash) holding a learner of
    /// every region; it answers every KV call UNIMPLEMENTED, as TiFlash does.
    #[arg(long)]
    pub tiflash: bool,
    /// How long old MVCC versions stay readable: the GC safe point trails
    /// now by this much (TiDB's tidb_gc_life_time, 10m there; at least 1s).
    #[arg(long, value_parser = parse_duration, default_value = "1m")]
    pub gc_life_time: Duration,
    /// The stores' storage.api-version: v1 (raw and txn share one key
    /// space), v1ttl (raw calls only, with TTL) or v2 (keyspaces, TTL).
    #[arg(long, value_parser = parse_api_version, default_value = "v1")]
    pub api_version: ApiVersion,
    /// A keyspace PD knows besides DEFAULT (API v2); repeat for more.
    #[arg(long = "keyspace", value_name = "NAME")]
    pub keyspaces: Vec<String>,
    /// Seed of the faults' random choices.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    #[command(flatten)]
    pub tls: ServeTlsArgs,
}

fn parse_api_version(s: &str) -> Result<ApiVersion, String> {
    ApiVersion::parse(s)
        .ok_or_else(|| format!("'{s}' is not an API version; choose v1, v1ttl or v2"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e}; write e.g. 500ms, 2s, 1m"))
}

/// `STORE:AFTER:FOR`, e.g. `2:10s:5s`.
pub fn parse_outage(s: &str) -> Result<Outage, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [store, after, duration] = parts.as_slice() else {
        return Err(format!(
            "'{s}' is not STORE:AFTER:FOR (e.g. 2:10s:5s: store 2 goes offline 10s after the start, for 5s)"
        ));
    };
    let store: u32 = store
        .parse()
        .map_err(|_| format!("'{store}' is not a store number (1, 2, ...)"))?;
    Ok(Outage {
        store,
        after: parse_duration(after)?,
        duration: parse_duration(duration)?,
        failover: Outage::DEFAULT_FAILOVER,
    })
}

/// `AFTER:FOR[:P]`: a busy burst.
pub fn parse_busy_burst(s: &str) -> Result<BusyBurst, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (after, duration, p) = match parts.as_slice() {
        [a, d] => (a, d, None),
        [a, d, p] => (a, d, Some(p)),
        _ => {
            return Err(format!(
                "'{s}' is not AFTER:FOR[:P] (e.g. 10s:2s: every request answered ServerIsBusy from 10s after the start, for 2s; 10s:2s:0.5 for half of them)"
            ));
        }
    };
    let probability = match p {
        None => BusyBurst::DEFAULT_PROBABILITY,
        Some(p) => p
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p > 0.0 && *p <= 1.0)
            .ok_or_else(|| format!("'{p}' is not a probability in (0, 1] (e.g. 0.5)"))?,
    };
    Ok(BusyBurst {
        after: parse_duration(after)?,
        duration: parse_duration(duration)?,
        probability,
    })
}

impl ServeArgs {
    /// The cluster config these flags describe, checked.
    pub fn config(&self) -> Result<ClusterConfig, BadInput> {
        if !(1..=16).contains(&self.stores) {
            return Err(BadInput(format!(
                "--stores must be between 1 and 16, got {}",
                self.stores
            )));
        }
        if self.region_max_keys < 10 {
            return Err(BadInput(format!(
                "--region-max-keys must be at least 10, got {}",
                self.region_max_keys
            )));
        }
        for (flag, p) in [("--busy", self.busy), ("--pair-error", self.pair_error)] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(BadInput(format!(
                    "{flag} is a probability between 0 and 1, got {p}"
                )));
            }
        }
        if self.lock_wait_timeout > Duration::from_secs(60) {
            return Err(BadInput("--lock-wait-timeout must be at most 60s".into()));
        }
        if self.gc_life_time < MIN_GC_LIFE_TIME {
            return Err(BadInput("--gc-life-time must be at least 1s".into()));
        }
        for (flag, d) in [
            ("--split-every", self.split_every),
            ("--transfer-leader-every", self.transfer_leader_every),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(BadInput(format!("{flag} must be greater than zero")));
            }
        }
        if let Some(o) = self.store_offline
            && !(1..=self.stores).contains(&o.store)
        {
            return Err(BadInput(format!(
                "--store-offline names store {}, but stores are numbered 1 to {}",
                o.store, self.stores
            )));
        }
        if let Some(n) = self.latency_store
            && !(1..=self.stores).contains(&n)
        {
            return Err(BadInput(format!(
                "--latency-store names store {n}, but stores are numbered 1 to {}",
                self.stores
            )));
        }
        Ok(ClusterConfig {
            stores: self.stores,
            region_max_keys: self.region_max_keys,
            lock_wait_timeout: self.lock_wait_timeout,
            tiflash: self.tiflash,
            gc_life_time: self.gc_life_time,
            api_version: self.api_version,
            keyspaces: self.keyspaces.clone(),
            faults: self.faults(),
            tls: self.tls.load()?,
        })
    }

    /// The fault flags as the cluster's fault settings (checked above).
    fn faults(&self) -> Faults {
        Faults {
            split_every: self.split_every,
            transfer_leader_every: self.transfer_leader_every,
            store_offline: self.store_offline,
            busy: self.busy,
            busy_burst: self.busy_burst,
            busy_backoff: self.busy_backoff.unwrap_or_default(),
            latency: Latency {
                store: self.latency_store,
                ..match self.latency {
                    Some(d) => Latency::same(d),
                    None => Latency {
                        read: self.read_latency.unwrap_or_default(),
                        write: self.write_latency.unwrap_or_default(),
                        store: None,
                    },
                }
            },
            queue_wait: self.queue_wait.unwrap_or_default(),
            pair_error: self.pair_error,
            transport_load: self.transport_load,
        }
    }
}

/// Runs the cluster until SIGINT or SIGTERM, then shuts it down cleanly.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let running = Cluster::new(config)
        .with_seed(args.seed)
        .start(args.pd)
        .await
        .with_context(|| format!("cannot listen on {}", args.pd))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "pd={}", running.pd_addr())?;
        for (id, addr) in running.store_addrs() {
            writeln!(out, "store={id} {addr}")?;
        }
        out.flush()?;
    }
    let signal = stop_signal().await;
    eprintln!("tikv-bench: {signal}: shutting down");
    let snapshot = running.snapshot();
    running.shutdown().await;
    eprintln!(
        "tikv-bench: stopped: {} regions, {} checker splits, faults {}",
        snapshot["regions"].as_array().map_or(0, Vec::len),
        snapshot["checker_splits"],
        snapshot["faults"]["counts"]
    );
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGINT or SIGTERM; names the one that came.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_parse_or_explain() {
        let o = parse_outage("2:10s:500ms").unwrap();
        assert_eq!(
            (o.store, o.after, o.duration),
            (2, Duration::from_secs(10), Duration::from_millis(500))
        );
        assert!(
            parse_outage("2:10s")
                .unwrap_err()
                .contains("STORE:AFTER:FOR")
        );
        assert!(
            parse_outage("x:1s:1s")
                .unwrap_err()
                .contains("store number")
        );
        assert!(parse_outage("1:soon:1s").is_err());
    }

    #[test]
    fn read_and_write_latencies_set_the_cost_model() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let config = |args: &[&str]| {
            let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()));
            cli.unwrap().serve.config().unwrap().faults.latency
        };
        let ms = Duration::from_millis;
        assert_eq!(config(&["--latency", "2ms"]), Latency::same(ms(2)));
        assert_eq!(
            config(&["--read-latency", "3ms", "--latency-store", "2"]),
            Latency {
                read: ms(3),
                write: ms(0),
                store: Some(2)
            }
        );
        let split = config(&["--read-latency", "1ms", "--write-latency", "3ms"]);
        assert_eq!((split.read, split.write), (ms(1), ms(3)));
        assert_eq!(config(&["--write-latency", "3ms"]).read, Duration::ZERO);
    }
}
