//! A transaction over any [`Transport`]: Percolator two-phase commit with
//! optimistic or pessimistic locking, async commit or one-phase commit.
//!
//! - `begin` takes a start_ts. `get` reads the snapshot at start_ts; a lock
//!   in the way is resolved (its primary's status decides: commit it, roll
//!   it back, read past it if its commit was pushed after us, or back off
//!   while it lives), then the read is retried, a bounded number of times.
//! - `get_for_update` (pessimistic) locks the key with a fresh
//!   for_update_ts and returns its newest value; when the engine answers
//!   `WriteConflict(PessimisticRetry)` (a newer write, or a wait that ended
//!   with the holder's release) it locks again with a fresh for_update_ts,
//!   a bounded number of times. `Deadlock` aborts.
//! - `put` / `delete` buffer. `commit` prewrites every mutation (locks met
//!   are resolved and the prewrite retried; an optimistic transaction that
//!   meets a younger one's lock fails with a write conflict at once, as
//!   client-go's does), takes a commit_ts, commits the primary (retrying
//!   with a fresh commit_ts when a reader pushed the lock's
//!   min_commit_ts), then the secondaries (off the caller's hands when the
//!   transaction has an [`AsyncFinisher`], as client-go commits them from
//!   a goroutine).
//! - Commit modes (`TxnMode::commit`), as client-go: `async` prewrites with
//!   use_async_commit (the secondaries in the primary's lock, min_commit_ts
//!   above a fresh timestamp, max_commit_ts two seconds ahead) and is
//!   committed when every region answered a min_commit_ts, at the largest;
//!   every key's KvCommit follows, off the caller's hands when the
//!   transaction has an [`AsyncFinisher`]. `1pc` asks the store to commit in
//!   the prewrite, which only a prewrite of one request can (one region,
//!   not cut by size). Either falls back to two phases (counted in the
//!   op's events): async for more than 256 keys or 4 KiB of keys, or a
//!   region without a min_commit_ts; 1PC when the store did not commit.
//! - Any failure rolls the transaction back before it is returned, so a
//!   failed transaction leaves no lock behind (unless the process dies, when
//!   the locks' TTL lets others resolve them).
//! - Heartbeats: once the primary is locked, a transaction that lives longer
//!   than half its lock TTL sends `TxnHeartBeat` on the primary every half
//!   TTL (also while it waits for a lock, a prewrite or the primary's
//!   commit), asking for a TTL that outlasts its age, so resolvers do not
//!   take it for dead.
//! - Keys: under API V2 each user key is encoded into the transport's
//!   keyspace where it enters (`get`, `batch_get`, `get_for_update`, `put`,
//!   `delete`); everything below works on full keys, as the locks the
//!   stores report carry them.
//! - The op's trace gets each lock resolution (what it found), each
//!   backoff while a holder lives, each lock wait and each heartbeat; the
//!   transport logs its own RPCs and timestamp waits.

use crate::vocab::events::CLIENT_RETRIES;
use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use std::borrow::Cow;
use std::sync::Arc;

use super::keyspace::{KeyMode, full_key};
use super::resolve::{Resolved, resolve};
use super::{Error, Transport, is_pessimistic_retry};
use crate::txn_types::ts::{compose, physical};
use crate::txn_types::{
    ConflictReason, KeyError, LockInfo, Mutation, MutationOp, PessimisticAction,
    PessimisticLockRequest, PrewriteRequest, PrewriteResult, WriteConflict,
};
use crate::vocab::trace::{self, Step};
use crate::vocab::{Backoff, CommitMode, Events, LockMode, TxnMode};

/// The most keys an async-commit transaction may have (client-go's
/// `async-commit.keys-limit` default); more commit in two phases.
pub const ASYNC_COMMIT_KEYS: usize = 256;

/// The most bytes of keys an async-commit transaction may have (client-go's
/// `async-commit.total-key-size-limit` default, 4 KiB).
pub const ASYNC_COMMIT_KEY_BYTES: usize = 4 * 1024;

