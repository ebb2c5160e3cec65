//! Key choice: which record index an operation touches, under each
//! distribution, and how an index becomes key bytes.
//!
//! Indices are drawn from a per-worker random stream; the only state shared
//! between workers is the sequential cursor and the insert counter, both
//! atomics touched only by the distributions that need them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngExt;
use rand_distr::{Distribution as _, Zipf};

use super::{Api, Distribution, KeySpace};

/// State shared by all workers of one run.
///
/// When several drivers share a workload (`run --shard I/N`), driver `I`
/// takes every `N`th step of the sequential cursor and every `N`th new
/// record, starting at its own offset, so together they cover the key space
/// as one driver would, without two drivers inserting the same record.
#[derive(Debug)]
pub struct SharedKeys {
    /// Steps taken by this driver's sequential cursor.
    cursor: AtomicU64,
    /// Records inserted by this driver.
    inserted: AtomicU64,
    records: u64,
    capacity: u64,
    /// This driver's offset and the number of drivers.
    shard: (u64, u64),
}

impl SharedKeys {
    pub fn new(space: &KeySpace) -> Arc<SharedKeys> {
        SharedKeys::sharded(space, 0, 1)
    }

    /// The state of driver `index` (0-based) of `count`.
    pub fn sharded(space: &KeySpace, index: u64, count: u64) -> Arc<SharedKeys> {
        Arc::new(SharedKeys {
            cursor: AtomicU64::new(0),
            inserted: AtomicU64::new(0),
            records: space.records,
            capacity: space.capacity(),
            shard: (index, count.max(1)),
        })
    }

    /// Claims the index of a new record (for inserts).
    pub fn insert(&self) -> u64 {
        let (i, n) = self.shard;
        let k = self.inserted.fetch_add(1, Ordering::Relaxed);
        (self.records + k * n + i) % self.capacity
    }

    /// Records that exist now, as far as this driver knows: the preloaded
    /// ones and as many inserts per driver as this one made.
    pub fn count(&self) -> u64 {
        let (_, n) = self.shard;
        let inserted = self.inserted.load(Ordering::Relaxed);
        (self.records + inserted * n).min(self.capacity)
    }

    /// The next step of the sequential cursor.
    fn next_in_sequence(&self, n: u64) -> u64 {
        let (i, drivers) = self.shard;
        (self.cursor.fetch_add(1, Ordering::Relaxed) * drivers + i) % n
    }
}

/// Draws record indices for one worker.
#[derive(Debug, Clone)]
pub struct KeyChooser {
    records: u64,
    kind: Kind,
    shared: Arc<SharedKeys>,
}

#[derive(Debug, Clone)]
enum Kind {
    Uniform,
    Zipfian {
        zipf: Zipf<f64>,
        scramble: Option<(u64, u64)>,
    },
    Latest {
        theta: f64,
        zipf: Zipf<f64>,
        built_for: u64,
    },
    Hotspot {
        hot: u64,
        hot_ops: f64,
    },
    Sequential,
}

fn zipf(n: u64, theta: f64) -> Zipf<f64> {
    // Validation keeps n >= 1 and theta in (0, 10], which Zipf accepts.
    Zipf::new(n.max(1) as f64, theta).expect("zipf parameters are validated")
}

/// A multiplier coprime with `n` near n times the golden ratio's fraction:
/// `rank * m mod n` is then a bijection that scatters neighbouring ranks.
fn scatter_multiplier(n: u64) -> u64 {
    if n <= 2 {
        return 1;
    }
    let mut m = ((n as f64 * 0.618_033_988_749_895) as u64) | 1;
    while gcd(m, n) != 1 {
        m += 2;
    }
    m % n
}

