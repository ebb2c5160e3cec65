//! The scan check: a scan of the workload's whole key range after the run
//! finds keys in strictly increasing order, every key readback's model says
//! must exist, and none it says must not. It judges over readback's model,
//! so it needs readback on.

use serde::Serialize;

use super::readback::{EmptySpec, Model, verify_scan};
use super::verdict::CheckVerdict;
use super::{Check, CheckInput, Judge, Never};
use crate::backend::Backend;
use crate::vocab::Rng;
use crate::workload::spec::Sp;
use crate::workload::validate::Checker;

/// `scan: {}`: no settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScanCheck {}

impl Check for ScanCheck {
    const NAME: &'static str = "scan";
    type Spec = EmptySpec;
    type Op<'a> = Never;
    type Gen = ();
    type Log = ();
    type Seen = ();

    fn check(c: &mut Checker, spec: &Sp<EmptySpec>, input: &CheckInput<'_>) -> ScanCheck {
        if !input.on.contains(&"readback") {
            c.err(
                spec,
                "scan needs readback: {} (it checks the keys that readback's model says must exist)",
            );
        }
        ScanCheck {}
    }

    fn generator(&self, _worker: u64) {}

    fn generate(&self, _: &mut (), _: &mut Rng) -> Never {
        unreachable!("scan adds no op")
    }

    async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, _: ()) -> CheckVerdict {
        verify_scan(&Model::of(judge), &judge.reads).await
    }
}
