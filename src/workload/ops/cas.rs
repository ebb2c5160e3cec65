//! `cas`: read a key drawn from the distribution, then compare-and-swap it
//! from what was read to a new value. A lost race is
//! [`Outcome::Mismatch`], not an error.

use serde::Serialize;

use super::{Api, Effect, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct CasOp;

/// `cas` has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CasParams {}

#[derive(Debug, Clone, Copy)]
pub struct CasArgs<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl OpDef for CasOp {
    const NAME: &'static str = "cas";
    const FIELDS: &'static [&'static str] = &[];
    const API: Api = Api::Raw;
    const WRITES_RAW: bool = true;
    type Params = CasParams;
    type Args<'a> = CasArgs<'a>;

    fn check(_: &mut Checker, _: &Fields<'_>, _: &KeySpace) -> CasParams {
        CasParams {}
    }

    fn tagged(_: &CasParams) -> bool {
        true
    }

    fn draw(_: &CasParams, draw: &mut Draw) {
        draw.key();
        draw.value();
    }

    fn args<'a>(_: &CasParams, draw: &'a Draw) -> CasArgs<'a> {
        CasArgs {
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

impl Operation for CasArgs<'_> {
    fn mutates(&self) -> bool {
        true
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        let current = kv.get(self.key).await?;
        Ok(if kv.cas(self.key, current.as_deref(), self.value).await? {
            Outcome::Done
        } else {
            Outcome::Mismatch
        })
    }
}
