//! Ordered walks over a `crossbeam_skiplist::SkipMap` that free what they
//! pass. `SkipMap::range` is not used: in crossbeam-skiplist 0.1.3 its
//! iterator drops each entry it steps past without releasing it, so a node
//! a range has visited is never freed once it is removed, and an engine that
//! removes old versions (GC, rollbacks, raw deletes) leaks them all (TiKV
//! met the same leak in its lock table: tikv/tikv issue 19285). A walk
//! starts at `lower_bound` / `upper_bound` and moves with `Entry::next` /
//! `Entry::prev`, whose entries release their node when dropped.

use std::borrow::Borrow;
use std::ops::Bound;

use crossbeam_skiplist::SkipMap;
use crossbeam_skiplist::map::Entry;

/// Whether `key` is inside `bound` taken as an upper (`upper`) or a lower
/// bound.
fn within<Q: Ord + ?Sized>(key: &Q, bound: Bound<&Q>, upper: bool) -> bool {
    match (bound, upper) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(b), true) => key <= b,
        (Bound::Excluded(b), true) => key < b,
        (Bound::Included(b), false) => key >= b,
        (Bound::Excluded(b), false) => key > b,
    }
}

/// The entries of `map` from `lower` to `upper`, in ascending order.
pub fn forward<'a, 'b, K, V, Q>(
    map: &'a SkipMap<K, V>,
    lower: Bound<&'b Q>,
    upper: Bound<&'b Q>,
) -> impl Iterator<Item = Entry<'a, K, V>> + use<'a, 'b, K, V, Q>
where
    K: Ord + Borrow<Q> + Send + 'static,
    V: Send + 'static,
    Q: Ord + ?Sized,
{
    walk(map.lower_bound(lower), upper, true)
}

/// The entries of `map` from `upper` down to `lower`, in descending order.
pub fn backward<'a, 'b, K, V, Q>(
    map: &'a SkipMap<K, V>,
    lower: Bound<&'b Q>,
    upper: Bound<&'b Q>,
) -> impl Iterator<Item = Entry<'a, K, V>> + use<'a, 'b, K, V, Q>
where
    K: Ord + Borrow<Q> + Send + 'static,
    V: Send + 'static,
    Q: Ord + ?Sized,
{
    walk(map.upper_bound(upper), lower, false)
}

/// From `first`, one entry at a time (up when `ascending`), while the
/// entries are within `stop`.
fn walk<'a, 'b, K, V, Q>(
    first: Option<Entry<'a, K, V>>,
    stop: Bound<&'b Q>,
    ascending: bool,
) -> impl Iterator<Item = Entry<'a, K, V>> + use<'a, 'b, K, V, Q>
where
    K: Ord + Borrow<Q> + Send + 'static,
    V: Send + 'static,
    Q: Ord + ?Sized,
{
    let mut next = first;
    std::iter::from_fn(move || {
        let e = next.take()?;
        if !within(e.key().borrow(), stop, ascending) {
            return None;
        }
        next = if ascending { e.next() } else { e.prev() };
        Some(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(it: impl Iterator<Item = Entry<'a, u32, ()>>) -> Vec<u32> {
        it.map(|e| *e.key()).collect()
    }

    #[test]
    fn walks_match_the_ranges_they_stand_for() {
        let m: SkipMap<u32, ()> = (0..10).map(|k| (k * 2, ())).collect();
        let (inc, exc) = (Bound::Included, Bound::Excluded);
        assert_eq!(keys(forward(&m, inc(&3), exc(&9))), [4, 6, 8]);
        assert_eq!(keys(forward(&m, exc(&4), inc(&8))), [6, 8]);
        assert_eq!(keys(forward(&m, Bound::Unbounded, exc(&3))), [0, 2]);
        assert_eq!(keys(forward(&m, inc(&17), Bound::Unbounded)), [18]);
        assert_eq!(keys(backward(&m, inc(&3), exc(&9))), [8, 6, 4]);
        assert_eq!(
            keys(backward(&m, exc(&4), Bound::Unbounded)),
            [18, 16, 14, 12, 10, 8, 6]
        );
        assert!(keys(forward(&m, inc(&19), Bound::Unbounded)).is_empty());
    }

    /// Removed entries a walk has passed are freed: their values drop (all
    /// but the few the epoch collector still holds in this thread's bag).
    /// Through `SkipMap::range` every one of them stays.
    #[test]
    fn what_a_walk_passed_is_freed_when_removed() {
        use std::sync::Arc;
        let token = Arc::new(());
        let m: SkipMap<u32, Arc<()>> = SkipMap::new();
        for k in 0..20_000u32 {
            m.insert(k, token.clone());
            let _ = forward(&m, Bound::Included(&k.saturating_sub(1)), Bound::Unbounded).count();
            let _ = backward(&m, Bound::Unbounded, Bound::Included(&k)).nth(1);
            if k > 0 {
                m.remove(&(k - 1));
            }
        }
        let alive = Arc::strong_count(&token) - 1;
        assert!(
            alive < 1_000,
            "{alive} values of 20000 removed entries still alive"
        );
    }
}
