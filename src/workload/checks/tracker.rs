//! Each worker's bookkeeping for the checks. The worker owns its
//! [`Tracker`] and tells it about every op it finishes (warmup included:
//! those ops change the data too) with its final outcome and its start and
//! end; each check that is on records what it needs into its own log
//! ([`Check::record`](super::Check::record)): no lock, no channel, no
//! allocation per op except the first time a key is written. At the end
//! the worker hands over its [`WorkerLog`].
//!
//! Outcomes are judged as the checks need them:
//! - applied: the op succeeded; if an earlier attempt's outcome was unknown
//!   it may have been applied more than once (`extra` times at most);
//! - unknown: the op gave up after an attempt whose outcome is unknown, so
//!   it may have been applied up to once per attempt;
//! - failed: no attempt took effect.

use std::time::Instant;

use super::{Checks, Done, Logs, WorkerLog};
use crate::vocab::{OpError, Outcome};
use crate::workload::ops::Op;

/// Counts of ops by fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fates {
    /// Applied (acknowledged).
    pub acked: u64,
    pub unknown: u64,
    pub failed: u64,
}

impl Fates {
    /// Counts an op: acked when applied, unknown when it may have been; an
    /// op that surely did nothing (a sold-out decrement, a lost cas) is not
    /// counted.
    pub fn count(&mut self, fate: Fate) {
        match fate {
            Fate::Applied { .. } => self.acked += 1,
            Fate::NotApplied { maybe: 0 } => {}
            Fate::NotApplied { .. } | Fate::Unknown { .. } => self.unknown += 1,
            Fate::Failed => self.failed += 1,
        }
    }

    /// Adds another worker's counts.
    pub fn add(&mut self, other: &Fates) {
        self.acked += other.acked;
        self.unknown += other.unknown;
        self.failed += other.failed;
    }
}

/// How an op ended, as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Took effect, and perhaps `extra` more times.
    Applied {
        extra: u64,
    },
    /// Did not take effect (a sold-out decrement, a lost cas), unless an
    /// earlier attempt with an unknown outcome did, up to `maybe` times.
    NotApplied {
        maybe: u64,
    },
    /// May have taken effect up to `maybe` times.
    Unknown {
        maybe: u64,
    },
    Failed,
}

impl Fate {
    /// The fate of an op from its final result, whether some attempt's
    /// outcome was unknown, and how many attempts it took.
    pub fn of(result: &Result<Outcome, OpError>, undetermined: bool, attempts: u32) -> Fate {
        let retries = u64::from(attempts.saturating_sub(1));
        match result {
            Ok(Outcome::Mismatch) => Fate::NotApplied {
                maybe: if undetermined { retries } else { 0 },
            },
            Ok(_) => Fate::Applied {
                extra: if undetermined { retries } else { 0 },
            },
            Err(e) if undetermined || e.undetermined => Fate::Unknown {
                maybe: u64::from(attempts.max(1)),
            },
            Err(_) => Fate::Failed,
        }
    }
}

/// One worker's tracker (see the module doc).
#[derive(Debug)]
pub struct Tracker {
    logs: Option<Logs>,
}

impl Tracker {
    /// A tracker for the checks that are on (does nothing when none is).
    pub fn new(checks: &Checks) -> Tracker {
        Tracker {
            logs: (!checks.is_empty()).then(|| Logs::new(checks)),
        }
    }

    /// Records a finished op: its final result, whether some attempt's
    /// outcome was unknown, how many attempts it took, and when it ran.
    #[inline]
    pub fn record(
        &mut self,
        op: &Op<'_>,
        result: &Result<Outcome, OpError>,
        undetermined: bool,
        attempts: u32,
        (start, end): (Instant, Instant),
    ) {
        let Some(logs) = &mut self.logs else {
            return;
        };
        logs.record(&Done {
            op,
            result,
            fate: Fate::of(result, undetermined, attempts),
            start,
            end,
        });
    }

