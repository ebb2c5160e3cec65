//! `batch_delete`: a raw delete of `batch` distinct keys drawn from the
//! distribution, in one request.

use serde::Serialize;

use super::{Api, Effect, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub const DEFAULT_BATCH: u32 = 10;

pub struct BatchDeleteOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BatchDeleteParams {
    /// Keys per request.
    pub batch: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct BatchDeleteArgs<'a> {
    pub keys: &'a [Vec<u8>],
}

impl OpDef for BatchDeleteOp {
    const NAME: &'static str = "batch_delete";
    const FIELDS: &'static [&'static str] = &["batch"];
    const API: Api = Api::Raw;
    const WRITES_RAW: bool = true;
    type Params = BatchDeleteParams;
    type Args<'a> = BatchDeleteArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> BatchDeleteParams {
        BatchDeleteParams {
            batch: fields.int(c, "batch", (1, 10_000), DEFAULT_BATCH),
        }
    }

    fn draw(p: &BatchDeleteParams, draw: &mut Draw) {
        draw.distinct(p.batch as usize, 0);
    }

    fn args<'a>(_: &BatchDeleteParams, draw: &'a Draw) -> BatchDeleteArgs<'a> {
        BatchDeleteArgs {
            keys: draw.keys_buf(),
        }
    }

    fn effect<'a>(a: &Self::Args<'a>) -> Effect<'a> {
        Effect::Delete { keys: a.keys }
    }
}

impl Operation for BatchDeleteArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        kv.batch_delete(self.keys).await?;
        Ok(Outcome::Done)
    }
}
