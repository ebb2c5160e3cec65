//! The sections that say how the drivers of one run lined up: when each
//! driver's workers were to start and how late its measured phase began
//! (`start`, written by the driver), and, in a merge, one row per driver
//! with its throughput, start skew and self-check (`drivers`), so that an
//! overloaded or late driver shows in the merged result.

use serde::{Deserialize, Serialize};

use super::selfcheck::DriverVerdict;

/// How the drivers of a run agreed on when to start (`run --start-at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartHow {
    /// A wall-clock time every driver was given (`--start-at TIME`).
    Time,
    /// Every driver wrote that it was ready into the run's directory; the
    /// start is the last one's readiness plus a lead (`--start-at barrier`).
    Barrier,
}

/// When this driver was told to start and when it did (`run --start-at`).
///
/// The workers start at `at_unix_us` (warmup first), so the measured phase
/// is meant to begin at `at_unix_us + warmup` on every driver; `skew_us` is
/// how far from that this driver's measured phase really began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartInfo {
    pub how: StartHow,
    /// The agreed start of the workers, Unix microseconds.
    pub at_unix_us: i64,
    /// The measured phase's intended start: `at_unix_us` plus the warmup.
    pub measure_at_unix_us: i64,
    /// This driver's measured phase began this long after its intended
    /// start (negative: before it, by the timer's granularity).
    pub skew_us: i64,
    /// When the driver was ready to start (load done, connections made).
    pub ready_unix_us: i64,
    /// The driver was ready only after the agreed start, so it started
    /// late by about `skew_us`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
}

/// One driver of a merged result: what it ran and how it kept up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverRow {
    /// The driver run's own id.
    pub run_id: String,
    /// `I/N` of a sharded run, counted from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u32; 2]>,
    /// The id of the sharded run the driver was a shard of (its
    /// `shard.run`), so that a merge of merges still knows its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The machine (pod) the driver ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Measured ops that succeeded and failed, all ops together.
    pub ok: u64,
    pub failed: u64,
    /// Ops per second over this driver's own measured phase.
    pub throughput: f64,
    /// The open-loop rate this driver was to offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// This driver's measured phase, Unix microseconds.
    pub measured_from_unix_us: i64,
    pub measured_to_unix_us: i64,
    /// Its measured phase began this long after the earliest driver's.
    pub start_offset_us: i64,
    /// From its `start` section: how late it began against the agreed
    /// instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_us: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
    /// Its self-check: ok, fell behind (open loop) or saturated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<DriverVerdict>,
    /// Open loop: p99 of its sends' lateness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_p99_us: Option<u64>,
    /// The share of its cores it used over the measured phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_busy: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}
