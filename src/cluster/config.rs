//! What a stand-in cluster looks like and which faults it injects. Set by
//! the `cluster:` section of a workload file or by `serve` flags.

use std::time::Duration;

use serde::Serialize;

use crate::vocab::ApiVersion;
use crate::vocab::tls::Tls;

/// The shape of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterConfig {
    /// Stores, each with its own listener.
    pub stores: u32,
    /// A region splits once it holds more keys than this.
    pub region_max_keys: u64,
    /// How long a pessimistic lock request waits when it asks for the
    /// default (TiKV's is 1 s).
    #[serde(serialize_with = "ser_duration")]
    pub lock_wait_timeout: Duration,
    /// One TiFlash store besides the TiKV stores (id `stores + 1`, label
    /// `engine=tiflash`), holding a learner peer of every region and
    /// answering every KV call UNIMPLEMENTED, as TiFlash does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tiflash: bool,
    /// How long MVCC versions stay readable after a newer one replaces
    /// them: the GC worker's safe point trails now by this much (TiDB's
    /// `tidb_gc_life_time`; see [`DEFAULT_GC_LIFE_TIME`](Self::DEFAULT_GC_LIFE_TIME)).
    #[serde(serialize_with = "ser_duration")]
    pub gc_life_time: Duration,
    /// What the stores keep and take (TiKV's `storage.api-version`).
    pub api_version: ApiVersion,
    /// Keyspaces PD knows (API V2) besides DEFAULT, which it always has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keyspaces: Vec<String>,
    pub faults: Faults,
    /// Serve TLS on PD and every store (see [`Tls::server`]): with a CA,
    /// every client must present a certificate signed by it. Serialised as
    /// the file paths only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

impl ClusterConfig {
    pub const DEFAULT_STORES: u32 = 3;
    pub const DEFAULT_REGION_MAX_KEYS: u64 = 20_000;
    pub const DEFAULT_LOCK_WAIT_TIMEOUT: Duration = Duration::from_secs(1);
    /// 1 minute, shorter than TiDB's 10 minutes: the stand-in keeps every
    /// version in memory, and a run of ten minutes should level off within
    /// its first two (set `10m` for TiDB's).
    pub const DEFAULT_GC_LIFE_TIME: Duration = Duration::from_secs(60);
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            stores: Self::DEFAULT_STORES,
            region_max_keys: Self::DEFAULT_REGION_MAX_KEYS,
            lock_wait_timeout: Self::DEFAULT_LOCK_WAIT_TIMEOUT,
            tiflash: false,
            gc_life_time: Self::DEFAULT_GC_LIFE_TIME,
            api_version: ApiVersion::V1,
            keyspaces: Vec::new(),
            faults: Faults::default(),
            tls: None,
        }
    }
}

/// The shortest `gc_life_time` a workload or `serve` may set (the engine
/// takes any; tests use less).
pub const MIN_GC_LIFE_TIME: Duration = Duration::from_secs(1);

/// Faults the cluster injects while it runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Faults {
    /// Split a region (the one with the most keys) this often.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    pub split_every: Option<Duration>,
    /// Move a region's leadership to another of its peers this often.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    pub transfer_leader_every: Option<Duration>,
    /// Take one store offline for a window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_offline: Option<Outage>,
    /// Probability that a store answers a request with ServerIsBusy.
    #[serde(skip_serializing_if = "is_zero")]
    pub busy: f64,
    /// A window of ServerIsBusy answers (a store overloaded for a while),
    /// on top of the always-on `busy` probability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_burst: Option<BusyBurst>,
    /// The backoff those busy answers suggest (`backoff_ms`), as a TiKV
    /// store does when it asks writers to hold off (a proposal delayed
    /// while a snapshot backup prepares); zero sends no hint, as TiKV's
    /// scheduler-busy answer.
    #[serde(
        skip_serializing_if = "Duration::is_zero",
        serialize_with = "ser_duration"
    )]
    pub busy_backoff: Duration,
    /// Added to every store request by its cost class (see [`Cost`]), as
    /// time on the wire: it passes before the request reaches the store,
    /// so it does not count against the request's
    /// `max_execution_duration_ms`.
    #[serde(skip_serializing_if = "Latency::is_zero")]
    pub latency: Latency,
    /// Time every store request waits in the store before it runs (a
    /// scheduler or read pool queue). It counts against the request's
    /// `max_execution_duration_ms`: a request that waits past it is not
    /// carried out, as TiKV answers it.
    #[serde(
        skip_serializing_if = "Duration::is_zero",
        serialize_with = "ser_duration"
    )]
    pub queue_wait: Duration,
    /// Probability that each pair a raw scan or raw batch get would return
    /// comes back as an error in its place, as TiKV reports a read that
    /// failed for one pair (a `KvPair` carrying only its `error`).
    #[serde(skip_serializing_if = "is_zero")]
    pub pair_error: f64,
    /// The `transport_layer_load` every store reports in its
    /// `BatchCommands` answers, in place of its own figure (its requests
    /// in flight), so a client's "batch more when the store is loaded" path
    /// can be driven (TiKV's figure is its gRPC threads' CPU use in
    /// percent; client-go's threshold is 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_load: Option<u64>,
}

