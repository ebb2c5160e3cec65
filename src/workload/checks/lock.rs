//! The lock check: every holder notes when it entered and left the
//! critical section; sorted by entry, no section may begin before the one
//! before it ended.
//!
//! Its op, `lease`: take the lock (CAS: a lease of `lease` written as
//! `owner` and its expiry, refused with `key_is_locked` while another
//! owner's lease runs; pessimistic: `get_for_update`, waiting for the
//! holder), note the entry, sleep `hold`, note the exit, release. It
//! answers [`Outcome::Held`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::config::weight;
use super::tracker::{Fate, Fates};
use super::verdict::CheckVerdict;
use super::{Check, CheckInput, Done, Judge, Setup, WorkerLog};
use crate::backend::{Backend, Kv, Operation, RawKv, Transaction};
use crate::vocab::{CheckMode, ErrorKind, Events, LockMode, OpError, Outcome, Rng};
use crate::workload::spec::Sp;
use crate::workload::validate::Checker;

pub const DEFAULT_LEASE: Duration = Duration::from_millis(500);
pub const DEFAULT_HOLD: Duration = Duration::from_millis(1);
pub const DEFAULT_LOCK_WEIGHT: u32 = 5;
/// The lock.
pub const LOCK_KEY: &[u8] = b"tikv-bench/check/lock";
/// The value of a free (released) lock.
pub const LOCK_FREE: &[u8] = b"free";
/// The longest hold of a pessimistic lock: well under the lock's TTL, as
/// nothing keeps the lock alive while the holder sleeps.
const MAX_PESSIMISTIC_HOLD: Duration = Duration::from_secs(1);

/// The lock check's modes (no optimistic one: an optimistic transaction
/// does not exclude anybody while it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockCheckModeName {
    Cas,
    Pessimistic,
}

/// `lock:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockCheckSpec {
    pub mode: Option<Sp<LockCheckModeName>>,
    pub lease: Option<Sp<String>>,
    pub hold: Option<Sp<String>>,
    pub weight: Option<Sp<i64>>,
}

/// A lock guarding a critical section; no two holders overlap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LockCheck {
    /// `cas` (a lease) or `pessimistic`.
    pub mode: CheckMode,
    /// How long a CAS lease lasts.
    #[serde(serialize_with = "crate::vocab::fmt::ser_duration")]
    pub lease: Duration,
    /// How long a holder stays in the critical section.
    #[serde(serialize_with = "crate::vocab::fmt::ser_duration")]
    pub hold: Duration,
    pub weight: u32,
}

/// One critical section under the lock, by a holder unique to the op.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub owner: u64,
    pub lease: Duration,
    pub hold: Duration,
    pub mode: CheckMode,
}

impl Operation for Lease {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        match self.mode {
            CheckMode::Cas => lease_cas(kv, self, events).await,
            CheckMode::Pessimistic => lease_pessimistic(kv, self.hold, events).await,
            CheckMode::Optimistic => Err(OpError::new(
                ErrorKind::Other,
                format!("the lock check has no {} mode", self.mode.as_str()),
            )),
        }
    }
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A lease's holder: `(owner, expiry in Unix ms)`; `None` when free.
fn holder(value: Option<&[u8]>) -> Result<Option<(u64, u64)>, String> {
    let Some(v) = value else { return Ok(None) };
    if v == LOCK_FREE {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(v);
    let mut parts = text.split(' ');
    match (
        parts.next().and_then(|p| p.parse().ok()),
        parts.next().and_then(|p| p.parse().ok()),
    ) {
        (Some(owner), Some(until)) => Ok(Some((owner, until))),
        _ => Err(format!("the lock holds {text:?}, not 'OWNER EXPIRY_MS'")),
    }
}

/// The value of a lease held by `owner` until `until` (Unix ms).
fn held_by(owner: u64, until: u64) -> Vec<u8> {
    format!("{owner} {until}").into_bytes()
}

/// The time that must remain of a lease before its holder enters: the hold
/// plus a margin for a slow scheduler (a quarter of the lease, at least
/// 20 ms, at most half).
fn margin(lease: Duration, hold: Duration) -> u64 {
    let m = (lease / 4).max(Duration::from_millis(20)).min(lease / 2);
    (hold + m).as_millis() as u64
}

/// Whether a lease that expires at `until` leaves time for the hold.
fn usable(until: u64, lease: Duration, hold: Duration) -> bool {
    unix_ms() + margin(lease, hold) <= until
}

fn locked(message: String) -> OpError {
    OpError::new(ErrorKind::KeyIsLocked, message)
}

/// The critical section: entry, `hold`, exit.
async fn critical_section(hold: Duration) -> (Instant, Instant) {
    let entered = Instant::now();
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    (entered, Instant::now())
}

/// Takes the lease for `owner`, or finds that an earlier attempt of the
/// same op took it (its answer was lost); its expiry.
async fn take<K: RawKv>(kv: &K, l: &Lease) -> Result<u64, OpError> {
    let current = kv.get(LOCK_KEY).await?;
    let h = holder(current.as_deref()).map_err(|e| OpError::new(ErrorKind::Other, e))?;
    match h {
        Some((o, until)) if o == l.owner => Ok(until),
        Some((o, until)) if until >= unix_ms() => {
            let left = until.saturating_sub(unix_ms());
            Err(locked(format!(
                "the lock is held by owner {o} for another {left}ms"
            )))
        }
        _ => {
            let until = unix_ms() + l.lease.as_millis() as u64;
            let mine = held_by(l.owner, until);
            if !kv.cas(LOCK_KEY, current.as_deref(), &mine).await? {
                return Err(locked("lost the race for the lock".into()));
            }
            Ok(until)
        }
    }
}

/// The lease by compare-and-swap.
async fn lease_cas<K: RawKv>(kv: &K, l: &Lease, events: &mut Events) -> Result<Outcome, OpError> {
    let until = take(kv, l).await?;
    let mine = held_by(l.owner, until);
    if !usable(until, l.lease, l.hold) {
        // Too little of the lease is left to use it safely: give it back.
        events.add("lease_too_late", 1);
        let _ = kv.cas(LOCK_KEY, Some(&mine), LOCK_FREE).await;
        return Err(locked("took the lock too late to use its lease".into()));
    }
    let (entered, left) = critical_section(l.hold).await;
    if unix_ms() > until {
        events.add("lease_overruns", 1);
    }
    // A failed release leaves the lease to expire; the section happened.
    match kv.cas(LOCK_KEY, Some(&mine), LOCK_FREE).await {
        Ok(true) => {}
        _ => events.add("lease_release_failures", 1),
    }
    Ok(Outcome::Held { entered, left })
}

/// The critical section under a pessimistic lock.
async fn lease_pessimistic<K: Kv>(
    kv: &K,
    hold: Duration,
    events: &mut Events,
) -> Result<Outcome, OpError> {
    let mut txn = kv.begin(LockMode::Pessimistic.into()).await?;
    txn.get_for_update(LOCK_KEY, events).await?;
    let (entered, left) = critical_section(hold).await;
    // A failed rollback leaves the lock to its TTL; the section happened.
    if txn.rollback(events).await.is_err() {
        events.add("lease_release_failures", 1);
    }
    Ok(Outcome::Held { entered, left })
}

/// The lock check's view of one worker's critical sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockLog {
    pub fates: Fates,
    /// Each critical section, entry to exit.
    pub sections: Vec<(Instant, Instant)>,
}

