//! What every [`Op`] means, written once for the engine in process and the
//! gRPC client: [`run`] executes an op over any raw key space ([`RawKv`])
//! and any transaction [`Transport`]. The memory backend, which has no
//! transactions, has its own, simpler versions.
//!
//! - raw ops: one raw call each; `cas` reads the key, then swaps from what
//!   it read (a lost race is `Mismatch`).
//! - `txn`: snapshot-read the reads, then read (optimistic) or lock and read
//!   (pessimistic) each write, set it, commit.
//! - `transfer`: read both balances, write both, commit.
//! - `decrement`: read the stock; 0 is sold out (`Mismatch`); else one
//!   lower, by CAS (a lost race is `write_conflict`) or in a transaction.
//! - `lease`: a lease lock by CAS (value `owner expiry_ms`, `free` when
//!   released) or a pessimistic lock; the critical section between entry
//!   and exit sleeps `hold`.
//! - `snapshot`: reads keys at one start_ts (the checks' `read_txn`).

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::client::{Error, Transport, Txn, TxnOptions};
use crate::vocab::{CheckMode, ErrorKind, Events, LockMode, Op, Outcome, Pair};

pub(super) use crate::vocab::op::LEASE_FREE as FREE;

/// A raw key space: the calls the raw ops need.
pub(super) trait RawKv: Sync {
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Vec<u8>>, Error>> + Send;

