//! The BatchCommands transport (`client.transport: batch`), as client-go
//! sends requests (`internal/client/client_batch.go`, `conn_batch.go`;
//! tikv/rfcs 0004): one `tikvpb.Tikv/BatchCommands` stream per channel,
//! many requests to a stream message, each with an id its answer carries
//! back, in whatever order the store answers.
//!
//! - A caller files its request under a fresh id (with a oneshot sender
//!   for the answer) and queues it; it waits until its attempt's limit,
//!   and a caller that gives up takes its id back out, so a late answer
//!   is dropped (and counted).
//! - The sender task takes the queued requests, up to `max_batch_size` a
//!   message. Only when the store's last reported `transport_layer_load`
//!   is above `overload_threshold` does it wait (up to `max_batch_wait`)
//!   for more; as client-go, a load is kept only when it is non-zero and
//!   batches may wait at all. (client-go then waits for `BatchWaitSize`
//!   requests, 8 by default; here a waiting batch fills up to
//!   `max_batch_size` or until the wait is over.)
//! - The receiver task hands each answer to the caller filed under its id.
//! - A stream that breaks fails every request filed on it: the store may
//!   have carried them out, so the caller reads it as a connection cut
//!   mid-call (`Unknown`: a read is retried, a write's outcome is
//!   unknown). A stream that never opened sent nothing (`Unavailable`,
//!   retried). The next request opens a new stream (a reconnect).
//!
//! Commands kvproto does not batch (RawCompareAndSwap, RawGetKeyTTL) go
//! unary ([`Rpc::into_batch`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Response, Status, Streaming};

use super::rpc::Rpc;
use crate::proto::tikvpb::tikv_client::TikvClient;
use crate::proto::tikvpb::{
    BatchCommandsRequest, BatchCommandsResponse, batch_commands_request, batch_commands_response,
};
use crate::vocab::transport::{SizeBucket, TransportStats};

/// One command of a BatchCommands message.
pub(crate) type BatchCmd = batch_commands_request::request::Cmd;

/// One answer of a BatchCommands message.
pub(crate) type BatchReply = batch_commands_response::response::Cmd;

/// What a caller gets back.
type Answer = Result<BatchReply, Status>;

/// Stream messages queued between the sender task and the connection.
const OUTBOUND: usize = 16;

/// Power-of-two buckets of requests per message: 1, 2, 3-4, ... 32769-65536
/// (the largest `max_batch_size` a workload may give).
const SIZE_BUCKETS: usize = 17;

/// How the streams batch: the client's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    pub max_batch_size: usize,
    pub max_batch_wait: Duration,
    pub overload_threshold: u64,
    /// How long opening a stream may take.
    pub open_timeout: Duration,
}

/// What every stream of a client did.
#[derive(Debug, Default)]
pub struct BatchCounters {
    requests: AtomicU64,
    messages: AtomicU64,
    sizes: [AtomicU64; SIZE_BUCKETS],
    opened: AtomicU64,
    reconnects: AtomicU64,
    broken: AtomicU64,
    late: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl BatchCounters {
    /// One message of `n` requests sent.
    fn sent(&self, n: usize) {
        add(&self.messages, 1);
        add(&self.requests, n as u64);
        let bucket = (n.max(1) as u64).next_power_of_two().trailing_zeros() as usize;
        add(&self.sizes[bucket.min(SIZE_BUCKETS - 1)], 1);
    }

    /// The counts so far, for the result.
    pub fn stats(&self) -> TransportStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let batch_sizes = (self.sizes.iter().enumerate())
            .filter(|(_, c)| load(c) > 0)
            .map(|(i, c)| SizeBucket {
                max: 1 << i,
                messages: load(c),
            })
            .collect();
        TransportStats {
            kind: "batch".into(),
            requests: load(&self.requests),
            messages: load(&self.messages),
            batch_sizes,
            streams_opened: load(&self.opened),
            reconnects: load(&self.reconnects),
            broken_requests: load(&self.broken),
            late_answers: load(&self.late),
        }
    }
}

/// What a store's streams share: the settings, the client's counters and
/// the store's last reported transport-layer load.
#[derive(Debug)]
pub(crate) struct StoreBatching {
    pub batching: Batching,
    pub counters: Arc<BatchCounters>,
    load: AtomicU64,
}

impl StoreBatching {
    pub fn new(batching: Batching, counters: Arc<BatchCounters>) -> StoreBatching {
        StoreBatching {
            batching,
            counters,
            load: AtomicU64::new(0),
        }
    }

    /// Whether a batch should wait for more requests (client-go's
    /// `MaxBatchWaitTime > 0 && load > OverloadThreshold`).
    fn overloaded(&self) -> bool {
        !self.batching.max_batch_wait.is_zero()
            && self.load.load(Ordering::Relaxed) > self.batching.overload_threshold
    }
}

/// The requests filed on one stream, by id; `None` once it broke.
type Pending = Mutex<Option<HashMap<u64, oneshot::Sender<Answer>>>>;

