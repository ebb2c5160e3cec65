//! Measurement: per-worker recorders (no locks, no sends per op), the
//! collector that merges their per-second reports, and the result file
//! with its typed sections, among them the slowest ops with their traces
//! and the process's memory; the timeline stays bounded on long runs.

pub mod baseline;
pub mod collector;
pub mod driver_rows;
pub mod drivers;
pub mod hdrlog;
pub mod hist;
pub mod impact;
pub mod memory;
pub mod merge;
pub mod places;
pub mod prometheus;
pub mod recorder;
pub mod result;
pub mod sections;
pub mod selfcheck;
pub mod server_time;
pub mod slow;
pub mod stages;
pub mod timeline;

pub use baseline::{BaselineComparison, BaselineVerdict, Change, MetricUnit};
pub use collector::{Collector, Live, LiveOp, Summary};
pub use drivers::{DriverRow, StartHow, StartInfo};
pub use memory::MemoryInfo;
pub use merge::merge;
pub use recorder::{Clock, Completion, OpStats, Recorder, Report, StageReport};
pub use result::{RunInfo, RunResult, SCHEMA};
pub use sections::{ClusterInfo, RepeatInfo, ShardInfo, SweepInfo, SweptValue, ThresholdVerdict};
pub use selfcheck::{CpuUse, DriverCheck, DriverVerdict};
pub use slow::{SlowOp, TraceLine, TraceStep};
pub use stages::{
    AbortInfo, LevelKind, SearchEnd, SearchResult, StageLevel, StageResult, StageSpan, StepVerdict,
};
