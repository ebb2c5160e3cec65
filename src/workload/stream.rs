//! The operation stream: one [`Generator`] per worker turns the workload's
//! op mix, key distribution and value sizes into [`Op`]s. Each generator
//! has its own random stream derived from the workload seed and the worker
//! number, so the same seed gives the same ops. Keys and values are written
//! into buffers the generator reuses: no allocation per op once warm.
//!
//! The checks' ops come from the same mix. With readback on, each put and
//! cas value is copied into a buffer and starts with a tag naming the write
//! (worker, sequence number), so a value read back tells which write left
//! it.

use std::sync::Arc;

use rand::RngExt;

use super::keys::{KeyChooser, KeyFormat, SharedKeys};
use super::{Checks, OpKind, SizeRange, Workload};
use crate::vocab::Op;
use crate::vocab::rng::{Rng, Stream, stream_seed};
use crate::workload::checks::config::{LOCK_KEY, STOCK_KEY, account_key};
use crate::workload::checks::tag::{TAG_LEN, Tag};

/// Random bytes that values are cut from, the same for every worker.
#[derive(Debug, Clone)]
pub struct ValuePool {
    bytes: Arc<[u8]>,
    size: SizeRange,
}

impl ValuePool {
    pub fn new(seed: u64, size: SizeRange) -> ValuePool {
        let len = (size.max as usize * 2).max(64 * 1024);
        let mut bytes = vec![0u8; len];
        Stream::Values.rng(seed).fill(&mut bytes[..]);
        ValuePool {
            bytes: bytes.into(),
            size,
        }
    }

    /// Picks a value: (offset, length) into the pool.
    pub fn pick<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> (usize, usize) {
        let len = if self.size.min == self.size.max {
            self.size.min as usize
        } else {
            rng.random_range(self.size.min..=self.size.max) as usize
        };
        let off = rng.random_range(0..=self.bytes.len() - len);
        (off, len)
    }

    /// The value for a record index, without a random stream (load phase).
    pub fn for_index(&self, index: u64) -> &[u8] {
        let h = stream_seed(index, 7);
        let span = self.size.max - self.size.min + 1;
        let len = (self.size.min + h % span) as usize;
        let off = ((h >> 20) as usize) % (self.bytes.len() - len + 1);
        &self.bytes[off..off + len]
    }

    pub fn slice(&self, (off, len): (usize, usize)) -> &[u8] {
        &self.bytes[off..off + len]
    }
}

/// Cumulative weights of the op mix.
#[derive(Debug, Clone)]
struct Mix {
    cumulative: Vec<u64>,
}

impl Mix {
    fn new(weights: impl Iterator<Item = u32>) -> Mix {
        let mut total = 0u64;
        let cumulative = weights
            .map(|w| {
                total += u64::from(w);
                total
            })
            .collect();
        Mix { cumulative }
    }

    fn pick<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().expect("validated: at least one op");
        let r = rng.random_range(0..total);
        self.cumulative
            .iter()
            .position(|&c| r < c)
            .expect("r < total")
    }
}

/// Produces one worker's operations.
#[derive(Debug)]
pub struct Generator {
    kinds: Vec<OpKind>,
    mix: Mix,
    chooser: KeyChooser,
    format: KeyFormat,
    values: ValuePool,
    rng: Rng,
    key: Vec<u8>,
    /// Key buffers; only ever grow, so their allocations are reused.
    keys: Vec<Vec<u8>>,
    reads: Vec<Vec<u8>>,
    /// How many of `keys` and `reads` the current op uses.
    nkeys: usize,
    nreads: usize,
    picked: Vec<u64>,
    value: (usize, usize),
    checks: Checks,
    /// The bank check's account keys.
    accounts: Vec<Vec<u8>>,
    /// Readback: the next write's tag, and the buffer a tagged value is
    /// built in.
    tag: Option<Tag>,
    tagged: Vec<u8>,
    /// The lock check: this worker's next owner id (unique per op).
    owner: u64,
}

