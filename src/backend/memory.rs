//! The simplest backend: two ordered maps (raw and transactional key
//! spaces) behind reader-writer locks. Transactions run atomically under the
//! write lock, so they never conflict. It measures the harness, not a
//! database; the storage engine replaces it for anything about contention.
//!
//! The check ops follow suit: transfers and decrements run under the write
//! lock of their key space (the mode only picks the space), and the lock
//! check's lease is a compare-and-swap in either mode.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use super::ops::{FREE, critical_section, held_by, holder, unix_ms, usable};
use super::{Backend, TargetInfo};
use crate::vocab::{CheckMode, ErrorKind, Events, Op, OpError, Outcome, Pair};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Default)]
pub struct MemoryBackend {
    raw: RwLock<Map>,
    txn: RwLock<Map>,
}

impl MemoryBackend {
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Number of keys in the raw and transactional key spaces.
    pub fn len(&self) -> (usize, usize) {
        (read(&self.raw).len(), read(&self.txn).len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Reads a raw key directly (for tests and checks).
    pub fn raw_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.raw).get(key).cloned()
    }

    /// Reads a transactional key directly (for tests and checks).
    pub fn txn_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        read(&self.txn).get(key).cloned()
    }

    fn apply(&self, op: Op<'_>, events: &mut Events) -> Outcome {
        match op {
            Op::Get { key } => match read(&self.raw).get(key) {
                Some(_) => Outcome::Done,
                None => Outcome::NotFound,
            },
            Op::Put { key, value } => {
                write(&self.raw).insert(key.to_vec(), value.to_vec());
                Outcome::Done
            }
            Op::Scan { start, limit } => {
                let map = read(&self.raw);
                let rows = map.range(start.to_vec()..).take(limit as usize).count();
                events.add("rows", rows as u64);
                Outcome::Done
            }
            Op::BatchDelete { keys } => {
                let mut map = write(&self.raw);
                for k in keys {
                    map.remove(k);
                }
                Outcome::Done
            }
            Op::Cas { key, value } => {
                // Read, then swap if unchanged: under one write lock the
                // comparison always holds, so only the absent case differs.
                let mut map = write(&self.raw);
                map.insert(key.to_vec(), value.to_vec());
                Outcome::Done
            }
            Op::Txn {
                reads,
                writes,
                value,
                ..
            } => {
                let mut map = write(&self.txn);
                for k in reads {
                    let _ = map.get(k);
                }
                for k in writes {
                    map.insert(k.clone(), value.to_vec());
                }
                Outcome::Done
            }
            Op::BatchPut { pairs } => {
                let mut map = write(&self.raw);
                for (k, v) in pairs {
                    map.insert(k.clone(), v.clone());
                }
                Outcome::Done
            }
            Op::TxnBatchPut { pairs } => {
                let mut map = write(&self.txn);
                for (k, v) in pairs {
                    map.insert(k.clone(), v.clone());
                }
                Outcome::Done
            }
            Op::Transfer { .. } | Op::Decrement { .. } | Op::Lease { .. } => {
                unreachable!("check ops run in check_op")
            }
        }
    }

    fn space(&self, mode: CheckMode) -> &RwLock<Map> {
        match mode {
            CheckMode::Cas => &self.raw,
            CheckMode::Optimistic | CheckMode::Pessimistic => &self.txn,
        }
    }

    async fn check_op(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        match op {
            Op::Transfer {
                from, to, amount, ..
            } => {
                let mut map = write(&self.txn);
                let (a, b) = (number(&map, from)?, number(&map, to)?);
                map.insert(from.to_vec(), (a - amount).to_string().into_bytes());
                map.insert(to.to_vec(), (b + amount).to_string().into_bytes());
                Ok(Outcome::Done)
            }
            Op::Decrement { key, mode } => {
                let mut map = write(self.space(mode));
                let stock = number(&map, key)?;
                if stock <= 0 {
                    return Ok(Outcome::Mismatch);
                }
                map.insert(key.to_vec(), (stock - 1).to_string().into_bytes());
                Ok(Outcome::Done)
            }
            Op::Lease {
                key,
                owner,
                lease,
                hold,
                mode,
            } => {
                self.lease(self.space(mode), (key, owner, lease, hold), events)
                    .await
            }
            Op::Get { .. }
            | Op::Put { .. }
            | Op::Scan { .. }
            | Op::BatchDelete { .. }
            | Op::Cas { .. }
            | Op::Txn { .. }
            | Op::BatchPut { .. }
            | Op::TxnBatchPut { .. } => unreachable!("not a check op: {op:?}"),
        }
    }

    async fn lease(
        &self,
        space: &RwLock<Map>,
        (key, owner, lease, hold): (&[u8], u64, Duration, Duration),
        events: &mut Events,
    ) -> Result<Outcome, OpError> {
        let until = {
            let mut map = write(space);
            let h = holder(map.get(key).map(Vec::as_slice))
                .map_err(|e| OpError::new(ErrorKind::Other, e))?;
            match h {
                Some((o, until)) if o != owner && until >= unix_ms() => {
                    return Err(OpError::new(
                        ErrorKind::KeyIsLocked,
                        format!("the lock is held by owner {o}"),
                    ));
                }
                _ => {
                    let until = unix_ms() + lease.as_millis() as u64;
                    map.insert(key.to_vec(), held_by(owner, until));
                    until
                }
            }
        };
        if !usable(until, lease, hold) {
            events.add("lease_too_late", 1);
            return Err(OpError::new(
                ErrorKind::KeyIsLocked,
                "took the lock too late to use its lease",
            ));
        }
        let (entered, left) = critical_section(hold).await;
        let mut map = write(space);
        if map.get(key) == Some(&held_by(owner, until)) {
            map.insert(key.to_vec(), FREE.to_vec());
        }
        Ok(Outcome::Held { entered, left })
    }
}

/// The decimal number at `key` (absent: an error).
fn number(map: &Map, key: &[u8]) -> Result<i64, OpError> {
    let v = map.get(key).ok_or_else(|| {
        OpError::new(
            ErrorKind::Other,
            format!("key {} has no value", String::from_utf8_lossy(key)),
        )
    })?;
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            OpError::new(
                ErrorKind::Other,
                format!(
                    "key {} holds no decimal number",
                    String::from_utf8_lossy(key)
                ),
            )
        })
}

fn read(lock: &RwLock<Map>) -> std::sync::RwLockReadGuard<'_, Map> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write(lock: &RwLock<Map>) -> std::sync::RwLockWriteGuard<'_, Map> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl Backend for MemoryBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        match op {
            Op::Transfer { .. } | Op::Decrement { .. } | Op::Lease { .. } => {
                self.check_op(op, events).await
            }
            Op::Get { .. }
            | Op::Put { .. }
            | Op::Scan { .. }
            | Op::BatchDelete { .. }
            | Op::Cas { .. }
            | Op::Txn { .. }
            | Op::BatchPut { .. }
            | Op::TxnBatchPut { .. } => Ok(self.apply(op, events)),
        }
    }

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let map = read(&self.raw);
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        use std::ops::Bound;
        let map = read(&self.raw);
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        };
        Ok(map
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let map = read(&self.txn);
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "memory".into(),
            description: "in-process ordered map (no transactions, no contention)".into(),
        }
    }
}
