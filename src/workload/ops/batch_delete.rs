//! `batch_delete`: a raw delete of `batch` distinct keys drawn from the
//! distribution, in one request.

use serde::Serialize;

use super::{Effect, Fields, OpDef, Space};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub const DEFAULT_BATCH: u32 = 10;

pub struct BatchDelete;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    /// Keys per request.
    pub batch: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    pub keys: &'a [Vec<u8>],
}

impl OpDef for BatchDelete {
    const NAME: &'static str = "batch_delete";
    const FIELDS: &'static [&'static str] = &["batch"];
    const SPACE: Space = Space::Raw;
    const WRITES_RAW: bool = true;
    type Params = Params;
    type Args<'a> = Args<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> Params {
        Params {
            batch: fields.int(c, "batch", (1, 10_000), DEFAULT_BATCH),
        }
    }

    fn draw(p: &Params, draw: &mut Draw) {
        draw.distinct(p.batch as usize, 0);
    }

    fn args<'a>(_: &Params, draw: &'a Draw) -> Args<'a> {
        Args {
            keys: draw.keys_buf(),
        }
    }

    fn effect<'a>(a: &Self::Args<'a>) -> Effect<'a> {
        Effect::Delete { keys: a.keys }
    }
}

impl Operation for Args<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        kv.batch_delete(self.keys).await?;
        Ok(Outcome::Done)
    }
}