impl Faults {
    pub fn any(&self) -> bool {
        *self != Faults::default()
    }
}

/// What a store request costs on TiKV, for the latency fault: a write goes
/// through the scheduler and Raft (propose, replicate, apply) before it is
/// answered; a read is served from the leader's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Served from a snapshot: KvGet, KvBatchGet, KvScan, ScanLock, the
    /// raw reads (get, batch get, scan, batch scan, get key TTL).
    Read,
    /// Through the scheduler and Raft: Prewrite, Commit, PessimisticLock,
    /// PessimisticRollback, BatchRollback, Cleanup, ResolveLock,
    /// CheckTxnStatus, TxnHeartBeat, CheckSecondaryLocks, and the raw
    /// writes (put, batch put, delete, batch delete, delete range, CAS).
    Write,
}

/// The latency fault: time on the wire added to each store request by its
/// [`Cost`], at every store or at one (`store`). Written as one duration
/// (the same for both, every store) or as `{read: D, write: D, store: N}`;
/// serialized the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    pub read: Duration,
    pub write: Duration,
    /// Only this store (its id, 1-based, as the outage names stores) is
    /// slow; `None`: every store.
    pub store: Option<u32>,
}

impl Latency {
    /// The same latency for every request.
    pub const fn same(d: Duration) -> Latency {
        Latency {
            read: d,
            write: d,
            store: None,
        }
    }

    /// The latency of a request of this cost to store `store`.
    pub fn at(&self, cost: Cost, store: u64) -> Duration {
        match self.store {
            Some(s) if u64::from(s) != store => Duration::ZERO,
            _ => self.of(cost),
        }
    }

    /// The latency of a request of this cost.
    pub fn of(&self, cost: Cost) -> Duration {
        match cost {
            Cost::Read => self.read,
            Cost::Write => self.write,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.read.is_zero() && self.write.is_zero()
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.read == self.write && self.store.is_none() {
            return ser_duration(&self.read, s);
        }
        let text = |d: Duration| humantime::format_duration(d).to_string();
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("read", &text(self.read))?;
        m.serialize_entry("write", &text(self.write))?;
        if let Some(store) = self.store {
            m.serialize_entry("store", &store)?;
        }
        m.end()
    }
}

/// A store outage: store `store` (1-based) goes offline `after` the cluster
/// starts, for `duration`. Its regions' leaderships move to other stores
/// after `failover` (an election), unless `failover` is longer than the
/// outage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Outage {
    pub store: u32,
    #[serde(serialize_with = "ser_duration")]
    pub after: Duration,
    #[serde(rename = "for", serialize_with = "ser_duration")]
    pub duration: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub failover: Duration,
}

impl Outage {
    pub const DEFAULT_FAILOVER: Duration = Duration::from_millis(300);
}

/// A busy burst: from `after` the cluster starts, for `duration`, every
/// store answers each request ServerIsBusy with `probability` (default 1:
/// every request, so the burst is a clean outage of service that the
/// client backs off through; a lower one is a store that sheds part of its
/// load).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BusyBurst {
    #[serde(serialize_with = "ser_duration")]
    pub after: Duration,
    #[serde(rename = "for", serialize_with = "ser_duration")]
    pub duration: Duration,
    pub probability: f64,
}

impl BusyBurst {
    pub const DEFAULT_PROBABILITY: f64 = 1.0;
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}
