//! The readback and scan checks, over one model of what each written key
//! may hold after the run: the raw keys of puts, compare-and-swaps and
//! batch deletes, and the transactional keys of txn ops (two key spaces,
//! modelled apart).
//!
//! A key's candidates (what a correct store may hold) are:
//! - every acknowledged write not superseded: no acknowledged write to the
//!   key started after it ended (real-time order);
//! - every write whose outcome is unknown (it may land at any time);
//! - the key's value before the run (preloaded, or absent) while no write
//!   to it was acknowledged.
//!
//! Readback reads every written key: a value must be a candidate's (puts
//! and txns carry a tag naming the write), and an absent key needs a
//! delete (or the absent initial state) among the candidates. Scan walks
//! the whole raw key range: keys strictly increasing, every key that must
//! exist (all candidates put a value; preloaded keys nobody touched)
//! present, every key that must not exist absent.
//!
//! A txn writes one tagged value to all its keys, and commits them all or
//! none. Its keys are read back at one snapshot, so besides each key's
//! candidates: the value of a txn that surely failed (rolled back) must be
//! nowhere, and a txn of unknown outcome whose value is found at one of
//! its keys committed, so at every other key it counts as acknowledged
//! (from its start until the read): a key that holds a value it
//! superseded, or the value before the run, is a torn txn.
//!
//! A put with a TTL (TiKV's raw TTL) counts on the store's clock, in whole
//! seconds: the value expires at the second of its write plus the TTL, so
//! somewhere after `start + ttl - 1s` and by `end + ttl`. A read before
//! the first sees the value, a read after the second sees the key absent
//! (the value then is an "expired" violation), and between them either is
//! right. Both bounds widen by [`TTL_CLOCK_SKEW`], for stores whose clocks
//! differ (a key's leader may move between the write and the read).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::run::Reads;
use super::tag::{TAG_LEN, Tag};
use super::tracker::{Fate, Fates};
use super::verdict::CheckVerdict;
use super::{Check, CheckInput, Done, Judge, Never, WorkerLog};
use crate::backend::Backend;
use crate::vocab::Rng;
use crate::workload::{Api, Workload};
use crate::workload::keys::KeyFormat;
use crate::workload::ops::Effect;
use crate::workload::spec::Sp;
use crate::workload::stream::ValuePool;
use crate::workload::validate::Checker;

/// A check without settings, as written: `readback: {}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptySpec {}

/// Every raw key the mix's puts, cas and batch deletes wrote, and every
/// transactional key its txns wrote, holds after the run a value one of
/// the writes that may have been last left there; txns commit whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Readback {}

/// At most this many unknown-outcome writes are kept per key and worker;
/// past it, the key is left unjudged (anything could be there).
pub const MAX_UNKNOWN_PER_KEY: usize = 64;

/// One write to a key: a put of the tagged value (`None`: a delete), and
/// when the op ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWrite {
    pub tag: Option<Tag>,
    pub start: Instant,
    pub end: Instant,
    /// A put's TTL: its value is gone once it passes.
    pub ttl: Option<Duration>,
}

/// What one worker did to one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLog {
    /// The worker's latest acknowledged write; its earlier ones all ended
    /// before this one started, so none of them can be the final value.
    pub acked: Option<KeyWrite>,
    /// Writes whose outcome is unknown (they may take effect at any time
    /// after they start).
    pub unknown: Vec<KeyWrite>,
    /// More unknown writes than kept.
    pub overflow: bool,
}

/// The readback check's counts (the writes themselves are per key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub puts: Fates,
    pub deletes: Fates,
}

/// At most this many unknown-outcome txns are kept per worker with their
/// keys; past it, a txn's value found at one key no longer makes it count
/// as committed at its other keys (which only loosens the check).
pub const MAX_UNKNOWN_TXNS: usize = 1024;

/// A txn whose outcome is unknown, with the keys it wrote: if its value is
/// found at one of them, it committed, and so at every one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTxn {
    pub tag: Tag,
    pub start: Instant,
    pub keys: Vec<Vec<u8>>,
}

/// What one worker's txns wrote to transactional keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnLog {
    pub fates: Fates,
    /// Per transactional key, this worker's txns that may matter.
    pub keys: HashMap<Vec<u8>, KeyLog>,
    /// Txns that surely did not commit: their value must be nowhere.
    pub failed: Vec<Tag>,
    /// Txns whose outcome is unknown (at most [`MAX_UNKNOWN_TXNS`]).
    pub unknown: Vec<UnknownTxn>,
}

