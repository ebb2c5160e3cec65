//! `put`: a raw write of a value to a key drawn from the distribution, or,
//! with `insert: true`, to a new key past the end of the key space.

use serde::Serialize;

use super::{Api, Effect, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct PutOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PutParams {
    /// Write new keys past the end of the key space.
    pub insert: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct PutArgs<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl OpDef for PutOp {
    const NAME: &'static str = "put";
    const FIELDS: &'static [&'static str] = &["insert"];
    const API: Api = Api::Raw;
    const WRITES_RAW: bool = true;
    type Params = PutParams;
    type Args<'a> = PutArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> PutParams {
        PutParams {
            insert: fields.flag(c, "insert"),
        }
    }

    fn tagged(_: &PutParams) -> bool {
        true
    }

    fn draw(p: &PutParams, draw: &mut Draw) {
        if p.insert {
            draw.insert_key();
        } else {
            draw.key();
        }
        draw.value();
    }

    fn args<'a>(_: &PutParams, draw: &'a Draw) -> PutArgs<'a> {
        PutArgs {
            key: draw.key_buf(),
            value: draw.value_buf(),
        }
    }

    fn effect<'a>(a: &Self::Args<'a>) -> Effect<'a> {
        Effect::Put {
            key: a.key,
            value: a.value,
        }
    }
}

impl Operation for PutArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        kv.put(self.key, self.value).await?;
        Ok(Outcome::Done)
    }
}
