//! `scan`: a raw forward scan of `length` pairs (a number, or uniform in
//! `{min, max}`) from a key drawn from the distribution.

use serde::Serialize;

use super::{Api, Fields, OpDef};
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
use crate::workload::stream::Draw;
use crate::workload::validate::Checker;
use crate::workload::{KeySpace, SizeRange};

pub const DEFAULT_LENGTH: SizeRange = SizeRange { min: 1, max: 100 };
pub const MAX_LENGTH: u64 = 100_000;

pub struct ScanOp;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScanParams {
    /// Rows per scan.
    pub length: SizeRange,
}

#[derive(Debug, Clone, Copy)]
pub struct ScanArgs<'a> {
    pub start: &'a [u8],
    pub limit: u32,
}

impl OpDef for ScanOp {
    const NAME: &'static str = "scan";
    const FIELDS: &'static [&'static str] = &["length"];
    const API: Api = Api::Raw;
    type Params = ScanParams;
    type Args<'a> = ScanArgs<'a>;

    fn check(c: &mut Checker, fields: &Fields<'_>, _: &KeySpace) -> ScanParams {
        let length = fields.range(c, "length").map_or(DEFAULT_LENGTH, |(at, l)| {
            if l.min < 1 || l.min > l.max || l.max > MAX_LENGTH {
                c.err(
                    at,
                    format!(
                        "scan length must satisfy 1 <= min <= max <= {MAX_LENGTH}, got min {} max {}",
                        l.min, l.max
                    ),
                );
            }
            SizeRange {
                min: l.min,
                max: l.max,
            }
        });
        ScanParams { length }
    }

    fn draw(p: &ScanParams, draw: &mut Draw) {
        draw.key();
        draw.count(p.length);
    }

    fn args<'a>(_: &ScanParams, draw: &'a Draw) -> ScanArgs<'a> {
        ScanArgs {
            start: draw.key_buf(),
            limit: draw.count_drawn() as u32,
        }
    }
}

impl Operation for ScanArgs<'_> {
    fn mutates(&self) -> bool {
        false
    }

    async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
        let rows = kv.scan(self.start, b"", self.limit).await?;
        events.add("rows", rows.len() as u64);
        Ok(Outcome::Done)
    }
}
