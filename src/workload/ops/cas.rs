//! `cas`: read a key drawn from the distribution, then compare-and-swap it
//! from what was read to a new value. A lost race is
//! [`Outcome::Mismatch`], not an error.

use serde::Serialize;

use super::{Effect, Fields, OpDef, Space};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct Cas;

/// `cas` has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {}

#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl OpDef for Cas {
    const NAME: &'static str = "cas";
    const FIELDS: &'static [&'static str] = &[];
    const SPACE: Space = Space::Raw;
    const WRITES_RAW: bool = true;
    type Params = Params;
    type Args<'a> = Args<'a>;

    fn check(_: &mut Checker, _: &Fields<'_>, _: &KeySpace) -> Params {
        Params {}
    }

    fn tagged(_: &Params) -> bool {
        true
    }

    fn draw(_: &Params, draw: &mut Draw) {
        draw.key();
        draw.value();
    }

    fn args<'a>(_: &Params, draw: &'a Draw) -> Args<'a> {
        Args {
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

impl Operation for Args<'_> {
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
