//! The raw key space: plain key -> value, no versions, no transactions.
//! As in TiKV's API V1, it is the default column family, the one where the
//! transactional engine keeps its long values (under encoded keys with the
//! start_ts appended, see [`DefaultCf`]): a raw read sees those entries and
//! a raw write or delete can change them, which is why raw and
//! transactional data must not share a key range.
//! As in TiKV, a compare-and-swap takes its key's latch, and so do the
//! writes that ask to be atomic (`for_cas`, a client's atomic mode); other
//! writes take nothing, so a CAS is atomic only against atomic writes.
//! A plain write to a key that a CAS has used is counted
//! ([`RawSpace::non_atomic_cas_writes`]): on TiKV it could land between a
//! CAS's read and its write. Reads take nothing.
//!
//! An overwrite replaces the value inside the key's entry instead of
//! inserting a new entry (which the skip list does by removing the old one
//! first): a reader never finds an existing key missing while it is being
//! overwritten.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crossbeam_skiplist::SkipMap;

use super::latches::{Guard, Latches};
use super::walk;
use crate::vocab::Pair;

/// What a compare-and-swap found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasResult {
    /// True when the comparison held and the new value was written.
    pub succeed: bool,
    /// True when the key had no value before.
    pub previous_not_exist: bool,
    /// The value before (empty when it did not exist).
    pub previous_value: Vec<u8>,
}

/// The default column family: key -> value, shared by the raw key space
/// and the transactional engine's long values, as in TiKV's API V1.
pub type DefaultCf = SkipMap<Vec<u8>, RwLock<Vec<u8>>>;

/// The raw key space.
#[derive(Debug)]
pub struct RawSpace {
    map: Arc<DefaultCf>,
    latches: Latches,
    /// The keys a compare-and-swap has used.
    cas_keys: SkipMap<Vec<u8>, ()>,
    /// Plain (not atomic) writes to keys in `cas_keys`.
    non_atomic_cas_writes: AtomicU64,
}

impl RawSpace {
    /// An empty key space with `latch_slots` latch slots, over a default
    /// column family of its own.
    pub fn new(latch_slots: usize) -> RawSpace {
        RawSpace::over(Arc::new(SkipMap::new()), latch_slots)
    }

    /// The key space over `cf`, a default column family it may share.
    pub fn over(cf: Arc<DefaultCf>, latch_slots: usize) -> RawSpace {
        RawSpace {
            map: cf,
            latches: Latches::new(latch_slots),
            cas_keys: SkipMap::new(),
            non_atomic_cas_writes: AtomicU64::new(0),
        }
    }

