//! `txn`: a transaction that snapshot-reads `reads` keys, then
//! read-modify-writes `writes` keys (locking each first when pessimistic),
//! and commits (`commit: 2pc | async | 1pc`); all keys distinct, drawn
//! from the distribution, in the transactional key space.

use serde::Serialize;

use super::{Api, Effect, Fields, OpDef};
use crate::backend::{Kv, Operation, Transaction};
use crate::vocab::{CommitMode, Events, LockMode, OpError, Outcome, TxnMode};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub const DEFAULT_WRITES: u32 = 2;

pub struct TxnOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TxnParams {
    /// Keys read.
    pub reads: u32,
    /// Keys read and rewritten.
    pub writes: u32,
    pub lock: LockMode,
    pub commit: CommitMode,
}

#[derive(Debug, Clone, Copy)]
pub struct TxnArgs<'a> {
    pub reads: &'a [Vec<u8>],
    pub writes: &'a [Vec<u8>],
    pub value: &'a [u8],
    pub lock: LockMode,
    pub commit: CommitMode,
}

/// The lock modes by name.
pub const LOCK_MODES: &[(&str, LockMode)] = &[
    ("optimistic", LockMode::Optimistic),
    ("pessimistic", LockMode::Pessimistic),
];

/// The commit modes by name.
pub const COMMIT_MODES: &[(&str, CommitMode)] = &[
    ("2pc", CommitMode::TwoPc),
    ("async", CommitMode::Async),
    ("1pc", CommitMode::OnePc),
];

impl OpDef for TxnOp {
    const NAME: &'static str = "txn";
    const FIELDS: &'static [&'static str] = &["reads", "writes", "lock", "commit"];
    const API: Api = Api::Txn;
    type Params = TxnParams;
    type Args<'a> = TxnArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, keys: &KeySpace) -> TxnParams {
        let reads: u32 = fields.int(c, "reads", (0, 1000), 0);
        let writes: u32 = fields.int(c, "writes", (0, 1000), DEFAULT_WRITES);
        if reads + writes == 0 {
            fields.err(c, "a txn needs at least one read or write");
        } else if u64::from(reads + writes) > keys.records {
            fields.err(
                c,
                format!(
                "a txn of {} distinct keys needs at least that many records, the key space has {}",
                reads + writes,
                keys.records
                ),
            );
        }
        let lock = fields.choice(c, "lock", LOCK_MODES, LockMode::Optimistic);
        let commit = fields.choice(c, "commit", COMMIT_MODES, CommitMode::TwoPc);
        TxnParams {
            reads,
            writes,
            lock,
            commit,
        }
    }

    /// With readback on, the value a txn writes to all its keys is tagged.
    fn tagged(p: &TxnParams) -> bool {
        p.writes > 0
    }

    fn draw(p: &TxnParams, draw: &mut Draw) {
        draw.distinct(p.writes as usize, p.reads as usize);
        draw.value();
    }

    fn args<'a>(p: &TxnParams, draw: &'a Draw) -> TxnArgs<'a> {
        TxnArgs {
            reads: draw.reads_buf(),
            writes: draw.keys_buf(),
            value: draw.value_buf(),
            lock: p.lock,
            commit: p.commit,
        }
    }

    fn effect<'a>(a: &Self::Args<'a>) -> Effect<'a> {
        if a.writes.is_empty() {
            return Effect::None;
        }
        Effect::TxnPut {
            keys: a.writes,
            value: a.value,
        }
    }
}

impl Operation for TxnArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        let mode = TxnMode {
            lock: self.lock,
            commit: self.commit,
        };
        let mut txn = kv.begin(mode).await?;
        for k in self.reads {
            txn.get(k, events).await?;
        }
        for k in self.writes {
            match self.lock {
                LockMode::Optimistic => txn.get(k, events).await?,
                LockMode::Pessimistic => txn.get_for_update(k, events).await?,
            };
            txn.put(k, self.value);
        }
        txn.commit(events).await?;
        Ok(Outcome::Done)
    }
}
