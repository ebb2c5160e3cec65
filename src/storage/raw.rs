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
//!
//! A raw write may carry a TTL, as in TiKV's API V1TTL and V2 (tikv
//! `components/api_version`, `engine_traits/src/raw_ttl.rs`): whole
//! seconds, the entry expiring at the [`TtlClock`]'s second of the write
//! plus the TTL (0: never). An entry is expired once that second is reached
//! (`expire_ts <= now`, tikv `RawValue::is_ttl_expired`): every read (get,
//! batch get, scan, a CAS's comparison) passes over it as absent, and
//! [`RawSpace::purge_expired`] (the GC worker's pass) removes it. A write
//! without a TTL replaces the whole value, expiry included, so the key
//! then lives until deleted. Whether a TTL is allowed at all is the
//! server's question (its api-version), not the key space's.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

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

/// What a default column family entry holds: the value and, for a raw key
/// written with a TTL, the second it expires at.
#[derive(Debug, Default)]
pub struct Slot {
    value: Vec<u8>,
    /// The [`TtlClock`] second at which the entry expires (TiKV's
    /// `expire_ts`); 0: never.
    expire_s: u64,
    /// Set by [`RawSpace::purge_expired`] just before it removes the entry:
    /// a writer that finds it set inserts a fresh entry instead.
    purged: bool,
}

impl Slot {
    /// A value that never expires (the transactional engine's long values).
    pub fn plain(value: Vec<u8>) -> Slot {
        Slot {
            value,
            ..Slot::default()
        }
    }

    /// Whether the entry is gone at second `now`: expired or purged.
    fn dead(&self, now: u64) -> bool {
        self.purged || (self.expire_s != 0 && self.expire_s <= now)
    }
}

/// The default column family: key -> value, shared by the raw key space
/// and the transactional engine's long values, as in TiKV's API V1.
pub type DefaultCf = SkipMap<Vec<u8>, RwLock<Slot>>;

/// The clock raw TTLs count on: the wall clock's Unix seconds (TiKV's
/// `ttl_current_ts`), plus an offset that tests move forward so that
/// expiry takes no real time. Tests may also stop it at its current second
/// ([`pin`](Self::pin)), so that no second passes between a write and a
/// read that counts on it.
#[derive(Debug, Default)]
pub struct TtlClock {
    ahead_s: AtomicU64,
    /// The second the clock was stopped at; 0: running.
    pinned_s: AtomicU64,
    /// Whether any value was given a TTL: until one is, reads need not
    /// look at the clock.
    used: AtomicBool,
}

