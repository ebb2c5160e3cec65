//! `put`: a raw write of a value to a key drawn from the distribution, or,
//! with `insert: true`, to a new key past the end of the key space; with
//! `ttl: 30s` the value lives that long (TiKV's raw TTL, V1TTL or V2 only).

use std::time::Duration;

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
    /// How long each value lives (whole seconds); none: for good.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "super::ser_ttl")]
    pub ttl: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
pub struct PutArgs<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ttl: Option<Duration>,
}

impl OpDef for PutOp {
    const NAME: &'static str = "put";
    const FIELDS: &'static [&'static str] = &["insert", "ttl"];
    const API: Api = Api::Raw;
    const WRITES_RAW: bool = true;
    type Params = PutParams;
    type Args<'a> = PutArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> PutParams {
        PutParams {
            insert: fields.flag(c, "insert"),
            ttl: fields.ttl(c, "ttl"),
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

    fn args<'a>(p: &PutParams, draw: &'a Draw) -> PutArgs<'a> {
        PutArgs {
            key: draw.key_buf(),
            value: draw.value_buf(),
            ttl: p.ttl,
        }
    }

    fn effect<'a>(a: &Self::Args<'a>) -> Effect<'a> {
        Effect::Put {
            key: a.key,
            value: a.value,
            ttl: a.ttl,
        }
    }
}

impl Operation for PutArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        match self.ttl {
            Some(ttl) => kv.put_ttl(self.key, self.value, ttl).await?,
            None => kv.put(self.key, self.value).await?,
        }
        Ok(Outcome::Done)
    }
}
