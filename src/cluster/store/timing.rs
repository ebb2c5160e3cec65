//! The time a store spent on one request, reported in its answer's
//! `exec_details_v2` as TiKV reports it (`src/server/service/kv.rs`).
//!
//! Each request's copy of the [`Store`](super::Store) carries a [`StoreClock`]:
//! the gate starts it when the request arrives (after the injected wire
//! latency, which is time on the wire, not in the store), the gate's
//! injected queue wait and a pessimistic lock's wait for another
//! transaction are noted, and a read notes how long its storage call took.
//! When the handler's answer is ready, [`StoreClock::fill`] writes:
//!
//! - `time_detail_v2.total_rpc_wall_time_ns` (and `time_detail`'s copy):
//!   arrival to answer, for the RPCs TiKV times ([`UNARY_TIMED`] and
//!   [`BATCHED_TIMED`]: TiKV's two lists differ), region errors included;
//! - unless the answer is a region error, for a read `wait_wall_time_ns`
//!   (the queue wait: TiKV's read pool wait is there),
//!   `process_wall_time_ns` (the rest of the time since arrival),
//!   `kv_read_wall_time_ns` and `time_detail`'s milliseconds; for a write
//!   (a scheduler command) `wait_wall_time_ns` stays 0, as TiKV's tracker
//!   fills only process and suspend time for writes: the queue wait goes
//!   into `write_detail.latch_wait_nanos` (the scheduler's wait before the
//!   command runs) and a lock wait is in
//!   `write_detail.pessimistic_lock_wait_nanos`, and process is the rest.
//!
//! So the waits + process = total whenever there is a total, and the total
//! never covers the wire. TiKV fills these whatever `Context.record_time_stat`
//! says, and so does the stand-in.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::config::Cost;
use crate::proto::kvrpcpb::{self, ExecDetailsV2, TimeDetail, TimeDetailV2, WriteDetail};

/// The unary RPCs (tonic's method names) whose answers TiKV gives a total
/// (`handle_request!(..., has_time_detail)`). Not `kv_batch_get`: TiKV's
/// unary BatchGet fills wait, process and kv read but no total.
pub(super) const UNARY_TIMED: &[&str] = &[
    "kv_get",
    "kv_prewrite",
    "kv_pessimistic_lock",
    "kv_pessimistic_rollback",
    "kv_commit",
    "kv_batch_rollback",
    "kv_txn_heart_beat",
    "kv_check_txn_status",
    "kv_check_secondary_locks",
    "kv_scan_lock",
    "kv_resolve_lock",
];

/// The BatchCommands commands whose answers TiKV gives a total
/// (`handle_measures_for_batch_commands`): BatchGet is one, the two
/// rollbacks are not.
pub(super) const BATCHED_TIMED: &[&str] = &[
    "Get",
    "Prewrite",
    "Commit",
    "BatchGet",
    "ResolveLock",
    "PessimisticLock",
    "CheckTxnStatus",
    "TxnHeartBeat",
    "CheckSecondaryLocks",
];

/// One request's time in the store (see the module doc). A clone is a
/// fresh clock: each copy of a store serves a request of its own.
#[derive(Debug, Default)]
pub(crate) struct StoreClock {
    arrived: OnceLock<Instant>,
    /// Queued in the store before running (the injected queue wait).
    wait_ns: AtomicU64,
    /// A pessimistic lock's wait for another transaction's lock.
    lock_wait_ns: AtomicU64,
    /// The storage call's duration plus one (0: not a read).
    read_ns: AtomicU64,
}

