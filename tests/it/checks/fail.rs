//! Every check fails when the data is wrong. A backend wraps the memory
//! backend's key spaces and, every so often, gets one kind of write wrong:
//! it acknowledges a put or a delete without applying it, commits a
//! transfer twice or only half of it, acknowledges a decrement without
//! applying it or applies it twice, lets a second holder into the lock, or
//! returns a scan page with a key repeated or skipped, keeps a value past
//! its TTL or drops it long before, commits a txn's primary key without
//! its secondaries (acknowledged, or of unknown outcome), or keeps the
//! writes of a txn it says it rolled back.
//! Over ten seeds (two for the TTL faults, whose runs wait out a TTL), the
//! check that guards the data catches it every time, and says what it
//! found.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tikv_bench::backend::{
    Backend, MemoryBackend, MemoryTxn, Operation, RawKv, TargetInfo, Transaction, TxnKv,
};

use tikv_bench::driver::{self, RunOptions};
use tikv_bench::vocab::{ErrorKind, Events, OpError, Outcome, Pair, TxnMode};
use tikv_bench::workload::checks::CheckVerdict;
use tikv_bench::workload::checks::lock::{LOCK_FREE, LOCK_KEY};
use tikv_bench::workload::checks::tag::Tag;

use super::verdict;
use crate::util::{run, workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Acknowledge a put without applying it.
    DropPut,
    /// Acknowledge a batch delete without applying it.
    DropDelete,
    /// Commit a transfer twice.
    DoubleTransfer,
    /// Commit only the debit of a transfer (a lost update).
    HalfTransfer,
    /// Acknowledge a decrement (a compare-and-swap) without applying it.
    AckDecrement,
    /// Apply a decrement twice.
    DoubleDecrement,
    /// Enter the critical section while another holder is inside.
    TwoHolders,
    /// Return one key of each scan page twice.
    ScanRepeat,
    /// Leave one key out of each scan page.
    ScanSkip,
    /// Keep every value written with a TTL for good.
    KeepExpired,
    /// Acknowledge a put with a TTL without applying it (as if it expired
    /// at once).
    ExpireEarly,
    /// Commit a readback txn's first key (its primary) only, and
    /// acknowledge it.
    DropSecondary,
    /// Apply a readback txn's writes, then answer that it was rolled back.
    KeepRolledBack,
    /// Commit a readback txn's first key only, and answer that the outcome
    /// is unknown (a timeout).
    TornUnknown,
}

/// The memory backend, wrong on one write in `every` of the faulty kind.
struct Faulty {
    inner: MemoryBackend,
    fault: Fault,
    every: u64,
    seed: u64,
    phase: u64,
    seen: AtomicU64,
    injected: AtomicU64,
    /// TwoHolders: lock reads that said "free" while the lock was held,
    /// whose compare-and-swap is to be acknowledged without applying it.
    lies: AtomicU64,
}

impl Faulty {
    fn new(fault: Fault, every: u64, seed: u64) -> Faulty {
        Faulty {
            inner: MemoryBackend::new(),
            fault,
            every,
            seed,
            phase: seed % every,
            seen: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            lies: AtomicU64::new(0),
        }
    }

