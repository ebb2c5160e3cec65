//! Each worker's bookkeeping for the checks. The worker owns its
//! [`Tracker`] and tells it about every op it finishes (warmup included:
//! those ops change the data too) with its final outcome and its start and
//! end; no lock, no channel, no allocation per op except the first time a
//! key is written. At the end the worker hands over its [`WorkerLog`].
//!
//! Outcomes are judged as the checks need them:
//! - applied: the op succeeded; if an earlier attempt's outcome was unknown
//!   it may have been applied more than once (`extra` times at most);
//! - unknown: the op gave up after an attempt whose outcome is unknown, so
//!   it may have been applied up to once per attempt;
//! - failed: no attempt took effect.
//!
//! Memory grows with the keys written (readback), the accounts (bank) and
//! the critical sections (lock: 32 bytes each).

use std::collections::HashMap;
use std::time::Instant;

use super::config::{Checks, account_index};
use super::tag::Tag;
use crate::vocab::{Op, OpError, Outcome};

/// At most this many unknown-outcome writes are kept per key and worker;
/// past it, the key is left unjudged (anything could be there).
pub const MAX_UNKNOWN_PER_KEY: usize = 64;

/// One write to a key: a put of the tagged value (`None`: a delete), and
/// when the op ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWrite {
    pub tag: Option<Tag>,
    pub start: Instant,
    pub end: Instant,
}

/// What one worker did to one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLog {
    /// The worker's latest acknowledged write; its earlier ones all ended
    /// before this one started, so none of them can be the final value.
    pub acked: Option<KeyWrite>,
    /// Writes whose outcome is unknown (they may take effect at any time
    /// after they start).
    pub unknown: Vec<KeyWrite>,
    /// More unknown writes than kept.
    pub overflow: bool,
}

/// Counts of ops by fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fates {
    /// Applied (acknowledged).
    pub acked: u64,
    pub unknown: u64,
    pub failed: u64,
}

/// The bank check's view: net effect of the acknowledged transfers per
/// account, and the range the unknown ones may add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BankLog {
    pub fates: Fates,
    /// Per account: the sum of acknowledged credits minus debits.
    pub acked: Vec<i64>,
    /// Per account: the most the unknown applications may take away
    /// (negative) and add.
    pub unknown_down: Vec<i64>,
    pub unknown_up: Vec<i64>,
}

/// The inventory check's view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InventoryLog {
    pub fates: Fates,
    /// Decrements that found the stock sold out.
    pub sold_out: u64,
    /// The most decrements that may have been applied beyond the
    /// acknowledged ones.
    pub maybe: u64,
}

/// The lock check's view: each critical section, entry to exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockLog {
    pub fates: Fates,
    pub sections: Vec<(Instant, Instant)>,
}

/// The readback check's counts (the writes themselves are per key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub puts: Fates,
    pub deletes: Fates,
}

/// Everything one worker recorded, handed over once at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerLog {
    pub bank: BankLog,
    pub inventory: InventoryLog,
    pub lock: LockLog,
    pub writes: WriteCounts,
    /// Readback: per raw key, this worker's writes that may matter.
    pub keys: HashMap<Vec<u8>, KeyLog>,
}

/// How an op ended, as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
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

/// One worker's tracker (see the module doc).
#[derive(Debug)]
pub struct Tracker {
    on: bool,
    readback: bool,
    log: WorkerLog,
}

