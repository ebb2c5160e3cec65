//! Injected faults, set by [`Faults`] (a workload's `cluster.faults` or the
//! `serve` flags): periodic splits and leader transfers, a store outage
//! window with a failover, ServerIsBusy answers with a probability (and a
//! backoff hint), latency on every store request (by its read or write
//! cost), a wait in the store before each request runs, and raw read pairs
//! answered as errors.
//!
//! The per-request faults (outage, busy, latency, queue wait) are read by
//! the store service before it looks at a request, the pair errors by the
//! raw read handlers; the periodic ones are background
//! tasks that stop on shutdown. Every random choice comes from a seeded
//! generator and every wait is tokio time, so a paused-clock test sees the
//! same faults each run. What the faults did is counted for the snapshot,
//! and each fault event (a split, a leader transfer, the outage's steps, a
//! busy burst's start and end) is logged with the instant it happened, on
//! tokio's clock (a paused-clock test reads exact instants), for the run's
//! fault impact (see `metrics::impact`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::ClusterState;
use super::config::{BusyBurst, Cost, Faults, Outage};
use super::regions::Regions;
use super::split::{self, RegionKeys};
use crate::codec;

type Rng = Xoshiro256PlusPlus;

/// The split fault ranks regions by their keys counted up to this many (per
/// key space), so a tick costs little however large the data set.
const SPLIT_FAULT_COUNT_CAP: usize = 1024;

/// With more regions than this, the split fault ranks a seeded random
/// sample of this many.
const SPLIT_FAULT_SAMPLE: usize = 64;

/// The event log keeps at most this many events (a split every 10 ms
/// fills it in 100 s); later ones are counted, not kept.
pub const MAX_EVENTS: usize = 20_000;

/// One thing an injected fault did, and when (tokio's clock, as
/// [`crate::vocab::trace::now`] reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEvent {
    pub at: StdInstant,
    pub what: FaultWhat,
}

/// What a fault event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultWhat {
    /// Region `region` split; `new` is the region split off it (`region`
    /// is 0 when the split fell at a random key).
    Split { region: u64, new: u64 },
    /// Region `region`'s leadership moved from store `from` to `to`.
    LeaderTransfer { region: u64, from: u64, to: u64 },
    /// Store `store` went offline (the outage began).
    StoreOffline { store: u64 },
    /// The offline store's leaderships moved to other stores (`moved`).
    Failover { store: u64, moved: u64 },
    /// The offline store came back.
    StoreOnline { store: u64 },
    /// A busy burst began (ServerIsBusy with `probability`, per mille).
    BusyBurstStart { per_mille: u32 },
    /// The busy burst ended.
    BusyBurstEnd,
}

impl FaultWhat {
    /// The event's kind as results and thresholds name it.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultWhat::Split { .. } => "split",
            FaultWhat::LeaderTransfer { .. } => "leader_transfer",
            FaultWhat::StoreOffline { .. } => "store_offline",
            FaultWhat::Failover { .. } => "failover",
            FaultWhat::StoreOnline { .. } => "store_online",
            FaultWhat::BusyBurstStart { .. } => "busy_burst",
            FaultWhat::BusyBurstEnd => "busy_burst_end",
        }
    }

    /// What happened, in a few words.
    pub fn detail(&self) -> String {
        match *self {
            FaultWhat::Split { region: 0, new } => format!("new region {new}"),
            FaultWhat::Split { region, new } => format!("region {region}, new region {new}"),
            FaultWhat::LeaderTransfer { region, from, to } => {
                format!("region {region}: store {from} -> {to}")
            }
            FaultWhat::StoreOffline { store } => format!("store {store} offline"),
            FaultWhat::Failover { store, moved } => {
                format!("{moved} leaderships moved off store {store}")
            }
            FaultWhat::StoreOnline { store } => format!("store {store} back online"),
            FaultWhat::BusyBurstStart { per_mille } => {
                format!(
                    "ServerIsBusy on {:.1}% of requests",
                    f64::from(per_mille) / 10.0
                )
            }
            FaultWhat::BusyBurstEnd => "busy burst over".into(),
        }
    }
}

/// The fault events so far, oldest first, and how many were not kept.
#[derive(Debug, Default)]
struct EventLog {
    events: Vec<FaultEvent>,
    dropped: u64,
}

