//! `batch_get`: a raw read of `keys` distinct keys drawn from the
//! distribution, in one request (TiKV's RawBatchGet). The keys found are
//! counted in the op's `keys_found` event; a batch that finds none is a
//! success counted as `not_found`.

use serde::Serialize;

use super::{Api, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub const DEFAULT_KEYS: u32 = 10;

pub struct BatchGetOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BatchGetParams {
    /// Keys per request.
    pub keys: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct BatchGetArgs<'a> {
    pub keys: &'a [Vec<u8>],
}

impl OpDef for BatchGetOp {
    const NAME: &'static str = "batch_get";
    const FIELDS: &'static [&'static str] = &["keys"];
    const API: Api = Api::Raw;
    type Params = BatchGetParams;
    type Args<'a> = BatchGetArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, keys: &KeySpace) -> BatchGetParams {
        let n = fields.int(c, "keys", (1, 10_000), DEFAULT_KEYS);
        if u64::from(n) > keys.records {
            fields.err(
                c,
                format!(
                    "a batch_get of {n} distinct keys needs at least that many records, the key space has {}",
                    keys.records
                ),
            );
        }
        BatchGetParams { keys: n }
    }

    fn draw(p: &BatchGetParams, draw: &mut Draw) {
        draw.distinct(p.keys as usize, 0);
    }

    fn args<'a>(_: &BatchGetParams, draw: &'a Draw) -> BatchGetArgs<'a> {
        BatchGetArgs {
            keys: draw.keys_buf(),
        }
    }
}

impl Operation for BatchGetArgs<'_> {
    fn mutates(&self) -> bool {
        false
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        let values = kv.batch_get(self.keys).await?;
        let found = values.iter().filter(|v| v.is_some()).count() as u64;
        events.add("keys_found", found);
        Ok(if found == 0 {
            Outcome::NotFound
        } else {
            Outcome::Done
        })
    }
}