impl Tracker {
    /// A tracker for the checks that are on (does nothing when none is).
    pub fn new(checks: &Checks) -> Tracker {
        let accounts = checks.bank.map_or(0, |b| b.accounts as usize);
        Tracker {
            on: !checks.is_empty(),
            readback: checks.readback.is_some(),
            log: WorkerLog {
                bank: BankLog {
                    acked: vec![0; accounts],
                    unknown_down: vec![0; accounts],
                    unknown_up: vec![0; accounts],
                    ..BankLog::default()
                },
                ..WorkerLog::default()
            },
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
        if !self.on {
            return;
        }
        let retries = u64::from(attempts.saturating_sub(1));
        let fate = match result {
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
        };
        match *op {
            Op::Transfer {
                from, to, amount, ..
            } => self.transfer(from, to, amount, fate),
            Op::Decrement { .. } => self.decrement(fate),
            Op::Lease { .. } => {
                let l = &mut self.log.lock;
                match (fate, result) {
                    (Fate::Applied { .. }, Ok(Outcome::Held { entered, left })) => {
                        l.fates.acked += 1;
                        l.sections.push((*entered, *left));
                    }
                    (Fate::Failed, _) => l.fates.failed += 1,
                    _ => l.fates.unknown += 1,
                }
            }
            Op::Put { key, value } | Op::Cas { key, value } if self.readback => {
                let w = KeyWrite {
                    tag: Tag::read(value),
                    start,
                    end,
                };
                count(&mut self.log.writes.puts, fate);
                self.write(key, w, fate);
            }
            Op::BatchDelete { keys } if self.readback => {
                let w = KeyWrite {
                    tag: None,
                    start,
                    end,
                };
                count(&mut self.log.writes.deletes, fate);
                for k in keys {
                    self.write(k, w, fate);
                }
            }
            // Without readback no raw write is tracked; reads change
            // nothing; transactions write the transactional key space,
            // which no check reads back; the load phase's batches are
            // known from the load itself. Every op is named, so a new one
            // does not compile until it says what is recorded for it.
            Op::Put { .. } | Op::Cas { .. } | Op::BatchDelete { .. } => {}
            Op::Get { .. }
            | Op::Scan { .. }
            | Op::Txn { .. }
            | Op::BatchPut { .. }
            | Op::TxnBatchPut { .. } => {}
        }
    }

    fn transfer(&mut self, from: &[u8], to: &[u8], amount: i64, fate: Fate) {
        let b = &mut self.log.bank;
        count(&mut b.fates, fate);
        let (Some(f), Some(t)) = (account_index(from), account_index(to)) else {
            return;
        };
        let (f, t) = (f as usize, t as usize);
        if f >= b.acked.len() || t >= b.acked.len() {
            return;
        }
        let maybe = match fate {
            Fate::Applied { extra } => {
                b.acked[f] -= amount;
                b.acked[t] += amount;
                extra
            }
            Fate::NotApplied { maybe } | Fate::Unknown { maybe } => maybe,
            Fate::Failed => 0,
        };
        let maybe = i64::try_from(maybe).unwrap_or(i64::MAX);
        b.unknown_down[f] -= amount.saturating_mul(maybe);
        b.unknown_up[t] += amount.saturating_mul(maybe);
    }

    fn decrement(&mut self, fate: Fate) {
        let inv = &mut self.log.inventory;
        count(&mut inv.fates, fate);
        match fate {
            Fate::Applied { extra } => inv.maybe += extra,
            Fate::NotApplied { maybe } => {
                inv.sold_out += u64::from(maybe == 0);
                inv.maybe += maybe;
            }
            Fate::Unknown { maybe } => inv.maybe += maybe,
            Fate::Failed => {}
        }
    }

    fn write(&mut self, key: &[u8], w: KeyWrite, fate: Fate) {
        let applied = matches!(fate, Fate::Applied { .. });
        let unknown = matches!(fate, Fate::Unknown { .. } | Fate::NotApplied { maybe: 1.. });
        if !applied && !unknown {
            return;
        }
        let log = match self.log.keys.get_mut(key) {
            Some(log) => log,
            None => self.log.keys.entry(key.to_vec()).or_default(),
        };
        if applied {
            log.acked = Some(w);
        } else if log.unknown.len() < MAX_UNKNOWN_PER_KEY {
            log.unknown.push(w);
        } else {
            log.overflow = true;
        }
    }

    /// The log, for verification after the run.
    pub fn finish(self) -> WorkerLog {
        self.log
    }
}

/// Counts an op: acked when applied, unknown when it may have been; an op
/// that surely did nothing (a sold-out decrement, a lost cas) is not
/// counted.
fn count(f: &mut Fates, fate: Fate) {
    match fate {
        Fate::Applied { .. } => f.acked += 1,
        Fate::NotApplied { maybe: 0 } => {}
        Fate::NotApplied { .. } | Fate::Unknown { .. } => f.unknown += 1,
        Fate::Failed => f.failed += 1,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::vocab::{ErrorKind, LockMode};
    use crate::workload::SizeRange;
    use crate::workload::checks::config::{Bank, Empty, account_key};

    fn checks() -> Checks {
        Checks {
            bank: Some(Bank {
                accounts: 3,
                initial: 100,
                amount: SizeRange { min: 1, max: 1 },
                lock: LockMode::Optimistic,
                weight: 1,
            }),
            readback: Some(Empty {}),
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
        let op = Op::Transfer {
            from: &a,
            to: &b,
            amount: 5,
            lock: LockMode::Optimistic,
        };
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
            let op = Op::Put {
                key: &key,
                value: &v,
            };
            let r = if seq == 1 {
                Err(OpError::undetermined(ErrorKind::Timeout, "t"))
            } else {
                Ok(Outcome::Done)
            };
            t.record(&op, &r, seq == 1, 1, at(seq * 10));
        }
        let keys = [key.clone()];
        let failed = Err(OpError::new(ErrorKind::Unavailable, "down"));
        t.record(&Op::BatchDelete { keys: &keys }, &failed, false, 1, at(40));
        let log = t.finish();
        let k = &log.keys[&key];
        assert_eq!(k.acked.unwrap().tag, Some(Tag { worker: 1, seq: 2 }));
        assert_eq!(k.unknown.len(), 1);
        assert_eq!(k.unknown[0].tag, Some(Tag { worker: 1, seq: 1 }));
        assert_eq!(log.writes.puts.unknown, 1);
        assert_eq!(log.writes.deletes.failed, 1);
    }

    #[test]
    fn with_no_check_on_nothing_is_kept() {
        let mut t = Tracker::new(&Checks::default());
        let op = Op::Put {
            key: b"k",
            value: b"v",
        };
        t.record(&op, &Ok(Outcome::Done), false, 1, at(0));
        assert_eq!(t.finish(), WorkerLog::default());
    }
}
