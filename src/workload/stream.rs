//! The operation stream: one [`Generator`] per worker turns the workload's
//! op mix, key distribution and value sizes into [`Op`]s. Each generator
//! has its own random stream derived from the workload seed and the worker
//! number, so the same seed gives the same ops. Keys and values are written
//! into buffers the generator reuses: no allocation per op once warm.
//!
//! What each op type draws is its own file's business (`ops/`); the
//! checks' ops come from the same mix, drawn by their checks. With readback
//! on, each value of a tracked write (put, cas, a txn's one value for all
//! its keys) is copied into a buffer and starts with a tag naming the write
//! (worker, sequence number), so a value read back tells which write left
//! it.

use std::sync::Arc;

use rand::RngExt;

use super::checks::CheckGens;
use super::checks::tag::{TAG_LEN, Tag};
use super::keys::{KeyChooser, KeyFormat, SharedKeys};
use super::ops::{Api, Op, OpKind};
use super::{SizeRange, Workload};
use crate::vocab::rng::{Rng, Stream, stream_seed};

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

/// One worker's buffers and random draws, from which an op type's file
/// draws its op ([`OpDef::draw`](super::ops::OpDef::draw)) and then
/// borrows it ([`OpDef::args`](super::ops::OpDef::args)). Buffers only
/// ever grow, so their allocations are reused.
#[derive(Debug)]
pub struct Draw {
    chooser: KeyChooser,
    /// The raw and the transactional key format, and the API of the op
    /// being drawn (whose format its keys take).
    formats: [KeyFormat; 2],
    api: Api,
    values: ValuePool,
    rng: Rng,
    key: Vec<u8>,
    keys: Vec<Vec<u8>>,
    reads: Vec<Vec<u8>>,
    /// How many of `keys` and `reads` the current op uses.
    nkeys: usize,
    nreads: usize,
    picked: Vec<u64>,
    value: (usize, usize),
    count: u64,
    /// Readback: the next write's tag, the buffer a tagged value is built
    /// in, and whether the current op's value is that one.
    tag: Option<Tag>,
    tagged: Vec<u8>,
    use_tagged: bool,
}

impl Draw {
    /// Draws one key from the distribution into the key buffer.
    pub fn key(&mut self) {
        let idx = self.chooser.next(&mut self.rng);
        self.formats[self.api as usize].write(idx, &mut self.key);
    }

    /// Takes the next key past the end of the key space (an insert).
    pub fn insert_key(&mut self) {
        let idx = self.chooser.insert();
        self.formats[self.api as usize].write(idx, &mut self.key);
    }

    /// Draws a count uniformly from `range`.
    pub fn count(&mut self, range: SizeRange) {
        self.count = self.rng.random_range(range.min..=range.max);
    }

    /// Picks a value from the pool.
    pub fn value(&mut self) {
        self.value = self.values.pick(&mut self.rng);
    }

    /// Fills the key buffers with `n` keys and the read buffers with `m`,
    /// all distinct. Draws from the distribution; when it keeps repeating
    /// itself (a tiny or very skewed key space), takes the next unused
    /// index instead.
    pub fn distinct(&mut self, n: usize, m: usize) {
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
        let format = &self.formats[self.api as usize];
        self.nkeys = fill(&mut self.keys, &self.picked[..n], format);
        self.nreads = fill(&mut self.reads, &self.picked[n..], format);
    }

    pub fn key_buf(&self) -> &[u8] {
        &self.key
    }

    pub fn keys_buf(&self) -> &[Vec<u8>] {
        &self.keys[..self.nkeys]
    }

    pub fn reads_buf(&self) -> &[Vec<u8>] {
        &self.reads[..self.nreads]
    }

    /// The value picked last: tagged when the op's type is tracked by
    /// readback and readback is on.
    pub fn value_buf(&self) -> &[u8] {
        if self.use_tagged {
            &self.tagged
        } else {
            self.values.slice(self.value)
        }
    }

    pub fn count_drawn(&self) -> u64 {
        self.count
    }

    /// Copies the value picked last and writes the next tag over its start.
    fn tag_value(&mut self) {
        let Some(tag) = &mut self.tag else { return };
        self.tagged.clear();
        self.tagged.extend_from_slice(self.values.slice(self.value));
        tag.write(&mut self.tagged[..TAG_LEN]);
        tag.seq += 1;
        self.use_tagged = true;
    }
}

/// Produces one worker's operations.
#[derive(Debug)]
pub struct Generator {
    kinds: Vec<OpKind>,
    mix: Mix,
    draw: Draw,
    /// The checks' per-worker state for their ops.
    checks: CheckGens,
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
            draw: Draw {
                chooser: KeyChooser::new(&workload.keys, shared),
                formats: [Api::Raw, Api::Txn].map(|api| KeyFormat::new(&workload.keys, api)),
                api: Api::Raw,
                values,
                rng: Stream::Worker(stream as u32).rng(workload.seed),
                key: Vec::new(),
                keys: Vec::new(),
                reads: Vec::new(),
                nkeys: 0,
                nreads: 0,
                picked: Vec::new(),
                value: (0, 0),
                count: 0,
                tag: workload.checks.readback.map(|_| Tag {
                    worker: stream as u32,
                    seq: 0,
                }),
                tagged: Vec::new(),
                use_tagged: false,
            },
            checks: CheckGens::new(&workload.checks, stream),
        }
    }

    /// The next op: its index in the workload's op list, and the op.
    pub fn next_op(&mut self) -> (usize, Op<'_>) {
        let i = self.mix.pick(&mut self.draw.rng);
        let kind = self.kinds[i];
        if let OpKind::Check(id) = kind {
            return (i, Op::Check(self.checks.generate(id, &mut self.draw.rng)));
        }
        self.draw.use_tagged = false;
        self.draw.api = kind.api().unwrap_or(Api::Raw);
        kind.draw(&mut self.draw);
        if kind.tagged() {
            self.draw.tag_value();
        }
        (i, kind.args(&self.draw).expect("a mix op"))
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
    use crate::workload::ops::Op;

    fn workload(yaml: &str) -> Workload {
        Workload::parse(yaml, "test.yaml").unwrap()
    }

    fn render(op: &Op<'_>) -> String {
        format!("{op:?}")
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let yaml = "name: t\nseed: 7\nkeys: {records: 1000, txn_prefix: acct, distribution: zipfian}\nops:\n  - {type: get, weight: 3}\n  - {type: put, weight: 2}\n  - {type: scan, weight: 1}\n  - {type: batch_delete, weight: 1, batch: 3}\n  - {type: txn, weight: 1, reads: 1, writes: 2, lock: pessimistic}\n  - {type: cas, weight: 1}\n";
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
            let Op::Txn(crate::workload::ops::txn::TxnArgs { reads, writes, .. }) = op else {
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
            let Op::Put(crate::workload::ops::put::PutArgs { value, .. }) = op else {
                panic!("not a put")
            };
            assert!((10..=20).contains(&value.len()));
            seen.insert(value.len());
        }
        assert_eq!(seen.len(), 11, "every size in the range is drawn");
    }
}
