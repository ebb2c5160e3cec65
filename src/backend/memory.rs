//! The simplest backend: two ordered maps (raw and transactional key
//! spaces) behind reader-writer locks. Transactions run atomically under the
//! write lock, so they never conflict. It measures the harness, not a
//! database; the storage engine replaces it for anything about contention.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{Backend, Events, Op, OpError, Outcome, TargetInfo};

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
        }
    }
}

fn read(lock: &RwLock<Map>) -> std::sync::RwLockReadGuard<'_, Map> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write(lock: &RwLock<Map>) -> std::sync::RwLockWriteGuard<'_, Map> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl Backend for MemoryBackend {
    async fn execute(&self, op: Op<'_>, events: &mut Events) -> Result<Outcome, OpError> {
        Ok(self.apply(op, events))
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "memory".into(),
            description: "in-process ordered map (no transactions, no contention)".into(),
        }
    }
}
