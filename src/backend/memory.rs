//! The simplest backend: two ordered maps, the raw and the transactional
//! key spaces. It measures the harness, not a database; the storage engine
//! replaces it for anything about contention.
//!
//! The raw space sits behind a reader-writer lock, so each raw call is
//! atomic (a compare-and-swap compares and swaps under one write lock).
//! The transactional space sits behind an async mutex that a transaction
//! holds from begin to commit or rollback: transactions run one at a time,
//! so they never conflict, and a pessimistic lock (the lock check's) is
//! simply the whole space.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Backend, Operation, RawKv, TargetInfo, Transaction, TxnKv};
use crate::vocab::{Events, OpError, Outcome, Pair, TxnMode};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Default)]
pub struct MemoryBackend {
    raw: RwLock<Map>,
    txn: Arc<Mutex<Map>>,
}

impl MemoryBackend {
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Number of keys in the raw and transactional key spaces (waits for a
    /// running transaction to end).
    pub async fn len(&self) -> (usize, usize) {
        let raw = read(&self.raw).len();
        (raw, self.txn.lock().await.len())
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == (0, 0)
    }
}

fn read(lock: &RwLock<Map>) -> std::sync::RwLockReadGuard<'_, Map> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write(lock: &RwLock<Map>) -> std::sync::RwLockWriteGuard<'_, Map> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn range(map: &Map, start: &[u8], end: &[u8], limit: u32) -> Vec<Pair> {
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end)
    };
    map.range::<[u8], _>((Bound::Included(start), upper))
        .take(limit as usize)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl RawKv for MemoryBackend {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        Ok(read(&self.raw).get(key).cloned())
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), OpError> {
        write(&self.raw).insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    async fn batch_get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let map = read(&self.raw);
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        Ok(range(&read(&self.raw), start, end, limit))
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), OpError> {
        let mut map = write(&self.raw);
        for (k, v) in pairs {
            map.insert(k.clone(), v.clone());
        }
        Ok(())
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), OpError> {
        let mut map = write(&self.raw);
        for k in keys {
            map.remove(k);
        }
        Ok(())
    }

    async fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, OpError> {
        let mut map = write(&self.raw);
        if map.get(key).map(Vec::as_slice) != previous {
            return Ok(false);
        }
        map.insert(key.to_vec(), value.to_vec());
        Ok(true)
    }
}

/// A transaction of the memory backend: it holds the whole transactional
/// space until it ends, and applies its buffered writes at commit.
#[derive(Debug)]
pub struct MemoryTxn {
    map: OwnedMutexGuard<Map>,
    writes: Vec<Pair>,
}

impl MemoryTxn {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.iter().rev().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.map.get(key).cloned(),
        }
    }
}

impl Transaction for MemoryTxn {
    async fn get(&mut self, key: &[u8], _events: &mut Events) -> Result<Option<Vec<u8>>, OpError> {
        Ok(self.read(key))
    }

    async fn get_for_update(
        &mut self,
        key: &[u8],
        _events: &mut Events,
    ) -> Result<Option<Vec<u8>>, OpError> {
        Ok(self.read(key))
    }

    async fn batch_get(
        &mut self,
        keys: &[Vec<u8>],
        _events: &mut Events,
    ) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        Ok(keys.iter().map(|k| self.map.get(k).cloned()).collect())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.writes.push((key.to_vec(), value.to_vec()));
    }

    async fn commit(&mut self, _events: &mut Events) -> Result<(), OpError> {
        for (k, v) in self.writes.drain(..) {
            self.map.insert(k, v);
        }
        Ok(())
    }

    async fn rollback(&mut self, _events: &mut Events) -> Result<(), OpError> {
        self.writes.clear();
        Ok(())
    }
}

impl TxnKv for MemoryBackend {
    type Txn = MemoryTxn;

    async fn begin(&self, _mode: TxnMode) -> Result<MemoryTxn, OpError> {
        Ok(MemoryTxn {
            map: self.txn.clone().lock_owned().await,
            writes: Vec::new(),
        })
    }
}

impl Backend for MemoryBackend {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        op.run(self, events).await
    }

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        RawKv::batch_get(self, keys).await
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        RawKv::scan(self, start, end, limit).await
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        let map = self.txn.lock().await;
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "memory".into(),
            description: "in-process ordered maps; transactions run one at a time (no contention)"
                .into(),
        }
    }
}