/// How far past now an async-commit or 1PC transaction lets its commit_ts
/// go (client-go's `async-commit.safe-window` default), its max_commit_ts.
pub const ASYNC_COMMIT_SAFE_WINDOW: Duration = Duration::from_secs(2);

/// Event: a transaction committed by one-phase commit.
pub const ONE_PC_COMMITS: &str = "one_pc_commits";
/// Event: a 1PC transaction committed in two phases instead (its keys span
/// regions or one request's size, or the store declined).
pub const ONE_PC_FALLBACKS: &str = "one_pc_fallbacks";
/// Event: a transaction committed by async commit (committed once every
/// key was prewritten).
pub const ASYNC_COMMITS: &str = "async_commits";
/// Event: an async-commit transaction committed in two phases instead (too
/// many keys, or a store answered no min_commit_ts).
pub const ASYNC_COMMIT_FALLBACKS: &str = "async_commit_fallbacks";

/// The commit that follows a transaction's commit point: under async
/// commit every key's KvCommit, under two-phase commit the secondaries',
/// at the commit_ts (the transaction is committed already; a key left
/// locked is a resolver's to commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The keys still locked: async commit's every key (the primary among
    /// them), two-phase commit's secondaries.
    pub keys: Vec<Vec<u8>>,
    /// The transaction's start_ts.
    pub start_ts: u64,
    /// Its commit_ts (under async commit, the largest min_commit_ts the
    /// prewrites answered).
    pub commit_ts: u64,
}

impl Unfinished {
    /// Commits every key on `t`, all regions at once (client-go does not
    /// commit an async-commit transaction's primary first), trying twice.
    pub async fn commit<T: Transport>(&self, t: &T) {
        for _ in 0..2 {
            if t.commit(&self.keys, self.start_ts, self.commit_ts)
                .await
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Where a transaction hands its [`Unfinished`] commit so that its caller
/// need not wait for it (client-go spawns it); without one, `commit` sends
/// it before returning.
#[derive(Clone)]
pub struct AsyncFinisher(pub Arc<dyn Fn(Unfinished) + Send + Sync>);

impl std::fmt::Debug for AsyncFinisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncFinisher")
    }
}

/// True when a prewrite failed for a commit_ts above its max_commit_ts.
fn is_too_large(e: &Error) -> bool {
    matches!(e, Error::Key(errs) if errs.iter().any(|e| matches!(e, KeyError::CommitTsTooLarge { .. })))
}

/// The fallback event of the mode `req` asked for.
fn fallback_event(req: &PrewriteRequest) -> &'static str {
    if req.try_one_pc {
        ONE_PC_FALLBACKS
    } else {
        ASYNC_COMMIT_FALLBACKS
    }
}

/// The protocol's knobs, with the defaults of a TiDB-like client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOptions {
    /// TTL of the transaction's locks, ms.
    pub lock_ttl: u64,
    /// Pessimistic lock wait, ms: 0 = the engine's default, negative = do
    /// not wait.
    pub wait_timeout: i64,
    /// Times one `get_for_update` may lock again after `PessimisticRetry`
    /// or a lock wait timeout.
    pub lock_retries: u32,
    /// Times one read or prewrite may resolve locks and retry.
    pub resolve_attempts: u32,
    /// First backoff while a lock's holder is alive.
    pub backoff_base: Duration,
    /// Longest such backoff.
    pub backoff_max: Duration,
    /// Times the primary commit may retry after `CommitTsExpired`.
    pub commit_retries: u32,
}

