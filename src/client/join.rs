//! Runs several futures of one type concurrently on the current task and
//! collects their outputs in order (the per-region requests of a batch).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

/// Awaits every future; outputs in the order given. One future is awaited
/// in place, without boxing.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    if futures.len() == 1 {
        let f = futures.into_iter().next().expect("one future");
        return vec![f.await];
    }
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    let mut left = pending.len();
    poll_fn(|cx| {
        for (slot, out) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot
                && let Poll::Ready(v) = f.as_mut().poll(cx)
            {
                *out = Some(v);
                *slot = None;
                left -= 1;
            }
        }
        if left == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn outputs_keep_their_order_and_run_together() {
        let start = tokio::time::Instant::now();
        let futs: Vec<_> = [30u64, 10, 20]
            .into_iter()
            .map(|ms| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ms
            })
            .collect();
        assert_eq!(join_all(futs).await, vec![30, 10, 20]);
        assert_eq!(start.elapsed(), Duration::from_millis(30));
        let none: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(join_all(none).await.is_empty());
    }
}
