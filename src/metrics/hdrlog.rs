//! Interval histograms in the standard HdrHistogram log format (as written
//! by HdrHistogram's `HistogramLogWriter`), readable by the HdrHistogram
//! tools such as `HistogramLogProcessor`: one untagged histogram per second
//! for all ops, and one tagged with the op name per op. Values are in
//! microseconds; the max column is in milliseconds.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use super::RunResult;
use super::hist;

/// Writes the timeline of `result` as an interval log.
pub fn write(result: &RunResult, out: &mut impl Write) -> anyhow::Result<()> {
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
            let h = hist::decode(&op.histogram)
                .map_err(|e| anyhow::anyhow!("second {}: op '{name}': {e}", interval.unix_s))?;
            hist::add(&mut all, &h);
            per_op.push((name, h));
        }
        log.write_histogram(&all, offset, span, None)
            .map_err(|e| anyhow::anyhow!("cannot write the HDR log: {e:?}"))?;
        for (name, h) in &per_op {
            log.write_histogram(h, offset, span, Tag::new(name))
                .map_err(|e| anyhow::anyhow!("cannot write the HDR log: {e:?}"))?;
        }
    }
    Ok(())
}

/// Writes the interval log of `result` to `path`.
pub fn save(result: &RunResult, path: &std::path::Path) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    write(result, &mut buf)?;
    std::fs::write(path, buf)
        .map_err(|e| anyhow::anyhow!("{}: cannot write HDR log: {e}", path.display()))
}