    fn put(&self, key: &[u8], value: &[u8]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Pairs from `start` (to `end`, empty: unbounded), at most `limit`.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Pair>, Error>> + Send;

    fn batch_put(&self, pairs: &[Pair]) -> impl Future<Output = Result<(), Error>> + Send;

    fn batch_delete(&self, keys: &[Vec<u8>]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes `value` if the key holds `previous` (`None`: absent);
    /// whether it did.
    fn cas(
        &self,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// Executes `op`: raw ops on `raw`, transactions through the protocol over
/// `t`.
pub(super) async fn run<R: RawKv, T: Transport>(
    raw: &R,
    t: &T,
    opts: TxnOptions,
    op: Op<'_>,
    events: &mut Events,
) -> Result<Outcome, Error> {
    match op {
        Op::Get { key } => Ok(match raw.get(key).await? {
            Some(_) => Outcome::Done,
            None => Outcome::NotFound,
        }),
        Op::Put { key, value } => {
            raw.put(key, value).await?;
            Ok(Outcome::Done)
        }
        Op::Scan { start, limit } => {
            let rows = raw.scan(start, b"", limit).await?;
            events.add("rows", rows.len() as u64);
            Ok(Outcome::Done)
        }
        Op::BatchDelete { keys } => {
            raw.batch_delete(keys).await?;
            Ok(Outcome::Done)
        }
        Op::Cas { key, value } => {
            let current = raw.get(key).await?;
            Ok(if raw.cas(key, current.as_deref(), value).await? {
                Outcome::Done
            } else {
                Outcome::Mismatch
            })
        }
        Op::BatchPut { pairs } => {
            raw.batch_put(pairs).await?;
            Ok(Outcome::Done)
        }
        Op::Txn {
            reads,
            writes,
            value,
            lock,
        } => {
            let mut txn = Txn::begin(t, lock, opts).await?;
            for k in reads {
                txn.get(k, events).await?;
            }
            for k in writes {
                match lock {
                    LockMode::Optimistic => txn.get(k, events).await?,
                    LockMode::Pessimistic => txn.get_for_update(k, events).await?,
                };
                txn.put(k, value);
            }
            txn.commit(events).await?;
            Ok(Outcome::Done)
        }
        Op::TxnBatchPut { pairs } => {
            let mut txn = Txn::begin(t, LockMode::Optimistic, opts).await?;
            for (k, v) in pairs {
                txn.put(k, v);
            }
            txn.commit(events).await?;
            Ok(Outcome::Done)
        }
        Op::Transfer {
            from,
            to,
            amount,
            lock,
        } => transfer(t, opts, (from, to, amount, lock), events).await,
        Op::Decrement { key, mode } => match mode.lock() {
            None => decrement_cas(raw, key).await,
            Some(lock) => decrement_txn(t, opts, key, lock, events).await,
        },
        Op::Lease {
            key,
            owner,
            lease,
            hold,
            mode,
        } => match mode {
            CheckMode::Cas => lease_cas(raw, (key, owner, lease, hold), events).await,
            CheckMode::Pessimistic => lease_pessimistic(t, opts, (key, hold), events).await,
            CheckMode::Optimistic => Err(error(
                ErrorKind::Other,
                format!("the lock check has no {} mode", mode.as_str()),
            )),
        },
    }
}

fn error(kind: ErrorKind, message: String) -> Error {
    Error::Rpc {
        kind,
        message,
        undetermined: false,
    }
}

/// A decimal number stored at `key` (absent: `None`).
fn number(key: &[u8], v: Option<&[u8]>) -> Result<Option<i64>, Error> {
    let Some(v) = v else { return Ok(None) };
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            error(
                ErrorKind::Other,
                format!(
                    "key {} holds {:?}, not a decimal number",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(v)
                ),
            )
        })
}

/// The bank check's transfer in one transaction.
async fn transfer<T: Transport>(
    t: &T,
    opts: TxnOptions,
    (from, to, amount, lock): (&[u8], &[u8], i64, LockMode),
    events: &mut Events,
) -> Result<Outcome, Error> {
    let mut txn = Txn::begin(t, lock, opts).await?;
    let a = txn.get_for_update(from, events).await?;
    let b = txn.get_for_update(to, events).await?;
    let (Some(a), Some(b)) = (number(from, a.as_deref())?, number(to, b.as_deref())?) else {
        let _ = txn.rollback(events).await;
        return Err(error(
            ErrorKind::Other,
            format!(
                "transfer between {} and {}: an account has no balance",
                String::from_utf8_lossy(from),
                String::from_utf8_lossy(to)
            ),
        ));
    };
    txn.put(from, (a - amount).to_string().as_bytes());
    txn.put(to, (b + amount).to_string().as_bytes());
    txn.commit(events).await?;
    Ok(Outcome::Done)
}

/// The inventory check's decrement in one transaction.
async fn decrement_txn<T: Transport>(
    t: &T,
    opts: TxnOptions,
    key: &[u8],
    lock: LockMode,
    events: &mut Events,
) -> Result<Outcome, Error> {
    let mut txn = Txn::begin(t, lock, opts).await?;
    let stock = number(key, txn.get_for_update(key, events).await?.as_deref())?.unwrap_or(0);
    if stock <= 0 {
        txn.rollback(events).await?;
        return Ok(Outcome::Mismatch);
    }
    txn.put(key, (stock - 1).to_string().as_bytes());
    txn.commit(events).await?;
    Ok(Outcome::Done)
}

/// The inventory check's decrement by compare-and-swap.
async fn decrement_cas<R: RawKv>(raw: &R, key: &[u8]) -> Result<Outcome, Error> {
    let current = raw.get(key).await?;
    let stock = number(key, current.as_deref())?.unwrap_or(0);
    if stock <= 0 {
        return Ok(Outcome::Mismatch);
    }
    let next = (stock - 1).to_string();
    if raw.cas(key, current.as_deref(), next.as_bytes()).await? {
        Ok(Outcome::Done)
    } else {
        Err(error(
            ErrorKind::WriteConflict,
            format!("lost the compare-and-swap race on stock {stock}"),
        ))
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A lease's holder: `(owner, expiry in Unix ms)`; `None` when free.
pub(super) fn holder(value: Option<&[u8]>) -> Result<Option<(u64, u64)>, String> {
    let Some(v) = value else { return Ok(None) };
    if v == FREE {
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
pub(super) fn held_by(owner: u64, until: u64) -> Vec<u8> {
    format!("{owner} {until}").into_bytes()
}

/// The time that must remain of a lease before its holder enters: the hold
/// plus a margin for a slow scheduler (a quarter of the lease, at least
/// 20 ms, at most half).
pub(super) fn margin(lease: Duration, hold: Duration) -> u64 {
    let m = (lease / 4).max(Duration::from_millis(20)).min(lease / 2);
    (hold + m).as_millis() as u64
}

/// Whether a lease that expires at `until` leaves time for the hold.
pub(super) fn usable(until: u64, lease: Duration, hold: Duration) -> bool {
    unix_ms() + margin(lease, hold) <= until
}

fn refused(owner: u64, until: u64) -> Error {
    let left = until.saturating_sub(unix_ms());
    error(
        ErrorKind::KeyIsLocked,
        format!("the lock is held by owner {owner} for another {left}ms"),
    )
}

/// The critical section: entry, `hold`, exit.
pub(super) async fn critical_section(hold: Duration) -> (Instant, Instant) {
    let entered = Instant::now();
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    (entered, Instant::now())
}

/// The lock check's lease by compare-and-swap.
async fn lease_cas<R: RawKv>(
    raw: &R,
    (key, owner, lease, hold): (&[u8], u64, Duration, Duration),
    events: &mut Events,
) -> Result<Outcome, Error> {
    let current = raw.get(key).await?;
    let h = holder(current.as_deref()).map_err(|e| error(ErrorKind::Other, e))?;
    let until = match h {
        // An earlier attempt of this op took it (its answer was lost).
        Some((o, until)) if o == owner => until,
        Some((o, until)) if until >= unix_ms() => return Err(refused(o, until)),
        _ => {
            let until = unix_ms() + lease.as_millis() as u64;
            if !raw
                .cas(key, current.as_deref(), &held_by(owner, until))
                .await?
            {
                return Err(error(
                    ErrorKind::KeyIsLocked,
                    "lost the race for the lock".into(),
                ));
            }
            until
        }
    };
    let mine = held_by(owner, until);
    if !usable(until, lease, hold) {
        // Too little of the lease is left to use it safely: give it back.
        events.add("lease_too_late", 1);
        let _ = raw.cas(key, Some(&mine), FREE).await;
        return Err(error(
            ErrorKind::KeyIsLocked,
            "took the lock too late to use its lease".into(),
        ));
    }
    let (entered, left) = critical_section(hold).await;
    if unix_ms() > until {
        events.add("lease_overruns", 1);
    }
    // A failed release leaves the lease to expire; the section happened.
    match raw.cas(key, Some(&mine), FREE).await {
        Ok(true) => {}
        _ => events.add("lease_release_failures", 1),
    }
    Ok(Outcome::Held { entered, left })
}

/// The lock check's critical section under a pessimistic lock.
async fn lease_pessimistic<T: Transport>(
    t: &T,
    opts: TxnOptions,
    (key, hold): (&[u8], Duration),
    events: &mut Events,
) -> Result<Outcome, Error> {
    let mut txn = Txn::begin(t, LockMode::Pessimistic, opts).await?;
    txn.get_for_update(key, events).await?;
    let (entered, left) = critical_section(hold).await;
    // A failed rollback leaves the lock to its TTL; the section happened.
    if txn.rollback(events).await.is_err() {
        events.add("lease_release_failures", 1);
    }
    Ok(Outcome::Held { entered, left })
}

/// Reads `keys` at one snapshot.
pub(super) async fn snapshot<T: Transport>(
    t: &T,
    opts: TxnOptions,
    keys: &[Vec<u8>],
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let mut events = Events::default();
    let mut txn = Txn::begin(t, LockMode::Optimistic, opts).await?;
    txn.batch_get(keys, &mut events).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_values_round_trip() {
        assert_eq!(holder(None), Ok(None));
        assert_eq!(holder(Some(FREE)), Ok(None));
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
}