/// What one worker wrote to raw keys and, by txns, to transactional ones.
/// Memory grows with the keys written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadbackLog {
    pub writes: WriteCounts,
    /// Per raw key, this worker's writes that may matter.
    pub keys: HashMap<Vec<u8>, KeyLog>,
    pub txn: TxnLog,
}

/// Keeps write `w` to `key` in `keys` if it may matter: acknowledged (the
/// worker's latest), or of unknown outcome.
fn keep(keys: &mut HashMap<Vec<u8>, KeyLog>, key: &[u8], w: KeyWrite, fate: Fate) {
    let applied = matches!(fate, Fate::Applied { .. });
    if !applied && !unknown(fate) {
        return;
    }
    let log = match keys.get_mut(key) {
        Some(log) => log,
        None => keys.entry(key.to_vec()).or_default(),
    };
    if applied {
        log.acked = Some(w);
    } else if log.unknown.len() < MAX_UNKNOWN_PER_KEY {
        log.unknown.push(w);
    } else {
        log.overflow = true;
    }
}

/// Whether an op of this fate may have taken effect without saying so.
fn unknown(fate: Fate) -> bool {
    matches!(fate, Fate::Unknown { .. } | Fate::NotApplied { maybe: 1.. })
}

impl TxnLog {
    /// Records a txn that wrote `value` (tagged) to `keys`.
    fn txn(&mut self, keys: &[Vec<u8>], value: &[u8], done: &Done<'_, '_>) {
        self.fates.count(done.fate);
        let Some(tag) = Tag::read(value) else {
            return;
        };
        let w = KeyWrite {
            tag: Some(tag),
            start: done.start,
            end: done.end,
            ttl: None,
        };
        for k in keys {
            keep(&mut self.keys, k, w, done.fate);
        }
        if done.fate == Fate::Failed {
            self.failed.push(tag);
        } else if unknown(done.fate) && self.unknown.len() < MAX_UNKNOWN_TXNS {
            self.unknown.push(UnknownTxn {
                tag,
                start: done.start,
                keys: keys.to_vec(),
            });
        }
    }
}

impl Check for Readback {
    const NAME: &'static str = "readback";
    type Spec = EmptySpec;
    type Op<'a> = Never;
    type Gen = ();
    type Log = ReadbackLog;
    type Seen = ();

    fn check(c: &mut Checker, spec: &Sp<EmptySpec>, input: &CheckInput<'_>) -> Readback {
        if !input.ops.iter().any(|o| o.kind.writes_raw() || o.kind.tagged()) {
            c.err(
                spec,
                "readback tracks the mix's put, cas and batch_delete ops and its txn ops with writes, and the mix has none",
            );
        }
        let min = input.values.size.min;
        if min < TAG_LEN as u64 {
            c.err(
                spec,
                format!(
                    "readback writes a {TAG_LEN}-byte tag at the start of each value; values.size.min must be at least {TAG_LEN}, got {min}"
                ),
            );
        }
        Readback {}
    }

    fn generator(&self, _worker: u64) {}

    fn generate(&self, _: &mut (), _: &mut Rng) -> Never {
        unreachable!("readback adds no op")
    }

    fn record(&self, log: &mut ReadbackLog, _: Option<&Never>, done: &Done<'_, '_>) {
        let (start, end) = (done.start, done.end);
        match done.op.effect() {
            Effect::Put { key, value, ttl } => {
                log.writes.puts.count(done.fate);
                let tag = Tag::read(value);
                let w = KeyWrite {
                    tag,
                    start,
                    end,
                    ttl,
                };
                keep(&mut log.keys, key, w, done.fate);
            }
            Effect::Delete { keys } => {
                log.writes.deletes.count(done.fate);
                let w = KeyWrite {
                    tag: None,
                    start,
                    end,
                    ttl: None,
                };
                for k in keys {
                    keep(&mut log.keys, k, w, done.fate);
                }
            }
            Effect::TxnPut { keys, value } => log.txn.txn(keys, value, done),
            Effect::None => {}
        }
    }

    async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, _: ()) -> CheckVerdict {
        verify(&Model::of(judge), &judge.reads).await
    }
}

