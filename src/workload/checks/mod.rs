//! Invariant checks that turn a benchmark into a correctness test under
//! faults. They live in the workload because they are part of what a
//! workload file describes: each check has its `checks:` settings, may add
//! its op to the mix, and owns keys of the key space.
//!
//! Each check is one file implementing [`Check`]: its settings as written
//! and as checked, its op (how it is generated and run), the data it
//! writes before the run, what it reads during the run, what each worker
//! records of the ops, and how it judges all that after the run. The
//! `registry!` below lists them; everything else here is generic:
//!
//! - `tracker`: each worker's bookkeeping ([`Tracker`]), owned by the
//!   worker (no lock, no channel per op), handed over once at the end.
//! - `run`: setup before the measured phase, the checker task during it
//!   ([`Monitor`]), and the verification after it, one [`CheckVerdict`]
//!   per check.
//! - `tag`: the 16-byte tag readback writes at the start of each value.
//!
//! Adding a check is one file and one registry line.

pub mod config;
pub mod run;
pub mod tag;
pub mod tracker;
mod verdict;

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::spec::Sp;
use super::validate::Checker;
use super::{KeySpace, OpConfig, Values, Workload};
use crate::backend::{Backend, Kv, Operation};
use crate::vocab::{Events, OpError, Outcome, Pair, Rng};
pub use bank::Bank;
pub use config::DEFAULT_EVERY;
pub use inventory::Inventory;
pub use lock::LockCheck;
pub use readback::Readback;
pub use run::{Monitor, setup, verify};
pub use scan::ScanCheck;
pub use tracker::{Fate, Fates, Tracker};
pub use verdict::{CheckVerdict, fail_on_plain_writes_to_cas_keys};

/// What a check's settings are checked against.
#[derive(Debug)]
pub struct CheckInput<'a> {
    pub keys: &'a KeySpace,
    pub values: &'a Values,
    /// The op mix (without the checks' ops).
    pub ops: &'a [OpConfig],
    /// The names of the checks the file turns on.
    pub on: &'a [&'static str],
}

/// Data a check writes before the run.
#[derive(Debug)]
pub struct Setup {
    /// What it is, for an error message: "the bank accounts".
    pub what: &'static str,
    /// Whether it goes to the transactional key space (else the raw one).
    pub txn: bool,
    pub pairs: Vec<Pair>,
}

/// A finished op as the checks see it.
#[derive(Debug)]
pub struct Done<'o, 'a> {
    pub op: &'o super::ops::Op<'a>,
    pub result: &'o Result<Outcome, OpError>,
    pub fate: Fate,
    pub start: Instant,
    pub end: Instant,
}

/// What a check's verification has besides its settings.
pub struct Judge<'a, B> {
    pub workload: &'a Workload,
    /// Every worker's log.
    pub logs: &'a [WorkerLog],
    /// Reads retried until they succeed or their patience runs out.
    pub reads: run::Reads<'a, B>,
    /// Whether the load phase wrote records `0..load.records` (their values
    /// are known); otherwise keys nobody wrote are not judged.
    pub preloaded: bool,
    /// Times in messages count from here (the start of the run).
    pub base: Instant,
}

/// One invariant check. `Self` is its checked settings, as written back in
/// the workload as run. Every method but the first and the last has a
/// default that does nothing.
pub trait Check: Clone + Debug + PartialEq + Serialize + Send + Sync + 'static {
    /// Its key under `checks:` and its verdict's name.
    const NAME: &'static str;
    /// The type name of its op in results, when it adds one to the mix.
    const OP: Option<&'static str> = None;
    /// Its settings as written: unknown fields refused, positions kept.
    type Spec: DeserializeOwned + Debug;
    /// Its op ([`Never`] when it adds none).
    type Op<'a>: Operation + Copy + Debug + Send;
    /// A worker's state for generating its ops.
    type Gen: Debug + Send;
    /// What one worker records for it.
    type Log: Debug + Clone + Default + PartialEq + Send;
    /// What its reads during the run found.
    type Seen: Debug + Default + Send;

    /// Checks its settings.
    fn check(c: &mut Checker, spec: &Sp<Self::Spec>, input: &CheckInput<'_>) -> Self;

    /// The weight of its op in the mix (`None`: it adds no op).
    fn weight(&self) -> Option<u32> {
        None
    }

    /// Worker `worker`'s generator state.
    fn generator(&self, worker: u64) -> Self::Gen;

    /// Its next op (only called when it adds one).
    fn generate<'g>(&self, g: &'g mut Self::Gen, rng: &mut Rng) -> Self::Op<'g>;

    /// The data it writes before the run.
    fn setup(&self) -> Option<Setup> {
        None
    }

    /// A worker's empty log.
    fn log(&self) -> Self::Log {
        Self::Log::default()
    }

    /// Records a finished op: `own` is the op when it is this check's.
    fn record(&self, log: &mut Self::Log, own: Option<&Self::Op<'_>>, done: &Done<'_, '_>) {
        let _ = (log, own, done);
    }

    /// Whether it reads during the run.
    fn observes(&self) -> bool {
        false
    }

    /// One read during the run, `at` into it. Tried once: a read that
    /// meets a fault is counted, and the next comes `every` later.
    fn observe<B: Backend>(
        &self,
        backend: &B,
        at: Duration,
        seen: &mut Self::Seen,
    ) -> impl Future<Output = ()> + Send {
        let _ = (backend, at, seen);
        async {}
    }

    /// Judges the run.
    fn verify<B: Backend>(
        &self,
        judge: &Judge<'_, B>,
        seen: Self::Seen,
    ) -> impl Future<Output = CheckVerdict> + Send;
}

