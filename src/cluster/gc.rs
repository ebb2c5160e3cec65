//! The GC worker: advances the GC safe point the way TiDB's GC worker does
//! (pingcap/tidb `pkg/store/gcworker/gc_worker.go`) and collects the
//! stores' old versions at it the way TiKV's GC manager does
//! (tikv `src/server/gc_worker/gc_manager.rs`).
//!
//! Every [`interval`] (a tenth of the life time, within 100 ms ..1 min) it
//! - computes a safe point: now minus `gc_life_time`, but never past the
//!   oldest start_ts among live locks (one below it) (TiDB's is never past the oldest
//!   running transaction's start_ts; the stand-in knows a transaction only
//!   by its locks), and never backwards (PD's UpdateGCSafePoint keeps the
//!   larger, as ours does);
//! - sweeps the key space at PD's safe point, a bounded number of keys per
//!   step, yielding between steps, so requests never wait for a pass;
//! - sweeps the raw key space the same way for expired TTL keys, which it
//!   removes (TiKV drops them in compaction, `src/server/ttl/`), so that
//!   a run writing keys with a TTL does not keep them in memory.
//!
//! A read below the safe point is not refused by the store (TiKV does not
//! check); the client refuses it after reading, as client-go's
//! `CheckVisibility` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ClusterState;
use crate::storage::tso::{compose, physical};

/// Keys collected per step before the worker yields.
pub const KEYS_PER_STEP: usize = 256;

/// What the GC worker did so far.
#[derive(Debug, Default)]
pub(crate) struct GcState {
    /// Whole sweeps of the key space finished.
    pub passes: AtomicU64,
}

/// How often the worker runs for a life time: a tenth of it, within
/// 100 ms ..=1 min.
pub fn interval(life_time: Duration) -> Duration {
    (life_time / 10).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// The safe point TiDB's GC worker would pick at `now_ts`: `now -
/// life_time`, but below `min_lock_ts` (one less, as TiDB's
/// `calcSafePointByMinStartTS`, so that transaction's own locks stay above
/// it).
pub fn safe_point_at(now_ts: u64, life_time: Duration, min_lock_ts: Option<u64>) -> u64 {
    let life_ms = u64::try_from(life_time.as_millis()).unwrap_or(u64::MAX);
    let sp = compose(physical(now_ts).saturating_sub(life_ms), 0);
    sp.min(min_lock_ts.map_or(u64::MAX, |ts| ts.saturating_sub(1)))
}

/// Advances PD's safe point (never backwards); returns it.
pub(crate) fn advance(shared: &ClusterState) -> u64 {
    let storage = &shared.storage;
    let candidate = safe_point_at(
        storage.timestamp(),
        shared.config.gc_life_time,
        storage.min_lock_ts(),
    );
    let old = shared.gc_safe_point.fetch_max(candidate, Ordering::AcqRel);
    old.max(candidate)
}

/// One sweep of the key space at PD's safe point, then of the raw key
/// space for expired keys, in steps; stops early at shutdown. Returns true
/// when the sweep finished.
pub(crate) async fn sweep(shared: &ClusterState) -> bool {
    let safe_point = shared.gc_safe_point.load(Ordering::Acquire);
    let mut from = Vec::new();
    loop {
        if *shared.shutdown.borrow() {
            return false;
        }
        let (_, next) = shared.storage.gc_step(safe_point, &from, KEYS_PER_STEP);
        match next {
            Some(k) => from = k,
            None => break,
        }
        tokio::task::yield_now().await;
    }
    let mut from = Vec::new();
    loop {
        if *shared.shutdown.borrow() {
            return false;
        }
        let (_, next) = shared.storage.raw().purge_expired(&from, KEYS_PER_STEP);
        match next {
            Some(k) => from = k,
            None => break,
        }
        tokio::task::yield_now().await;
    }
    shared.gc.passes.fetch_add(1, Ordering::Relaxed);
    true
}

/// The worker: advance, sweep, sleep; until shutdown.
pub(crate) async fn run(shared: Arc<ClusterState>) {
    let period = interval(shared.config.gc_life_time);
    let stop = shared.shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(period) => {}
        }
        advance(&shared);
        if !sweep(&shared).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safe_point_is_now_minus_the_life_time_but_not_past_a_lock() {
        let now = compose(100_000, 5);
        let life = Duration::from_secs(10);
        assert_eq!(safe_point_at(now, life, None), compose(90_000, 0));
        let lock = compose(80_000, 3);
        assert_eq!(safe_point_at(now, life, Some(lock)), lock - 1);
        assert_eq!(safe_point_at(compose(5, 0), life, None), 0);
    }

    #[test]
    fn the_interval_is_a_tenth_of_the_life_time_within_bounds() {
        assert_eq!(interval(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(
            interval(Duration::from_millis(50)),
            Duration::from_millis(100)
        );
        assert_eq!(interval(Duration::from_secs(3600)), Duration::from_secs(60));
    }
}