/// What the injected faults did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Regions split by the split fault.
    pub splits: u64,
    /// Leaderships moved by the transfer fault.
    pub leader_transfers: u64,
    /// Requests answered ServerIsBusy.
    pub busy_answers: u64,
    /// Requests not carried out because they waited in the store past
    /// their `max_execution_duration_ms` (answered as TiKV does).
    pub deadline_exceeded: u64,
    /// Raw read pairs answered as errors.
    pub pair_errors: u64,
    /// Requests answered `Unavailable` by an offline store.
    pub unavailable_answers: u64,
    /// Outage windows begun.
    pub outages: u64,
    /// Busy bursts begun.
    pub busy_bursts: u64,
    /// Leaderships moved off the offline store by failovers.
    pub failover_moves: u64,
}

#[derive(Debug, Default)]
struct Counters {
    splits: AtomicU64,
    leader_transfers: AtomicU64,
    busy_answers: AtomicU64,
    deadline_exceeded: AtomicU64,
    pair_errors: AtomicU64,
    unavailable_answers: AtomicU64,
    outages: AtomicU64,
    busy_bursts: AtomicU64,
    failover_moves: AtomicU64,
}

/// When the outage's steps happened, ms after the cluster started.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct OutageLog {
    offline_at_ms: Option<u64>,
    failover_at_ms: Option<u64>,
    online_at_ms: Option<u64>,
}

/// The fault settings and their live state.
#[derive(Debug)]
pub(crate) struct FaultState {
    faults: Faults,
    seed: AtomicU64,
    offline: HashMap<u64, AtomicBool>,
    /// The offline store whose leaderships have failed over (0: none):
    /// leaders of regions split off later move off it too.
    failed_over: AtomicU64,
    busy_rng: Mutex<Rng>,
    pair_rng: Mutex<Rng>,
    counters: Counters,
    outage: Mutex<OutageLog>,
    /// True while a busy burst is on.
    bursting: AtomicBool,
    burst_rng: Mutex<Rng>,
    events: Mutex<EventLog>,
}

impl FaultState {
    pub fn new(faults: &Faults, stores: &[u64], seed: u64) -> FaultState {
        FaultState {
            faults: faults.clone(),
            seed: AtomicU64::new(seed),
            offline: stores
                .iter()
                .map(|&s| (s, AtomicBool::new(false)))
                .collect(),
            failed_over: AtomicU64::new(0),
            busy_rng: Mutex::new(Rng::seed_from_u64(seed)),
            pair_rng: Mutex::new(pair_rng(seed)),
            counters: Counters::default(),
            outage: Mutex::new(OutageLog::default()),
            bursting: AtomicBool::new(false),
            burst_rng: Mutex::new(burst_rng(seed)),
            events: Mutex::new(EventLog::default()),
        }
    }

