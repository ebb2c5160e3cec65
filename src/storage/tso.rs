//! The timestamp oracle: hybrid timestamps `physical_ms << 18 | logical`,
//! strictly increasing across all callers, handed out one at a time or in
//! batches with PD's convention (the reply names the last of the batch).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::vocab::time::unix_ms as now_ms;

pub use crate::txn_types::ts::{LOGICAL_BITS, compose, logical, physical};

/// Hands out strictly increasing timestamps.
///
/// Each timestamp is at least the wall clock's (`compose(now_ms, 0)`) and
/// above every timestamp handed out before. When more than 2^18 timestamps
/// are taken within one millisecond the logical part carries into the
/// physical part, so timestamps run slightly ahead of the clock instead of
/// waiting for it (PD would wait); they never repeat.
#[derive(Debug, Default)]
pub struct Tso {
    last: AtomicU64,
}

impl Tso {
    /// A fresh oracle.
    pub fn new() -> Tso {
        Tso::default()
    }

    /// One timestamp.
    pub fn next(&self) -> u64 {
        self.batch(1)
    }

    /// Reserves `count` consecutive timestamps and returns the **last**; the
    /// caller owns `last - count + 1 ..= last`. A count of 0 is treated as 1.
    pub fn batch(&self, count: u32) -> u64 {
        let count = u64::from(count.max(1));
        let floor = compose(now_ms(), 0);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let first = floor.max(last + 1);
            let end = first + count - 1;
            match self
                .last
                .compare_exchange_weak(last, end, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return end,
                Err(seen) => last = seen,
            }
        }
    }

    /// The last timestamp handed out (0 if none).
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn compose_and_split_round_trip() {
        let ts = compose(1_700_000_000_123, 42);
        assert_eq!(physical(ts), 1_700_000_000_123);
        assert_eq!(logical(ts), 42);
    }

    #[test]
    fn timestamps_follow_the_clock_and_increase() {
        let t = Tso::new();
        let before = now_ms();
        let a = t.next();
        let b = t.next();
        assert!(b > a);
        assert!(physical(a) >= before && physical(a) <= now_ms());
    }

    #[test]
    fn a_batch_reserves_its_whole_range() {
        let t = Tso::new();
        let a = t.next();
        let last = t.batch(10);
        assert!(last - 9 > a, "batch overlaps the earlier timestamp");
        let c = t.next();
        assert!(c > last);
    }

    #[test]
    fn concurrent_callers_never_share_a_timestamp() {
        let t = Arc::new(Tso::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    for i in 0..5_000u32 {
                        let last = t.batch(i % 3 + 1);
                        for ts in last + 1 - u64::from(i % 3 + 1)..=last {
                            seen.push(ts);
                        }
                    }
                    // Each thread's own sequence is strictly increasing.
                    assert!(seen.windows(2).all(|w| w[0] < w[1]));
                    seen
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for ts in h.join().expect("thread") {
                assert!(all.insert(ts), "timestamp {ts} handed out twice");
            }
        }
    }
}