    /// The log, for verification after the run.
    pub fn finish(self) -> WorkerLog {
        self.logs.map(Logs::finish).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::vocab::{ErrorKind, LockMode};
    use crate::workload::SizeRange;
    use crate::workload::checks::bank::{Transfer, account_key};
    use crate::workload::checks::tag::Tag;
    use crate::workload::checks::{Bank, CheckOp, Readback};
    use crate::workload::ops::{batch_delete, put};

    fn checks() -> Checks {
        Checks {
            bank: Some(Bank {
                accounts: 3,
                initial: 100,
                amount: SizeRange { min: 1, max: 1 },
                lock: LockMode::Optimistic,
                commit: Default::default(),
                weight: 1,
            }),
            readback: Some(Readback {}),
            ..Checks::default()
        }
    }

    fn at(ms: u64) -> (Instant, Instant) {
        let base = Instant::now();
        (
            base + Duration::from_millis(ms),
            base + Duration::from_millis(ms + 1),
        )
    }

    #[test]
    fn transfers_add_up_per_account_and_unknown_ones_widen_the_range() {
        let mut t = Tracker::new(&checks());
        let (a, b) = (account_key(0), account_key(2));
        let op = Op::Check(CheckOp::Bank(Transfer {
            from: &a,
            to: &b,
            amount: 5,
            lock: LockMode::Optimistic,
            commit: Default::default(),
        }));
        t.record(&op, &Ok(Outcome::Done), false, 1, at(0));
        t.record(&op, &Ok(Outcome::Done), true, 3, at(2));
        let timeout = Err(OpError::undetermined(ErrorKind::Timeout, "t"));
        t.record(&op, &timeout, true, 2, at(4));
        let busy = Err(OpError::new(ErrorKind::ServerIsBusy, "b"));
        t.record(&op, &busy, false, 5, at(6));
        let log = t.finish();
        assert_eq!(log.bank.acked, vec![-10, 0, 10]);
        assert_eq!(log.bank.unknown_down, vec![-20, 0, 0]);
        assert_eq!(log.bank.unknown_up, vec![0, 0, 20]);
        assert_eq!(
            log.bank.fates,
            Fates {
                acked: 2,
                unknown: 1,
                failed: 1
            }
        );
    }

    #[test]
    fn a_key_keeps_the_latest_acked_write_and_every_unknown_one() {
        let mut t = Tracker::new(&checks());
        let mut v = vec![0u8; 20];
        let key = b"user1".to_vec();
        for seq in 0..3 {
            Tag { worker: 1, seq }.write(&mut v);
            let op = Op::Put(put::PutArgs {
                key: &key,
                value: &v,
                ttl: None,
            });
            let r = if seq == 1 {
                Err(OpError::undetermined(ErrorKind::Timeout, "t"))
            } else {
                Ok(Outcome::Done)
            };
            t.record(&op, &r, seq == 1, 1, at(seq * 10));
        }
        let keys = [key.clone()];
        let failed = Err(OpError::new(ErrorKind::Unavailable, "down"));
        let delete = Op::BatchDelete(batch_delete::BatchDeleteArgs { keys: &keys });
        t.record(&delete, &failed, false, 1, at(40));
        let log = t.finish();
        let k = &log.readback.keys[&key];
        assert_eq!(k.acked.unwrap().tag, Some(Tag { worker: 1, seq: 2 }));
        assert_eq!(k.unknown.len(), 1);
        assert_eq!(k.unknown[0].tag, Some(Tag { worker: 1, seq: 1 }));
        assert_eq!(log.readback.writes.puts.unknown, 1);
        assert_eq!(log.readback.writes.deletes.failed, 1);
    }

    #[test]
    fn with_no_check_on_nothing_is_kept() {
        let mut t = Tracker::new(&Checks::default());
        let op = Op::Put(put::PutArgs {
            key: b"k",
            value: b"v",
            ttl: None,
        });
        t.record(&op, &Ok(Outcome::Done), false, 1, at(0));
        assert_eq!(t.finish(), WorkerLog::default());
    }
}
