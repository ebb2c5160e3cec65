//! Per-key latches: a fixed array of slots, each key hashed to one. A
//! command takes the slots of all its keys in ascending slot order before it
//! reads or changes them and drops them when it is done, so commands on the
//! same keys run one at a time and no two commands can deadlock on latches.
//! Commands on keys in different slots run in parallel. A latch is never
//! held across an `.await` or a lock wait.

use std::sync::{Mutex, MutexGuard};

/// The latch slots.
#[derive(Debug)]
pub struct Latches {
    slots: Box<[Mutex<()>]>,
    mask: usize,
}

/// Held slots; dropping it releases them.
#[derive(Debug)]
pub struct Guard<'a> {
    _held: Vec<MutexGuard<'a, ()>>,
}

impl Latches {
    /// `slots` is rounded up to a power of two (at least 1).
    pub fn new(slots: usize) -> Latches {
        let n = slots.max(1).next_power_of_two();
        Latches {
            slots: (0..n).map(|_| Mutex::new(())).collect(),
            mask: n - 1,
        }
    }

    /// The slot of `key`.
    pub fn slot(&self, key: &[u8]) -> usize {
        (key_hash(key) as usize) & self.mask
    }

    /// Takes the slots of every key in `keys`, blocking until they are free.
    pub fn acquire<'k, I>(&self, keys: I) -> Guard<'_>
    where
        I: IntoIterator<Item = &'k [u8]>,
    {
        let mut idx: Vec<usize> = keys.into_iter().map(|k| self.slot(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        let held = idx
            .into_iter()
            // A panic while holding a latch leaves no half-made invariant in
            // the latch itself (it guards nothing), so poisoning is ignored.
            .map(|i| self.slots[i].lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        Guard { _held: held }
    }

    /// Takes the slot of one key.
    pub fn acquire_one(&self, key: &[u8]) -> Guard<'_> {
        self.acquire(std::iter::once(key))
    }
}

/// FNV-1a, 64 bit: the key hash used for latch slots and for the deadlock
/// detector's `key_hash`.
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn commands_on_one_key_are_serialized() {
        let l = Arc::new(Latches::new(16));
        let counter = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (l, c) = (l.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        let _g = l.acquire_one(b"k");
                        // A non-atomic read-modify-write: lost updates would
                        // show if two threads were inside at once.
                        let v = c.load(Ordering::Relaxed);
                        std::hint::spin_loop();
                        c.store(v + 1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("thread");
        }
        assert_eq!(counter.load(Ordering::Relaxed), 8_000);
    }

    #[test]
    fn overlapping_key_sets_in_any_order_do_not_deadlock() {
        let l = Arc::new(Latches::new(64));
        let keys: Vec<Vec<u8>> = (0..8).map(|i| format!("key{i}").into_bytes()).collect();
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (l, keys) = (l.clone(), keys.clone());
                std::thread::spawn(move || {
                    for i in 0..2_000usize {
                        let a = &keys[(i + t) % 8];
                        let b = &keys[(i * 3 + t * 5 + 1) % 8];
                        // Callers pass keys in arbitrary order (and
                        // duplicates); the guard sorts the slots.
                        let _g = l.acquire([b.as_slice(), a.as_slice(), b.as_slice()]);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("thread");
        }
    }
}