impl Default for TxnOptions {
    fn default() -> TxnOptions {
        TxnOptions {
            lock_ttl: 3_000,
            wait_timeout: 0,
            lock_retries: 64,
            resolve_attempts: 16,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(32),
            commit_retries: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    /// Prewrite was sent (locks may exist on every mutation key).
    Prewriting,
    Committed(u64),
    RolledBack,
}

/// One transaction. Methods that fail roll the transaction back first.
#[derive(Debug)]
pub struct Txn<'t, T: Transport> {
    t: &'t T,
    opts: TxnOptions,
    mode: LockMode,
    /// How it commits.
    commit_mode: CommitMode,
    start_ts: u64,
    /// The largest for_update_ts used so far.
    for_update_ts: u64,
    /// Buffered writes: `None` deletes.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Keys holding our pessimistic locks, in locking order.
    locked: Vec<Vec<u8>>,
    /// The primary: the first key locked (pessimistic) or chosen at commit.
    primary: Option<Vec<u8>>,
    /// Transactions whose locks our reads may pass (pushed past start_ts).
    resolved: Vec<u64>,
    state: State,
    /// When start_ts was taken (lock TTLs count from it).
    born: Instant,
    /// The last heartbeat (or `born`).
    last_beat: Instant,
    /// Takes an async commit's KvCommit off the caller's hands.
    finisher: Option<AsyncFinisher>,
}

impl<'t, T: Transport> Txn<'t, T> {
    /// Starts a transaction.
    pub async fn begin(
        t: &'t T,
        mode: impl Into<TxnMode>,
        opts: TxnOptions,
    ) -> Result<Txn<'t, T>, Error> {
        let TxnMode { lock: mode, commit } = mode.into();
        let born = Instant::now();
        let start_ts = t.timestamp().await?;
        Ok(Txn {
            t,
            opts,
            mode,
            commit_mode: commit,
            start_ts,
            for_update_ts: 0,
            writes: BTreeMap::new(),
            locked: Vec::new(),
            primary: None,
            resolved: Vec::new(),
            state: State::Active,
            born,
            last_beat: born,
            finisher: None,
        })
    }

