//! The client side of PD's timestamp oracle: one `Tso` bidi stream shared by
//! every caller, with request batching.
//!
//! Callers enqueue a one-shot reply slot. A single task takes everything
//! queued, sends one `TsoRequest` with `count` = the number waiting, and
//! hands out `largest - count + 1 ..= largest` in queue order (PD names the
//! largest timestamp of a batch). While a request is in flight new callers
//! queue up, so the batch grows with the load. A stream that fails is
//! dropped and opened again on the PD member found by a reconnect; the
//! batch is retried a few times before its callers get the error.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};
use tonic::Streaming;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;

use super::Error;
use super::pd::Inner;
use crate::proto::pdpb::{TsoRequest, TsoResponse};
use crate::txn_types::ts::compose;
use crate::vocab::ErrorKind;

/// Where a caller's timestamp (or the error) goes.
pub(crate) type Waiter = oneshot::Sender<Result<u64, Error>>;

/// Callers that may queue before `timestamp()` waits to enqueue.
pub(crate) const QUEUE: usize = 1 << 16;

/// The most timestamps asked for in one request.
const MAX_BATCH: usize = 1 << 14;

/// Tries of one batch (each on a fresh stream after the first).
const ATTEMPTS: usize = 3;

struct Stream {
    tx: mpsc::Sender<TsoRequest>,
    rx: Streaming<TsoResponse>,
    generation: u64,
}

/// The TSO task: runs until every `PdClient` handle is dropped.
pub(crate) async fn run(pd: Arc<Inner>, mut queue: mpsc::Receiver<Waiter>) {
    let mut stream = None;
    let mut batch: Vec<Waiter> = Vec::new();
    while let Some(w) = queue.recv().await {
        batch.push(w);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        batch.retain(|w| !w.is_closed());
        if batch.is_empty() {
            continue;
        }
        let n = batch.len() as u64;
        match fetch(&pd, &mut stream, n as u32).await {
            Ok(last) => {
                pd.counters.timestamps.fetch_add(n, Ordering::Relaxed);
                let first = last + 1 - n;
                for (i, w) in batch.drain(..).enumerate() {
                    let _ = w.send(Ok(first + i as u64));
                }
            }
            Err(e) => {
                for w in batch.drain(..) {
                    let _ = w.send(Err(e.clone()));
                }
            }
        }
    }
}

/// `count` timestamps: returns the largest.
async fn fetch(pd: &Inner, stream: &mut Option<Stream>, count: u32) -> Result<u64, Error> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match once(pd, stream, count).await {
            Ok(ts) => return Ok(ts),
            Err(e) => {
                let generation = stream
                    .take()
                    .map_or_else(|| pd.client().1, |s| s.generation);
                last = Some(e);
                if let Err(e) = pd.reconnect(generation).await {
                    last = Some(e);
                }
            }
        }
    }
    Err(last.expect("at least one attempt"))
}

fn tso_error(kind: ErrorKind, message: String) -> Error {
    Error::Rpc {
        kind,
        message: format!("PD Tso: {message}"),
        undetermined: false,
    }
}

async fn once(pd: &Inner, stream: &mut Option<Stream>, count: u32) -> Result<u64, Error> {
    let req = TsoRequest {
        header: Some(pd.header()),
        count,
        dc_location: String::new(),
    };
    pd.counters.tso_rpcs.fetch_add(1, Ordering::Relaxed);
    let timeout = pd.request_timeout;
    let s = match stream {
        Some(s) => {
            s.tx.send(req)
                .await
                .map_err(|_| tso_error(ErrorKind::Unavailable, "the stream was closed".into()))?;
            s
        }
        None => {
            let (mut client, generation) = pd.client();
            let (tx, rx) = mpsc::channel(4);
            // Queued before the call: a PD sends its response headers only
            // with the first response, so the call waits for a request.
            tx.send(req)
                .await
                .map_err(|_| tso_error(ErrorKind::Other, "cannot queue a request".into()))?;
            let opened = tokio::time::timeout(timeout, client.tso(ReceiverStream::new(rx)))
                .await
                .map_err(|_| tso_error(ErrorKind::Timeout, "opening the stream timed out".into()))?
                .map_err(|s| tso_error(ErrorKind::Unavailable, s.message().to_string()))?;
            pd.counters.tso_streams.fetch_add(1, Ordering::Relaxed);
            stream.insert(Stream {
                tx,
                rx: opened.into_inner(),
                generation,
            })
        }
    };
    let resp = tokio::time::timeout(timeout, s.rx.message())
        .await
        .map_err(|_| tso_error(ErrorKind::Timeout, "no response in time".into()))?
        .map_err(|s| tso_error(ErrorKind::Unavailable, s.message().to_string()))?
        .ok_or_else(|| tso_error(ErrorKind::Unavailable, "the stream ended".into()))?;
    largest(resp, count)
}

/// Checks a response for a batch of `count` and returns its largest
/// timestamp.
fn largest(resp: TsoResponse, count: u32) -> Result<u64, Error> {
    if let Some(e) = resp.header.as_ref().and_then(|h| h.error.as_ref())
        && e.r#type != 0
    {
        return Err(tso_error(ErrorKind::Other, e.message.clone()));
    }
    if resp.count != count {
        return Err(tso_error(
            ErrorKind::Other,
            format!("asked for {count} timestamps, got {}", resp.count),
        ));
    }
    let ts = resp
        .timestamp
        .ok_or_else(|| tso_error(ErrorKind::Other, "the response has no timestamp".into()))?;
    let (physical, logical) = (ts.physical, ts.logical);
    if physical < 0 || logical < i64::from(count) - 1 {
        return Err(tso_error(
            ErrorKind::Other,
            format!("timestamp ({physical}, {logical}) cannot end a batch of {count}"),
        ));
    }
    Ok(compose(physical as u64, logical as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::pdpb::Timestamp;

    fn resp(count: u32, physical: i64, logical: i64) -> TsoResponse {
        TsoResponse {
            header: None,
            count,
            timestamp: Some(Timestamp {
                physical,
                logical,
                suffix_bits: 0,
            }),
        }
    }

    #[test]
    fn a_batch_ends_at_the_largest_timestamp() {
        assert_eq!(largest(resp(3, 10, 7), 3), Ok(compose(10, 7)));
        assert!(largest(resp(3, 10, 1), 3).is_err(), "would borrow");
        assert!(largest(resp(2, 10, 7), 3).is_err(), "wrong count");
    }
}