    pub fn reseed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        *self.busy_rng.lock().unwrap_or_else(|e| e.into_inner()) = Rng::seed_from_u64(seed);
        *self.pair_rng.lock().unwrap_or_else(|e| e.into_inner()) = pair_rng(seed);
        *self.burst_rng.lock().unwrap_or_else(|e| e.into_inner()) = burst_rng(seed);
    }

    /// Logs an event that happened now (tokio's clock).
    fn event(&self, what: FaultWhat) {
        let mut log = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if log.events.len() < MAX_EVENTS {
            let at = crate::vocab::trace::now();
            log.events.push(FaultEvent { at, what });
        } else {
            log.dropped += 1;
        }
    }

    /// The fault events so far, oldest first (at most [`MAX_EVENTS`]), and
    /// how many more happened but were not kept.
    pub fn events(&self) -> (Vec<FaultEvent>, u64) {
        let log = self.events.lock().unwrap_or_else(|e| e.into_inner());
        (log.events.clone(), log.dropped)
    }

    /// A generator for background task `n`, derived from the seed.
    fn task_rng(&self, n: u64) -> Rng {
        let seed = self.seed.load(Ordering::Relaxed);
        Rng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// True while `store` is in its outage window.
    pub fn is_offline(&self, store: u64) -> bool {
        self.offline
            .get(&store)
            .is_some_and(|f| f.load(Ordering::Acquire))
    }

    /// Counts a request refused by an offline store.
    pub fn note_unavailable(&self) {
        self.counters
            .unavailable_answers
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Latency to add to a request of this cost to store `store`.
    pub fn latency(&self, cost: Cost, store: u64) -> Duration {
        self.faults.latency.at(cost, store)
    }

    /// The transport load stores report to `BatchCommands` clients, if
    /// set (else each store reports its own).
    pub fn transport_load(&self) -> Option<u64> {
        self.faults.transport_load
    }

    /// Time a store request waits before it runs.
    pub fn queue_wait(&self) -> Duration {
        self.faults.queue_wait
    }

    /// Whether to answer this request ServerIsBusy (counted when true):
    /// with the `busy` probability, and inside a busy burst with the
    /// burst's.
    pub fn busy(&self) -> bool {
        let burst = match self.faults.busy_burst {
            Some(b) if self.bursting.load(Ordering::Acquire) => b.probability,
            _ => 0.0,
        };
        let busy = draw(&self.busy_rng, self.faults.busy) || draw(&self.burst_rng, burst);
        if busy {
            self.counters.busy_answers.fetch_add(1, Ordering::Relaxed);
        }
        busy
    }

    /// The backoff the busy answers suggest, ms (0: none).
    pub fn busy_backoff_ms(&self) -> u64 {
        self.faults.busy_backoff.as_millis() as u64
    }

    /// Whether to answer this pair of a raw read as an error (counted when
    /// true).
    pub fn pair_error(&self) -> bool {
        let error = draw(&self.pair_rng, self.faults.pair_error);
        if error {
            self.counters.pair_errors.fetch_add(1, Ordering::Relaxed);
        }
        error
    }

    /// Counts a request refused for waiting past its deadline.
    pub fn note_deadline_exceeded(&self) {
        self.counters
            .deadline_exceeded
            .fetch_add(1, Ordering::Relaxed);
    }

    /// After a split: a failed-over store leads nothing, new regions included.
    pub fn after_split(&self, regions: &Regions) {
        let store = self.failed_over.load(Ordering::Acquire);
        if store != 0 {
            regions.fail_over(store, |s| !self.is_offline(s));
        }
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounts {
            splits: g(&c.splits),
            leader_transfers: g(&c.leader_transfers),
            busy_answers: g(&c.busy_answers),
            deadline_exceeded: g(&c.deadline_exceeded),
            pair_errors: g(&c.pair_errors),
            unavailable_answers: g(&c.unavailable_answers),
            outages: g(&c.outages),
            busy_bursts: g(&c.busy_bursts),
            failover_moves: g(&c.failover_moves),
        }
    }

    pub fn snapshot(&self) -> Value {
        let outage = *self.outage.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "config": self.faults,
            "seed": self.seed.load(Ordering::Relaxed),
            "counts": self.counts(),
            "outage": self.faults.store_offline.map(|_| outage),
        })
    }

    fn set_offline(&self, store: u64, offline: bool) {
        if let Some(f) = self.offline.get(&store) {
            f.store(offline, Ordering::Release);
        }
    }

    fn log(&self, f: impl FnOnce(&mut OutageLog)) {
        f(&mut self.outage.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// True with probability `p`, drawn from `rng` (not drawn when `p` is 0).
fn draw(rng: &Mutex<Rng>, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let x: f64 = rng.lock().unwrap_or_else(|e| e.into_inner()).random();
    x < p
}

/// The pair errors' generator, apart from the busy answers' so that one
/// fault's draws do not shift the other's.
fn pair_rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed ^ 0x7061_6972_5f65_7272)
}

/// The busy burst's generator, apart from the always-on busy answers'.
fn burst_rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed ^ 0x6275_7273_745f_6275)
}

/// Starts the periodic faults, the outage and the busy burst, as
/// configured.
pub(crate) fn spawn(shared: &Arc<ClusterState>) -> Vec<JoinHandle<()>> {
    let faults = &shared.faults.faults;
    let mut tasks = Vec::new();
    if let Some(period) = faults.split_every {
        let rng = shared.faults.task_rng(1);
        tasks.push(tokio::spawn(every(shared.clone(), period, rng, split_one)));
    }
    if let Some(period) = faults.transfer_leader_every {
        let rng = shared.faults.task_rng(2);
        tasks.push(tokio::spawn(every(
            shared.clone(),
            period,
            rng,
            transfer_one,
        )));
    }
    if let Some(outage) = faults.store_offline {
        tasks.push(tokio::spawn(run_outage(shared.clone(), outage)));
    }
    if let Some(burst) = faults.busy_burst {
        tasks.push(tokio::spawn(run_busy_burst(shared.clone(), burst)));
    }
    tasks
}

/// Runs `f` every `period` until shutdown.
async fn every(
    shared: Arc<ClusterState>,
    period: Duration,
    mut rng: Rng,
    f: fn(&ClusterState, &mut Rng),
) {
    let stop = shared.shutdown_signal();
    tokio::pin!(stop);
    let period = period.max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => f(&shared, &mut rng),
        }
    }
}