/// How far the clocks of two stores may differ for the TTL bounds (TiKV
/// nodes keep NTP time; the embedded stand-in has one clock).
pub const TTL_CLOCK_SKEW: Duration = Duration::from_secs(1);

/// When a read ran: from `from` until `to` (`None`: not known in advance,
/// as for a scan of many pages).
#[derive(Debug, Clone, Copy)]
struct ReadTime {
    from: Instant,
    to: Option<Instant>,
}

/// Where a put with a TTL stands at a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Surely not expired yet.
    Live,
    /// It may or may not have expired.
    Either,
    /// Surely expired.
    Gone,
}

impl KeyWrite {
    /// Where this write's value stands at read `r` (`Live` without a TTL).
    fn expiry(&self, r: ReadTime) -> Expiry {
        let Some(ttl) = self.ttl else {
            return Expiry::Live;
        };
        if r.from >= self.end + ttl + TTL_CLOCK_SKEW {
            return Expiry::Gone;
        }
        let earliest = (self.start + ttl).checked_sub(Duration::from_secs(1) + TTL_CLOCK_SKEW);
        match (r.to, earliest) {
            (Some(to), Some(earliest)) if to < earliest => Expiry::Live,
            _ => Expiry::Either,
        }
    }
}

/// Keys read back per request.
const READ_BATCH: usize = 512;
/// Keys per scan page.
const SCAN_PAGE: u32 = 1024;

/// What a key held before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Initial {
    Absent,
    /// The preloaded value of this record.
    Preloaded(u64),
    /// Not known (the load phase was skipped).
    Unknown,
}

/// Every worker's writes to one key.
#[derive(Debug, Default, Clone)]
struct Merged {
    acked: Vec<KeyWrite>,
    unknown: Vec<KeyWrite>,
    /// Txns of unknown outcome whose value was found at another of their
    /// keys: they committed, until the read at the latest.
    committed: Vec<KeyWrite>,
    overflow: bool,
}

impl Merged {
    /// These writes, with the unknown-outcome txns tagged `tags` moved to
    /// the committed ones.
    fn with_committed(&self, tags: &[Tag]) -> Merged {
        let mut m = self.clone();
        let (committed, unknown) = m
            .unknown
            .into_iter()
            .partition(|w| w.tag.is_some_and(|t| tags.contains(&t)));
        m.unknown = unknown;
        m.committed = committed;
        m
    }
}

/// What may be found at a key.
#[derive(Debug, PartialEq, Eq)]
struct Candidates {
    /// Puts by tag, and whether acknowledged (those whose TTL surely passed
    /// left out).
    puts: Vec<(Tag, bool)>,
    /// Deletes among the candidates.
    deletes: usize,
    /// Puts whose TTL may have passed (the key may be absent for them).
    expiring: usize,
    /// Puts whose TTL surely passed: their value must be gone.
    expired: Vec<Tag>,
    initial: Option<Initial>,
    /// Unjudged: too many unknown writes were kept.
    anything: bool,
    /// Descriptions, for messages.
    described: Vec<String>,
}

/// What a scan must find at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Present,
    Absent,
    Either,
}

impl Candidates {
    fn expect(&self) -> Expect {
        if self.anything {
            return Expect::Either;
        }
        let may_be_absent = self.deletes > 0
            || self.expiring > 0
            || matches!(self.initial, Some(Initial::Absent | Initial::Unknown));
        let may_be_present = !self.puts.is_empty()
            || matches!(self.initial, Some(Initial::Preloaded(_) | Initial::Unknown));
        match (may_be_present, may_be_absent) {
            (true, false) => Expect::Present,
            (false, true) => Expect::Absent,
            _ => Expect::Either,
        }
    }

    fn list(&self) -> String {
        const SHOWN: usize = 4;
        let mut s = self
            .described
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.described.len() > SHOWN {
            s.push_str(&format!(" and {} more", self.described.len() - SHOWN));
        }
        s
    }
}

/// What became of a write, as far as the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Acked,
    /// A txn of unknown outcome whose value was found at another key.
    Committed,
    Unknown,
}

/// One key space's written keys, and what its keys held before the run.
struct Space {
    keys: BTreeMap<Vec<u8>, Merged>,
    format: KeyFormat,
    values: ValuePool,
    /// Records the load phase wrote here (0 when their values are unknown).
    preloaded: u64,
    /// Whether keys nobody wrote have known values.
    known: bool,
    base: Instant,
    /// What a write that leaves a value is called in messages.
    noun: &'static str,
}

