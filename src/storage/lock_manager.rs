//! Pessimistic lock waits and deadlock detection.
//!
//! A pessimistic lock request that meets another transaction's lock
//! registers as a waiter on that key (while it still holds the key's latch,
//! so the release cannot slip between its check and its registration), adds
//! an edge `waiter txn -> holder txn` to the wait-for graph, drops its
//! latches and waits. An edge that would close a cycle is refused: that
//! waiter gets `Deadlock` at once, with the cycle as its wait chain, and the
//! others keep waiting.
//!
//! When the holder releases the lock (commit, rollback, pessimistic
//! rollback, resolve), the oldest waiter (smallest start_ts, as TiKV) wakes
//! at once and the rest after `wake_up_delay`; every woken waiter answers
//! `WriteConflict(PessimisticRetry)` (TiKV's legacy wake-up mode) so its
//! client retries with a fresh for_update_ts. A wait that reaches its
//! timeout answers `KeyIsLocked`. Edges go when waits end, however they end
//! (including a dropped request future), and when a transaction finishes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::latches::key_hash;
use crate::txn_types::errors::{KeyError, WaitForEntry};

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// The lock was released; `commit_ts` is the holder's commit_ts, or 0
    /// when it was rolled back.
    Woken {
        /// The releaser's commit_ts (0: rolled back).
        commit_ts: u64,
    },
    /// The wait timeout passed first.
    TimedOut,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    start_ts: u64,
    lock_ts: u64,
    tx: oneshot::Sender<Wake>,
}

#[derive(Debug, Clone, Copy)]
struct Wake {
    commit_ts: u64,
    at: Instant,
}

#[derive(Debug, Clone)]
struct Edge {
    waiter_id: u64,
    to: u64,
    key: Vec<u8>,
    key_hash: u64,
}

/// The wait-for graph: waiting txn -> the edges it waits along.
#[derive(Debug, Default)]
struct Graph {
    edges: HashMap<u64, Vec<Edge>>,
}

impl Graph {
    /// The path of edges from `from` to `to`, if `to` is reachable.
    fn path(&self, from: u64, to: u64) -> Option<Vec<WaitForEntry>> {
        // Depth-first, remembering how each txn was reached.
        let mut parent: HashMap<u64, (u64, &Edge)> = HashMap::new();
        let mut seen: HashSet<u64> = HashSet::from([from]);
        let mut stack = vec![from];
        while let Some(t) = stack.pop() {
            for e in self.edges.get(&t).into_iter().flatten() {
                if !seen.insert(e.to) {
                    continue;
                }
                parent.insert(e.to, (t, e));
                if e.to == to {
                    let mut chain = Vec::new();
                    let mut cur = to;
                    while cur != from {
                        let (prev, edge) = parent[&cur];
                        chain.push(WaitForEntry {
                            txn: prev,
                            wait_for_txn: edge.to,
                            key_hash: edge.key_hash,
                            key: edge.key.clone(),
                        });
                        cur = prev;
                    }
                    chain.reverse();
                    return Some(chain);
                }
                stack.push(e.to);
            }
        }
        None
    }

    fn remove(&mut self, txn: u64, waiter_id: u64) -> bool {
        let Some(list) = self.edges.get_mut(&txn) else {
            return false;
        };
        let before = list.len();
        list.retain(|e| e.waiter_id != waiter_id);
        let removed = list.len() != before;
        if list.is_empty() {
            self.edges.remove(&txn);
        }
        removed
    }
}

/// The waiter table and the wait-for graph.
#[derive(Debug)]
pub struct LockManager {
    wake_up_delay: Duration,
    waiters: Mutex<HashMap<Vec<u8>, Vec<Waiter>>>,
    /// Waiters in the table: lets releases skip the table when nobody waits.
    waiting: AtomicUsize,
    graph: Mutex<Graph>,
    /// Edges in the graph: lets finishing transactions skip the graph.
    edges: AtomicUsize,
    next_id: AtomicU64,
}