    /// Whether this write of the faulty kind is to be got wrong.
    fn hit(&self, fault: Fault) -> bool {
        if self.fault != fault {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        let hit = n % self.every == self.phase;
        if hit {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// TwoHolders: waits until somebody holds the lock, then says it is
    /// free.
    async fn lie_about_the_lock(&self) -> Option<Vec<u8>> {
        let started = Instant::now();
        while started.elapsed().as_secs() < 1 {
            let v = self.inner.get(LOCK_KEY).await.unwrap();
            if v.as_deref().is_some_and(|v| v != LOCK_FREE) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        self.lies.fetch_add(1, Ordering::Relaxed);
        Some(LOCK_FREE.to_vec())
    }
}

fn decimal(v: &[u8]) -> i64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

impl RawKv for Faulty {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        if key == LOCK_KEY && self.hit(Fault::TwoHolders) {
            return Ok(self.lie_about_the_lock().await);
        }
        self.inner.get(key).await
    }

    async fn put(&self, key: &[u8], value: &[u8]) -> Result<(), OpError> {
        if self.hit(Fault::DropPut) {
            return Ok(());
        }
        self.inner.put(key, value).await
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        self.inner.scan(start, end, limit).await
    }

    /// The memory backend keeps no TTLs: a value written with one stays,
    /// which is the KeepExpired fault, and right for the other faults' runs
    /// as long as they end before the TTL passes.
    async fn put_ttl(&self, key: &[u8], value: &[u8], _ttl: Duration) -> Result<(), OpError> {
        if self.hit(Fault::ExpireEarly) {
            return Ok(());
        }
        if self.fault == Fault::KeepExpired {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.put(key, value).await
    }

    async fn batch_put(&self, pairs: &[Pair]) -> Result<(), OpError> {
        self.inner.batch_put(pairs).await
    }

    async fn batch_delete(&self, keys: &[Vec<u8>]) -> Result<(), OpError> {
        if self.hit(Fault::DropDelete) {
            return Ok(());
        }
        self.inner.batch_delete(keys).await
    }

    async fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, OpError> {
        if key == LOCK_KEY && previous == Some(LOCK_FREE) {
            let lied = self
                .lies
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            if lied.is_ok() {
                return Ok(true);
            }
        }
        if self.hit(Fault::AckDecrement) {
            return Ok(true);
        }
        if self.hit(Fault::DoubleDecrement) {
            let twice = (decimal(value) - 1).to_string();
            return self.inner.cas(key, previous, twice.as_bytes()).await;
        }
        self.inner.cas(key, previous, value).await
    }
}

/// A transaction of the memory backend whose commit the faulty backend may
/// get wrong: it keeps what was read for update and what is written.
struct FaultyTxn<'a> {
    faulty: &'a Faulty,
    inner: MemoryTxn,
    read: Vec<Pair>,
    writes: Vec<Pair>,
}

impl Transaction for FaultyTxn<'_> {
    async fn get(&mut self, key: &[u8], events: &mut Events) -> Result<Option<Vec<u8>>, OpError> {
        self.inner.get(key, events).await
    }

    async fn get_for_update(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> Result<Option<Vec<u8>>, OpError> {
        let v = self.inner.get_for_update(key, events).await?;
        if let Some(v) = &v {
            self.read.push((key.to_vec(), v.clone()));
        }
        Ok(v)
    }

    async fn batch_get(
        &mut self,
        keys: &[Vec<u8>],
        events: &mut Events,
    ) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.inner.batch_get(keys, events).await
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.writes.push((key.to_vec(), value.to_vec()));
    }

    async fn commit(&mut self, events: &mut Events) -> Result<(), OpError> {
        let mut writes = std::mem::take(&mut self.writes);
        // A transfer reads both accounts before it writes them (the setup
        // writes blindly and is left alone).
        let transfer = self.read.len() == 2 && writes.len() == 2;
        if transfer && self.faulty.hit(Fault::DoubleTransfer) {
            for ((_, before), (_, after)) in self.read.iter().zip(writes.iter_mut()) {
                let (b, a) = (decimal(before), decimal(after));
                *after = (a + (a - b)).to_string().into_bytes();
            }
        } else if transfer && self.faulty.hit(Fault::HalfTransfer) {
            writes.truncate(1);
        }
        // A txn of the mix under readback writes one tagged value to all
        // its keys.
        let tagged = writes.first().is_some_and(|(_, v)| Tag::read(v).is_some());
        if tagged && writes.len() > 1 && self.faulty.hit(Fault::DropSecondary) {
            writes.truncate(1);
        }
        let torn = tagged && writes.len() > 1 && self.faulty.hit(Fault::TornUnknown);
        if torn {
            writes.truncate(1);
        }
        let keep_rolled_back = tagged && self.faulty.hit(Fault::KeepRolledBack);
        for (k, v) in &writes {
            self.inner.put(k, v);
        }
        self.inner.commit(events).await?;
        if torn {
            let late = "the commit of the secondary keys timed out";
            return Err(OpError::undetermined(ErrorKind::Timeout, late));
        }
        if keep_rolled_back {
            let lost = "the primary lock was rolled back (but the writes were kept)";
            return Err(OpError::new(ErrorKind::TxnLockNotFound, lost));
        }
        Ok(())
    }

    async fn rollback(&mut self, events: &mut Events) -> Result<(), OpError> {
        self.inner.rollback(events).await
    }
}

impl<'a> TxnKv for &'a Faulty {
    type Txn = FaultyTxn<'a>;

    async fn begin(&self, lock: TxnMode) -> Result<FaultyTxn<'a>, OpError> {
        let faulty: &'a Faulty = self;
        Ok(FaultyTxn {
            faulty,
            inner: faulty.inner.begin(lock).await?,
            read: Vec::new(),
            writes: Vec::new(),
        })
    }
}

impl Backend for Faulty {
    async fn execute<O: Operation>(&self, op: &O, events: &mut Events) -> Result<Outcome, OpError> {
        op.run(&self, events).await
    }