/// The model: per written key of each key space, every worker's writes
/// that may matter.
pub struct Model {
    raw: Space,
    txn: Space,
    puts: Fates,
    deletes: Fates,
    txns: Fates,
    /// Txns that surely did not commit.
    failed: HashSet<Tag>,
    /// Txns of unknown outcome, with their keys.
    unknown_txns: Vec<UnknownTxn>,
}

/// Adds one worker's per-key writes to the merged ones.
fn merge(into: &mut BTreeMap<Vec<u8>, Merged>, from: &HashMap<Vec<u8>, KeyLog>) {
    for (k, log) in from {
        let m = into.entry(k.clone()).or_default();
        m.acked.extend(log.acked);
        m.unknown.extend_from_slice(&log.unknown);
        m.overflow |= log.overflow;
    }
}

impl Model {
    /// The model of a run being judged.
    pub(super) fn of<B>(judge: &Judge<'_, B>) -> Model {
        Model::new(judge.workload, judge.logs, judge.preloaded, judge.base)
    }

    pub(super) fn new(w: &Workload, logs: &[WorkerLog], preloaded: bool, base: Instant) -> Model {
        let (mut raw, mut txn) = (BTreeMap::new(), BTreeMap::new());
        let (mut puts, mut deletes, mut txns) = Default::default();
        let (mut failed, mut unknown_txns) = (HashSet::new(), Vec::new());
        for l in logs.iter().map(|l| &l.readback) {
            Fates::add(&mut puts, &l.writes.puts);
            Fates::add(&mut deletes, &l.writes.deletes);
            Fates::add(&mut txns, &l.txn.fates);
            merge(&mut raw, &l.keys);
            merge(&mut txn, &l.txn.keys);
            failed.extend(l.txn.failed.iter().copied());
            unknown_txns.extend_from_slice(&l.txn.unknown);
        }
        // A key space the load phase filled has known values before the
        // run; one it left alone holds whatever it held.
        let space = |keys, api, loaded: bool, noun| Space {
            keys,
            format: KeyFormat::new(&w.keys, api),
            values: ValuePool::new(w.seed, w.values.size),
            preloaded: if preloaded && loaded { w.load.records } else { 0 },
            known: preloaded && loaded,
            base,
            noun,
        };
        Model {
            raw: space(raw, Api::Raw, w.uses_raw() || !w.uses_txn(), "put"),
            txn: space(txn, Api::Txn, w.uses_txn(), "txn"),
            puts,
            deletes,
            txns,
            failed,
            unknown_txns,
        }
    }
}

impl Space {
    fn initial(&self, key: &[u8]) -> Initial {
        if !self.known {
            return Initial::Unknown;
        }
        match self.format.index(key) {
            Some(i) if i < self.preloaded => Initial::Preloaded(i),
            _ => Initial::Absent,
        }
    }