/// One open stream, as its callers and its tasks see it.
#[derive(Debug)]
struct State {
    pending: Pending,
    broken: AtomicBool,
    /// Wakes the sender when the receiver finds the stream broken.
    closed: Notify,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u64, oneshot::Sender<Answer>>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the stream broken and fails every request filed on it.
    fn fail(&self, status: Status, counters: &BatchCounters) {
        self.broken.store(true, Ordering::Relaxed);
        let filed = self.lock().take().unwrap_or_default();
        add(&counters.broken, filed.len() as u64);
        for (_, tx) in filed {
            let _ = tx.send(Err(status.clone()));
        }
        self.closed.notify_one();
    }
}

/// A stream the callers use: its queue to the sender task and its state.
#[derive(Debug)]
struct Live {
    queue: mpsc::UnboundedSender<(u64, BatchCmd)>,
    state: Arc<State>,
}

/// The BatchCommands stream of one channel, opened on first use and again
/// after it breaks. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct BatchStream(Arc<StreamInner>);

#[derive(Debug)]
struct StreamInner {
    client: TikvClient<Channel>,
    shared: Arc<StoreBatching>,
    live: RwLock<Option<Arc<Live>>>,
    next_id: AtomicU64,
}

/// Takes a caller's id back out when it stops waiting before its answer.
struct Filed<'a> {
    state: &'a State,
    id: u64,
    answered: bool,
}

impl Drop for Filed<'_> {
    fn drop(&mut self) {
        if !self.answered
            && let Some(map) = self.state.lock().as_mut()
        {
            map.remove(&self.id);
        }
    }
}

impl BatchStream {
    pub fn new(client: TikvClient<Channel>, shared: Arc<StoreBatching>) -> BatchStream {
        BatchStream(Arc::new(StreamInner {
            client,
            shared,
            live: RwLock::new(None),
            next_id: AtomicU64::new(1),
        }))
    }

    /// Sends `cmd` (the command of a `Q`) and waits for its answer.
    pub async fn call<Q: Rpc>(&self, cmd: BatchCmd) -> Result<Response<Q::Reply>, Status> {
        let answer = self.answer(cmd).await?;
        let reply = Q::from_batch(answer).ok_or_else(|| {
            Status::internal(format!(
                "the store answered a {} request with another command",
                Q::NAME
            ))
        })?;
        Ok(Response::new(reply))
    }

    async fn answer(&self, cmd: BatchCmd) -> Answer {
        let live = self.live();
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match live.state.lock().as_mut() {
            Some(map) => map.insert(id, tx),
            None => return Err(not_sent("the stream broke before the request was queued")),
        };
        let mut filed = Filed {
            state: &live.state,
            id,
            answered: false,
        };
        if live.queue.send((id, cmd)).is_err() {
            return Err(not_sent("the stream's sender has stopped"));
        }
        let answer = rx.await;
        filed.answered = true;
        answer.unwrap_or_else(|_| Err(Status::unknown("the stream dropped the request")))
    }

    /// The open stream, opening one if there is none or it broke.
    fn live(&self) -> Arc<Live> {
        let usable = |l: &Option<Arc<Live>>| {
            l.as_ref()
                .filter(|l| !l.state.broken.load(Ordering::Relaxed))
                .cloned()
        };
        if let Some(l) = usable(&self.0.live.read().unwrap_or_else(|e| e.into_inner())) {
            return l;
        }
        let mut slot = self.0.live.write().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = usable(&slot) {
            return l;
        }
        let counters = &self.0.shared.counters;
        add(&counters.opened, 1);
        if slot.is_some() {
            add(&counters.reconnects, 1);
        }
        let live = Arc::new(self.open());
        *slot = Some(live.clone());
        live
    }

    /// A new stream: its tasks run until its callers are gone or it breaks.
    fn open(&self) -> Live {
        let (queue, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            pending: Mutex::new(Some(HashMap::new())),
            broken: AtomicBool::new(false),
            closed: Notify::new(),
        });
        let (client, shared) = (self.0.client.clone(), self.0.shared.clone());
        tokio::spawn(run(client, state.clone(), rx, shared));
        Live { queue, state }
    }
}

/// A request the store never got: it may be sent again, write or not.
fn not_sent(why: &str) -> Status {
    Status::unavailable(format!("BatchCommands: {why}"))
}

/// Opens the stream, then sends until the callers are gone or it breaks.
async fn run(
    mut client: TikvClient<Channel>,
    state: Arc<State>,
    queue: mpsc::UnboundedReceiver<(u64, BatchCmd)>,
    shared: Arc<StoreBatching>,
) {
    let (out, out_rx) = mpsc::channel(OUTBOUND);
    let opening = client.batch_commands(ReceiverStream::new(out_rx));
    let inbound = match tokio::time::timeout(shared.batching.open_timeout, opening).await {
        Ok(Ok(resp)) => resp.into_inner(),
        Ok(Err(s)) => {
            let why = format!(
                "the store refused the stream ({}: {})",
                s.code(),
                s.message()
            );
            return state.fail(not_sent(&why), &shared.counters);
        }
        Err(_) => {
            let why = "opening the stream timed out";
            return state.fail(not_sent(why), &shared.counters);
        }
    };
    let receiver = tokio::spawn(receive(inbound, state.clone(), shared.clone()));
    send(queue, out, &state, &shared).await;
    // The callers are gone (or the stream broke): the receiver has no one
    // left to answer.
    receiver.abort();
}

