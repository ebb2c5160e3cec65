//! A backend that does nothing, instantly: measures the driver itself. It
//! answers every op without running it, so it needs no key space.

use super::{Backend, Operation, TargetInfo};
use crate::vocab::{Events, OpError, Outcome};

#[derive(Debug, Default, Clone, Copy)]
pub struct NoopBackend;

impl Backend for NoopBackend {
    async fn execute<O: Operation>(
        &self,
        _op: &O,
        _events: &mut Events,
    ) -> Result<Outcome, OpError> {
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "noop".into(),
            description: "answers every op at once without doing anything".into(),
        }
    }
}