/// A registered wait; [`WaitHandle::wait`] waits. Dropping it (however the
/// wait ends, or if the request is abandoned) unregisters the waiter and
/// removes its edge.
#[derive(Debug)]
pub struct WaitHandle<'a> {
    mgr: &'a LockManager,
    id: u64,
    key: Vec<u8>,
    start_ts: u64,
    rx: oneshot::Receiver<Wake>,
    deadline: Instant,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The tables stay consistent at every await-free step, so a panic
    // elsewhere leaves nothing half-made: recover the guard.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LockManager {
    /// A manager whose later waiters wake `wake_up_delay` after the first.
    pub fn new(wake_up_delay: Duration) -> LockManager {
        LockManager {
            wake_up_delay,
            waiters: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            graph: Mutex::new(Graph::default()),
            edges: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// Registers transaction `start_ts` as waiting up to `timeout` for the
    /// lock of transaction `lock_ts` on `key`. Call while holding the key's
    /// latch. Fails with `Deadlock` when the wait would close a cycle.
    pub fn wait_for(
        &self,
        start_ts: u64,
        lock_ts: u64,
        key: &[u8],
        timeout: Duration,
    ) -> Result<WaitHandle<'_>, KeyError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let hash = key_hash(key);
        {
            let mut g = guard(&self.graph);
            if let Some(path) = g.path(lock_ts, start_ts) {
                let mut wait_chain = vec![WaitForEntry {
                    txn: start_ts,
                    wait_for_txn: lock_ts,
                    key_hash: hash,
                    key: key.to_vec(),
                }];
                wait_chain.extend(path);
                return Err(KeyError::Deadlock {
                    lock_ts,
                    lock_key: key.to_vec(),
                    deadlock_key_hash: hash,
                    wait_chain,
                });
            }
            g.edges.entry(start_ts).or_default().push(Edge {
                waiter_id: id,
                to: lock_ts,
                key: key.to_vec(),
                key_hash: hash,
            });
            self.edges.fetch_add(1, Ordering::AcqRel);
        }
        let (tx, rx) = oneshot::channel();
        guard(&self.waiters)
            .entry(key.to_vec())
            .or_default()
            .push(Waiter {
                id,
                start_ts,
                lock_ts,
                tx,
            });
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Ok(WaitHandle {
            mgr: self,
            id,
            key: key.to_vec(),
            start_ts,
            rx,
            deadline: Instant::now() + timeout,
        })
    }

    /// The lock of `lock_ts` on `key` is gone (committed at `commit_ts`, or
    /// rolled back when 0): wake its waiters, the oldest now and the rest
    /// after the wake-up delay.
    pub fn wake(&self, key: &[u8], lock_ts: u64, commit_ts: u64) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut woken = {
            let mut table = guard(&self.waiters);
            let Some(list) = table.get_mut(key) else {
                return;
            };
            let (hit, keep): (Vec<Waiter>, Vec<Waiter>) =
                list.drain(..).partition(|w| w.lock_ts == lock_ts);
            *list = keep;
            if list.is_empty() {
                table.remove(key);
            }
            self.waiting.fetch_sub(hit.len(), Ordering::AcqRel);
            hit
        };
        if woken.is_empty() {
            return;
        }
        woken.sort_by_key(|w| (w.start_ts, w.id));
        {
            let mut g = guard(&self.graph);
            for w in &woken {
                if g.remove(w.start_ts, w.id) {
                    self.edges.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        let now = Instant::now();
        for (i, w) in woken.into_iter().enumerate() {
            let at = if i == 0 {
                now
            } else {
                now + self.wake_up_delay
            };
            // The receiver is gone only if its request was abandoned.
            let _ = w.tx.send(Wake { commit_ts, at });
        }
    }

    /// Transaction `start_ts` finished (committed or rolled back): drop any
    /// wait-for edges it still has.
    pub fn txn_finished(&self, start_ts: u64) {
        if self.edges.load(Ordering::Acquire) == 0 {
            return;
        }
        if let Some(list) = guard(&self.graph).edges.remove(&start_ts) {
            self.edges.fetch_sub(list.len(), Ordering::AcqRel);
        }
    }

    /// Waiters currently registered (not yet woken or timed out).
    pub fn waiters(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Edges currently in the wait-for graph.
    pub fn edges(&self) -> usize {
        self.edges.load(Ordering::Acquire)
    }

    fn unregister(&self, key: &[u8], start_ts: u64, id: u64) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            let mut table = guard(&self.waiters);
            if let Some(list) = table.get_mut(key) {
                let before = list.len();
                list.retain(|w| w.id != id);
                let removed = before - list.len();
                if list.is_empty() {
                    table.remove(key);
                }
                self.waiting.fetch_sub(removed, Ordering::AcqRel);
            }
        }
        if self.edges.load(Ordering::Acquire) > 0 && guard(&self.graph).remove(start_ts, id) {
            self.edges.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl WaitHandle<'_> {
    /// Waits until woken (then until the wake-up instant, for later
    /// waiters) or until the timeout.
    pub async fn wait(mut self) -> WaitEnd {
        let deadline = self.deadline;
        match tokio::time::timeout_at(deadline, &mut self.rx).await {
            Ok(Ok(wake)) => {
                tokio::time::sleep_until(wake.at.min(deadline)).await;
                WaitEnd::Woken {
                    commit_ts: wake.commit_ts,
                }
            }
            // The manager dropped the sender without a wake: only when the
            // storage is going away; let the caller retry.
            Ok(Err(_)) => WaitEnd::Woken { commit_ts: 0 },
            Err(_) => WaitEnd::TimedOut,
        }
    }
}

impl Drop for WaitHandle<'_> {
    fn drop(&mut self) {
        self.mgr.unregister(&self.key, self.start_ts, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_woken_waiter_reports_the_commit_ts() {
        let m = LockManager::new(Duration::from_millis(20));
        let h = m.wait_for(20, 10, b"k", LONG).expect("no cycle");
        assert_eq!((m.waiters(), m.edges()), (1, 1));
        m.wake(b"k", 10, 30);
        assert_eq!(h.wait().await, WaitEnd::Woken { commit_ts: 30 });
        assert_eq!((m.waiters(), m.edges()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_for_another_lock_is_ignored_and_the_wait_times_out() {
        let m = LockManager::new(Duration::from_millis(20));
        let start = Instant::now();
        let h = m
            .wait_for(20, 10, b"k", Duration::from_millis(300))
            .expect("ok");
        m.wake(b"k", 11, 30);
        m.wake(b"other", 10, 30);
        assert_eq!(h.wait().await, WaitEnd::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_millis(300));
        assert_eq!((m.waiters(), m.edges()), (0, 0));
    }

    #[test]
    fn the_edge_that_closes_a_cycle_is_refused_with_the_chain() {
        let m = LockManager::new(Duration::ZERO);
        // 1 waits for 2 on a, 2 waits for 3 on b; 3 waiting for 1 closes it.
        let _h1 = m.wait_for(1, 2, b"a", LONG).expect("ok");
        let _h2 = m.wait_for(2, 3, b"b", LONG).expect("ok");
        let err = m.wait_for(3, 1, b"c", LONG).expect_err("cycle");
        let KeyError::Deadlock {
            lock_ts,
            lock_key,
            wait_chain,
            ..
        } = err
        else {
            panic!("expected a deadlock, got {err:?}");
        };
        assert_eq!((lock_ts, lock_key.as_slice()), (1, b"c".as_slice()));
        let chain: Vec<(u64, u64)> = wait_chain.iter().map(|e| (e.txn, e.wait_for_txn)).collect();
        assert_eq!(chain, vec![(3, 1), (1, 2), (2, 3)]);
        // The refused waiter left nothing behind; the others still wait.
        assert_eq!((m.waiters(), m.edges()), (2, 2));
    }

    #[test]
    fn dropping_a_handle_and_finishing_a_txn_remove_edges() {
        let m = LockManager::new(Duration::ZERO);
        let h = m.wait_for(1, 2, b"a", LONG).expect("ok");
        drop(h);
        assert_eq!((m.waiters(), m.edges()), (0, 0));
        // With the edge gone, 2 may wait for 1.
        let _h = m.wait_for(2, 1, b"b", LONG).expect("no cycle any more");
        m.txn_finished(2);
        assert_eq!(m.edges(), 0);
    }
}
