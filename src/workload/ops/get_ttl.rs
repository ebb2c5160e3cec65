//! `get_ttl`: RawGetKeyTTL of one key drawn from the distribution, the
//! time the key has left (TiKV answers it under V1TTL and V2 only).
//! Recorded as `get` is: a key without a value is not found.

use serde::Serialize;

use super::{Api, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::KeySpace;
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;

pub struct GetTtlOp;

/// `get_ttl` has no settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GetTtlParams {}

#[derive(Debug, Clone, Copy)]
pub struct GetTtlArgs<'a> {
    pub key: &'a [u8],
}

impl OpDef for GetTtlOp {
    const NAME: &'static str = "get_ttl";
    const FIELDS: &'static [&'static str] = &[];
    const API: Api = Api::Raw;
    type Params = GetTtlParams;
    type Args<'a> = GetTtlArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> GetTtlParams {
        if !c.api_version.ttl_enabled() {
            let got = c.api_version.as_str();
            fields.err(
                c,
                format!(
                    "get_ttl needs client.api_version v1ttl or v2 (TiKV answers RawGetKeyTTL only then), got {got}"
                ),
            );
        }
        GetTtlParams {}
    }

    fn draw(_: &GetTtlParams, draw: &mut Draw) {
        draw.key();
    }

    fn args<'a>(_: &GetTtlParams, draw: &'a Draw) -> GetTtlArgs<'a> {
        GetTtlArgs {
            key: draw.key_buf(),
        }
    }
}

impl Operation for GetTtlArgs<'_> {
    fn mutates(&self) -> bool {
        false
    }

    async fn run<K: Kv>(&self, kv: &K, _: &mut Events) -> Result<Outcome, OpError> {
        Ok(match kv.get_ttl(self.key).await? {
            Some(_) => Outcome::Done,
            None => Outcome::NotFound,
        })
    }
}