    /// Hands an async commit's KvCommit to `finisher` instead of sending it
    /// before `commit` returns.
    pub fn with_finisher(mut self, finisher: Option<AsyncFinisher>) -> Txn<'t, T> {
        self.finisher = finisher;
        self
    }

    /// The start_ts.
    pub fn start_ts(&self) -> u64 {
        self.start_ts
    }

    /// The commit_ts, once committed (0 for a read-only transaction).
    pub fn commit_ts(&self) -> Option<u64> {
        match self.state {
            State::Committed(ts) => Some(ts),
            _ => None,
        }
    }

    /// A user key as sent (in the transport's keyspace under V2).
    fn key<'k>(&self, key: &'k [u8]) -> Cow<'k, [u8]> {
        full_key(self.t.keyspace(), KeyMode::Txn, key)
    }

    fn check_active(&self) -> Result<(), Error> {
        match self.state {
            State::Active => Ok(()),
            s => Err(Error::key(KeyError::Abort(format!(
                "transaction {} is no longer active ({s:?})",
                self.start_ts
            )))),
        }
    }

    /// Reads `key`: our own buffered write if any, else the snapshot at
    /// start_ts.
    pub async fn get(&mut self, key: &[u8], events: &mut Events) -> Result<Option<Vec<u8>>, Error> {
        self.check_active()?;
        let key = self.key(key);
        if let Some(v) = self.writes.get(&*key) {
            return Ok(v.clone());
        }
        self.beat_if_due(events).await;
        match self.snapshot_get(&key, events).await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.fail(e, events).await),
        }
    }

    /// Reads `keys` at the snapshot of start_ts, all together (buffered
    /// writes are not consulted): one answer per key, in order. Keys hidden
    /// by locks are resolved and read again, a bounded number of times.
    pub async fn batch_get(
        &mut self,
        keys: &[Vec<u8>],
        events: &mut Events,
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        self.check_active()?;
        let keys: Cow<'_, [Vec<u8>]> = match self.t.keyspace() {
            Some(ks) => keys.iter().map(|k| ks.encode(KeyMode::Txn, k)).collect(),
            None => Cow::Borrowed(keys),
        };
        let mut out: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            let ask: Vec<Vec<u8>> = pending.iter().map(|&i| keys[i].clone()).collect();
            let pairs = self
                .t
                .kv_batch_get(&ask, self.start_ts, &self.resolved)
                .await?;
            let mut locks: Vec<LockInfo> = Vec::new();
            let mut locked: Vec<usize> = Vec::new();
            for p in pairs {
                let Some(i) = pending.iter().copied().find(|&i| keys[i] == p.key) else {
                    continue;
                };
                match p.value {
                    Ok(v) => out[i] = Some(v),
                    Err(KeyError::Locked(lock)) => {
                        locks.push(lock);
                        locked.push(i);
                    }
                    Err(e) => return Err(Error::key(e)),
                }
            }
            pending = locked;
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt > self.opts.resolve_attempts {
                return Err(Error::key(KeyError::Locked(locks.swap_remove(0))));
            }
            let mut alive = false;
            for lock in &locks {
                match resolve(self.t, lock, self.start_ts, events).await? {
                    Resolved::Gone => {}
                    Resolved::Pushed => self.resolved.push(lock.lock_version),
                    Resolved::Alive => alive = true,
                }
            }
            if alive {
                self.pause(attempt, events).await;
            }
        }
        self.t.check_visibility(self.start_ts).await?;
        Ok(out)
    }

    async fn snapshot_get(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut attempt = 0;
        loop {
            let err = match self.t.kv_get(key, self.start_ts, &self.resolved).await {
                Ok(v) => {
                    self.t.check_visibility(self.start_ts).await?;
                    return Ok(v);
                }
                Err(e) => e,
            };
            let Some(KeyError::Locked(lock)) = err.key_error() else {
                return Err(err);
            };
            attempt += 1;
            if attempt > self.opts.resolve_attempts {
                return Err(err);
            }
            let lock = lock.clone();
            match resolve(self.t, &lock, self.start_ts, events).await? {
                Resolved::Gone => {}
                Resolved::Pushed => self.resolved.push(lock.lock_version),
                Resolved::Alive => self.pause(attempt, events).await,
            }
        }
    }

    /// Locks `key` for this transaction and reads its newest value
    /// (pessimistic mode; optimistic transactions just read).
    pub async fn get_for_update(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.check_active()?;
        if self.mode == LockMode::Optimistic {
            return self.get(key, events).await;
        }
        let key = &*self.key(key);
        match self.lock_key(key, events).await {
            Ok(v) => {
                if let Some(w) = self.writes.get(key) {
                    return Ok(w.clone());
                }
                Ok(v)
            }
            Err(e) => {
                // As client-go: every key of the failed request is rolled
                // back, since a request that timed out may still have
                // locked it (TiKV carries on with it).
                if !self.locked.iter().any(|k| k == key) {
                    self.locked.push(key.to_vec());
                }
                Err(self.fail(e, events).await)
            }
        }
    }

    async fn lock_key(
        &mut self,
        key: &[u8],
        events: &mut Events,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut retries = 0;
        loop {
            let for_update_ts = self.t.timestamp().await?;
            self.for_update_ts = self.for_update_ts.max(for_update_ts);
            let req = PessimisticLockRequest {
                keys: vec![key.to_vec()],
                primary_lock: self.primary.clone().unwrap_or_else(|| key.to_vec()),
                start_version: self.start_ts,
                lock_ttl: self.opts.lock_ttl,
                for_update_ts,
                is_first_lock: self.locked.is_empty(),
                wait_timeout: self.opts.wait_timeout,
                return_values: true,
                // As client-go: a reader may push the lock's commit past
                // itself once it is prewritten.
                min_commit_ts: for_update_ts.saturating_add(1),
            };
            let t = self.t;
            let reply = self.alive(t.pessimistic_lock(&req), events).await;
            if !reply.waited.is_zero() {
                events.add("lock_waits", 1);
                events.add("lock_wait_us", reply.waited.as_micros() as u64);
                let began = trace::now().checked_sub(reply.waited);
                let began = began.unwrap_or_else(trace::now);
                events.trace_mut().push(began, reply.waited, Step::LockWait);
            }
            let err = match reply.result {
                Ok(mut values) => {
                    if self.primary.is_none() {
                        self.primary = Some(key.to_vec());
                    }
                    if !self.locked.iter().any(|k| k == key) {
                        self.locked.push(key.to_vec());
                    }
                    return Ok(values.pop().flatten());
                }
                Err(e) => e,
            };
            let lock: Option<LockInfo> = match err.key_error() {
                Some(e) if is_pessimistic_retry(e) => {
                    events.add("pessimistic_retries", 1);
                    None
                }
                Some(KeyError::Deadlock { .. }) => {
                    events.add("deadlocks", 1);
                    return Err(err);
                }
                Some(KeyError::Locked(l)) => {
                    if !reply.waited.is_zero() {
                        events.add("lock_wait_timeouts", 1);
                    }
                    Some(l.clone())
                }
                _ => return Err(err),
            };
            retries += 1;
            if retries > self.opts.lock_retries {
                return Err(err);
            }
            // The lock request goes out again: a retry the driver never sees.
            events.add(CLIENT_RETRIES, 1);
            if let Some(lock) = lock {
                // The wait timed out (or we were told not to wait): the
                // holder may be dead; resolve, and back off if it lives.
                if resolve(self.t, &lock, 0, events).await? == Resolved::Alive {
                    self.pause(retries, events).await;
                }
            }
        }
    }

    /// Buffers a write of `value` to `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        let key = self.key(key).into_owned();
        self.writes.insert(key, Some(value.to_vec()));
    }

    /// Buffers a delete of `key`.
    pub fn delete(&mut self, key: &[u8]) {
        let key = self.key(key).into_owned();
        self.writes.insert(key, None);
    }

    /// Commits: returns the commit_ts (0 when there was nothing to write).
    /// Under async commit the transaction is committed once every key is
    /// prewritten, under two-phase commit once its primary is; the rest of
    /// the KvCommit follows, handed to the [`AsyncFinisher`] when there is
    /// one (the caller does not wait), else sent before this returns.
    pub async fn commit(&mut self, events: &mut Events) -> Result<u64, Error> {
        self.check_active()?;
        if self.writes.is_empty() && self.locked.is_empty() {
            self.state = State::Committed(0);
            return Ok(0);
        }
        match self.commit_writes(events).await {
            Ok((ts, unfinished)) => {
                self.state = State::Committed(ts);
                if let Some(u) = unfinished {
                    match &self.finisher {
                        Some(f) => (f.0)(u),
                        None => u.commit(self.t).await,
                    }
                }
                Ok(ts)
            }
            // The primary may have committed: leave the locks to resolvers.
            Err(e) if e.undetermined() => {
                self.state = State::RolledBack;
                Err(e)
            }
            Err(e) => Err(self.fail(e, events).await),
        }
    }

    fn mutations(&self) -> (Vec<Mutation>, Vec<PessimisticAction>) {
        let mut muts = Vec::with_capacity(self.writes.len() + self.locked.len());
        let mut actions = Vec::new();
        let pessimistic = self.mode == LockMode::Pessimistic;
        let action = |k: &[u8]| {
            if self.locked.iter().any(|l| l == k) {
                PessimisticAction::DoPessimisticCheck
            } else {
                PessimisticAction::SkipPessimisticCheck
            }
        };
        for (k, v) in &self.writes {
            muts.push(match v {
                Some(v) => Mutation::put(k.clone(), v.clone()),
                None => Mutation::delete(k.clone()),
            });
            if pessimistic {
                actions.push(action(k));
            }
        }
        // Locked but unwritten keys commit as Lock records (and so release).
        for k in &self.locked {
            if !self.writes.contains_key(k) {
                muts.push(Mutation::of(MutationOp::Lock, k.clone()));
                actions.push(PessimisticAction::DoPessimisticCheck);
            }
        }
        (muts, actions)
    }

    /// The commit mode this transaction's writes can use, as client-go
    /// decides it (`checkAsyncCommit`, `checkOnePC` in
    /// txnkv/transaction/2pc.go): async commit only for at most
    /// [`ASYNC_COMMIT_KEYS`] keys of at most [`ASYNC_COMMIT_KEY_BYTES`]
    /// bytes together, else two-phase commit (counted).
    fn usable_mode(&self, mutations: &[Mutation], events: &mut Events) -> CommitMode {
        if self.commit_mode != CommitMode::Async {
            return self.commit_mode;
        }
        let key_bytes: usize = mutations.iter().map(|m| m.key.len()).sum();
        if mutations.len() > ASYNC_COMMIT_KEYS || key_bytes > ASYNC_COMMIT_KEY_BYTES {
            events.add(ASYNC_COMMIT_FALLBACKS, 1);
            return CommitMode::TwoPc;
        }
        CommitMode::Async
    }

    /// The prewrite of every mutation, with what `mode` adds to it. For
    /// async commit and 1PC, as client-go's `execute` in
    /// txnkv/transaction/2pc.go: min_commit_ts above a fresh timestamp (so
    /// the commit_ts the stores pick exceeds every snapshot already
    /// taken), and max_commit_ts = now (start_ts plus the time since, by
    /// this clock) plus [`ASYNC_COMMIT_SAFE_WINDOW`]; a pessimistic async
    /// transaction's locks live at least until max_commit_ts.
    async fn prewrite_request(&mut self, events: &mut Events) -> Result<PrewriteRequest, Error> {
        let (mutations, pessimistic_actions) = self.mutations();
        let mode = self.usable_mode(&mutations, events);
        let primary = match &self.primary {
            Some(p) => p.clone(),
            None => mutations[0].key.clone(),
        };
        self.primary = Some(primary.clone());
        let mut req = PrewriteRequest {
            txn_size: mutations.len() as u64,
            mutations,
            primary_lock: primary,
            start_version: self.start_ts,
            lock_ttl: self.opts.lock_ttl,
            pessimistic_actions,
            for_update_ts: self.for_update_ts,
            // As client-go: TiKV stores it as sent, and a lock whose
            // min_commit_ts is 0 cannot be pushed, so readers would wait.
            min_commit_ts: self.start_ts.max(self.for_update_ts).saturating_add(1),
            ..Default::default()
        };
        if mode == CommitMode::TwoPc {
            return Ok(req);
        }
        let latest = self.t.timestamp().await?;
        req.min_commit_ts = req.min_commit_ts.max(latest.saturating_add(1));
        let age = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        let window = ASYNC_COMMIT_SAFE_WINDOW.as_millis() as u64;
        req.max_commit_ts = self
            .start_ts
            .saturating_add(compose(age.saturating_add(window), 0));
        if mode == CommitMode::OnePc {
            req.try_one_pc = true;
            return Ok(req);
        }
        req.use_async_commit = true;
        req.secondaries = req
            .mutations
            .iter()
            .map(|m| m.key.clone())
            .filter(|k| *k != req.primary_lock)
            .collect();
        if self.mode == LockMode::Pessimistic {
            let safe_ttl = physical(req.max_commit_ts) - physical(self.start_ts) + 1;
            req.lock_ttl = req.lock_ttl.max(safe_ttl);
        }
        Ok(req)
    }

    /// Prewrites, then commits as the request's mode allows: 1PC done when
    /// the store committed; async commit done when every region answered a
    /// min_commit_ts (the commit_ts is the largest, and the keys' KvCommit
    /// is returned for later); otherwise two-phase commit (a fallback,
    /// counted, as client-go's `handleSingleBatchSucceed` in
    /// txnkv/transaction/prewrite.go falls back).
    async fn commit_writes(
        &mut self,
        events: &mut Events,
    ) -> Result<(u64, Option<Unfinished>), Error> {
        let mut req = self.prewrite_request(events).await?;
        self.state = State::Prewriting;
        let done = match self.prewrite(&req, events).await {
            Ok(done) => done,
            // Our stores fall back on their own (min_commit_ts 0); a
            // store that refuses instead gets the plain prewrite.
            Err(e) if is_too_large(&e) && (req.use_async_commit || req.try_one_pc) => {
                events.add(fallback_event(&req), 1);
                req.use_async_commit = false;
                req.try_one_pc = false;
                req.secondaries.clear();
                req.max_commit_ts = 0;
                self.prewrite(&req, events).await?;
                return self.commit_primary(&req, events).await;
            }
            Err(e) => return Err(e),
        };
        if req.try_one_pc && done.one_pc_commit_ts != 0 {
            events.add(ONE_PC_COMMITS, 1);
            return Ok((done.one_pc_commit_ts, None));
        }
        if req.use_async_commit && done.min_commit_ts != 0 {
            events.add(ASYNC_COMMITS, 1);
            let unfinished = Unfinished {
                keys: req.mutations.into_iter().map(|m| m.key).collect(),
                start_ts: self.start_ts,
                commit_ts: done.min_commit_ts,
            };
            return Ok((done.min_commit_ts, Some(unfinished)));
        }
        if req.use_async_commit || req.try_one_pc {
            events.add(fallback_event(&req), 1);
        }
        self.commit_primary(&req, events).await
    }

    /// Two-phase commit after `req`'s prewrite: a commit_ts, the primary's
    /// commit (retrying with a fresh commit_ts when a reader pushed the
    /// lock's min_commit_ts); the secondaries' commit is returned for
    /// later.
    async fn commit_primary(
        &mut self,
        req: &PrewriteRequest,
        events: &mut Events,
    ) -> Result<(u64, Option<Unfinished>), Error> {
        let primary = &req.primary_lock;
        let mut commit_ts = self.t.timestamp().await?;
        let mut retries = 0;
        loop {
            let t = self.t;
            let committed = t.commit(std::slice::from_ref(primary), self.start_ts, commit_ts);
            match self.alive(committed, events).await {
                Ok(_) => break,
                Err(e) => match e.key_error() {
                    Some(KeyError::CommitTsExpired { .. })
                        if retries < self.opts.commit_retries =>
                    {
                        retries += 1;
                        commit_ts = self.t.timestamp().await?;
                    }
                    _ => return Err(e.on_primary_commit()),
                },
            }
        }
        // Committed. The secondaries' commit follows, as client-go sends
        // it from a goroutine of its own (`doActionOnBatches` in
        // txnkv/transaction/2pc.go): a failure there does not undo the
        // commit, and a key left locked is a resolver's to commit.
        let secondaries: Vec<Vec<u8>> = req
            .mutations
            .iter()
            .map(|m| m.key.clone())
            .filter(|k| k != primary)
            .collect();
        let unfinished = (!secondaries.is_empty()).then_some(Unfinished {
            keys: secondaries,
            start_ts: self.start_ts,
            commit_ts,
        });
        Ok((commit_ts, unfinished))
    }

    /// Prewrites `req`, resolving the locks it meets; what the stores
    /// answered (async commit's min_commit_ts, 1PC's commit_ts).
    async fn prewrite(
        &mut self,
        req: &PrewriteRequest,
        events: &mut Events,
    ) -> Result<PrewriteResult, Error> {
        let mut attempt = 0;
        loop {
            let t = self.t;
            let err = match self.alive(t.prewrite(req), events).await {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            let locks: Vec<LockInfo> = match &err {
                Error::Key(errs) => errs
                    .iter()
                    .map_while(|e| match e {
                        KeyError::Locked(l) => Some(l.clone()),
                        _ => None,
                    })
                    .collect(),
                Error::Rpc { .. } => Vec::new(),
            };
            let all_locks = matches!(&err, Error::Key(errs) if errs.len() == locks.len());
            if locks.is_empty() || !all_locks {
                if matches!(err.key_error(), Some(KeyError::Conflict(_))) {
                    events.add("write_conflicts", 1);
                }
                return Err(err);
            }
            if let Some(conflict) = self.younger_lock(req, &locks) {
                events.add("write_conflicts", 1);
                return Err(conflict);
            }
            attempt += 1;
            if attempt > self.opts.resolve_attempts {
                return Err(err);
            }
            let mut alive = false;
            for lock in &locks {
                alive |= resolve(self.t, lock, 0, events).await? == Resolved::Alive;
            }
            if alive {
                self.pause(attempt, events).await;
            }
        }
    }

    /// For an optimistic transaction whose prewrite met `locks`: the write
    /// conflict it certainly ends in when one of them belongs to a younger
    /// transaction (a larger start_ts), which commits, if it does, after
    /// our start_ts. It fails at once, as client-go's prewrite does
    /// (`extractKeyErrs` in txnkv/transaction/prewrite.go), instead of
    /// resolving and waiting: two prewrites whose keys span regions, each
    /// holding part of what the other needs, would otherwise wait on each
    /// other until one ran out of `resolve_attempts`. Of any two, the older
    /// gives up its locks at once and the younger goes on.
    fn younger_lock(&self, req: &PrewriteRequest, locks: &[LockInfo]) -> Option<Error> {
        if self.mode != LockMode::Optimistic {
            return None;
        }
        let lock = locks.iter().find(|l| l.lock_version > self.start_ts)?;
        Some(Error::key(KeyError::Conflict(WriteConflict {
            start_ts: self.start_ts,
            conflict_ts: lock.lock_version,
            key: lock.key.clone(),
            primary: req.primary_lock.clone(),
            conflict_commit_ts: 0,
            reason: ConflictReason::Optimistic,
        })))
    }

    /// Rolls back: removes every lock this transaction may hold.
    pub async fn rollback(&mut self, _events: &mut Events) -> Result<(), Error> {
        let r = match self.state {
            State::Committed(_) | State::RolledBack => return Ok(()),
            State::Prewriting => {
                let mut keys: Vec<Vec<u8>> = self.writes.keys().cloned().collect();
                keys.extend(
                    self.locked
                        .iter()
                        .filter(|k| !self.writes.contains_key(*k))
                        .cloned(),
                );
                self.t.batch_rollback(&keys, self.start_ts).await
            }
            State::Active if !self.locked.is_empty() => {
                self.t
                    .pessimistic_rollback(&self.locked, self.start_ts, self.for_update_ts)
                    .await
            }
            State::Active => Ok(()),
        };
        self.state = State::RolledBack;
        r
    }

    /// Rolls back after `err` and returns it.
    async fn fail(&mut self, err: Error, events: &mut Events) -> Error {
        // The original error is what the caller needs; a failed rollback
        // leaves locks that their TTL will let others resolve.
        let _ = self.rollback(events).await;
        err
    }

    /// Whether the primary may hold a lock that must be kept alive.
    fn primary_locked(&self) -> bool {
        self.primary.is_some() && (!self.locked.is_empty() || self.state == State::Prewriting)
    }

    fn beat_period(&self) -> Duration {
        Duration::from_millis((self.opts.lock_ttl / 2).max(1))
    }

    /// A heartbeat if the primary is locked and half a TTL has passed.
    async fn beat_if_due(&mut self, events: &mut Events) {
        if self.primary_locked() && self.last_beat.elapsed() >= self.beat_period() {
            self.heart_beat(events).await;
        }
    }

    /// Raises the primary lock's TTL to outlast the transaction's age by
    /// one TTL. A failure is only counted: the next step finds out whether
    /// the transaction is still alive.
    async fn heart_beat(&mut self, events: &mut Events) {
        let Some(primary) = self.primary.clone() else {
            return;
        };
        self.last_beat = Instant::now();
        let age = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        let advise = age.saturating_add(self.opts.lock_ttl);
        let began = trace::now();
        let ok = match self.t.txn_heart_beat(&primary, self.start_ts, advise).await {
            Ok(_) => {
                events.add("txn_heartbeats", 1);
                true
            }
            Err(_) => {
                events.add("txn_heartbeat_failures", 1);
                false
            }
        };
        events.trace_mut().since(began, Step::Heartbeat { ok });
    }

    /// Awaits `fut` (a call on the transport), sending heartbeats while it
    /// runs once the primary is locked.
    async fn alive<F: Future>(&mut self, fut: F, events: &mut Events) -> F::Output {
        if !self.primary_locked() {
            return fut.await;
        }
        let mut fut = std::pin::pin!(fut);
        loop {
            let due = self.last_beat + self.beat_period();
            tokio::select! {
                biased;
                out = &mut fut => return out,
                () = tokio::time::sleep_until(due) => self.heart_beat(events).await,
            }
        }
    }

    /// Backs off before the `attempt`th retry while a lock's holder lives.
    async fn pause(&self, attempt: u32, events: &mut Events) {
        let d = Backoff::doubling(self.opts.backoff_base, self.opts.backoff_max, attempt);
        if !d.is_zero() {
            let step = Step::LockBackoff { attempt };
            events.trace_mut().push(trace::now(), d, step);
            tokio::time::sleep(d).await;
        }
    }
}