    /// The latch of `keys` for an atomic write; for a plain one, nothing,
    /// and each key a CAS has used is counted.
    fn write_latch<'k>(
        &self,
        atomic: bool,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Option<Guard<'_>> {
        if atomic {
            return Some(self.latches.acquire(keys));
        }
        if !self.cas_keys.is_empty() {
            let unsafe_writes = keys
                .into_iter()
                .filter(|k| self.cas_keys.contains_key(*k))
                .count();
            self.non_atomic_cas_writes
                .fetch_add(unsafe_writes as u64, Ordering::Relaxed);
        }
        None
    }

    /// Plain writes to keys that a compare-and-swap had used: on TiKV such
    /// a write may land between a CAS's read and its write, so the CAS is
    /// not atomic (a client in atomic mode sends none).
    pub fn non_atomic_cas_writes(&self) -> u64 {
        self.non_atomic_cas_writes.load(Ordering::Relaxed)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.get(key).map(|e| value(e.value()))
    }

    /// Sets `key` to `value`; the caller holds the key's latch.
    fn set(&self, key: &[u8], v: &[u8]) {
        match self.map.get(key) {
            Some(e) => {
                let mut slot = e.value().write().unwrap_or_else(|p| p.into_inner());
                slot.clear();
                slot.extend_from_slice(v);
            }
            None => {
                self.map.insert(key.to_vec(), RwLock::new(v.to_vec()));
            }
        }
    }

    /// The pairs of the keys that have values, in request order.
    pub fn batch_get(&self, keys: &[Vec<u8>]) -> Vec<Pair> {
        keys.iter()
            .filter_map(|k| self.get(k).map(|v| (k.clone(), v)))
            .collect()
    }

    /// Sets `key` to `value`, under its latch when `atomic`.
    pub fn put(&self, key: &[u8], value: &[u8], atomic: bool) {
        let _g = self.write_latch(atomic, [key]);
        self.set(key, value);
    }

    /// Sets every pair, under their latches when `atomic`.
    pub fn batch_put(&self, pairs: &[Pair], atomic: bool) {
        let _g = self.write_latch(atomic, pairs.iter().map(|(k, _)| k.as_slice()));
        for (k, v) in pairs {
            self.set(k, v);
        }
    }

    /// Removes `key` (absent keys are fine), under its latch when `atomic`.
    pub fn delete(&self, key: &[u8], atomic: bool) {
        let _g = self.write_latch(atomic, [key]);
        self.map.remove(key);
    }

    /// Removes every key in `keys`, under their latches when `atomic`.
    pub fn batch_delete(&self, keys: &[Vec<u8>], atomic: bool) {
        let _g = self.write_latch(atomic, keys.iter().map(|k| k.as_slice()));
        for k in keys {
            self.map.remove(k.as_slice());
        }
    }

    /// Removes every key in `start ..end` (an empty `end` means no upper
    /// bound). Not atomic as a whole: concurrent writes inside the range may
    /// survive, as with TiKV's delete range.
    pub fn delete_range(&self, start: &[u8], end: &[u8]) {
        let keys: Vec<Vec<u8>> =
            walk::forward::<_, _, [u8]>(&self.map, Bound::Included(start), upper(end))
                .map(|e| e.key().clone())
                .collect();
        // TiKV's delete range takes no latch (client-go refuses it in
        // atomic mode).
        self.batch_delete(&keys, false);
    }

    /// Scans at most `limit` pairs (0 means none). Forward: keys in
    /// `start ..end`, ascending. Reverse (as in TiKV's RawScan): `start` is
    /// the exclusive upper bound and `end` the inclusive lower bound, keys
    /// descending. An empty bound is unbounded. With `key_only` the values
    /// are empty.
    pub fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        key_only: bool,
        reverse: bool,
    ) -> Vec<Pair> {
        let take = |e: crossbeam_skiplist::map::Entry<'_, Vec<u8>, RwLock<Vec<u8>>>| {
            let v = if key_only {
                Vec::new()
            } else {
                value(e.value())
            };
            (e.key().clone(), v)
        };
        if reverse {
            walk::backward::<_, _, [u8]>(&self.map, Bound::Included(end), upper(start))
                .take(limit)
                .map(take)
                .collect()
        } else {
            walk::forward::<_, _, [u8]>(&self.map, Bound::Included(start), upper(end))
                .take(limit)
                .map(take)
                .collect()
        }
    }

    /// Writes `value` if the key currently has no value
    /// (`previous_not_exist`) or has exactly `previous_value`.
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        value: &[u8],
        previous_not_exist: bool,
        previous_value: &[u8],
    ) -> CasResult {
        let _g = self.latches.acquire_one(key);
        if !self.cas_keys.contains_key(key) {
            self.cas_keys.insert(key.to_vec(), ());
        }
        let current = self.get(key);
        let succeed = match &current {
            None => previous_not_exist,
            Some(v) => !previous_not_exist && v.as_slice() == previous_value,
        };
        if succeed {
            self.set(key, value);
        }
        CasResult {
            succeed,
            previous_not_exist: current.is_none(),
            previous_value: current.unwrap_or_default(),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A copy of an entry's value.
pub(crate) fn value(slot: &RwLock<Vec<u8>>) -> Vec<u8> {
    slot.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// An exclusive upper bound; empty means unbounded.
fn upper(end: &[u8]) -> Bound<&[u8]> {
    if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn filled() -> RawSpace {
        let r = RawSpace::new(16);
        for k in ["a", "b", "c", "d"] {
            r.put(k.as_bytes(), format!("v{k}").as_bytes(), true);
        }
        r
    }

    fn keys(pairs: &[Pair]) -> Vec<String> {
        pairs
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn point_and_batch_ops() {
        let r = filled();
        assert_eq!(r.get(b"b"), Some(b"vb".to_vec()));
        assert_eq!(r.get(b"z"), None);
        let got = r.batch_get(&[b"z".to_vec(), b"a".to_vec()]);
        assert_eq!(got, vec![(b"a".to_vec(), b"va".to_vec())]);
        r.batch_delete(&[b"a".to_vec(), b"z".to_vec()], true);
        r.delete(b"b", true);
        assert_eq!(r.len(), 2);
        r.batch_put(&[(b"x".to_vec(), b"1".to_vec())], true);
        assert_eq!(r.get(b"x"), Some(b"1".to_vec()));
    }

    #[test]
    fn scans_respect_bounds_limit_direction_and_key_only() {
        let r = filled();
        assert_eq!(keys(&r.scan(b"b", b"", 10, false, false)), ["b", "c", "d"]);
        assert_eq!(keys(&r.scan(b"a", b"c", 10, false, false)), ["a", "b"]);
        assert_eq!(keys(&r.scan(b"", b"", 2, false, false)), ["a", "b"]);
        // Reverse: start is the exclusive upper bound, end the lower bound.
        assert_eq!(keys(&r.scan(b"d", b"b", 10, false, true)), ["c", "b"]);
        assert_eq!(keys(&r.scan(b"", b"", 3, false, true)), ["d", "c", "b"]);
        let ko = r.scan(b"", b"", 10, true, false);
        assert!(ko.iter().all(|(_, v)| v.is_empty()));
        assert!(r.scan(b"", b"", 0, false, false).is_empty());
    }

    #[test]
    fn delete_range_removes_exactly_the_range() {
        let r = filled();
        r.delete_range(b"b", b"d");
        assert_eq!(keys(&r.scan(b"", b"", 10, false, false)), ["a", "d"]);
        r.delete_range(b"", b"");
        assert!(r.is_empty());
    }

    #[test]
    fn cas_compares_with_the_current_value() {
        let r = RawSpace::new(16);
        let c = r.compare_and_swap(b"k", b"1", true, b"");
        assert!(c.succeed && c.previous_not_exist);
        let c = r.compare_and_swap(b"k", b"2", true, b"");
        assert!(!c.succeed && !c.previous_not_exist);
        assert_eq!(c.previous_value, b"1");
        let c = r.compare_and_swap(b"k", b"2", false, b"0");
        assert!(!c.succeed);
        let c = r.compare_and_swap(b"k", b"2", false, b"1");
        assert!(c.succeed);
        assert_eq!(r.get(b"k"), Some(b"2".to_vec()));
    }

    #[test]
    fn concurrent_cas_increments_lose_nothing() {
        let r = Arc::new(RawSpace::new(16));
        r.put(b"n", b"0", true);
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut done = 0;
                    while done < 500 {
                        let cur = r.get(b"n").unwrap_or_default();
                        let n: u64 = String::from_utf8_lossy(&cur).parse().unwrap_or(0);
                        let next = (n + 1).to_string();
                        if r.compare_and_swap(b"n", next.as_bytes(), false, &cur)
                            .succeed
                        {
                            done += 1;
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("thread");
        }
        assert_eq!(r.get(b"n"), Some(b"2000".to_vec()));
    }
}

#[cfg(test)]
mod overwrite_tests {
    use super::RawSpace;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Regression: overwriting by a fresh skip-list insert removed the old
    /// entry first, so a concurrent get found the key missing (the
    /// inventory check saw its stock vanish for a moment).
    #[test]
    fn a_key_being_overwritten_never_reads_as_missing() {
        let r = Arc::new(RawSpace::new(16));
        r.put(b"k", b"0", true);
        r.put(b"l", b"0", true);
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (r.clone(), stop.clone());
        let writer = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                i += 1;
                w.put(b"k", i.to_string().as_bytes(), true);
                w.batch_put(&[(b"l".to_vec(), i.to_string().into_bytes())], true);
                let cur = w.get(b"k").unwrap_or_default();
                w.compare_and_swap(b"k", b"x", false, &cur);
            }
        });
        let mut misses = 0;
        for _ in 0..200_000 {
            misses += usize::from(r.get(b"k").is_none());
            misses += 2 - r.scan(b"", b"", 10, false, false).len();
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("writer");
        assert_eq!(misses, 0, "reads found an overwritten key missing");
    }
}