impl Check for LockCheck {
    const NAME: &'static str = "lock";
    const OP: Option<&'static str> = Some("lease");
    type Spec = LockCheckSpec;
    type Op<'a> = Lease;
    /// This worker's next owner id (unique per op).
    type Gen = u64;
    type Log = LockLog;
    type Seen = ();

    fn check(c: &mut Checker, spec: &Sp<LockCheckSpec>, _: &CheckInput<'_>) -> LockCheck {
        let v = &spec.value;
        let mode = match v.mode.as_ref().map(|m| m.value) {
            None | Some(LockCheckModeName::Cas) => CheckMode::Cas,
            Some(LockCheckModeName::Pessimistic) => CheckMode::Pessimistic,
        };
        let lease = v
            .lease
            .as_ref()
            .map_or(DEFAULT_LEASE, |d| c.duration(d, "checks.lock.lease", false));
        let hold = v
            .hold
            .as_ref()
            .map_or(DEFAULT_HOLD, |d| c.duration(d, "checks.lock.hold", true));
        match mode {
            CheckMode::Pessimistic => check_pessimistic(c, v, hold),
            _ => check_lease(c, v, lease, hold),
        }
        LockCheck {
            mode,
            lease,
            hold,
            weight: weight(c, v.weight.as_ref(), DEFAULT_LOCK_WEIGHT, "lock"),
        }
    }

    fn weight(&self) -> Option<u32> {
        Some(self.weight)
    }

    fn generator(&self, worker: u64) -> u64 {
        (worker + 1) << 40
    }

    fn generate(&self, owner: &mut u64, _: &mut Rng) -> Lease {
        *owner += 1;
        Lease {
            owner: *owner,
            lease: self.lease,
            hold: self.hold,
            mode: self.mode,
        }
    }

    fn setup(&self) -> Option<Setup> {
        Some(Setup {
            what: "the free lock",
            txn: self.mode != CheckMode::Cas,
            pairs: vec![(LOCK_KEY.to_vec(), LOCK_FREE.to_vec())],
        })
    }

    fn record(&self, log: &mut LockLog, own: Option<&Lease>, done: &Done<'_, '_>) {
        if own.is_none() {
            return;
        }
        match (done.fate, done.result) {
            (Fate::Applied { .. }, Ok(Outcome::Held { entered, left })) => {
                log.fates.acked += 1;
                log.sections.push((*entered, *left));
            }
            (Fate::Failed, _) => log.fates.failed += 1,
            _ => log.fates.unknown += 1,
        }
    }

    async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, _: ()) -> CheckVerdict {
        verify(self, judge.logs, judge.base)
    }
}

