//! Sending a request to the region that holds its key(s): find the route in
//! the region cache (PD on a miss), send to the leader's store within the
//! request timeout, and act on the answer.
//!
//! Each attempt tells the store how long its client waits for it
//! (`max_execution_duration_ms`, the attempt's timeout, as client-go sets
//! it), so that TiKV does not carry out a request its client gave up on,
//! and names the client's API version and, under V2, its keyspace id
//! (`Context.keyspace_id`, as client-go's codec sets it). It sets
//! `record_time_stat` too, as TiDB does; the time the store says it spent
//! on an answer (`exec_details_v2.time_detail_v2`) goes into the log with
//! the attempt.
//!
//! Region errors, ServerIsBusy and unreachable stores are retried here,
//! after updating the cache, as the workload's retry policy allows: at most
//! `max_attempts` attempts, exponential backoff with jitter (skipped when
//! the answer itself says where to go: a NotLeader hint, EpochNotMatch,
//! KeyNotInRegion; never shorter than a ServerIsBusy's `backoff_ms`
//! hint), and never past the op's deadline. Each retry is counted
//! by reason with the backoff slept ([`RequestStats`]), and each attempt,
//! PD lookup and backoff goes into the op's log (`rpclog`). Key errors are
//! the caller's business; a timeout is never retried (for a write its
//! outcome is unknown).
//!
//! Batched requests are grouped by region and the groups sent concurrently;
//! a group that meets a region error is grouped again for the next round.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Response, Status};

use super::Error;
use super::join::join_all;
use super::region_cache::{CachedRegion, Lookup, Route};
use super::rpc::{BatchRpc, Rpc, by_size, server_time};
use super::stats::{Reason, RequestStats};
use super::stores::StoreConn;
use super::tikv::Client;
use crate::proto::{RegionReply, errorpb, kvrpcpb};
use crate::vocab::ErrorKind;
use crate::vocab::trace::{self, Answer, ServerTime};
use crate::vocab::{ApiVersion, Backoff};

/// What one operation carries down through the client.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Where this op's cache hits, reroutes and backoffs are counted.
    pub stats: &'a RequestStats,
    /// No retry starts, and no request waits, past this instant.
    pub deadline: Instant,
    /// Whether a timeout leaves the outcome unknown.
    pub mutates: bool,
}

impl<'a> Ctx<'a> {
    /// A context whose deadline is `budget` from now.
    pub fn new(stats: &'a RequestStats, budget: Duration, mutates: bool) -> Ctx<'a> {
        Ctx {
            stats,
            deadline: Instant::now() + budget,
            mutates,
        }
    }
}

/// A failed attempt worth another.
#[derive(Debug)]
pub(crate) struct Failure {
    reason: Reason,
    /// Retry at once: the answer said where to go.
    now: bool,
    /// The store answered with a region error (not: it could not be
    /// reached, or no route was found).
    region_error: bool,
    /// The shortest backoff the store asked for (a busy store's hint).
    at_least: Duration,
    message: String,
}

impl Failure {
    fn now(reason: Reason, message: String) -> Failure {
        Failure {
            reason,
            now: true,
            region_error: false,
            at_least: Duration::ZERO,
            message,
        }
    }

    fn backoff(reason: Reason, message: String) -> Failure {
        Failure {
            now: false,
            ..Failure::now(reason, message)
        }
    }

    /// The same failure, backing off at least `hint`.
    fn at_least(self, hint: Duration) -> Failure {
        Failure {
            at_least: hint,
            ..self
        }
    }

    /// The same failure, as the store's answer.
    fn answered(self) -> Failure {
        Failure {
            region_error: true,
            ..self
        }
    }
}

/// Why an attempt did not produce an answer.
#[derive(Debug)]
pub(crate) enum AttemptError {
    Retry(Failure),
    Fail(Error),
}

/// One RPC attempt in flight: logged when it ends, with its answer, or,
/// when the op's deadline drops it unanswered, as a timeout.
struct Sent<'c, 'a> {
    cx: &'c Ctx<'a>,
    route: &'c Route,
    rpc: u8,
    at: std::time::Instant,
    answer: Answer,
    /// The time the store says it spent, when its answer says so.
    server: Option<ServerTime>,
}

impl Drop for Sent<'_, '_> {
    fn drop(&mut self) {
        let (store, region) = (self.route.store_id, self.route.region_id);
        let log = self.cx.stats.log();
        log.rpc(self.at, self.rpc, (store, region), self.answer, self.server);
    }
}

/// Counts failures of one request and sleeps between its attempts.
struct Retrier<'a> {
    tikv: &'a Client,
    cx: &'a Ctx<'a>,
    failures: u32,
    backoff: Option<Backoff>,
}