/// The sender task: a message of every request queued (up to the most a
/// message carries), waiting for more only while the store is loaded.
async fn send(
    mut queue: mpsc::UnboundedReceiver<(u64, BatchCmd)>,
    out: mpsc::Sender<BatchCommandsRequest>,
    state: &State,
    shared: &StoreBatching,
) {
    let max = shared.batching.max_batch_size.max(1);
    loop {
        let first = tokio::select! {
            biased;
            _ = state.closed.notified() => return,
            e = queue.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        let mut msg = BatchCommandsRequest::default();
        let mut push = |(id, cmd): (u64, BatchCmd)| {
            msg.request_ids.push(id);
            msg.requests
                .push(batch_commands_request::Request { cmd: Some(cmd) });
        };
        push(first);
        let mut n = 1;
        while n < max
            && let Ok(e) = queue.try_recv()
        {
            push(e);
            n += 1;
        }
        if n < max && shared.overloaded() {
            let until = tokio::time::Instant::now() + shared.batching.max_batch_wait;
            while n < max
                && let Ok(Some(e)) = tokio::time::timeout_at(until, queue.recv()).await
            {
                push(e);
                n += 1;
            }
        }
        shared.counters.sent(n);
        msg.client_send_time_ns = crate::vocab::time::unix_ns();
        if out.send(msg).await.is_err() {
            let broke = Status::unknown("BatchCommands: the stream closed while sending");
            return state.fail(broke, &shared.counters);
        }
    }
}

/// The receiver task: each answer to the caller filed under its id, until
/// the stream ends or fails, which fails every request still filed.
async fn receive(
    mut inbound: Streaming<BatchCommandsResponse>,
    state: Arc<State>,
    shared: Arc<StoreBatching>,
) {
    let why = loop {
        let msg = match inbound.message().await {
            Ok(Some(msg)) => msg,
            Ok(None) => break "the store closed the stream".to_string(),
            Err(s) => break format!("{}: {}", s.code(), s.message()),
        };
        if msg.transport_layer_load > 0 && !shared.batching.max_batch_wait.is_zero() {
            shared
                .load
                .store(msg.transport_layer_load, Ordering::Relaxed);
        }
        if msg.request_ids.len() != msg.responses.len() {
            break format!(
                "a message had {} request ids for {} responses",
                msg.request_ids.len(),
                msg.responses.len()
            );
        }
        let mut late = 0;
        if let Some(map) = state.lock().as_mut() {
            for (id, resp) in msg.request_ids.into_iter().zip(msg.responses) {
                match map.remove(&id) {
                    Some(tx) => {
                        let answer = resp
                            .cmd
                            .ok_or_else(|| Status::internal("the store sent an empty answer"));
                        let _ = tx.send(answer);
                    }
                    None => late += 1,
                }
            }
        }
        add(&shared.counters.late, late);
    };
    let message = format!("BatchCommands: the stream broke with the request in flight ({why})");
    state.fail(Status::unknown(message), &shared.counters);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::kvrpcpb;

    #[test]
    fn messages_are_counted_by_power_of_two_sizes() {
        let c = BatchCounters::default();
        for n in [1, 2, 3, 4, 5, 128, 129, 1_000_000] {
            c.sent(n);
        }
        let t = c.stats();
        assert_eq!(t.messages, 8);
        assert_eq!(t.requests, 1_000_000 + 1 + 2 + 3 + 4 + 5 + 128 + 129);
        let sizes: Vec<(u64, u64)> = t.batch_sizes.iter().map(|b| (b.max, b.messages)).collect();
        assert_eq!(
            sizes,
            [
                (1, 1),
                (2, 1),
                (4, 2),
                (8, 1),
                (128, 1),
                (256, 1),
                (65536, 1)
            ]
        );
    }

    #[test]
    fn commands_kvproto_batches_wrap_and_the_others_go_unary() {
        let get = kvrpcpb::RawGetRequest {
            key: b"k".to_vec(),
            ..Default::default()
        };
        let cmd = get.clone().into_batch().expect("RawGet is batched");
        assert_eq!(cmd, BatchCmd::RawGet(get));
        let reply = kvrpcpb::RawGetResponse {
            value: b"v".to_vec(),
            ..Default::default()
        };
        let answer = BatchReply::RawGet(reply.clone());
        assert_eq!(kvrpcpb::RawGetRequest::from_batch(answer), Some(reply));
        let other = BatchReply::RawPut(Default::default());
        assert_eq!(kvrpcpb::RawGetRequest::from_batch(other), None);
        let cas = kvrpcpb::RawCasRequest::default();
        assert!(cas.into_batch().is_err(), "RawCompareAndSwap goes unary");
        let ttl = kvrpcpb::RawGetKeyTtlRequest::default();
        assert!(ttl.into_batch().is_err(), "RawGetKeyTTL goes unary");
    }
}