fn fmt(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A pessimistic lock has no lease, and a short hold.
fn check_pessimistic(c: &mut Checker, v: &LockCheckSpec, hold: Duration) {
    if let Some(d) = &v.lease {
        c.err(
            d,
            "checks.lock.lease applies only to mode cas (a pessimistic lock is held until released)",
        );
    }
    if hold >= MAX_PESSIMISTIC_HOLD {
        let at_hold = v.hold.as_ref().expect("the default hold is short");
        c.err(
            at_hold,
            format!(
                "checks.lock.hold ({}) must be shorter than {} in mode pessimistic (the lock's TTL runs while the holder sleeps)",
                fmt(hold),
                fmt(MAX_PESSIMISTIC_HOLD)
            ),
        );
    }
}

/// A lease must outlast the hold.
fn check_lease(c: &mut Checker, v: &LockCheckSpec, lease: Duration, hold: Duration) {
    if hold < lease {
        return;
    }
    let msg = format!(
        "checks.lock.hold ({}) must be shorter than checks.lock.lease ({})",
        fmt(hold),
        fmt(lease)
    );
    match (&v.hold, &v.lease) {
        (Some(h), _) => c.err(h, msg),
        (None, Some(d)) => c.err(d, msg),
        (None, None) => {}
    }
}

fn verify(lock: &LockCheck, logs: &[WorkerLog], base: Instant) -> CheckVerdict {
    let mut fates = Fates::default();
    let mut sections: Vec<(Instant, Instant)> = Vec::new();
    for l in logs {
        fates.add(&l.lock.fates);
        sections.extend_from_slice(&l.lock.sections);
    }
    sections.sort();
    let at = |t: Instant| t.saturating_duration_since(base).as_secs_f64();
    let mut v = CheckVerdict::new("lock");
    v.detail("mode", lock.mode.as_str());
    if lock.mode == CheckMode::Cas {
        v.detail("lease", humantime::format_duration(lock.lease).to_string());
    }
    v.detail("hold", humantime::format_duration(lock.hold).to_string());
    v.detail("sections", sections.len());
    v.detail("unknown", fates.unknown);
    v.detail("failed", fates.failed);
    let longest = sections
        .iter()
        .map(|(e, l)| l.saturating_duration_since(*e))
        .max()
        .unwrap_or(Duration::ZERO);
    v.detail("longest_section_us", longest.as_micros() as u64);
    // The section that reaches furthest so far: a new one that begins
    // before it ends overlaps it.
    let mut reach: Option<(Instant, Instant)> = None;
    let mut overlaps = 0u64;
    for &(entered, left) in &sections {
        if let Some((e0, l0)) = reach
            && entered < l0
        {
            overlaps += 1;
            v.violation(|| {
                format!(
                    "two holders at once: one held the lock {:.6}s..{:.6}s, another entered at {:.6}s (overlap {:?})",
                    at(e0),
                    at(l0),
                    at(entered),
                    l0.min(left).saturating_duration_since(entered)
                )
            });
        }
        if reach.is_none_or(|(_, l0)| left > l0) {
            reach = Some((entered, left));
        }
    }
    v.detail("overlaps", overlaps);
    let summary = if overlaps == 0 {
        format!("{} critical sections, none overlapping", sections.len())
    } else {
        format!(
            "{} critical sections, {overlaps} overlapping",
            sections.len()
        )
    };
    v.summary(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_values_round_trip() {
        assert_eq!(holder(None), Ok(None));
        assert_eq!(holder(Some(LOCK_FREE)), Ok(None));
        assert_eq!(holder(Some(&held_by(7, 1234))), Ok(Some((7, 1234))));
        assert!(holder(Some(b"junk")).is_err());
    }

    #[test]
    fn the_margin_leaves_room_for_the_hold() {
        let ms = Duration::from_millis;
        assert_eq!(margin(ms(500), ms(1)), 126);
        assert_eq!(margin(ms(40), ms(1)), 21);
        assert_eq!(margin(ms(10), ms(1)), 6);
    }

    fn lock() -> LockCheck {
        LockCheck {
            mode: CheckMode::Cas,
            lease: Duration::from_millis(500),
            hold: Duration::from_millis(1),
            weight: 1,
        }
    }

    fn log(base: Instant, ms: &[(u64, u64)]) -> WorkerLog {
        let mut l = WorkerLog::default();
        let t = |m: u64| base + Duration::from_millis(m);
        l.lock.sections = ms.iter().map(|&(e, x)| (t(e), t(x))).collect();
        l
    }

    #[test]
    fn back_to_back_sections_pass_and_an_overlap_fails() {
        let base = Instant::now();
        let ok = [
            log(base, &[(0, 5), (10, 12)]),
            log(base, &[(5, 9), (12, 20)]),
        ];
        assert!(verify(&lock(), &ok, base).passed);
        let bad = [log(base, &[(0, 50)]), log(base, &[(10, 12), (20, 30)])];
        let v = verify(&lock(), &bad, base);
        assert_eq!(v.violation_count, 2, "{v:?}");
        assert!(v.violations[0].contains("0.000000s..0.050000s"), "{v}");
        assert!(v.violations[0].contains("entered at 0.010000s"), "{v}");
    }
}