    fn at(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.base).as_secs_f64()
    }

    fn candidates(&self, key: &[u8], m: &Merged, read: ReadTime) -> Candidates {
        let latest = m.acked.iter().chain(&m.committed).map(|w| w.start).max();
        let mut c = Candidates {
            puts: Vec::new(),
            deletes: 0,
            expiring: 0,
            expired: Vec::new(),
            initial: None,
            anything: m.overflow,
            described: Vec::new(),
        };
        for w in &m.acked {
            if latest.is_none_or(|l| l <= w.end) {
                self.add(w, How::Acked, read, &mut c);
            }
        }
        for w in &m.committed {
            self.add(w, How::Committed, read, &mut c);
        }
        for w in &m.unknown {
            self.add(w, How::Unknown, read, &mut c);
        }
        if latest.is_none() {
            let i = self.initial(key);
            c.initial = Some(i);
            c.described.push(match i {
                Initial::Absent => "absent (as before the run)".into(),
                Initial::Preloaded(_) => "the preloaded value".into(),
                Initial::Unknown => "whatever was there before the run".into(),
            });
        }
        c
    }

    /// Adds write `w`, whose outcome is `how`, to the candidates `c` of
    /// a key read at `read`.
    fn add(&self, w: &KeyWrite, how: How, read: ReadTime, c: &mut Candidates) {
        let sure = how != How::Unknown;
        let how = match how {
            How::Acked => format!("acked {:.3}s..{:.3}s", self.at(w.start), self.at(w.end)),
            How::Committed => format!(
                "unknown outcome from {:.3}s, committed: its value is at another key",
                self.at(w.start)
            ),
            How::Unknown => format!("unknown outcome, from {:.3}s", self.at(w.start)),
        };
        let ttl = w.ttl.map_or(String::new(), |t| format!(", ttl {}s", t.as_secs()));
        let noun = self.noun;
        match (w.tag, w.expiry(read)) {
            (Some(t), Expiry::Gone) => {
                c.expiring += 1;
                c.expired.push(t);
                c.described.push(format!("{noun} {t} ({how}{ttl}, expired)"));
            }
            (Some(t), e) => {
                c.expiring += usize::from(e == Expiry::Either);
                c.puts.push((t, sure));
                c.described.push(format!("{noun} {t} ({how}{ttl})"));
            }
            (None, _) => {
                c.deletes += 1;
                c.described.push(format!("delete ({how})"));
            }
        }
    }

    /// How many written keys must exist and how many must not, as of
    /// `t` (a TTL may pass after it).
    fn expected_at(&self, t: Instant) -> (usize, usize) {
        let read = ReadTime {
            from: t,
            to: Some(t),
        };
        let (mut present, mut absent) = (0, 0);
        for (k, m) in &self.keys {
            match self.candidates(k, m, read).expect() {
                Expect::Present => present += 1,
                Expect::Absent => absent += 1,
                Expect::Either => {}
            }
        }
        (present, absent)
    }

    /// Why `found` at `key` is not a value `c` allows, if it is not.
    fn judge(
        &self,
        key: &[u8],
        c: &Candidates,
        found: Option<&[u8]>,
    ) -> Option<(&'static str, String)> {
        if c.anything {
            return None;
        }
        let Some(v) = found else {
            let ok = c.deletes > 0
                || c.expiring > 0
                || matches!(c.initial, Some(Initial::Absent | Initial::Unknown));
            return (!ok).then(|| ("lost", "no value".to_string()));
        };
        let noun = self.noun;
        match Tag::read(v) {
            Some(t) if c.puts.iter().any(|(p, _)| *p == t) => None,
            Some(t) if c.expired.contains(&t) => {
                Some(("expired", format!("the value of {noun} {t} past its TTL")))
            }
            Some(t) => Some(("stale", format!("the value of {noun} {t}"))),
            None => {
                let preloaded = match self.initial(key) {
                    Initial::Preloaded(i) => self.values.for_index(i) == v,
                    _ => false,
                };
                match c.initial {
                    Some(Initial::Unknown) => None,
                    Some(Initial::Preloaded(_)) if preloaded => None,
                    _ if preloaded => Some(("stale", "its preloaded value".into())),
                    _ => Some(("foreign", "a value no tracked write wrote".into())),
                }
            }
        }
    }
}

/// What readback found, by kind, over both key spaces.
#[derive(Debug, Default)]
struct Tally {
    counts: BTreeMap<&'static str, u64>,
    unjudged: u64,
    absent_by_ttl: u64,
}

impl Tally {
    /// Judges `found` at `key` of `space` against candidates `c`; `txn`
    /// says what the txns in the model make of it (rolled back, torn).
    fn judge(
        &mut self,
        v: &mut CheckVerdict,
        (space, key, c): (&Space, &[u8], &Candidates),
        found: Option<&[u8]>,
        txn: impl FnOnce(&'static str) -> Option<(&'static str, String)>,
    ) {
        self.unjudged += u64::from(c.anything);
        self.absent_by_ttl += u64::from(found.is_none() && c.expiring > 0);
        let Some((what, got)) = space.judge(key, c, found) else {
            return;
        };
        let (what, got) = txn(what).unwrap_or((what, got));
        *self.counts.entry(what).or_default() += 1;
        v.violation(|| {
            let label = match what {
                "lost" => "lost write",
                "stale" => "stale value",
                "expired" => "expired value",
                "rolled_back" => "rolled-back value",
                "torn" => "torn txn",
                _ => "unexpected value",
            };
            let key = String::from_utf8_lossy(key);
            let space = if space.noun == "txn" { "txn key" } else { "key" };
            format!(
                "{label}: {space} {key} holds {got}; expected one of: {}",
                c.list()
            )
        });
    }
}

