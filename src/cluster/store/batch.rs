//! `BatchCommands`: many requests in one stream message, each answered by
//! its request id as it finishes, in any order (TiKV's
//! `src/server/service/kv.rs`, `batch_commands`).
//!
//! Each request of an incoming message runs as a task of its own through
//! the handler of its unary RPC (`run_batched`, made by the `rpcs!` table
//! in the parent module), so it passes the same gate and is answered with
//! the same content. Answers that are ready together go out in one message
//! (at most [`MAX_ANSWERS_PER_MESSAGE`]), each carrying the store's
//! transport load and the time it was sent. As TiKV: a request with no
//! command is answered with an empty response; `Empty` echoes its `test_id`
//! after `delay_time` ms (TiKV waits only for 10 ms or more).
//!
//! The stream ends:
//! - without error once the client has closed its side and every request
//!   has been answered;
//! - with `InvalidArgument` for a malformed message (not one id per
//!   request; TiKV pairs them up and drops the extra) or a request its
//!   handler refuses as malformed (TiKV has no such refusal per request);
//! - with `Unavailable` once the store is offline (a fault): answers not
//!   yet sent are lost, as when a store goes down, or when the cluster
//!   shuts down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender, error::TryRecvError};
use tonic::codegen::BoxStream;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Status, Streaming};

use super::{Store, run_batched};
use crate::proto::tikvpb::{
    BatchCommandsEmptyRequest, BatchCommandsEmptyResponse, BatchCommandsRequest,
    BatchCommandsResponse, batch_commands_response,
};

/// The most answers one stream message carries (TiKV's
/// `GRPC_MSG_MAX_BATCH_SIZE`).
const MAX_ANSWERS_PER_MESSAGE: usize = 128;

/// TiKV sleeps for an `Empty` request's `delay_time` only from this many
/// milliseconds up.
const MIN_EMPTY_DELAY_MS: u64 = 10;

/// A request's id and answer, or the status that ends the stream.
type Answer = Result<(u64, batch_commands_response::Response), Status>;

/// Serves one `BatchCommands` stream of `store`.
pub(super) fn serve(
    store: &Store,
    inbound: Streaming<BatchCommandsRequest>,
) -> BoxStream<BatchCommandsResponse> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read(store.clone(), inbound, tx));
    Box::pin(Answers {
        rx,
        store: store.clone(),
        stop: Box::pin(store.shared.shutdown_signal()),
        ending: None,
        done: false,
    })
}

/// Starts the requests of each incoming message until the client closes
/// its side, a message is refused, or the answers stream is gone.
async fn read(
    store: Store,
    mut inbound: Streaming<BatchCommandsRequest>,
    tx: UnboundedSender<Answer>,
) {
    loop {
        let next = tokio::select! {
            next = inbound.message() => next,
            () = tx.closed() => return,
        };
        let refusal = match next {
            Ok(Some(batch)) => match start(&store, batch, &tx) {
                Ok(()) => continue,
                Err(status) => status,
            },
            Ok(None) => return,
            Err(status) => status,
        };
        let _ = tx.send(Err(refusal));
        return;
    }
}

/// Checks one incoming message and starts a task per request.
fn start(
    store: &Store,
    batch: BatchCommandsRequest,
    tx: &UnboundedSender<Answer>,
) -> Result<(), Status> {
    let BatchCommandsRequest {
        requests,
        request_ids,
        ..
    } = batch;
    if requests.len() != request_ids.len() {
        return Err(Status::invalid_argument(format!(
            "a batch of {} requests carries {} request ids",
            requests.len(),
            request_ids.len()
        )));
    }
    store.refuse_if_offline()?;
    for (id, request) in request_ids.into_iter().zip(requests) {
        let task = Pending {
            id,
            tx: Some(tx.clone()),
            _load: InFlight::enter(&store.in_flight),
        };
        let store = store.clone();
        tokio::spawn(async move {
            let answer = match request.cmd {
                None => Ok(batch_commands_response::Response::default()),
                Some(cmd) => run_batched(&store, cmd)
                    .await
                    .map(|cmd| batch_commands_response::Response { cmd: Some(cmd) }),
            };
            task.answer(answer);
        });
    }
    Ok(())
}

/// One request on its way: it answers once, and if its task dies first
/// (a handler panicked) the stream ends with `Internal`.
struct Pending {
    id: u64,
    tx: Option<UnboundedSender<Answer>>,
    /// Counts the request in the store's load until it is answered.
    _load: InFlight,
}

impl Pending {
    fn answer(mut self, answer: Result<batch_commands_response::Response, Status>) {
        let tx = self.tx.take();
        let id = self.id;
        // Out of the load before the answer is seen.
        drop(self);
        if let Some(tx) = tx {
            // The stream may be gone (the client left): the request took
            // effect all the same, as a unary one whose client gave up.
            let _ = tx.send(answer.map(|r| (id, r)));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(Status::internal(format!(
                "the store's handler of request {} failed",
                self.id
            ))));
        }
    }
}

/// One request counted in the store's in-flight requests while it lives.
pub(super) struct InFlight(Arc<AtomicU64>);

impl InFlight {
    pub(super) fn enter(count: &Arc<AtomicU64>) -> InFlight {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `Empty`: its `test_id` back, after `delay_time` ms when that is at
/// least 10.
pub(super) async fn empty(req: BatchCommandsEmptyRequest) -> BatchCommandsEmptyResponse {
    if req.delay_time >= MIN_EMPTY_DELAY_MS {
        tokio::time::sleep(Duration::from_millis(req.delay_time)).await;
    }
    BatchCommandsEmptyResponse {
        test_id: req.test_id,
    }
}

/// The outgoing stream: the answers ready together, one message at a time.
struct Answers {
    rx: UnboundedReceiver<Answer>,
    store: Store,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The status that ends the stream after the message being sent.
    ending: Option<Status>,
    done: bool,
}

impl Answers {
    /// The ready answers after `first`, up to a full message; a status
    /// among them is kept to end the stream after this message.
    fn collect(
        &mut self,
        first: (u64, batch_commands_response::Response),
    ) -> BatchCommandsResponse {
        let mut out = BatchCommandsResponse::default();
        let (id, response) = first;
        out.request_ids.push(id);
        out.responses.push(response);
        while out.responses.len() < MAX_ANSWERS_PER_MESSAGE {
            match self.rx.try_recv() {
                Ok(Ok((id, response))) => {
                    out.request_ids.push(id);
                    out.responses.push(response);
                }
                Ok(Err(status)) => {
                    self.ending = Some(status);
                    break;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        out.transport_layer_load = self.store.transport_load();
        out.tikv_send_time_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        out
    }

    /// Ends the stream with `status`.
    fn end(&mut self, status: Status) -> Poll<Option<Result<BatchCommandsResponse, Status>>> {
        self.done = true;
        Poll::Ready(Some(Err(status)))
    }
}

impl Stream for Answers {
    type Item = Result<BatchCommandsResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(status) = self.ending.take() {
            return self.end(status);
        }
        if self.stop.as_mut().poll(cx).is_ready() {
            let id = self.store.id;
            return self.end(Status::unavailable(format!("store {id} is shutting down")));
        }
        let first = match self.rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(status))) => return self.end(status),
            Poll::Ready(Some(Ok(first))) => first,
        };
        if let Err(status) = self.store.refuse_if_offline() {
            return self.end(status);
        }
        let message = self.collect(first);
        Poll::Ready(Some(Ok(message)))
    }
}