/// The op of a check that adds none: it cannot be made.
#[derive(Debug, Clone, Copy)]
pub enum Never {}

impl Operation for Never {
    fn mutates(&self) -> bool {
        match *self {}
    }

    async fn run<K: Kv>(&self, _: &K, _: &mut Events) -> Result<Outcome, OpError> {
        match *self {}
    }
}

/// Lists the checks, in verdict order: `field: Variant => file::Type`, one
/// line each (the line declares the file's module too).
macro_rules! registry {
    ($($field:ident : $variant:ident => $file:ident :: $ty:ident),+ $(,)?) => {
        $(pub mod $file;)+

        /// The `checks:` section as written: each check present is on.
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ChecksSpec {
            $(pub $field: Option<Sp<<$file::$ty as Check>::Spec>>,)+
            /// How often the during-run checks read.
            pub every: Option<Sp<String>>,
        }

        /// The checks a workload runs (all off by default).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct Checks {
            $(
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$file::$ty>,
            )+
            /// How often the during-run checks read.
            #[serde(serialize_with = "crate::vocab::fmt::ser_duration")]
            pub every: Duration,
        }

        impl Default for Checks {
            fn default() -> Checks {
                Checks {
                    $($field: None,)+
                    every: DEFAULT_EVERY,
                }
            }
        }

        impl Checks {
            /// No check is on.
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())+
            }

            /// The names of the checks that are on, in verdict order.
            pub fn names(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$field.is_some() {
                    out.push(<$file::$ty as Check>::NAME);
                })+
                out
            }

            /// The ops the checks add to the mix: (name, id, weight).
            pub fn ops(&self) -> Vec<(&'static str, CheckId, u32)> {
                let mut out = Vec::new();
                $(if let Some(w) = self.$field.as_ref().and_then(Check::weight) {
                    out.push((<$file::$ty as Check>::NAME, CheckId::$variant, w));
                })+
                out
            }

            /// The data the checks write before the run.
            pub fn setups(&self) -> Vec<Setup> {
                let mut out = Vec::new();
                $(if let Some(s) = self.$field.as_ref().and_then(Check::setup) {
                    out.push(s);
                })+
                out
            }

            /// Whether a check reads during the run.
            pub fn observes(&self) -> bool {
                false $(|| self.$field.as_ref().is_some_and(Check::observes))+
            }

            /// One round of the during-run reads, `at` into the run.
            pub(crate) async fn observe<B: Backend>(&self, backend: &B, at: Duration, seen: &mut Observed) {
                $(if let Some(c) = &self.$field && c.observes() {
                    c.observe(backend, at, &mut seen.$field).await;
                })+
            }

            /// Judges every check that is on.
            pub(crate) async fn verify<B: Backend>(&self, judge: &Judge<'_, B>, seen: Observed) -> Vec<CheckVerdict> {
                let mut out = Vec::new();
                $(if let Some(c) = &self.$field {
                    out.push(c.verify(judge, seen.$field).await);
                })+
                out
            }
        }

        /// Checks the settings of every check the section turns on.
        pub(super) fn check_each(c: &mut Checker, spec: &ChecksSpec, keys: &KeySpace, values: &Values, ops: &[OpConfig]) -> Checks {
            let on: Vec<&'static str> = [$((<$file::$ty as Check>::NAME, spec.$field.is_some())),+]
                .into_iter()
                .filter_map(|(n, on)| on.then_some(n))
                .collect();
            let input = CheckInput { keys, values, ops, on: &on };
            Checks {
                $($field: spec.$field.as_ref().map(|s| <$file::$ty as Check>::check(c, s, &input)),)+
                every: DEFAULT_EVERY,
            }
        }

        /// Whether the section turns on a check that adds an op.
        pub(super) fn adds_ops(spec: &ChecksSpec) -> bool {
            false $(|| (spec.$field.is_some() && <$file::$ty as Check>::OP.is_some()))+
        }

        /// The position of each check's settings in the file.
        pub(super) fn positions(spec: &ChecksSpec) -> Vec<(&'static str, (u64, u64))> {
            let mut out = Vec::new();
            $(if let Some(s) = &spec.$field {
                out.push((<$file::$ty as Check>::NAME, (s.referenced.line(), s.referenced.column())));
            })+
            out
        }

        /// The type names of the checks' ops, in registry order.
        pub fn op_types() -> Vec<&'static str> {
            [$(<$file::$ty as Check>::OP),+].into_iter().flatten().collect()
        }

        /// A check that adds an op.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum CheckId {
            $($variant,)+
        }

        impl CheckId {
            /// The type name of the check's op in results.
            pub fn op_name(self) -> &'static str {
                match self {
                    $(CheckId::$variant => <$file::$ty as Check>::OP.unwrap_or(<$file::$ty as Check>::NAME),)+
                }
            }
        }

        /// A check's generated op.
        #[derive(Debug, Clone, Copy)]
        pub enum CheckOp<'a> {
            $($variant(<$file::$ty as Check>::Op<'a>),)+
        }

        impl Operation for CheckOp<'_> {
            fn mutates(&self) -> bool {
                match self {
                    $(CheckOp::$variant(o) => o.mutates(),)+
                }
            }

            async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
                match self {
                    $(CheckOp::$variant(o) => o.run(kv, events).await,)+
                }
            }
        }

        /// A worker's generator state for each check that adds ops.
        #[derive(Debug)]
        pub struct CheckGens {
            $($field: Option<($file::$ty, <$file::$ty as Check>::Gen)>,)+
        }

        impl CheckGens {
            pub fn new(checks: &Checks, worker: u64) -> CheckGens {
                CheckGens {
                    $($field: checks.$field.as_ref().map(|c| (c.clone(), c.generator(worker))),)+
                }
            }

            /// The next op of check `id` (validation made sure it is on).
            pub fn generate(&mut self, id: CheckId, rng: &mut Rng) -> CheckOp<'_> {
                match id {
                    $(CheckId::$variant => {
                        let (c, g) = self.$field.as_mut().expect("the check is on");
                        #[allow(unreachable_code, reason = "a check without an op generates `Never`")]
                        CheckOp::$variant(c.generate(g, rng))
                    })+
                }
            }
        }

        /// Everything one worker recorded, handed over once at the end.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct WorkerLog {
            $(pub $field: <$file::$ty as Check>::Log,)+
        }

        /// What the checker task saw during the run, per check.
        #[derive(Debug, Default)]
        pub struct Observed {
            $(pub $field: <$file::$ty as Check>::Seen,)+
        }

        /// The checks that are on, each with the log it keeps.
        #[derive(Debug)]
        pub(crate) struct Logs {
            $($field: Option<$file::$ty>,)+
            log: WorkerLog,
        }

        impl Logs {
            pub(crate) fn new(checks: &Checks) -> Logs {
                let mut log = WorkerLog::default();
                $(if let Some(c) = &checks.$field {
                    log.$field = c.log();
                })+
                Logs {
                    $($field: checks.$field.clone(),)+
                    log,
                }
            }

            #[inline]
            pub(crate) fn record(&mut self, done: &Done<'_, '_>) {
                $(if let Some(c) = &self.$field {
                    let own = match done.op {
                        super::ops::Op::Check(CheckOp::$variant(o)) => Some(o),
                        _ => None,
                    };
                    c.record(&mut self.log.$field, own, done);
                })+
            }

            pub(crate) fn finish(self) -> WorkerLog {
                self.log
            }
        }
    };
}

registry! {
    bank: Bank => bank::Bank,
    inventory: Inventory => inventory::Inventory,
    lock: Lock => lock::LockCheck,
    readback: Readback => readback::Readback,
    scan: Scan => scan::ScanCheck,
}