impl Generator {
    /// A generator for worker `stream` of `workload`.
    pub fn new(
        workload: &Workload,
        shared: Arc<SharedKeys>,
        values: ValuePool,
        stream: u64,
    ) -> Generator {
        Generator {
            kinds: workload.ops.iter().map(|o| o.kind).collect(),
            mix: Mix::new(workload.ops.iter().map(|o| o.weight)),
            chooser: KeyChooser::new(&workload.keys, shared),
            format: KeyFormat::new(&workload.keys),
            values,
            rng: Stream::Worker(stream as u32).rng(workload.seed),
            key: Vec::new(),
            keys: Vec::new(),
            reads: Vec::new(),
            nkeys: 0,
            nreads: 0,
            picked: Vec::new(),
            value: (0, 0),
            checks: workload.checks.clone(),
            accounts: workload
                .checks
                .bank
                .map_or_else(Vec::new, |b| (0..b.accounts).map(account_key).collect()),
            tag: workload.checks.readback.map(|_| Tag {
                worker: stream as u32,
                seq: 0,
            }),
            tagged: Vec::new(),
            owner: (stream + 1) << 40,
        }
    }

    /// The next op: its index in the workload's op list, and the op.
    pub fn next_op(&mut self) -> (usize, Op<'_>) {
        let i = self.mix.pick(&mut self.rng);
        let kind = self.kinds[i];
        match kind {
            OpKind::Get | OpKind::Cas => {
                let idx = self.chooser.next(&mut self.rng);
                self.format.write(idx, &mut self.key);
            }
            OpKind::Put { insert } => {
                let idx = if insert {
                    self.chooser.insert()
                } else {
                    self.chooser.next(&mut self.rng)
                };
                self.format.write(idx, &mut self.key);
            }
            OpKind::Scan { length } => {
                let idx = self.chooser.next(&mut self.rng);
                self.format.write(idx, &mut self.key);
                self.value.1 = self.rng.random_range(length.min..=length.max) as usize;
            }
            OpKind::BatchDelete { batch } => self.fill_keys(batch as usize, 0),
            OpKind::Txn { reads, writes, .. } => self.fill_keys(writes as usize, reads as usize),
            OpKind::Transfer | OpKind::Decrement | OpKind::Lease => {
                return (i, self.check_op(kind));
            }
        }
        if matches!(kind, OpKind::Put { .. } | OpKind::Cas | OpKind::Txn { .. }) {
            self.value = self.values.pick(&mut self.rng);
        }
        let tagged = matches!(kind, OpKind::Put { .. } | OpKind::Cas) && self.tag.is_some();
        if tagged && let Some(tag) = &mut self.tag {
            self.tagged.clear();
            self.tagged.extend_from_slice(self.values.slice(self.value));
            tag.write(&mut self.tagged[..TAG_LEN]);
            tag.seq += 1;
        }
        let value = if tagged {
            self.tagged.as_slice()
        } else {
            self.values.slice(self.value)
        };
        let op = match kind {
            OpKind::Get => Op::Get { key: &self.key },
            OpKind::Put { .. } => Op::Put {
                key: &self.key,
                value,
            },
            OpKind::Scan { .. } => Op::Scan {
                start: &self.key,
                limit: self.value.1 as u32,
            },
            OpKind::BatchDelete { .. } => Op::BatchDelete {
                keys: &self.keys[..self.nkeys],
            },
            OpKind::Cas => Op::Cas {
                key: &self.key,
                value,
            },
            OpKind::Txn { lock, .. } => Op::Txn {
                reads: &self.reads[..self.nreads],
                writes: &self.keys[..self.nkeys],
                value: self.values.slice(self.value),
                lock,
            },
            OpKind::Transfer | OpKind::Decrement | OpKind::Lease => unreachable!("returned above"),
        };
        (i, op)
    }