    fn target(&self) -> TargetInfo {
        self.inner.target()
    }

    async fn read_raw(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.inner.read_raw(keys).await
    }

    async fn read_txn(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, OpError> {
        self.inner.read_txn(keys).await
    }

    async fn scan_raw(&self, start: &[u8], end: &[u8], limit: u32) -> Result<Vec<Pair>, OpError> {
        let mut page = self.inner.scan_raw(start, end, limit).await?;
        if page.len() > 2 {
            let i = (self.seed as usize) % (page.len() - 1) + 1;
            match self.fault {
                Fault::ScanRepeat => {
                    let again = page[i].clone();
                    page.insert(i, again);
                    self.injected.fetch_add(1, Ordering::Relaxed);
                }
                Fault::ScanSkip => {
                    page.remove(i);
                    self.injected.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        Ok(page)
    }
}

/// Runs `yaml` (with `{seed}` in it) on ten seeds, each against the memory
/// backend with `fault`; returns check `name`'s verdicts. Asserts that the
/// fault was injected every time.
async fn ten_seeds(yaml: &str, fault: Fault, every: u64, name: &str) -> Vec<CheckVerdict> {
    seeds(1..=10, yaml, fault, every, name).await
}

/// [`ten_seeds`] over the seeds `seeds`.
async fn seeds(
    seeds: std::ops::RangeInclusive<u64>,
    yaml: &str,
    fault: Fault,
    every: u64,
    name: &str,
) -> Vec<CheckVerdict> {
    let mut out = Vec::new();
    for seed in seeds {
        let w = workload(&yaml.replace("{seed}", &seed.to_string()));
        let backend = Arc::new(Faulty::new(fault, every, seed));
        let r = driver::run(&w, backend.clone(), &RunOptions::default())
            .await
            .expect("run succeeds");
        assert!(
            backend.injected.load(Ordering::Relaxed) > 0,
            "seed {seed}: {fault:?} never happened"
        );
        out.push(verdict(&r, name));
    }
    out
}

/// Asserts that every verdict failed, with a violation containing `says`.
fn caught(verdicts: &[CheckVerdict], says: &str) {
    for (seed, v) in (1..).zip(verdicts) {
        assert!(!v.passed, "seed {seed}: {} missed it: {v}", v.name);
        assert!(
            v.violations.iter().any(|x| x.contains(says)),
            "seed {seed}: {} did not say '{says}': {:#?}",
            v.name,
            v.violations
        );
    }
}

const BANK: &str = "name: bank\nseed: {seed}\nload: {records: 0}\noperations: 400\nconcurrency: 4\nops: []\nchecks:\n  bank: {accounts: 8, initial: 100, amount: {min: 1, max: 9}}\n  every: 2ms\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_catches_a_transfer_applied_twice() {
    let v = ten_seeds(BANK, Fault::DoubleTransfer, 40, "bank").await;
    caught(&v, "but the acknowledged transfers leave exactly");
    for v in &v {
        // Twice the same transfer still conserves the total: only the
        // ledger of each account sees it.
        assert_eq!(super::figure(v, "final_total"), 800, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_catches_a_lost_update() {
    let v = ten_seeds(BANK, Fault::HalfTransfer, 40, "bank").await;
    caught(&v, "final snapshot: total");
    // The same with the transfers committing by async commit and 1PC.
    for commit in ["async", "1pc"] {
        let yaml = BANK.replace("amount:", &format!("commit: {commit}, amount:"));
        let v = seeds(1..=3, &yaml, Fault::HalfTransfer, 40, "bank").await;
        caught(&v, "final snapshot: total");
    }
}

const INVENTORY: &str = "name: inv\nseed: {seed}\nload: {records: 0}\noperations: 400\nconcurrency: 4\nops: []\nchecks:\n  inventory: {stock: 100000}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_catches_a_decrement_acknowledged_but_not_applied() {
    let v = ten_seeds(INVENTORY, Fault::AckDecrement, 40, "inventory").await;
    caught(&v, "an acknowledged decrement was not applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_catches_a_decrement_applied_twice() {
    let v = ten_seeds(INVENTORY, Fault::DoubleDecrement, 40, "inventory").await;
    caught(&v, "a decrement was applied twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_catches_two_holders_at_once() {
    let yaml = "name: lock\nseed: {seed}\nload: {records: 0}\noperations: 60\nconcurrency: 4\nops: []\nchecks:\n  lock: {mode: cas, lease: 500ms, hold: 3ms}\nclient: {retry: {max_attempts: 1000, base_delay: 1ms, max_delay: 2ms, budget: 10s}}\n";
    let v = ten_seeds(yaml, Fault::TwoHolders, 10, "lock").await;
    caught(&v, "two holders at once");
}

const WRITES: &str = "name: rb\nseed: {seed}\nkeys: {records: 200}\nvalues: {size: 32}\noperations: 800\nconcurrency: 4\nops:\n  - {type: get, weight: 2}\n  - {type: put, weight: 4}\n  - {name: insert, type: put, insert: true, weight: 2}\n  - {type: batch_delete, batch: 2, weight: 1}\nchecks:\n  readback: {}\n  scan: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_catch_an_acknowledged_put_that_was_dropped() {
    let v = ten_seeds(WRITES, Fault::DropPut, 25, "readback").await;
    caught(&v, "expected one of: put w");
    let v = ten_seeds(WRITES, Fault::DropPut, 25, "scan").await;
    caught(&v, "every write to it put a value) is not in the scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_catch_an_acknowledged_delete_that_was_dropped() {
    let v = ten_seeds(WRITES, Fault::DropDelete, 5, "readback").await;
    caught(&v, "expected one of: delete");
    let v = ten_seeds(WRITES, Fault::DropDelete, 5, "scan").await;
    caught(&v, "deleted key present");
}

/// Puts with a 1 s TTL over 3.5 s, mostly to keys written once: the early
/// ones have surely expired when the run is read back.
const TTL_WRITES: &str = "name: ttl\nseed: {seed}\nkeys: {records: 20000}\nload: {records: 0}\nvalues: {size: 32}\nduration: 3500ms\nrate: 300\nconcurrency: 4\nclient: {api_version: v1ttl}\nops:\n  - {type: put, ttl: 1s, weight: 1}\nchecks:\n  readback: {}\n  scan: {}\n";

/// Puts with a 1 h TTL: none expires during the run.
const LONG_TTL_WRITES: &str = "name: ttl\nseed: {seed}\nkeys: {records: 200}\nvalues: {size: 32}\noperations: 800\nconcurrency: 4\nclient: {api_version: v1ttl}\nops:\n  - {type: get, weight: 2}\n  - {type: put, ttl: 1h, weight: 4}\n  - {name: insert, type: put, insert: true, ttl: 1h, weight: 2}\nchecks:\n  readback: {}\n  scan: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_catch_a_value_kept_past_its_ttl() {
    let v = seeds(1..=2, TTL_WRITES, Fault::KeepExpired, 1, "readback").await;
    caught(&v, "past its TTL; expected one of:");
    let v = seeds(3..=3, TTL_WRITES, Fault::KeepExpired, 1, "scan").await;
    caught(&v, "every write to it deleted it or has expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_and_scan_catch_a_ttl_put_dropped_before_its_ttl() {
    let v = ten_seeds(LONG_TTL_WRITES, Fault::ExpireEarly, 25, "readback").await;
    caught(&v, "ttl 3600s)");
    let v = ten_seeds(LONG_TTL_WRITES, Fault::ExpireEarly, 25, "scan").await;
    caught(&v, "every write to it put a value) is not in the scan");
}

/// Raw puts beside txns that write 2 or 3 keys each, in a key range of
/// their own.
const TXN_WRITES: &str = "name: rbtxn\nseed: {seed}\nkeys: {records: 200, txn_prefix: acct}\nvalues: {size: 32}\noperations: 800\nconcurrency: 4\nops:\n  - {type: get, weight: 1}\n  - {type: put, weight: 2}\n  - {type: txn, reads: 1, writes: 2, weight: 3}\n  - {name: txn3, type: txn, writes: 3, lock: pessimistic, weight: 2}\nchecks:\n  readback: {}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_catches_a_txn_committed_without_its_secondary_keys() {
    let v = ten_seeds(TXN_WRITES, Fault::DropSecondary, 10, "readback").await;
    caught(&v, "; expected one of: txn w");
    for v in &v {
        assert!(super::figure(v, "stale") > 0, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_catches_the_value_of_a_rolled_back_txn() {
    let v = ten_seeds(TXN_WRITES, Fault::KeepRolledBack, 10, "readback").await;
    caught(&v, "rolled-back value: txn key acct");
    for v in &v {
        assert!(super::figure(v, "txns_failed") > 0, "{v}");
    }
}

/// A txn of unknown outcome may or may not have committed, but not in
/// part: its value at one key and an older one at another is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readback_catches_a_txn_of_unknown_outcome_committed_in_part() {
    let v = ten_seeds(TXN_WRITES, Fault::TornUnknown, 10, "readback").await;
    caught(&v, "torn txn: txn key acct");
    for v in &v {
        assert!(super::figure(v, "txns_unknown_committed") > 0, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_catches_a_repeated_key_and_a_skipped_one() {
    let v = ten_seeds(WRITES, Fault::ScanRepeat, 1, "scan").await;
    caught(&v, "(repeated)");
    let v = ten_seeds(WRITES, Fault::ScanSkip, 1, "scan").await;
    caught(&v, "is not in the scan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fault_every_check_passes_on_the_same_runs() {
    for (yaml, name) in [
        (BANK, "bank"),
        (INVENTORY, "inventory"),
        (WRITES, "readback"),
        (WRITES, "scan"),
        (LONG_TTL_WRITES, "readback"),
        (LONG_TTL_WRITES, "scan"),
        (TXN_WRITES, "readback"),
    ] {
        let w = workload(&yaml.replace("{seed}", "3"));
        let r = run(&w, MemoryBackend::new()).await;
        let v = verdict(&r, name);
        assert!(v.passed, "{v}");
    }
}
