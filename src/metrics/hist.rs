//! HDR histograms: how we make them, summarise them and store them.
//!
//! Latencies are recorded in microseconds with 3 significant digits. The
//! histograms resize themselves to the largest value seen, so a worker's
//! histogram of sub-millisecond ops stays a few kilobytes. In result files a
//! histogram is the standard HdrHistogram V2 compressed encoding in base64,
//! which any HdrHistogram implementation can read and which merges exactly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

pub type Hist = Histogram<u64>;

/// Significant digits kept by every histogram.
pub const SIGFIG: u8 = 3;

pub fn new_hist() -> Hist {
    Histogram::new(SIGFIG).expect("3 significant digits is a valid precision")
}

/// Records one value, growing the histogram when the value is beyond its
/// current range (`saturating_record` would clamp it instead).
#[inline]
pub fn record(h: &mut Hist, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// Adds `src` into `dst`. Both auto-resize, so addition cannot overflow the
/// range; it can only fail on counts past u64::MAX, which we saturate away.
pub fn add(dst: &mut Hist, src: &Hist) {
    if dst.add(src).is_err() {
        for v in src.iter_recorded() {
            if dst
                .record_n(v.value_iterated_to(), v.count_at_value())
                .is_err()
            {
                dst.saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }
}

/// Base64 of the V2 compressed (deflate) encoding, of the canonical form
/// of `h`: the same counts always give the same text, whatever order they
/// were recorded or added in (an auto-resized histogram's header otherwise
/// remembers how it grew).
pub fn encode(h: &Hist) -> String {
    let mut canonical = new_hist();
    for v in h.iter_recorded() {
        if canonical
            .record_n(v.value_iterated_to(), v.count_at_value())
            .is_err()
        {
            canonical.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(&canonical, &mut buf)
        .expect("serializing into a Vec cannot fail");
    B64.encode(buf)
}

/// Error reading a stored histogram.
#[derive(Debug, thiserror::Error)]
pub enum HistogramDecodeError {
    /// The text is not base64: the result file was edited or truncated.
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not an HdrHistogram V2 encoding.
    #[error("histogram is not a valid HdrHistogram V2 encoding: {0}")]
    Format(String),
}

pub fn decode(text: &str) -> Result<Hist, HistogramDecodeError> {
    let bytes = B64.decode(text.trim())?;
    let mut h: Hist = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HistogramDecodeError::Format(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

/// The figures a person reads off a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Hist) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_exactly() {
        let mut h = new_hist();
        for v in [1u64, 5, 17, 250, 1_000, 12_345, 9_999_999] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(Percentiles::of(&back), Percentiles::of(&h));
    }

    #[test]
    fn the_encoding_depends_only_on_the_counts() {
        let (mut a, mut b) = (new_hist(), new_hist());
        record(&mut a, 5_000_000);
        record(&mut a, 7);
        record(&mut b, 7);
        let mut c = new_hist();
        add(&mut c, &b);
        record(&mut c, 5_000_000);
        assert_eq!(encode(&a), encode(&c));
    }

    #[test]
    fn decoded_histograms_still_grow() {
        let mut h = new_hist();
        h.record(10).unwrap();
        let mut back = decode(&encode(&h)).unwrap();
        back.record(3_600_000_000).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back.max() >= 3_600_000_000 && back.max() <= 3_604_000_000);
    }

    #[test]
    fn large_values_grow_the_histogram_instead_of_clamping() {
        let mut small = new_hist();
        record(&mut small, 1_000_000);
        assert!(
            small.max() >= 1_000_000 && small.max() < 1_001_000,
            "{}",
            small.max()
        );
        let mut sum = new_hist();
        add(&mut sum, &small);
        assert_eq!(sum.max(), small.max());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode("not base64 at all!").is_err());
        assert!(decode(&B64.encode(b"HISTFAKE")).is_err());
    }
}