/// Reads back every written key: raw ones in batches, transactional ones
/// at one snapshot.
async fn verify<B: Backend>(model: &Model, reads: &Reads<'_, B>) -> CheckVerdict {
    let mut v = CheckVerdict::new("readback");
    v.detail("keys", model.raw.keys.len());
    v.detail("puts_acked", model.puts.acked);
    v.detail("puts_unknown", model.puts.unknown);
    v.detail("deletes_acked", model.deletes.acked);
    v.detail("deletes_unknown", model.deletes.unknown);
    v.detail("txn_keys", model.txn.keys.len());
    v.detail("txns_acked", model.txns.acked);
    v.detail("txns_unknown", model.txns.unknown);
    v.detail("txns_failed", model.txns.failed);
    let mut tally = Tally::default();
    if let Err(e) = read_back_raw(model, reads, &mut v, &mut tally).await {
        return v.summary(e);
    }
    let committed = match read_back_txn(model, reads, &mut v, &mut tally).await {
        Ok(n) => n,
        Err(e) => return v.summary(e),
    };
    for what in ["lost", "stale", "expired", "foreign", "rolled_back", "torn"] {
        v.detail(what, tally.counts.get(what).copied().unwrap_or(0));
    }
    v.detail("unjudged", tally.unjudged);
    v.detail("absent_by_ttl", tally.absent_by_ttl);
    v.detail("txns_unknown_committed", committed);
    let mut summary = format!(
        "{} keys read back after {} acked puts and {} acked deletes ({} unknown)",
        model.raw.keys.len(),
        model.puts.acked,
        model.deletes.acked,
        model.puts.unknown + model.deletes.unknown
    );
    if !model.txn.keys.is_empty() {
        summary.push_str(&format!(
            "; {} txn keys at one snapshot after {} acked txns ({} unknown, {} failed)",
            model.txn.keys.len(),
            model.txns.acked,
            model.txns.unknown,
            model.txns.failed
        ));
    }
    v.summary(summary)
}

/// Reads back the raw keys, batch by batch; `Err`: the summary of a read
/// that never answered.
async fn read_back_raw<B: Backend>(
    model: &Model,
    reads: &Reads<'_, B>,
    v: &mut CheckVerdict,
    tally: &mut Tally,
) -> Result<(), String> {
    let keys: Vec<(&Vec<u8>, &Merged)> = model.raw.keys.iter().collect();
    for batch in keys.chunks(READ_BATCH) {
        let ask: Vec<Vec<u8>> = batch.iter().map(|(k, _)| (*k).clone()).collect();
        let from = Instant::now();
        let answer = reads.raw(&ask).await;
        let read = ReadTime {
            from,
            to: Some(Instant::now()),
        };
        let found = answer.map_err(|e| {
            v.violation(|| {
                format!(
                    "could not read back keys from {}: {e}",
                    String::from_utf8_lossy(&ask[0])
                )
            });
            "the keys could not be read back".to_string()
        })?;
        for ((key, m), found) in batch.iter().zip(found) {
            let c = model.raw.candidates(key, m, read);
            tally.judge(v, (&model.raw, key, &c), found.as_deref(), |_| None);
        }
    }
    Ok(())
}

/// Reads back the transactional keys at one snapshot (so a txn is seen
/// whole or not at all), and judges them with what the txns' values found
/// say: a txn of unknown outcome found at one key committed. Returns how
/// many such txns were found; `Err`: the summary of a read that never
/// answered.
async fn read_back_txn<B: Backend>(
    model: &Model,
    reads: &Reads<'_, B>,
    v: &mut CheckVerdict,
    tally: &mut Tally,
) -> Result<usize, String> {
    let space = &model.txn;
    if space.keys.is_empty() {
        return Ok(0);
    }
    let ask: Vec<Vec<u8>> = space.keys.keys().cloned().collect();
    let from = Instant::now();
    let answer = reads.txn(&ask).await;
    let read = ReadTime {
        from,
        to: Some(Instant::now()),
    };
    let found = answer.map_err(|e| {
        v.violation(|| format!("could not read back the {} txn keys: {e}", ask.len()));
        "the txn keys could not be read back".to_string()
    })?;
    let seen: HashSet<Tag> = found.iter().flatten().filter_map(|v| Tag::read(v)).collect();
    let mut committed: HashMap<&[u8], Vec<Tag>> = HashMap::new();
    let mut n = 0;
    for t in model.unknown_txns.iter().filter(|t| seen.contains(&t.tag)) {
        n += 1;
        for k in &t.keys {
            committed.entry(k.as_slice()).or_default().push(t.tag);
        }
    }
    for ((key, m), found) in space.keys.iter().zip(found) {
        let tags = committed.get(key.as_slice());
        let with = tags.map(|tags| m.with_committed(tags));
        let c = space.candidates(key, with.as_ref().unwrap_or(m), read);
        let found = found.as_deref();
        tally.judge(v, (space, key, &c), found, |what| {
            model.txn_fault(what, found, tags.is_some())
        });
    }
    Ok(n)
}