impl Clone for StoreClock {
    fn clone(&self) -> StoreClock {
        StoreClock::default()
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl StoreClock {
    /// The request has arrived (the first call counts).
    pub(super) fn arrive(&self) {
        let _ = self.arrived.set(Instant::now());
    }

    /// It waited `d` in the store's queue before it could run.
    pub(super) fn queued(&self, d: Duration) {
        self.wait_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    /// It waited `d` for another transaction's lock (a pessimistic lock;
    /// the handler reports it in `write_detail` itself).
    pub(super) fn lock_waited(&self, d: Duration) {
        self.lock_wait_ns.fetch_add(nanos(d), Ordering::Relaxed);
    }

    /// Its storage read took `d`.
    pub(super) fn read(&self, d: Duration) {
        self.read_ns
            .store(nanos(d).saturating_add(1), Ordering::Relaxed);
    }

    /// Writes the time into `reply`, a request of `cost` (see the module
    /// doc), the total only when `total`. Nothing when the request never
    /// arrived.
    pub(super) fn fill<R: Timed>(&self, reply: &mut R, total: bool, cost: Cost) {
        let Some(arrived) = self.arrived.get() else {
            return;
        };
        let region_error = reply.is_region_error();
        let Some(slot) = reply.exec_details() else {
            return;
        };
        if region_error && !total {
            return;
        }
        // At least 1 ns: a total of 0 reads as none (proto3 has no
        // presence), and a paused clock can measure 0.
        let total_ns = nanos(arrived.elapsed()).max(1);
        let details = slot.get_or_insert_with(ExecDetailsV2::default);
        let v1 = details.time_detail.get_or_insert_with(TimeDetail::default);
        let v2 = details
            .time_detail_v2
            .get_or_insert_with(TimeDetailV2::default);
        if total {
            v1.total_rpc_wall_time_ns = total_ns;
            v2.total_rpc_wall_time_ns = total_ns;
        }
        if region_error {
            return;
        }
        let queued = self.wait_ns.load(Ordering::Relaxed).min(total_ns);
        if cost == Cost::Write {
            let locked = self.lock_wait_ns.load(Ordering::Relaxed);
            v2.process_wall_time_ns = total_ns.saturating_sub(queued + locked);
            let w = details
                .write_detail
                .get_or_insert_with(WriteDetail::default);
            w.latch_wait_nanos = queued;
            return;
        }
        let wait = queued;
        v2.wait_wall_time_ns = wait;
        v2.process_wall_time_ns = total_ns - wait;
        let read = self.read_ns.load(Ordering::Relaxed);
        if read > 0 {
            let read = (read - 1).min(total_ns - wait);
            v2.kv_read_wall_time_ns = read;
            v1.kv_read_wall_time_ms = read / 1_000_000;
            v1.wait_wall_time_ms = wait / 1_000_000;
            v1.process_wall_time_ms = (total_ns - wait) / 1_000_000;
        }
    }
}

/// An answer that may carry `exec_details_v2`.
pub(crate) trait Timed {
    /// Its `exec_details_v2`, if its message has one.
    fn exec_details(&mut self) -> Option<&mut Option<ExecDetailsV2>> {
        None
    }

    /// Whether it is a region error.
    fn is_region_error(&self) -> bool {
        false
    }
}

macro_rules! timed {
    (with: $($With:ident),*; without: $($Without:ident),* $(,)?) => {
        $(impl Timed for kvrpcpb::$With {
            fn exec_details(&mut self) -> Option<&mut Option<ExecDetailsV2>> {
                Some(&mut self.exec_details_v2)
            }

            fn is_region_error(&self) -> bool {
                self.region_error.is_some()
            }
        })*
        $(impl Timed for kvrpcpb::$Without {})*
    };
}

timed! {
    with: GetResponse, BatchGetResponse, PrewriteResponse, CommitResponse,
        PessimisticLockResponse, PessimisticRollbackResponse, BatchRollbackResponse,
        CheckTxnStatusResponse, CheckSecondaryLocksResponse, ResolveLockResponse,
        TxnHeartBeatResponse, ScanLockResponse;
    without: RawGetResponse, RawBatchGetResponse, RawPutResponse, RawBatchPutResponse,
        RawDeleteResponse, RawBatchDeleteResponse, RawScanResponse, RawBatchScanResponse,
        RawDeleteRangeResponse, RawCasResponse, RawGetKeyTtlResponse, ScanResponse,
        CleanupResponse,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(r: &kvrpcpb::GetResponse) -> TimeDetailV2 {
        let d = r.exec_details_v2.as_ref().expect("exec details");
        d.time_detail_v2.expect("time_detail_v2")
    }

    #[tokio::test(start_paused = true)]
    async fn the_total_runs_from_arrival_and_splits_into_wait_and_process() {
        let clock = StoreClock::default();
        let mut early = kvrpcpb::GetResponse::default();
        clock.fill(&mut early, true, Cost::Read);
        assert_eq!(early.exec_details_v2, None, "not arrived: nothing");
        clock.arrive();
        tokio::time::sleep(Duration::from_millis(5)).await;
        clock.queued(Duration::from_millis(5));
        tokio::time::sleep(Duration::from_millis(2)).await;
        clock.read(Duration::from_millis(1));
        let mut r = kvrpcpb::GetResponse::default();
        clock.fill(&mut r, true, Cost::Read);
        let t = v2(&r);
        assert_eq!(t.total_rpc_wall_time_ns, 7_000_000);
        assert_eq!(t.wait_wall_time_ns, 5_000_000);
        assert_eq!(t.process_wall_time_ns, 2_000_000);
        assert_eq!(t.kv_read_wall_time_ns, 1_000_000);
        let v1 = r.exec_details_v2.unwrap().time_detail.unwrap();
        assert_eq!(
            (
                v1.wait_wall_time_ms,
                v1.process_wall_time_ms,
                v1.kv_read_wall_time_ms
            ),
            (5, 2, 1)
        );
        assert_eq!(v1.total_rpc_wall_time_ns, 7_000_000);

        let mut untimed = kvrpcpb::GetResponse::default();
        clock.fill(&mut untimed, false, Cost::Read);
        assert_eq!(v2(&untimed).total_rpc_wall_time_ns, 0, "no total asked");
        assert_eq!(v2(&untimed).wait_wall_time_ns, 5_000_000);

        let mut refused = kvrpcpb::GetResponse {
            region_error: Some(Default::default()),
            ..Default::default()
        };
        clock.fill(&mut refused, true, Cost::Read);
        let t = v2(&refused);
        assert_eq!(
            t.total_rpc_wall_time_ns, 7_000_000,
            "a region error is timed"
        );
        assert_eq!((t.wait_wall_time_ns, t.process_wall_time_ns), (0, 0));
        assert_eq!(clock.clone().arrived.get(), None, "a clone is fresh");
    }

    /// A write (a scheduler command) reports its waits where TiKV does: in
    /// the write detail, its time detail's wait left 0.
    #[tokio::test(start_paused = true)]
    async fn a_writes_waits_go_into_its_write_detail_not_the_time_detail() {
        let clock = StoreClock::default();
        clock.arrive();
        tokio::time::sleep(Duration::from_millis(10)).await;
        clock.queued(Duration::from_millis(3));
        clock.lock_waited(Duration::from_millis(4));
        let mut r = kvrpcpb::PessimisticLockResponse {
            exec_details_v2: Some(ExecDetailsV2 {
                write_detail: Some(WriteDetail {
                    pessimistic_lock_wait_nanos: 4_000_000,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        clock.fill(&mut r, true, Cost::Write);
        let d = r.exec_details_v2.unwrap();
        let t = d.time_detail_v2.unwrap();
        assert_eq!(t.total_rpc_wall_time_ns, 10_000_000);
        assert_eq!(t.wait_wall_time_ns, 0, "TiKV leaves a write's wait 0");
        assert_eq!(t.process_wall_time_ns, 3_000_000, "the rest");
        let w = d.write_detail.unwrap();
        assert_eq!(w.latch_wait_nanos, 3_000_000);
        assert_eq!(w.pessimistic_lock_wait_nanos, 4_000_000);
    }
}
