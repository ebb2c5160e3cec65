//! `cas`: read a key drawn from the distribution, then compare-and-swap it
//! from what was read to a new value. A lost race is
//! [`Outcome::Mismatch`], not an error. With `ttl: 30s` the value written
//! lives that long (TiKV's raw TTL, V1TTL or V2 only).

use std::time::Duration;

use serde::Serialize;

use super::{Api, Effect, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct CasOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CasParams {
    /// How long each value written lives (whole seconds); none: for good.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "super::ser_ttl")]
    pub ttl: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
pub struct CasArgs<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ttl: Option<Duration>,
}

impl OpDef for CasOp {
    const NAME: &'static str = "cas";
    const FIELDS: &'static [&'static str] = &["ttl"];
    const API: Api = Api::Raw;
    const WRITES_RAW: bool = true;
    type Params = CasParams;
    type Args<'a> = CasArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> CasParams {
        CasParams {
            ttl: fields.ttl(c, "ttl"),
        }
    }

    fn tagged(_: &CasParams) -> bool {
        true
    }

    fn draw(_: &CasParams, draw: &mut Draw) {
        draw.key();
        draw.value();
    }

    fn args<'a>(p: &CasParams, draw: &'a Draw) -> CasArgs<'a> {
        CasArgs {
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

impl Operation for CasArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        let current = kv.get(self.key).await?;
        let swapped = match self.ttl {
            Some(ttl) => {
                let swap = (current.as_deref(), self.value);
                kv.cas_ttl(self.key, swap, ttl).await?
            }
            None => kv.cas(self.key, current.as_deref(), self.value).await?,
        };
        Ok(if swapped {
            Outcome::Done
        } else {
            Outcome::Mismatch
        })
    }
}