impl Model {
    /// What a violation `what` at a txn key that holds `found` is, given
    /// the txns: the value of a txn that failed is rolled back; any other
    /// at a key a txn of unknown outcome `committed` to is a torn txn.
    fn txn_fault(
        &self,
        what: &'static str,
        found: Option<&[u8]>,
        committed: bool,
    ) -> Option<(&'static str, String)> {
        if let Some(t) = found.and_then(Tag::read)
            && what == "stale"
            && self.failed.contains(&t)
        {
            return Some(("rolled_back", format!("the value of txn {t}, which failed")));
        }
        committed.then(|| {
            let got = match found.and_then(Tag::read) {
                Some(t) => format!("the value of txn {t}"),
                None if found.is_some() => "a value before the run".into(),
                None => "no value".into(),
            };
            ("torn", got)
        })
    }
}

/// Counts and reports what a scan found against the model.
struct ScanJudge<'a> {
    space: &'a Space,
    v: CheckVerdict,
    /// The written keys, in order, with their writes.
    tracked: Vec<(&'a [u8], &'a Merged)>,
    /// When the scan started.
    started: Instant,
    /// The next tracked key the scan has not passed.
    next: usize,
    /// The next preloaded record the scan has not passed.
    next_pre: u64,
    missing: u64,
    unexpected: u64,
}

impl<'a> ScanJudge<'a> {
    /// What the scan must find at a key, judged now: the page that passed
    /// it was read between the scan's start and now.
    fn expect(&self, key: &[u8], m: &Merged) -> Expect {
        let read = ReadTime {
            from: self.started,
            to: Some(Instant::now()),
        };
        self.space.candidates(key, m, read).expect()
    }

    fn missing(&mut self, key: &[u8], why: &str) {
        self.missing += 1;
        self.v.violation(|| {
            format!(
                "missing key: {} ({why}) is not in the scan",
                String::from_utf8_lossy(key)
            )
        });
    }

    /// Accounts for the tracked keys and preloaded records before `key`
    /// (`None`: the end of the range), which the scan did not return.
    fn pass_until(&mut self, key: Option<&[u8]>) {
        while let Some(&(k, m)) = self.tracked.get(self.next) {
            if key.is_some_and(|key| k >= key) {
                break;
            }
            self.next += 1;
            if self.expect(k, m) == Expect::Present {
                self.missing(k, "every write to it put a value");
            }
        }
        let upto = match key {
            Some(k) => self
                .space
                .format
                .index(k)
                .unwrap_or(self.next_pre)
                .min(self.space.preloaded),
            None => self.space.preloaded,
        };
        while self.next_pre < upto {
            let k = self.space.format.key(self.next_pre);
            self.next_pre += 1;
            if !self.space.keys.contains_key(&k) {
                self.missing(&k, "preloaded, never written");
            }
        }
    }

    fn found(&mut self, key: &[u8]) {
        self.pass_until(Some(key));
        let index = self.space.format.index(key);
        if let Some(i) = index {
            self.next_pre = self.next_pre.max(i + 1);
        }
        if let Some(&(k, m)) = self.tracked.get(self.next)
            && k == key
        {
            self.next += 1;
            if self.expect(k, m) == Expect::Absent {
                self.unexpected += 1;
                self.v.violation(|| {
                    format!(
                        "deleted key present: {} is in the scan, but every write to it deleted it or has expired",
                        String::from_utf8_lossy(key)
                    )
                });
            }
            return;
        }
        let known = match index {
            Some(i) => i < self.space.preloaded || !self.space.known,
            None => false,
        };
        if !known {
            self.unexpected += 1;
            self.v.violation(|| {
                format!(
                    "unexpected key: {} is in the scan, but nobody wrote it",
                    String::from_utf8_lossy(key)
                )
            });
        }
    }
}