impl<'a> Retrier<'a> {
    fn new(tikv: &'a Client, cx: &'a Ctx<'a>) -> Retrier<'a> {
        Retrier {
            tikv,
            cx,
            failures: 0,
            backoff: None,
        }
    }

    /// Counts `f` and sleeps before the next attempt, or returns the error
    /// to give up with (attempts used up, or the deadline too close).
    async fn wait(&mut self, f: Failure) -> Result<(), Error> {
        self.failures += 1;
        let policy = &self.tikv.config.retry;
        let give_up = |f: Failure, why: &str| Error::Rpc {
            kind: f.reason.kind(),
            message: format!("{} ({why})", f.message),
            undetermined: false,
        };
        if self.failures >= policy.max_attempts {
            let why = format!("gave up after {} attempt(s)", self.failures);
            return Err(give_up(f, &why));
        }
        let delay = if f.now {
            Duration::ZERO
        } else {
            let tikv = self.tikv;
            let backoff = self
                .backoff
                .get_or_insert_with(|| Backoff::new(tikv.jitter_rng()))
                .delay(policy, self.failures);
            backoff.max(f.at_least)
        };
        if Instant::now() + delay >= self.cx.deadline {
            return Err(give_up(f, "the retry budget is used up"));
        }
        self.cx.stats.retry(f.reason);
        if !delay.is_zero() {
            self.cx.stats.backoff(f.reason, delay);
            self.cx.stats.log().backoff(f.reason, delay);
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }
}

/// `req` aimed at `route`, sent to its store, which is to give it up at
/// `limit` (the attempt's timeout): through the channel's BatchCommands
/// stream under `transport: batch` when kvproto batches the command, else
/// unary. Boxed: a send (a tonic call, some 5 KB) would otherwise sit
/// inline in the future of every transport call and every transaction,
/// which a test polls on its thread's stack.
fn aimed<Q: Rpc>(
    mut req: Q,
    route: &Route,
    limit: Instant,
    (api_version, keyspace_id): (ApiVersion, u32),
) -> Pin<Box<impl Future<Output = Result<Response<Q::Reply>, Status>> + use<Q>>> {
    req.aim(route);
    let ctx = req.context_mut().get_or_insert_default();
    ctx.max_execution_duration_ms = execution_ms(limit);
    // Ask for the store's own timing, as TiDB does (TiKV sends it anyway).
    ctx.record_time_stat = true;
    ctx.api_version = kvrpcpb::ApiVersion::from(api_version) as i32;
    ctx.keyspace_id = keyspace_id;
    let via = match route.store.stream() {
        Some(stream) => req.into_batch().map(|cmd| (stream, cmd)),
        None => Err(req),
    }
    .map_err(|req| (req, route.store.client()));
    Box::pin(async move {
        match via {
            Ok((stream, cmd)) => stream.call::<Q>(cmd).await,
            Err((req, client)) => req.send(client).await,
        }
    })
}

/// The time left until `limit` in whole ms, at least 1 (0 would tell TiKV
/// there is no limit), as client-go sets `max_execution_duration_ms` from
/// its RPC timeout.
fn execution_ms(limit: Instant) -> u64 {
    let left = limit.saturating_duration_since(Instant::now());
    (left.as_millis() as u64).max(1)
}

/// How many cache lookups one routing may take (a lookup after a fill can
/// miss again when the region changes meanwhile).
const ROUTE_LOOKUPS: usize = 4;

impl Client {
    /// The route for `key` (PD key space): from the cache, else from PD,
    /// connecting to the leader's store if need be. One hit (the region was
    /// cached) or one miss (PD was asked) is counted per call.
    pub(crate) async fn route(
        &self,
        cx: &Ctx<'_>,
        key: &[u8],
        want_end: bool,
    ) -> Result<Route, AttemptError> {
        let mut missed = false;
        for _ in 0..ROUTE_LOOKUPS {
            match self.cache.lookup(key, want_end) {
                Lookup::Hit(route) => {
                    if !missed {
                        cx.stats.hit();
                    }
                    return Ok(route);
                }
                Lookup::NoStore {
                    region_id,
                    store_id,
                } => {
                    let conn = self.connect_store(store_id).await?;
                    self.cache.set_store(region_id, conn);
                }
                Lookup::Miss => {
                    if !std::mem::replace(&mut missed, true) {
                        cx.stats.miss();
                    }
                    let asked = trace::now();
                    let loaded = self.load_region(key).await;
                    cx.stats.log().pd_region(asked);
                    loaded?;
                }
            }
        }
        Err(AttemptError::Retry(Failure::backoff(
            Reason::RegionNotFound,
            format!(
                "the region of key '{}' keeps changing while it is looked up",
                key.escape_ascii()
            ),
        )))
    }

    /// Reads the region holding `key` from PD into the cache, asking PD
    /// first about the stores of its peers it has not described yet (as
    /// client-go resolves every peer's store in `newRegion`), so a TiFlash
    /// peer is known for one. When PD knows no leader, a voter on a TiKV
    /// store is the guess (see [`CachedRegion::new`]).
    async fn load_region(&self, key: &[u8]) -> Result<(), AttemptError> {
        let info = self.pd.get_region(key).await.map_err(AttemptError::Fail)?;
        let stores: Vec<u64> = info.region.peers.iter().map(|p| p.store_id).collect();
        let described = self.stores.describe_all(&self.pd, &stores).await;
        described.map_err(AttemptError::Fail)?;
        let region = CachedRegion::new(&info.region, info.leader.as_ref(), &self.stores)
            .ok_or_else(|| {
                AttemptError::Retry(Failure::backoff(
                    Reason::NoLeader,
                    format!("region {} has no peer a request may go to", info.region.id),
                ))
            })?;
        let conn = self.connect_store(region.leader.1).await?;
        self.cache.insert(region, Some(conn));
        Ok(())
    }

    async fn connect_store(&self, id: u64) -> Result<Arc<StoreConn>, AttemptError> {
        self.stores.connect(&self.pd, id).await.map_err(|e| {
            if e.kind() == ErrorKind::Unavailable {
                self.cache.invalidate_store(id);
                AttemptError::Retry(Failure::backoff(Reason::StoreUnavailable, e.to_string()))
            } else {
                AttemptError::Fail(e)
            }
        })
    }

    /// When an attempt starting now times out: the request timeout, cut at
    /// the op's deadline.
    fn attempt_limit(&self, cx: &Ctx<'_>) -> Instant {
        (Instant::now() + self.config.request_timeout).min(cx.deadline)
    }

    /// Sends one attempt of `req` to `route` and reads the answer by the
    /// attempt's limit (which the request carries too): the response, or
    /// what to do next. The attempt goes into the op's log with its store,
    /// region, duration and answer.
    pub(crate) async fn attempt<Q: Rpc>(
        &self,
        cx: &Ctx<'_>,
        route: &Route,
        req: Q,
    ) -> Result<Q::Reply, AttemptError> {
        let limit = self.attempt_limit(cx);
        let keyspace_id = self.keyspace.as_ref().map_or(0, |k| k.id());
        let fut = aimed(req, route, limit, (self.config.api_version, keyspace_id));
        let mut sent = Sent {
            cx,
            route,
            rpc: Q::ID,
            at: trace::now(),
            answer: Answer::Failed(ErrorKind::Timeout),
            server: None,
        };
        let result = self
            .answer::<Q>(cx, route, limit, fut, &mut sent.server)
            .await;
        sent.answer = match &result {
            Ok(reply) => Q::key_error(reply).map_or(Answer::Ok, Answer::KeyError),
            Err(AttemptError::Retry(f)) if f.region_error => Answer::RegionError(f.reason.name()),
            Err(AttemptError::Retry(f)) => Answer::Failed(f.reason.kind()),
            Err(AttemptError::Fail(e)) => Answer::Failed(e.kind()),
        };
        result
    }

    /// [`Client::attempt`] without the log; `server` gets the time the
    /// store says it spent, if its answer (a region error too) says so.
    async fn answer<Q: Rpc>(
        &self,
        cx: &Ctx<'_>,
        route: &Route,
        limit: Instant,
        fut: impl Future<Output = Result<Response<Q::Reply>, Status>>,
        server: &mut Option<ServerTime>,
    ) -> Result<Q::Reply, AttemptError> {
        let mut resp = match tokio::time::timeout_at(limit, fut).await {
            Ok(Ok(resp)) => resp.into_inner(),
            Ok(Err(status)) => return Err(self.on_status(cx, route, status)),
            Err(_) => {
                return Err(AttemptError::Fail(Error::Rpc {
                    kind: ErrorKind::Timeout,
                    message: format!(
                        "store {} ({}) did not answer for region {} in time",
                        route.store_id, route.store.addr, route.region_id
                    ),
                    undetermined: cx.mutates,
                }));
            }
        };
        *server = server_time(&resp);
        match resp.take_region_error() {
            None => Ok(resp),
            Some(e) => Err(self.on_region_error(route, e)),
        }
    }

    /// A gRPC error from a store. `Unavailable` (cannot connect, or the
    /// store says so) is retried; an error that may have cut a write short
    /// leaves its outcome unknown.
    fn on_status(&self, cx: &Ctx<'_>, route: &Route, s: Status) -> AttemptError {
        let message = format!(
            "store {} ({}): {}",
            route.store_id,
            route.store.addr,
            s.message()
        );
        match s.code() {
            Code::Unavailable => {
                self.cache.invalidate_store(route.store_id);
                AttemptError::Retry(Failure::backoff(Reason::StoreUnavailable, message))
            }
            Code::Unknown | Code::Cancelled if !cx.mutates => {
                self.cache.invalidate_store(route.store_id);
                AttemptError::Retry(Failure::backoff(Reason::StoreUnavailable, message))
            }
            code => {
                let kind = match code {
                    Code::DeadlineExceeded => ErrorKind::Timeout,
                    Code::Unknown | Code::Cancelled => ErrorKind::Unavailable,
                    _ => ErrorKind::Other,
                };
                AttemptError::Fail(Error::Rpc {
                    kind,
                    message,
                    undetermined: cx.mutates && kind != ErrorKind::Other,
                })
            }
        }
    }

    /// What a region error means: a failure no retry can mend (as
    /// client-go has it: the write is too large for one raft entry, the
    /// region is being flashed back), else a retry after the cache is
    /// updated.
    fn on_region_error(&self, route: &Route, e: errorpb::Error) -> AttemptError {
        if e.raft_entry_too_large.is_some() || e.flashback_in_progress.is_some() {
            return AttemptError::Fail(Error::Rpc {
                kind: ErrorKind::Other,
                message: format!("region {}: {}", route.region_id, e.message),
                undetermined: false,
            });
        }
        AttemptError::Retry(self.reroute(route, e).answered())
    }

    /// Updates the cache after a region error and says how to retry.
    fn reroute(&self, route: &Route, e: errorpb::Error) -> Failure {
        let id = route.region_id;
        let message = if e.message.is_empty() {
            format!("region error for region {id} at store {}", route.store_id)
        } else {
            e.message
        };
        if let Some(nl) = e.not_leader {
            let hint = nl
                .leader
                .map(|p| p.store_id)
                .filter(|&s| s != 0 && s != route.store_id);
            if let Some(store) = hint
                && self.cache.update_leader(id, store, &self.stores)
            {
                return Failure::now(Reason::NotLeader, message);
            }
            self.cache.invalidate(id);
            return Failure::backoff(Reason::NotLeader, message);
        }
        if let Some(en) = e.epoch_not_match {
            if !self
                .cache
                .insert_current(&en.current_regions, route.store_id, &self.stores)
            {
                self.cache.invalidate(id);
            }
            return Failure::now(Reason::EpochNotMatch, message);
        }
        if let Some(busy) = e.server_is_busy {
            let hint = Duration::from_millis(busy.backoff_ms);
            return Failure::backoff(Reason::ServerIsBusy, message).at_least(hint);
        }
        if e.key_not_in_region.is_some() {
            self.cache.invalidate(id);
            return Failure::now(Reason::KeyNotInRegion, message);
        }
        if e.region_not_found.is_some() {
            self.cache.invalidate(id);
            return Failure::backoff(Reason::RegionNotFound, message);
        }
        if e.store_not_match.is_some() {
            self.cache.invalidate_store(route.store_id);
            self.stores.forget(route.store_id);
            return Failure::backoff(Reason::StoreNotMatch, message);
        }
        self.cache.invalidate(id);
        Failure::backoff(Reason::OtherRegionError, message)
    }

    /// `req` to the region holding `key` (PD key space), a copy aimed at
    /// each route tried. Returns the answer and the route it took (with the
    /// region's end if `want_end`).
    pub(crate) async fn call<Q: Rpc>(
        &self,
        cx: &Ctx<'_>,
        key: &[u8],
        want_end: bool,
        req: &Q,
    ) -> Result<(Q::Reply, Route), Error> {
        let mut retrier = Retrier::new(self, cx);
        loop {
            let stop = match self.route(cx, key, want_end).await {
                Ok(route) => match self.attempt(cx, &route, req.clone()).await {
                    Ok(r) => return Ok((r, route)),
                    Err(s) => s,
                },
                Err(s) => s,
            };
            match stop {
                AttemptError::Fail(e) => return Err(e),
                AttemptError::Retry(f) => retrier.wait(f).await?,
            }
        }
    }

    /// [`Client::call`] for the answer alone.
    #[inline]
    pub(crate) async fn call_one<Q: Rpc>(
        &self,
        cx: &Ctx<'_>,
        key: &[u8],
        req: &Q,
    ) -> Result<Q::Reply, Error> {
        self.call(cx, key, false, req).await.map(|(r, _)| r)
    }

    /// `req` split by the regions of its keys, `keys[i]` (PD key space)
    /// being the routing key of its `i`th key; the parts are sent
    /// concurrently. Returns each part's indices with its answer. A part
    /// that meets a region error is grouped again and sent in the next
    /// round.
    pub(crate) async fn call_grouped<K: AsRef<[u8]>, Q: BatchRpc>(
        &self,
        cx: &Ctx<'_>,
        keys: &[K],
        mut req: Q,
    ) -> Result<Vec<(Vec<usize>, Q::Reply)>, Error> {
        let mut done = Vec::new();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        let mut retrier = Retrier::new(self, cx);
        while !pending.is_empty() {
            let mut groups: Vec<(Route, Vec<usize>)> = Vec::new();
            let mut stop = None;
            for &i in &pending {
                match self.route(cx, keys[i].as_ref(), false).await {
                    Ok(r) => match groups.iter_mut().find(|(g, _)| g.region_id == r.region_id) {
                        Some((_, idx)) => idx.push(i),
                        None => groups.push((r, vec![i])),
                    },
                    Err(s) => {
                        stop = Some(s);
                        break;
                    }
                }
            }
            let groups: Vec<(Route, Vec<usize>)> = groups
                .into_iter()
                .flat_map(|(r, idx)| by_size(&req, idx).into_iter().map(move |i| (r.clone(), i)))
                .collect();
            let failure = match stop {
                Some(AttemptError::Fail(e)) => return Err(e),
                Some(AttemptError::Retry(f)) => f,
                None => {
                    let sends = groups
                        .iter()
                        .map(|(r, idx)| self.attempt(cx, r, req.part(idx)))
                        .collect();
                    let results = join_all(sends).await;
                    pending.clear();
                    let mut first = None;
                    for ((_, idx), result) in groups.into_iter().zip(results) {
                        match result {
                            Ok(r) => done.push((idx, r)),
                            Err(AttemptError::Fail(e)) => return Err(e),
                            Err(AttemptError::Retry(f)) => {
                                pending.extend(idx);
                                match &mut first {
                                    None => first = Some(f),
                                    // Only the first waits (as long as
                                    // any store asked); the others are
                                    // counted as reroutes too.
                                    Some(w) => {
                                        w.at_least = w.at_least.max(f.at_least);
                                        cx.stats.retry(f.reason);
                                    }
                                }
                            }
                        }
                    }
                    match first {
                        None => break,
                        Some(f) => f,
                    }
                }
            };
            retrier.wait(failure).await?;
        }
        Ok(done)
    }
}
