//! What the client did on the way through one operation: region cache hits
//! and misses, every reroute by its reason, the time slept in backoff, and
//! each step in order ([`RpcLog`]).
//!
//! An op's sub-requests may run concurrently (a batch split by region), so
//! they count into shared [`RequestStats`]: a fixed array of relaxed atomics that
//! lives on the op's stack. Counting takes no lock and allocates nothing;
//! [`RequestStats::flush`] moves the non-zero counts into the worker's
//! [`Events`] once the op is over, and [`RpcLog::flush`] the steps into its
//! trace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::rpclog::RpcLog;
use crate::vocab::{ErrorKind, Events};

/// Why a request was sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reason {
    /// The store does not lead the region (with or without a hint).
    NotLeader,
    /// The region split or merged since it was cached.
    EpochNotMatch,
    /// The store does not know the region.
    RegionNotFound,
    /// A key lies outside the region the request named.
    KeyNotInRegion,
    /// The store could not be reached or answered `Unavailable`.
    StoreUnavailable,
    /// The address we hold for a store reaches another store.
    StoreNotMatch,
    /// PD knows the region but not its leader.
    NoLeader,
    /// Any other region error (stale command, region not initialised, ...).
    OtherRegionError,
    /// The store asked us to back off.
    ServerIsBusy,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::NotLeader,
        Reason::EpochNotMatch,
        Reason::RegionNotFound,
        Reason::KeyNotInRegion,
        Reason::StoreUnavailable,
        Reason::StoreNotMatch,
        Reason::NoLeader,
        Reason::OtherRegionError,
        Reason::ServerIsBusy,
    ];
    const COUNT: usize = Self::ALL.len();

    /// Its name in a trace.
    pub fn name(self) -> &'static str {
        match self {
            Reason::NotLeader => "not_leader",
            Reason::EpochNotMatch => "epoch_not_match",
            Reason::RegionNotFound => "region_not_found",
            Reason::KeyNotInRegion => "key_not_in_region",
            Reason::StoreUnavailable => "store_unavailable",
            Reason::StoreNotMatch => "store_not_match",
            Reason::NoLeader => "no_leader",
            Reason::OtherRegionError => "other_region_error",
            Reason::ServerIsBusy => "server_is_busy",
        }
    }

    /// The event counting retries for this reason.
    pub fn event(self) -> &'static str {
        match self {
            Reason::NotLeader => "reroute_not_leader",
            Reason::EpochNotMatch => "reroute_epoch_not_match",
            Reason::RegionNotFound => "reroute_region_not_found",
            Reason::KeyNotInRegion => "reroute_key_not_in_region",
            Reason::StoreUnavailable => "reroute_store_unavailable",
            Reason::StoreNotMatch => "reroute_store_not_match",
            Reason::NoLeader => "reroute_no_leader",
            Reason::OtherRegionError => "reroute_other_region_error",
            Reason::ServerIsBusy => "retry_server_is_busy",
        }
    }

    /// The event summing the backoff slept (µs) for this reason.
    pub fn backoff_event(self) -> &'static str {
        match self {
            Reason::NotLeader => "backoff_not_leader_us",
            Reason::EpochNotMatch => "backoff_epoch_not_match_us",
            Reason::RegionNotFound => "backoff_region_not_found_us",
            Reason::KeyNotInRegion => "backoff_key_not_in_region_us",
            Reason::StoreUnavailable => "backoff_store_unavailable_us",
            Reason::StoreNotMatch => "backoff_store_not_match_us",
            Reason::NoLeader => "backoff_no_leader_us",
            Reason::OtherRegionError => "backoff_other_region_error_us",
            Reason::ServerIsBusy => "backoff_server_is_busy_us",
        }
    }

    /// The driver's error kind when the retries run out.
    pub fn kind(self) -> ErrorKind {
        match self {
            Reason::NotLeader | Reason::NoLeader => ErrorKind::NotLeader,
            Reason::EpochNotMatch => ErrorKind::EpochNotMatch,
            Reason::RegionNotFound => ErrorKind::RegionNotFound,
            Reason::KeyNotInRegion => ErrorKind::KeyNotInRegion,
            Reason::StoreUnavailable | Reason::StoreNotMatch => ErrorKind::Unavailable,
            Reason::OtherRegionError => ErrorKind::Other,
            Reason::ServerIsBusy => ErrorKind::ServerIsBusy,
        }
    }
}

/// The event names of the cache counters.
pub const CACHE_HITS: &str = "region_cache_hits";
pub const CACHE_MISSES: &str = "region_cache_misses";

/// One op's counters (see the module doc).
#[derive(Debug, Default)]
pub struct RequestStats {
    hits: AtomicU64,
    misses: AtomicU64,
    retries: [AtomicU64; Reason::COUNT],
    backoff_us: [AtomicU64; Reason::COUNT],
    log: RpcLog,
}

impl RequestStats {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// A request sent again for `reason`.
    pub fn retry(&self, reason: Reason) {
        self.retries[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Time slept before a retry for `reason`.
    pub fn backoff(&self, reason: Reason, slept: Duration) {
        let us = u64::try_from(slept.as_micros()).unwrap_or(u64::MAX);
        self.backoff_us[reason as usize].fetch_add(us, Ordering::Relaxed);
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn retries(&self, reason: Reason) -> u64 {
        self.retries[reason as usize].load(Ordering::Relaxed)
    }

    /// Adds every non-zero count to `events` (and leaves these counts as
    /// they are).
    pub fn flush(&self, events: &mut Events) {
        let mut add = |name, a: &AtomicU64| {
            let n = a.load(Ordering::Relaxed);
            if n != 0 {
                events.add(name, n);
            }
        };
        add(CACHE_HITS, &self.hits);
        add(CACHE_MISSES, &self.misses);
        for r in Reason::ALL {
            add(r.event(), &self.retries[r as usize]);
            add(r.backoff_event(), &self.backoff_us[r as usize]);
        }
    }

    /// The op's steps, in the order they started.
    pub fn log(&self) -> &RpcLog {
        &self.log
    }

    /// Requests sent again, for any reason.
    pub fn total_retries(&self) -> u64 {
        self.retries.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_reports_only_what_happened() {
        let s = RequestStats::default();
        s.hit();
        s.hit();
        s.retry(Reason::NotLeader);
        s.backoff(Reason::ServerIsBusy, Duration::from_micros(1500));
        let mut ev = Events::default();
        s.flush(&mut ev);
        assert_eq!(ev.get(CACHE_HITS), 2);
        assert_eq!(ev.get("reroute_not_leader"), 1);
        assert_eq!(ev.get("backoff_server_is_busy_us"), 1500);
        assert_eq!(ev.iter().count(), 3);
        assert_eq!(s.total_retries(), 1, "every retry in the total");
    }

    #[test]
    fn reasons_are_listed_in_their_own_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
