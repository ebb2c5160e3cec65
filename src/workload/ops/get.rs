//! `get`: a raw point read of one key drawn from the distribution.

use serde::Serialize;

use super::{Fields, OpDef, Space};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct Get;

/// `get` has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {}

#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    pub key: &'a [u8],
}

impl OpDef for Get {
    const NAME: &'static str = "get";
    const FIELDS: &'static [&'static str] = &[];
    const SPACE: Space = Space::Raw;
    type Params = Params;
    type Args<'a> = Args<'a>;

    fn check(_: &mut Checker, _: &Fields<'_>, _: &KeySpace) -> Params {
        Params {}
    }

    fn draw(_: &Params, draw: &mut Draw) {
        draw.key();
    }

    fn args<'a>(_: &Params, draw: &'a Draw) -> Args<'a> {
        Args {
            key: draw.key_buf(),
        }
    }
}

impl Operation for Args<'_> {
    fn mutates(&self) -> bool {
        false
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        Ok(match kv.get(self.key).await? {
            Some(_) => Outcome::Done,
            None => Outcome::NotFound,
        })
    }
}
