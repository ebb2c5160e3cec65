//! Region splits: the split checker (a background task that splits any
//! region holding more than `region_max_keys` keys at its middle key) and
//! the on-demand splits behind `Cluster::split_at` and `split_region`.
//!
//! A region's keys are its raw keys (compared with its bounds as bytes) plus
//! its transactional keys (those whose encoding lies inside). Every split
//! key is the memcomparable encoding of a user key and lies strictly inside
//! the region, so the transactional client can decode every bound.
//!
//! The checker looks only at regions the stores marked as written since its
//! last look, so an idle or read-only cluster costs it nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::ClusterState;
use super::regions::{Region, TableError};
use crate::codec;
use crate::txn_types::SnapshotScan;
use crate::vocab::ApiVersion;

/// Why a split was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// No region has this id. Cause: the id was never handed out (region ids
    /// are never retired: a split keeps the old id for the right part).
    #[error("region {0} not found")]
    RegionNotFound(u64),
    /// The region table refused the split key. Cause: the key is a region's
    /// start key, or the region changed under a concurrent split. Fix: pick
    /// a key strictly inside one region.
    #[error("cannot split at '{key}': {reason}")]
    Refused {
        /// The split key, escaped.
        key: String,
        /// What the region table said.
        reason: TableError,
    },
}

/// The checker's work list and what it did.
#[derive(Debug, Default)]
pub(crate) struct SplitState {
    /// Regions written since the checker last looked.
    dirty: Mutex<HashSet<u64>>,
    /// Splits the checker made.
    pub count: AtomicU64,
}

impl SplitState {
    /// Notes that region `id` took writes.
    pub fn mark(&self, id: u64) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id);
    }

    fn take(&self) -> Vec<u64> {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<u64> = dirty.drain().collect();
        ids.sort_unstable();
        ids
    }
}

/// Splits the region holding `bound` at `bound` (an encoded key).
pub(crate) fn split_at(shared: &ClusterState, bound: &[u8]) -> Result<u64, SplitError> {
    let region = shared.regions.locate(bound);
    split(shared, region.id, bound)
}

/// Splits region `id` at the middle of its keys; `Ok(None)` when it holds
/// fewer than two keys or no key gives a bound strictly inside it.
pub(crate) fn split_middle(shared: &ClusterState, id: u64) -> Result<Option<u64>, SplitError> {
    let region = shared
        .regions
        .get(id)
        .ok_or(SplitError::RegionNotFound(id))?;
    let keys = RegionKeys::collect(shared, &region, usize::MAX);
    match keys.middle(&region) {
        Some(bound) => split(shared, id, &bound).map(Some),
        None => Ok(None),
    }
}

fn split(shared: &ClusterState, id: u64, bound: &[u8]) -> Result<u64, SplitError> {
    let new_id = shared
        .regions
        .split(id, bound)
        .map_err(|reason| SplitError::Refused {
            key: bound.escape_ascii().to_string(),
            reason,
        })?;
    shared.faults.after_split(&shared.regions);
    Ok(new_id)
}

/// The keys of a region in both key spaces.
#[derive(Debug, Default)]
pub(crate) struct RegionKeys {
    pub raw: Vec<Vec<u8>>,
    pub txn: Vec<Vec<u8>>,
}

impl RegionKeys {
    /// At most `cap` keys of each space, in order. Transactional keys are
    /// those with a value or a lock at the newest version; raw keys are
    /// placed by their encoding under API V2, as they are otherwise.
    pub fn collect(shared: &ClusterState, region: &Region, cap: usize) -> RegionKeys {
        let storage = &shared.storage;
        let (lo, hi) = match shared.config.api_version {
            ApiVersion::V2 => region.user_range(),
            _ => (region.start.clone(), region.end.clone()),
        };
        let raw = storage
            .raw()
            .scan(&lo, &hi, cap, true, false)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let (start, end) = region.user_range();
        let txn = storage
            .kv_scan(&SnapshotScan {
                start: &start,
                end: &end,
                limit: cap,
                version: u64::MAX,
                key_only: true,
                reverse: false,
                resolved_locks: &[],
            })
            .into_iter()
            .map(|p| p.key)
            .collect();
        RegionKeys { raw, txn }
    }

    pub fn len(&self) -> usize {
        self.raw.len() + self.txn.len()
    }

    /// A split bound near the middle of the larger key space: the encoding
    /// of one of its keys, strictly inside `region`.
    pub fn middle(&self, region: &Region) -> Option<Vec<u8>> {
        let side = if self.raw.len() >= self.txn.len() {
            &self.raw
        } else {
            &self.txn
        };
        let n = side.len();
        if n < 2 {
            return None;
        }
        // The median first; a raw key's encoding can reach the region's end
        // (raw `k` < end == encode(k)), so fall back to other keys.
        [n / 2, n / 4, n - n / 4 - 1, 1]
            .into_iter()
            .filter(|&i| i >= 1 && i < n)
            .map(|i| codec::encode(&side[i]))
            .find(|b| strictly_inside(region, b))
    }
}

fn strictly_inside(region: &Region, bound: &[u8]) -> bool {
    bound > region.start.as_slice() && (region.end.is_empty() || bound < region.end.as_slice())
}

/// The split checker: every `every`, splits each region written since the
/// last look while it holds more than `region_max_keys` keys.
pub(crate) async fn run_checker(shared: Arc<ClusterState>, every: Duration) {
    let stop = shared.shutdown_signal();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => check(&shared),
        }
    }
}

/// One look at the regions written since the last.
pub(crate) fn check(shared: &ClusterState) {
    let max = shared.config.region_max_keys;
    let cap = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let mut queue = shared.splits.take();
    while let Some(id) = queue.pop() {
        let Some(region) = shared.regions.get(id) else {
            continue;
        };
        if (RegionKeys::collect(shared, &region, cap).len() as u64) <= max {
            continue;
        }
        if let Ok(Some(new_id)) = split_middle(shared, id) {
            shared.splits.count.fetch_add(1, Ordering::Relaxed);
            // Either half may still be too large (a bulk load).
            queue.push(id);
            queue.push(new_id);
        }
    }
}
