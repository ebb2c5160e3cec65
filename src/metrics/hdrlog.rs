//! Interval histograms in the standard HdrHistogram log format (as written
//! by HdrHistogram's `HistogramLogWriter`), readable by the HdrHistogram
//! tools such as `HistogramLogProcessor`: one untagged histogram per second
//! for all ops, and one tagged with the op name per op. Values are in
//! microseconds; the max column is in milliseconds.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::RunResult;
use super::hist::{self, HistogramDecodeError};

/// Writes the timeline of `result` as an interval log.
pub fn write(result: &RunResult, out: &mut impl Write) -> Result<(), HdrLogError> {
    let from_us = result.measured_from_unix_us.max(0) as u64;
    let start = UNIX_EPOCH + Duration::from_micros(from_us);
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "tikv-bench {} {}: '{}', seed {}, target {}",
            result.tool.version, result.schema, result.name, result.seed, result.target.kind
        ))
        .add_comment("values in microseconds; untagged: all ops; tagged: one op")
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0);
    let mut log = builder.begin_log_with(out, &mut serializer)?;
    for interval in &result.timeline {
        let begin_us = (interval.unix_s * 1_000_000).max(result.measured_from_unix_us);
        let offset = Duration::from_micros((begin_us - result.measured_from_unix_us).max(0) as u64);
        let span = Duration::from_secs_f64(interval.span_s.max(0.0));
        let mut all = hist::new_hist();
        let mut per_op = Vec::with_capacity(interval.ops.len());
        for (name, op) in &interval.ops {
            let h = hist::decode(&op.histogram).map_err(|err| HdrLogError::Histogram {
                second: interval.unix_s,
                op: name.clone(),
                err,
            })?;
            hist::add(&mut all, &h);
            per_op.push((name, h));
        }
        let failed = |e| HdrLogError::Write(format!("{e:?}"));
        log.write_histogram(&all, offset, span, None)
            .map_err(failed)?;
        for (name, h) in &per_op {
            log.write_histogram(h, offset, span, Tag::new(name))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// Writes the interval log of `result` to `path`.
pub fn save(result: &RunResult, path: &Path) -> Result<(), HdrLogError> {
    let mut buf = Vec::new();
    write(result, &mut buf)?;
    std::fs::write(path, buf).map_err(|err| HdrLogError::Save {
        path: path.to_path_buf(),
        err,
    })
}

/// Why an interval log cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum HdrLogError {
    /// The log's header cannot be written to the output.
    #[error(transparent)]
    Header(#[from] std::io::Error),
    /// A histogram of the result's timeline does not decode: the result
    /// was edited or cut. Restore it or run again.
    #[error("second {second}: op '{op}': {err}")]
    Histogram {
        second: i64,
        op: String,
        err: HistogramDecodeError,
    },
    /// A histogram cannot be encoded into the log or written to it.
    #[error("cannot write the HDR log: {0}")]
    Write(String),
    /// The log file cannot be written: a missing directory, no permission
    /// or a full disk. Choose another path or make room.
    #[error("{}: cannot write HDR log: {err}", path.display())]
    Save { path: PathBuf, err: std::io::Error },
}