impl TtlClock {
    /// The current second: the wall clock's (or the pinned one) plus the
    /// offset.
    pub fn now_s(&self) -> u64 {
        let base = match self.pinned_s.load(Ordering::Relaxed) {
            0 => crate::vocab::time::unix_s(),
            pinned => pinned,
        };
        base.saturating_add(self.ahead_s.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by`'s whole seconds.
    pub fn advance(&self, by: Duration) {
        self.ahead_s.fetch_add(by.as_secs(), Ordering::Relaxed);
    }

    /// Stops the clock at the wall clock's current second: from now on it
    /// moves only by [`advance`](Self::advance).
    pub fn pin(&self) {
        self.pinned_s
            .store(crate::vocab::time::unix_s(), Ordering::Relaxed);
    }

    /// The second a value written now with `ttl_s` expires at (TiKV's
    /// `ttl_to_expire_ts`); 0 for a TTL of 0.
    fn expiry(&self, ttl_s: u64) -> u64 {
        if ttl_s == 0 {
            0
        } else {
            if !self.used.load(Ordering::Acquire) {
                self.used.store(true, Ordering::Release);
            }
            self.now_s().saturating_add(ttl_s)
        }
    }

    /// The second a read judges expiry at: 0 (nothing is expired) while no
    /// value was ever given a TTL, which spares the plain reads the clock.
    fn read_s(&self) -> u64 {
        if self.used.load(Ordering::Acquire) {
            self.now_s()
        } else {
            0
        }
    }
}

/// A key's time to live, as RawGetKeyTTL answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// No live value (never written, deleted, or expired).
    Absent,
    /// A live value that never expires.
    Forever,
    /// A live value with this many seconds left.
    Left(u64),
}

/// The raw key space.
#[derive(Debug)]
pub struct RawSpace {
    map: Arc<DefaultCf>,
    latches: Latches,
    clock: TtlClock,
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
            clock: TtlClock::default(),
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

    /// The clock TTLs count on.
    pub fn clock(&self) -> &TtlClock {
        &self.clock
    }

    /// The value of `key` (none once expired).
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let now = self.clock.read_s();
        self.map.get(key).and_then(|e| live(e.value(), now))
    }

    /// How long `key` lives on, as TiKV's `get_key_ttl_cf` answers it.
    pub fn key_ttl(&self, key: &[u8]) -> KeyTtl {
        let now = self.clock.now_s();
        let Some(e) = self.map.get(key) else {
            return KeyTtl::Absent;
        };
        let slot = e.value().read().unwrap_or_else(|p| p.into_inner());
        match slot.expire_s {
            _ if slot.dead(now) => KeyTtl::Absent,
            0 => KeyTtl::Forever,
            at => KeyTtl::Left(at - now),
        }
    }

    /// Sets `key` to `value`, expiring at second `expire_s` (0: never); the
    /// caller holds the key's latch.
    fn set(&self, key: &[u8], v: &[u8], expire_s: u64) {
        if let Some(e) = self.map.get(key) {
            let mut slot = e.value().write().unwrap_or_else(|p| p.into_inner());
            if !slot.purged {
                slot.value.clear();
                slot.value.extend_from_slice(v);
                slot.expire_s = expire_s;
                return;
            }
        }
        let slot = Slot {
            value: v.to_vec(),
            expire_s,
            purged: false,
        };
        self.map.insert(key.to_vec(), RwLock::new(slot));
    }

    /// The pairs of the keys that have values, in request order.
    pub fn batch_get(&self, keys: &[Vec<u8>]) -> Vec<Pair> {
        keys.iter()
            .filter_map(|k| self.get(k).map(|v| (k.clone(), v)))
            .collect()
    }

    /// Sets `key` to `value`, under its latch when `atomic`; it never
    /// expires.
    pub fn put(&self, key: &[u8], value: &[u8], atomic: bool) {
        self.put_ttl(key, value, atomic, 0);
    }

    /// Sets `key` to `value` for `ttl_s` seconds (0: for good), under its
    /// latch when `atomic`.
    pub fn put_ttl(&self, key: &[u8], value: &[u8], atomic: bool, ttl_s: u64) {
        let _g = self.write_latch(atomic, [key]);
        self.set(key, value, self.clock.expiry(ttl_s));
    }

    /// Sets every pair, under their latches when `atomic`; they never
    /// expire.
    pub fn batch_put(&self, pairs: &[Pair], atomic: bool) {
        self.batch_put_ttl(pairs, &[], atomic);
    }

    /// Sets every pair, under their latches when `atomic`, pair `i` for
    /// `ttls_s[i]` seconds (0 or missing: for good).
    pub fn batch_put_ttl(&self, pairs: &[Pair], ttls_s: &[u64], atomic: bool) {
        let _g = self.write_latch(atomic, pairs.iter().map(|(k, _)| k.as_slice()));
        for (i, (k, v)) in pairs.iter().enumerate() {
            let ttl = ttls_s.get(i).copied().unwrap_or(0);
            self.set(k, v, self.clock.expiry(ttl));
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

    /// Scans at most `limit` pairs (0 means none), passing over expired
    /// keys. Forward: keys in `start ..end`, ascending. Reverse (as in
    /// TiKV's RawScan): `start` is the exclusive upper bound and `end` the
    /// inclusive lower bound, keys descending. An empty bound is unbounded.
    /// With `key_only` the values are empty.
    pub fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        key_only: bool,
        reverse: bool,
    ) -> Vec<Pair> {
        let now = self.clock.read_s();
        let take = |e: crossbeam_skiplist::map::Entry<'_, Vec<u8>, RwLock<Slot>>| {
            let v = live(e.value(), now)?;
            Some((e.key().clone(), if key_only { Vec::new() } else { v }))
        };
        if reverse {
            walk::backward::<_, _, [u8]>(&self.map, Bound::Included(end), upper(start))
                .filter_map(take)
                .take(limit)
                .collect()
        } else {
            walk::forward::<_, _, [u8]>(&self.map, Bound::Included(start), upper(end))
                .filter_map(take)
                .take(limit)
                .collect()
        }
    }

    /// Writes `value` if the key currently has no live value (`previous`
    /// is `None`) or has exactly `previous`; what it writes lives for
    /// `ttl_s` seconds (0: for good).
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        value: &[u8],
        previous: Option<&[u8]>,
        ttl_s: u64,
    ) -> CasResult {
        let _g = self.latches.acquire_one(key);
        if !self.cas_keys.contains_key(key) {
            self.cas_keys.insert(key.to_vec(), ());
        }
        let current = self.get(key);
        let succeed = current.as_deref() == previous;
        if succeed {
            self.set(key, value, self.clock.expiry(ttl_s));
        }
        CasResult {
            succeed,
            previous_not_exist: current.is_none(),
            previous_value: current.unwrap_or_default(),
        }
    }

    /// Removes up to `max_keys` expired entries among the keys from `from`
    /// on (inclusive), each under its latch, as TiKV's TTL compaction
    /// filter drops expired raw values. Returns how many it removed and
    /// where the next step starts (`None`: the end was reached).
    pub fn purge_expired(&self, from: &[u8], max_keys: usize) -> (u64, Option<Vec<u8>>) {
        let now = self.clock.now_s();
        let mut removed = 0;
        let mut walk =
            walk::forward::<_, _, [u8]>(&self.map, Bound::Included(from), Bound::Unbounded);
        for e in walk.by_ref().take(max_keys) {
            let expired = |s: &Slot| s.expire_s != 0 && s.expire_s <= now;
            if !expired(&e.value().read().unwrap_or_else(|p| p.into_inner())) {
                continue;
            }
            let _g = self.latches.acquire_one(e.key());
            let mut slot = e.value().write().unwrap_or_else(|p| p.into_inner());
            if expired(&slot) && !slot.purged {
                slot.purged = true;
                e.remove();
                removed += 1;
            }
        }
        (removed, walk.next().map(|e| e.key().clone()))
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

/// A copy of an entry's value, whether expired or not (the transactional
/// engine's long values never expire).
pub(crate) fn value(slot: &RwLock<Slot>) -> Vec<u8> {
    slot.read().unwrap_or_else(|p| p.into_inner()).value.clone()
}

/// A copy of an entry's value if it is live at second `now`.
fn live(slot: &RwLock<Slot>, now: u64) -> Option<Vec<u8>> {
    let s = slot.read().unwrap_or_else(|p| p.into_inner());
    (!s.dead(now)).then(|| s.value.clone())
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
        let c = r.compare_and_swap(b"k", b"1", None, 0);
        assert!(c.succeed && c.previous_not_exist);
        let c = r.compare_and_swap(b"k", b"2", None, 0);
        assert!(!c.succeed && !c.previous_not_exist);
        assert_eq!(c.previous_value, b"1");
        let c = r.compare_and_swap(b"k", b"2", Some(b"0"), 0);
        assert!(!c.succeed);
        let c = r.compare_and_swap(b"k", b"2", Some(b"1"), 0);
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
                        if r.compare_and_swap(b"n", next.as_bytes(), Some(&cur), 0)
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
                w.compare_and_swap(b"k", b"x", Some(&cur), 0);
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

#[cfg(test)]
mod ttl_tests {
    use super::{KeyTtl, RawSpace};
    use std::time::Duration;

    const SEC: Duration = Duration::from_secs(1);

    fn keys(r: &RawSpace, reverse: bool) -> Vec<Vec<u8>> {
        r.scan(b"", b"", 10, true, reverse)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    #[test]
    fn a_key_with_a_ttl_is_gone_for_every_read_once_its_second_comes() {
        let r = RawSpace::new(16);
        r.clock().pin();
        r.put_ttl(b"a", b"1", false, 10);
        r.batch_put_ttl(
            &[
                (b"b".to_vec(), b"2".to_vec()),
                (b"c".to_vec(), b"3".to_vec()),
            ],
            &[10, 0],
            false,
        );
        r.compare_and_swap(b"d", b"4", None, 10);
        assert_eq!(keys(&r, false), [b"a", b"b", b"c", b"d"]);
        assert_eq!(r.key_ttl(b"a"), KeyTtl::Left(10));
        assert_eq!(r.key_ttl(b"c"), KeyTtl::Forever);
        r.clock().advance(9 * SEC);
        assert_eq!(r.key_ttl(b"a"), KeyTtl::Left(1), "the TTL counts down");
        assert_eq!(r.get(b"d"), Some(b"4".to_vec()));
        r.clock().advance(SEC);
        for k in [&b"a"[..], b"b", b"d"] {
            assert_eq!(r.get(k), None, "{}", k.escape_ascii());
            assert_eq!(r.key_ttl(k), KeyTtl::Absent);
        }
        let all = [b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()];
        assert_eq!(r.batch_get(&all), vec![(b"c".to_vec(), b"3".to_vec())]);
        assert_eq!(keys(&r, false), [b"c"]);
        assert_eq!(keys(&r, true), [b"c"]);
        // The limit counts live keys only.
        assert_eq!(r.scan(b"", b"", 1, false, false).len(), 1);
        // A CAS compares with the key as absent.
        assert!(!r.compare_and_swap(b"d", b"5", Some(b"4"), 0).succeed);
        let c = r.compare_and_swap(b"a", b"5", None, 0);
        assert!(c.succeed && c.previous_not_exist);
    }

    #[test]
    fn an_overwrite_without_a_ttl_keeps_the_key_for_good() {
        let r = RawSpace::new(16);
        r.clock().pin();
        r.put_ttl(b"k", b"1", true, 5);
        r.put(b"k", b"2", true);
        assert_eq!(r.key_ttl(b"k"), KeyTtl::Forever);
        r.clock().advance(60 * SEC);
        assert_eq!(r.get(b"k"), Some(b"2".to_vec()));
        // And an overwrite with one sets the new expiry.
        r.put_ttl(b"k", b"3", true, 5);
        assert_eq!(r.key_ttl(b"k"), KeyTtl::Left(5));
    }

    #[test]
    fn the_purge_removes_expired_keys_only_and_writes_after_it_land() {
        let r = RawSpace::new(16);
        r.clock().pin();
        for i in 0..20u8 {
            r.put_ttl(&[i], b"v", false, if i % 2 == 0 { 1 } else { 0 });
        }
        assert_eq!(r.purge_expired(b"", 100).0, 0, "nothing expired yet");
        r.clock().advance(SEC);
        let (mut removed, mut next) = r.purge_expired(b"", 3);
        while let Some(from) = next {
            let (n, more) = r.purge_expired(&from, 3);
            removed += n;
            next = more;
        }
        assert_eq!(removed, 10);
        assert_eq!(r.len(), 10);
        r.put(&[0], b"again", false);
        assert_eq!(r.get(&[0]), Some(b"again".to_vec()));
    }
}
