//! `get`: a raw point read of one key drawn from the distribution.

use serde::Serialize;

use super::{Api, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct GetOp;

/// `get` has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GetParams {}

#[derive(Debug, Clone, Copy)]
pub struct GetArgs<'a> {
    pub key: &'a [u8],
}

impl OpDef for GetOp {
    const NAME: &'static str = "get";
    const FIELDS: &'static [&'static str] = &[];
    const API: Api = Api::Raw;
    type Params = GetParams;
    type Args<'a> = GetArgs<'a>;

    fn check(_: &mut Checker, _: &Fields<'_>, _: &KeySpace) -> GetParams {
        GetParams {}
    }

    fn draw(_: &GetParams, draw: &mut Draw) {
        draw.key();
    }

    fn args<'a>(_: &GetParams, draw: &'a Draw) -> GetArgs<'a> {
        GetArgs {
            key: draw.key_buf(),
        }
    }
}

impl Operation for GetArgs<'_> {
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