/// The bijection of `0..n` used to scramble ranks: `(rank * m + offset) mod n`
/// with `m` coprime to `n`; the offset keeps rank 0 off index 0.
fn scatter(rank: u64, m: u64, offset: u64, n: u64) -> u64 {
    ((u128::from(rank) * u128::from(m) + u128::from(offset)) % u128::from(n)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl KeyChooser {
    pub fn new(space: &KeySpace, shared: Arc<SharedKeys>) -> KeyChooser {
        let n = space.records;
        let kind = match space.distribution {
            Distribution::Uniform => Kind::Uniform,
            Distribution::Zipfian { theta, scramble } => Kind::Zipfian {
                zipf: zipf(n, theta),
                scramble: scramble.then(|| (scatter_multiplier(n), n / 3)),
            },
            Distribution::Latest { theta } => Kind::Latest {
                theta,
                zipf: zipf(n, theta),
                built_for: n,
            },
            Distribution::Hotspot { hot_set, hot_ops } => Kind::Hotspot {
                hot: ((n as f64 * hot_set) as u64).clamp(1, n),
                hot_ops,
            },
            Distribution::Sequential => Kind::Sequential,
        };
        KeyChooser {
            records: n,
            kind,
            shared,
        }
    }

    /// The next record index.
    pub fn next<R: rand::Rng + ?Sized>(&mut self, rng: &mut R) -> u64 {
        let n = self.records;
        match &mut self.kind {
            Kind::Uniform => rng.random_range(0..n),
            Kind::Zipfian { zipf, scramble } => {
                let rank = (zipf.sample(rng) as u64 - 1).min(n - 1);
                match scramble {
                    Some((m, offset)) => scatter(rank, *m, *offset, n),
                    None => rank,
                }
            }
            Kind::Latest {
                theta,
                zipf: z,
                built_for,
            } => {
                let count = self.shared.count();
                // Rebuild the sampler when the key space has grown by more
                // than 1%: sampling over a slightly stale count is harmless.
                if count > *built_for + *built_for / 100 {
                    *z = zipf(count, *theta);
                    *built_for = count;
                }
                let rank = (z.sample(rng) as u64).clamp(1, count);
                count - rank
            }
            Kind::Hotspot { hot, hot_ops } => {
                if *hot >= n || rng.random_bool(*hot_ops) {
                    rng.random_range(0..*hot)
                } else {
                    rng.random_range(*hot..n)
                }
            }
            Kind::Sequential => self.shared.next_in_sequence(n),
        }
    }

    /// Records in the key space the distribution draws from.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The index of a new record, past the preloaded ones.
    pub fn insert(&self) -> u64 {
        self.shared.insert()
    }
}

/// Turns record indices into keys: the prefix, then the index in decimal,
/// zero-padded to the key size, so keys sort in index order.
#[derive(Debug, Clone)]
pub struct KeyFormat {
    prefix: Vec<u8>,
    digits: usize,
}

impl KeyFormat {
    /// The format of the keys of `api`'s ops.
    pub fn new(space: &KeySpace, api: Api) -> KeyFormat {
        KeyFormat {
            prefix: space.prefix_of(api).as_bytes().to_vec(),
            digits: space.digits(api) as usize,
        }
    }

    /// Writes the key of record `index` into `buf`, replacing its contents.
    pub fn write(&self, mut index: u64, buf: &mut Vec<u8>) {
        buf.clear();
        buf.extend_from_slice(&self.prefix);
        let start = buf.len();
        buf.resize(start + self.digits, b'0');
        for slot in buf[start..].iter_mut().rev() {
            if index == 0 {
                break;
            }
            *slot = b'0' + (index % 10) as u8;
            index /= 10;
        }
    }

    pub fn key(&self, index: u64) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.prefix.len() + self.digits);
        self.write(index, &mut buf);
        buf
    }

    /// The record index of `key`, if it is a key of this format.
    pub fn index(&self, key: &[u8]) -> Option<u64> {
        let digits = key.strip_prefix(self.prefix.as_slice())?;
        if digits.len() != self.digits || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// `[start, end)` holding every key of this format (and no key of
    /// another format that does not also start with the prefix and a digit).
    pub fn range(&self) -> (Vec<u8>, Vec<u8>) {
        let mut start = self.prefix.clone();
        start.push(b'0');
        let mut end = self.prefix.clone();
        end.push(b'9' + 1);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(records: u64, distribution: Distribution) -> KeySpace {
        KeySpace {
            records,
            prefix: "user".into(),
            txn_prefix: "acct".into(),
            size: 12,
            distribution,
        }
    }

    #[test]
    fn keys_are_zero_padded_and_sort_in_index_order() {
        let f = KeyFormat::new(&space(100, Distribution::Uniform), Api::Raw);
        assert_eq!(f.key(0), b"user00000000");
        let t = KeyFormat::new(&space(100, Distribution::Uniform), Api::Txn);
        assert_eq!(t.key(42), b"acct00000042");
        assert_eq!(f.key(42), b"user00000042");
        assert_eq!(f.key(99_999_999), b"user99999999");
        assert!(f.key(9) < f.key(10));
    }

    #[test]
    fn scatter_is_a_bijection() {
        for n in [1u64, 2, 3, 10, 97, 1000, 1024, 4096] {
            let m = scatter_multiplier(n);
            let mut seen = vec![false; n as usize];
            for r in 0..n {
                let i = scatter(r, m, n / 3, n) as usize;
                assert!(!seen[i], "n={n} collides at {i}");
                seen[i] = true;
            }
        }
    }
}