/// Scans the workload's whole key range.
pub(super) async fn verify_scan<B: Backend>(model: &Model, reads: &Reads<'_, B>) -> CheckVerdict {
    let started = Instant::now();
    let space = &model.raw;
    let tracked: Vec<(&[u8], &Merged)> = space.keys.iter().map(|(k, m)| (k.as_slice(), m)).collect();
    let (must_exist, must_not) = space.expected_at(started);
    let mut j = ScanJudge {
        space,
        v: CheckVerdict::new("scan"),
        tracked,
        started,
        next: 0,
        next_pre: 0,
        missing: 0,
        unexpected: 0,
    };
    let (start, end) = space.format.range();
    let mut from = start;
    let mut prev: Option<Vec<u8>> = None;
    let (mut scanned, mut pages, mut disorder) = (0u64, 0u64, 0u64);
    loop {
        let page = match reads.scan(&from, &end, SCAN_PAGE).await {
            Ok(p) => p,
            Err(e) => {
                j.v.violation(|| {
                    format!("the scan failed at {}: {e}", String::from_utf8_lossy(&from))
                });
                break;
            }
        };
        pages += 1;
        let full = page.len() as u32 >= SCAN_PAGE;
        let mut progressed = false;
        for (key, _) in &page {
            scanned += 1;
            if let Some(p) = &prev
                && key <= p
            {
                disorder += 1;
                j.v.violation(|| {
                    let how = if key == p { "repeated" } else { "out of order" };
                    format!(
                        "scan order: key {} came after {} ({how})",
                        String::from_utf8_lossy(key),
                        String::from_utf8_lossy(p)
                    )
                });
                continue;
            }
            j.found(key);
            prev = Some(key.clone());
            progressed = true;
        }
        if !full || !progressed {
            break;
        }
        from = prev.clone().unwrap_or_default();
        from.push(0);
    }
    j.pass_until(None);
    let (missing, unexpected) = (j.missing, j.unexpected);
    let mut v = j.v;
    v.detail("keys_scanned", scanned);
    v.detail("pages", pages);
    v.detail("must_exist", must_exist);
    v.detail("must_not_exist", must_not);
    v.detail("preloaded", space.preloaded);
    v.detail("missing", missing);
    v.detail("unexpected", unexpected);
    v.detail("out_of_order", disorder);
    let summary = format!(
        "{scanned} keys in {pages} page(s): {disorder} out of order, {missing} missing, {unexpected} unexpected"
    );
    v.summary(summary)
}

#[cfg(test)]
mod ttl_tests {
    use super::*;

    fn put(start_ms: u64, end_ms: u64, ttl_s: Option<u64>, base: Instant) -> KeyWrite {
        KeyWrite {
            tag: Some(Tag { worker: 1, seq: 1 }),
            start: base + Duration::from_millis(start_ms),
            end: base + Duration::from_millis(end_ms),
            ttl: ttl_s.map(Duration::from_secs),
        }
    }

    fn read(from_ms: u64, to_ms: Option<u64>, base: Instant) -> ReadTime {
        ReadTime {
            from: base + Duration::from_millis(from_ms),
            to: to_ms.map(|t| base + Duration::from_millis(t)),
        }
    }

    /// A 10 s TTL written over 10 s..11 s: surely there until 18 s (the
    /// start plus the TTL, less 1 s for whole seconds and 1 s of skew),
    /// surely gone from 22 s (the end plus the TTL and 1 s of skew), either
    /// between; a read of unknown end is never sure the value is there.
    #[test]
    fn a_ttl_put_is_live_then_either_then_gone() {
        let b = Instant::now();
        let w = put(10_000, 11_000, Some(10), b);
        assert_eq!(w.expiry(read(17_000, Some(17_999), b)), Expiry::Live);
        assert_eq!(w.expiry(read(17_000, Some(18_000), b)), Expiry::Either);
        assert_eq!(w.expiry(read(21_999, Some(22_000), b)), Expiry::Either);
        assert_eq!(w.expiry(read(22_000, Some(22_001), b)), Expiry::Gone);
        assert_eq!(w.expiry(read(0, None, b)), Expiry::Either);
        assert_eq!(put(0, 1, None, b).expiry(read(1 << 30, None, b)), Expiry::Live);
    }
}
