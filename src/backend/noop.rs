//! A backend that does nothing: measures the driver itself. It answers
//! every op without running it, so it needs no key space. With a
//! [`Capacity`] it is a target whose capacity is known exactly: `slots`
//! ops in service at once, each taking `service`, so it completes at most
//! `slots / service` ops/s; ops beyond that queue for a slot, in arrival
//! order. A search or a load curve run against it can be judged against
//! that truth.

use std::sync::Arc;
use std::time::Duration;

use super::{Backend, Operation, TargetInfo};
use crate::vocab::{Events, OpError, Outcome};

/// A fixed service time and a fixed number of slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub service: Duration,
    pub slots: u32,
}

impl Capacity {
    /// The most ops/s the target completes: `slots / service`.
    pub fn ops_per_s(&self) -> f64 {
        f64::from(self.slots) / self.service.as_secs_f64()
    }
}

#[derive(Debug, Default, Clone)]
pub struct NoopBackend {
    capacity: Option<(Capacity, Arc<tokio::sync::Semaphore>)>,
}

impl NoopBackend {
    /// Answers every op at once.
    pub fn new() -> NoopBackend {
        NoopBackend::default()
    }

    /// Serves ops with `capacity` (tokio's timer: exact under its paused
    /// clock, up to a millisecond late on the system clock).
    pub fn with_capacity(capacity: Capacity) -> NoopBackend {
        let slots = tokio::sync::Semaphore::new(capacity.slots as usize);
        NoopBackend {
            capacity: Some((capacity, Arc::new(slots))),
        }
    }

    pub fn capacity(&self) -> Option<Capacity> {
        self.capacity.as_ref().map(|(c, _)| *c)
    }
}

impl Backend for NoopBackend {
    async fn execute<O: Operation>(
        &self,
        _op: &O,
        _events: &mut Events,
    ) -> Result<Outcome, OpError> {
        if let Some((capacity, slots)) = &self.capacity {
            // The semaphore is never closed, so acquiring cannot fail; it
            // queues waiters in arrival order.
            let _slot = slots.acquire().await;
            tokio::time::sleep(capacity.service).await;
        }
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        match self.capacity() {
            None => TargetInfo {
                kind: "noop".into(),
                description: "answers every op at once without doing anything".into(),
            },
            Some(c) => TargetInfo {
                kind: "noop".into(),
                description: format!(
                    "{} slots of {} each: capacity {:.0} ops/s",
                    c.slots,
                    crate::vocab::fmt::micros(c.service.as_micros() as u64),
                    c.ops_per_s()
                ),
            },
        }
    }
}