    /// A check's op (validation made sure its check is configured).
    fn check_op(&mut self, kind: OpKind) -> Op<'_> {
        let c = &self.checks;
        match kind {
            OpKind::Transfer => {
                let b = c.bank.expect("the bank check is on");
                let n = b.accounts;
                let from = self.rng.random_range(0..n);
                let to = (from + self.rng.random_range(1..n)) % n;
                let amount = self.rng.random_range(b.amount.min..=b.amount.max);
                Op::Transfer {
                    from: &self.accounts[from as usize],
                    to: &self.accounts[to as usize],
                    amount: amount as i64,
                    lock: b.lock,
                }
            }
            OpKind::Decrement => Op::Decrement {
                key: STOCK_KEY,
                mode: c.inventory.expect("the inventory check is on").mode,
            },
            OpKind::Lease => {
                let l = c.lock.expect("the lock check is on");
                self.owner += 1;
                Op::Lease {
                    key: LOCK_KEY,
                    owner: self.owner,
                    lease: l.lease,
                    hold: l.hold,
                    mode: l.mode,
                }
            }
            OpKind::Get
            | OpKind::Put { .. }
            | OpKind::Scan { .. }
            | OpKind::BatchDelete { .. }
            | OpKind::Cas
            | OpKind::Txn { .. } => unreachable!("not a check op"),
        }
    }

    /// Fills `keys` with `n` and `reads` with `m` keys, all distinct. Draws
    /// from the distribution; when it keeps repeating itself (a tiny or very
    /// skewed key space), takes the next unused index instead.
    fn fill_keys(&mut self, n: usize, m: usize) {
        self.picked.clear();
        for _ in 0..n + m {
            let mut idx = self.chooser.next(&mut self.rng);
            let mut tries = 0;
            while self.picked.contains(&idx) {
                tries += 1;
                idx = if tries < 64 {
                    self.chooser.next(&mut self.rng)
                } else {
                    (idx + 1) % self.chooser.records()
                };
            }
            self.picked.push(idx);
        }
        self.nkeys = fill(&mut self.keys, &self.picked[..n], &self.format);
        self.nreads = fill(&mut self.reads, &self.picked[n..], &self.format);
    }
}

/// Writes the keys of `indices` into the first buffers of `out`, growing it
/// when needed but never shrinking it. Returns how many buffers are in use.
fn fill(out: &mut Vec<Vec<u8>>, indices: &[u64], format: &KeyFormat) -> usize {
    if out.len() < indices.len() {
        out.resize_with(indices.len(), Vec::new);
    }
    for (buf, &idx) in out.iter_mut().zip(indices) {
        format.write(idx, buf);
    }
    indices.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Op;

    fn workload(yaml: &str) -> Workload {
        Workload::parse(yaml, "test.yaml").unwrap()
    }

    fn render(op: &Op<'_>) -> String {
        format!("{op:?}")
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let yaml = "name: t\nseed: 7\nkeys: {records: 1000, distribution: zipfian}\nops:\n  - {type: get, weight: 3}\n  - {type: put, weight: 2}\n  - {type: scan, weight: 1}\n  - {type: batch_delete, weight: 1, batch: 3}\n  - {type: txn, weight: 1, reads: 1, writes: 2, lock: pessimistic}\n  - {type: cas, weight: 1}\n";
        let w = workload(yaml);
        let stream = |w: &Workload, worker: u64| {
            let shared = SharedKeys::new(&w.keys);
            let mut g = Generator::new(w, shared, ValuePool::new(w.seed, w.values.size), worker);
            (0..500)
                .map(|_| {
                    let (i, op) = g.next_op();
                    format!("{i} {}", render(&op))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(stream(&w, 0), stream(&w, 0));
        assert_ne!(stream(&w, 0), stream(&w, 1));
        let other = workload(&yaml.replace("seed: 7", "seed: 8"));
        assert_ne!(stream(&w, 0), stream(&other, 0));
    }

    #[test]
    fn txn_keys_are_distinct_even_in_a_tiny_skewed_space() {
        let w = workload(
            "name: t\nkeys: {records: 4, distribution: zipfian, theta: 5, scramble: false}\nops:\n  - {type: txn, weight: 1, reads: 1, writes: 3}\n",
        );
        let mut g = Generator::new(
            &w,
            SharedKeys::new(&w.keys),
            ValuePool::new(1, w.values.size),
            0,
        );
        for _ in 0..200 {
            let (_, op) = g.next_op();
            let Op::Txn { reads, writes, .. } = op else {
                panic!("not a txn")
            };
            let mut all: Vec<&Vec<u8>> = reads.iter().chain(writes).collect();
            assert_eq!(all.len(), 4);
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 4, "duplicate keys in one txn");
        }
    }

    #[test]
    fn value_sizes_stay_in_range() {
        let w = workload(
            "name: t\nvalues: {size: {min: 10, max: 20}}\nops:\n  - {type: put, weight: 1}\n",
        );
        let mut g = Generator::new(
            &w,
            SharedKeys::new(&w.keys),
            ValuePool::new(1, w.values.size),
            0,
        );
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let (_, op) = g.next_op();
            let Op::Put { value, .. } = op else {
                panic!("not a put")
            };
            assert!((10..=20).contains(&value.len()));
            seen.insert(value.len());
        }
        assert_eq!(seen.len(), 11, "every size in the range is drawn");
    }
}
