//! A backend that does nothing, instantly: measures the driver itself.

use super::{Backend, TargetInfo};
use crate::vocab::{Events, Op, OpError, Outcome};

#[derive(Debug, Default, Clone, Copy)]
pub struct NoopBackend;

impl Backend for NoopBackend {
    async fn execute(&self, _op: Op<'_>, _events: &mut Events) -> Result<Outcome, OpError> {
        Ok(Outcome::Done)
    }

    fn target(&self) -> TargetInfo {
        TargetInfo {
            kind: "noop".into(),
            description: "answers every op at once without doing anything".into(),
        }
    }
}