/// Splits the region with the most keys (among a sample when there are
/// many) at its middle; when none has two keys, splits wherever a random
/// key falls.
fn split_one(shared: &ClusterState, rng: &mut Rng) {
    let mut regions = shared.regions.all();
    while regions.len() > SPLIT_FAULT_SAMPLE {
        regions.swap_remove(rng.random_range(0..regions.len()));
    }
    let busiest = regions
        .into_iter()
        .map(|r| {
            let n = RegionKeys::collect(shared, &r, SPLIT_FAULT_COUNT_CAP).len();
            (n, r.id)
        })
        .max_by_key(|&(n, id)| (n, std::cmp::Reverse(id)));
    let at_middle = busiest
        .filter(|&(n, _)| n >= 2)
        .and_then(|(_, id)| match split::split_middle(shared, id) {
            Ok(Some(new)) => Some(FaultWhat::Split { region: id, new }),
            _ => None,
        });
    // Up to 8 random keys, until one lands inside a region and splits it.
    let split = at_middle.or_else(|| {
        (0..8).find_map(|_| {
            let key: [u8; 8] = rng.random();
            let new = split::split_at(shared, &codec::encode(&key)).ok()?;
            Some(FaultWhat::Split { region: 0, new })
        })
    });
    if let Some(what) = split {
        let state = &shared.faults;
        state.counters.splits.fetch_add(1, Ordering::Relaxed);
        state.event(what);
    }
}

/// Moves a random region's leadership to another of its peers on a store
/// that is up.
fn transfer_one(shared: &ClusterState, rng: &mut Rng) {
    let regions = shared.regions.all();
    if regions.is_empty() {
        return;
    }
    let region = &regions[rng.random_range(0..regions.len())];
    let candidates: Vec<u64> = region
        .voters()
        .map(|p| p.store_id)
        .filter(|&s| s != region.leader && !shared.faults.is_offline(s))
        .collect();
    if candidates.is_empty() {
        return;
    }
    let to = candidates[rng.random_range(0..candidates.len())];
    if shared.regions.transfer_leader(region.id, to).is_ok() {
        let state = &shared.faults;
        state
            .counters
            .leader_transfers
            .fetch_add(1, Ordering::Relaxed);
        state.event(FaultWhat::LeaderTransfer {
            region: region.id,
            from: region.leader,
            to,
        });
    }
}

/// Takes the store offline `after` the start, fails its leaderships over
/// after `failover` (if that comes before the end), and brings it back
/// after `duration`.
async fn run_outage(shared: Arc<ClusterState>, outage: Outage) {
    let stop = shared.shutdown_signal();
    tokio::pin!(stop);
    let start = Instant::now();
    let state = &shared.faults;
    let store = u64::from(outage.store);
    let ms = move || start.elapsed().as_millis() as u64;
    let begin = start + outage.after;
    let end = begin + outage.duration;
    tokio::select! {
        _ = &mut stop => return,
        _ = tokio::time::sleep_until(begin) => {}
    }
    state.set_offline(store, true);
    state.counters.outages.fetch_add(1, Ordering::Relaxed);
    state.log(|l| l.offline_at_ms = Some(ms()));
    state.event(FaultWhat::StoreOffline { store });
    if outage.failover < outage.duration {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep_until(begin + outage.failover) => {}
        }
        let moved = shared.regions.fail_over(store, |s| !state.is_offline(s));
        state.failed_over.store(store, Ordering::Release);
        state
            .counters
            .failover_moves
            .fetch_add(moved as u64, Ordering::Relaxed);
        state.log(|l| l.failover_at_ms = Some(ms()));
        state.event(FaultWhat::Failover {
            store,
            moved: moved as u64,
        });
    }
    tokio::select! {
        _ = &mut stop => return,
        _ = tokio::time::sleep_until(end) => {}
    }
    state.failed_over.store(0, Ordering::Release);
    state.set_offline(store, false);
    state.log(|l| l.online_at_ms = Some(ms()));
    state.event(FaultWhat::StoreOnline { store });
}

/// Turns the busy burst on `after` the start and off `for` later.
async fn run_busy_burst(shared: Arc<ClusterState>, burst: BusyBurst) {
    let stop = shared.shutdown_signal();
    tokio::pin!(stop);
    let begin = Instant::now() + burst.after;
    let state = &shared.faults;
    tokio::select! {
        _ = &mut stop => return,
        _ = tokio::time::sleep_until(begin) => {}
    }
    state.bursting.store(true, Ordering::Release);
    state.counters.busy_bursts.fetch_add(1, Ordering::Relaxed);
    let per_mille = (burst.probability * 1000.0).round() as u32;
    state.event(FaultWhat::BusyBurstStart { per_mille });
    tokio::select! {
        _ = &mut stop => return,
        _ = tokio::time::sleep_until(begin + burst.duration) => {}
    }
    state.bursting.store(false, Ordering::Release);
    state.event(FaultWhat::BusyBurstEnd);
}
