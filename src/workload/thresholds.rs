//! Thresholds: pass/fail conditions on a result, written in the workload as
//! short sentences (`p99 of read < 20ms`, `error rate < 0.1%`,
//! `goodput > 500/s`). A run whose result misses one exits 1, so CI can
//! gate on a benchmark.
//!
//! Grammar: `METRIC [of OP] CMP VALUE`, where
//! - METRIC is a latency (`p50`, `p90`, `p99`, `p99.9`, `max`, `mean`:
//!   successful ops, VALUE a duration such as `20ms`), a ratio (`error
//!   rate`: failed and unknown ops over all ops, VALUE a percentage or a
//!   fraction), or a rate (`throughput`: completed ops/s; `goodput`:
//!   successful transactions/s, or successful ops/s when the mix has no
//!   transactions; VALUE like `500/s`);
//! - OP is an op name, or an op type meaning every op of that type
//!   (default: every op);
//! - CMP is `<`, `<=`, `>` or `>=`;
//! - VALUE may instead be relative to a baseline result (`run --baseline`,
//!   `compare --baseline`): `baseline`, `baseline + 10%` or
//!   `baseline - 2ms` (an amount in the metric's unit). A percentage is of
//!   the baseline's value, except for the error rate, where it is
//!   percentage points (`error rate < baseline + 0.1%`). Such a threshold
//!   is judged with a statistical test (see `checks::baseline`), not on
//!   the point figures alone; `max` has no such test and is refused.
//!
//! A fault's impact (see `metrics::impact`) has its own form, `FIGURE
//! after KIND CMP VALUE`: FIGURE is `recovery` (time to recover, VALUE a
//! duration), `dip` (the fraction of throughput lost, VALUE a percentage)
//! or `p99 spike` (the highest per-second p99 after the event, VALUE a
//! duration); KIND is an event kind ([`FAULT_KINDS`]) or `any`. The worst
//! event of the kind is judged: one that did not recover fails a
//! `recovery` threshold, and so does a run without an event of the kind
//! (the fault the gate is about did not happen). These are judged once,
//! on the result: never against a baseline, never `abort_on_fail`.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A latency quantile (0.5, 0.9, 0.99, 0.999), in microseconds.
    Quantile(f64),
    Max,
    Mean,
    ErrorRate,
    Throughput,
    Goodput,
    /// A figure of the fault events of one kind.
    Fault(FaultMetric),
}

/// What a fault threshold judges: a figure of the worst event of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultMetric {
    pub figure: FaultFigure,
    /// An entry of [`FAULT_KINDS`], or `any`.
    pub kind: &'static str,
}

/// The figure a fault threshold judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultFigure {
    /// Time to recover, µs.
    Recovery,
    /// The fraction of the pre-fault throughput lost at the lowest.
    Dip,
    /// The highest per-second p99 after the event, µs.
    P99Spike,
}

/// The event kinds a fault threshold may name: injected by the stand-in
/// (the first seven) or observed by our client (the rest).
pub const FAULT_KINDS: &[&str] = &[
    "store_offline",
    "failover",
    "store_online",
    "split",
    "leader_transfer",
    "busy_burst",
    "busy_burst_end",
    "store_unreachable",
    "store_reachable",
    "not_leader",
    "epoch_not_match",
    "server_is_busy",
    "any",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => value < limit,
            Cmp::Le => value <= limit,
            Cmp::Gt => value > limit,
            Cmp::Ge => value >= limit,
        }
    }
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub text: String,
    pub metric: Metric,
    /// Op name or type; `None`: every op.
    pub op: Option<String>,
    pub cmp: Cmp,
    /// Microseconds for latencies, a fraction for ratios, per second for rates.
    pub limit: f64,
    /// `abort_on_fail`: judged once a second on the run so far, after this
    /// delay into the measured phase, and the run stops at the first miss.
    /// `None`: judged once, on the result.
    pub abort: Option<std::time::Duration>,
    /// `VALUE` relative to a baseline: the limit is the baseline's value
    /// moved by this margin, and `limit` is unused (0).
    pub baseline: Option<Margin>,
}

/// How far from the baseline's value a relative threshold sets its limit
/// (signed: `baseline - 5%` is `Relative(-0.05)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Margin {
    /// A fraction of the baseline's value (`baseline + 10%` is 0.10).
    Relative(f64),
    /// An amount in the metric's unit: microseconds, a ratio (the error
    /// rate's percentage points), or per second.
    Absolute(f64),
}

impl Margin {
    /// The limit this margin sets for a baseline value `base`.
    pub fn limit(self, base: f64) -> f64 {
        match self {
            Margin::Relative(f) => base * (1.0 + f),
            Margin::Absolute(a) => base + a,
        }
    }
}

impl Threshold {
    /// Whether the threshold judges a fault's impact.
    pub fn fault(&self) -> Option<FaultMetric> {
        match self.metric {
            Metric::Fault(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the threshold is judged against a baseline.
    pub fn relative(&self) -> bool {
        self.baseline.is_some()
    }
}

const METRICS: &str = "p50, p90, p99, p99.9, max, mean, error rate, throughput, goodput";

/// Why a threshold cannot be used. Each message quotes the threshold and
/// says what is valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// No `<`, `<=`, `>` or `>=`: write e.g. `p99 of read < 20ms`.
    #[error(
        "threshold '{text}' has no comparison; write e.g. 'p99 of read < 20ms' (one of <, <=, >, >=)"
    )]
    NoComparison { text: String },
    /// `of` without an op after it: name the op (or op type) after `of`.
    #[error("threshold '{text}': name an op after 'of'")]
    NoOp { text: String },
    /// A metric that does not exist: choose one of the listed ones.
    #[error("threshold '{text}': unknown metric '{metric}'; choose from: {METRICS}")]
    UnknownMetric { text: String, metric: String },
    /// A limit of the wrong kind for the metric (a duration for
    /// latencies, a ratio for the error rate, a rate for throughputs).
    #[error("threshold '{text}': '{limit}' is not a {kind}; write e.g. {example}")]
    BadLimit {
        text: String,
        limit: String,
        kind: &'static str,
        example: &'static str,
    },
    /// `max` against a baseline: a maximum is one op, so no test can tell
    /// its change from noise; use a quantile such as p99.9.
    #[error(
        "threshold '{text}': max cannot be judged against a baseline (one op sets it, so its noise is unknown); use a quantile such as p99.9"
    )]
    BaselineMax { text: String },
    /// A margin after `baseline` that is not a percentage or an amount of
    /// the metric's unit.
    #[error(
        "threshold '{text}': '{margin}' is not a margin for {metric}; write e.g. baseline + 10% or baseline {example}"
    )]
    BadMargin {
        text: String,
        margin: String,
        metric: String,
        example: &'static str,
    },
    /// The op named after `of` is not in the workload: use one of its ops'
    /// names or types.
    #[error(
        "threshold '{text}': the workload has no op named (or of type) '{op}'; its ops are: {ops}"
    )]
    UnknownOp {
        text: String,
        op: String,
        ops: String,
    },
    /// A fault threshold naming a figure or an event kind that does not
    /// exist: use one of the listed ones.
    #[error(
        "threshold '{text}': unknown {what} '{name}'; write FIGURE after KIND, e.g. 'recovery after store_offline < 2s', with FIGURE one of: recovery, dip, p99 spike; KIND one of: {kinds}"
    )]
    UnknownFault {
        text: String,
        what: &'static str,
        name: String,
        kinds: String,
    },
    /// A fault threshold relative to a baseline: fault figures are one
    /// event each, with no noise to test against; give an absolute limit.
    #[error(
        "threshold '{text}': a fault's impact cannot be judged against a baseline; give an absolute limit, e.g. 'recovery after store_offline < 2s'"
    )]
    FaultBaseline { text: String },
}

impl Threshold {
    /// Parses one threshold; the error says what is wrong and what is valid.
    pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
        let owned = || text.to_string();
        let Some((lhs, cmp, rhs)) = split_cmp(text.trim()) else {
            return Err(ThresholdError::NoComparison { text: owned() });
        };
        if let Some((figure, kind)) = lhs.split_once(" after ") {
            return parse_fault(text, figure, kind, cmp, rhs.trim());
        }
        let (metric_text, op) = match lhs.split_once(" of ").or_else(|| lhs.split_once(" OF ")) {
            Some((m, op)) => (m.trim(), Some(op.trim().to_string())),
            None => (lhs.trim(), None),
        };
        if op.as_deref() == Some("") {
            return Err(ThresholdError::NoOp { text: owned() });
        }
        let metric_name = metric_text.split_whitespace().collect::<Vec<_>>().join(" ");
        let metric = match metric_name.to_ascii_lowercase().as_str() {
            "p50" => Metric::Quantile(0.5),
            "p90" => Metric::Quantile(0.9),
            "p99" => Metric::Quantile(0.99),
            "p99.9" | "p999" => Metric::Quantile(0.999),
            "max" => Metric::Max,
            "mean" => Metric::Mean,
            "error rate" => Metric::ErrorRate,
            "throughput" => Metric::Throughput,
            "goodput" => Metric::Goodput,
            other => {
                return Err(ThresholdError::UnknownMetric {
                    text: owned(),
                    metric: other.to_string(),
                });
            }
        };
        let rhs = rhs.trim();
        if let Some(rest) = strip_baseline(rhs) {
            let baseline = parse_margin(text, metric, &metric_name, rest)?;
            return Ok(Threshold {
                text: text.trim().to_string(),
                metric,
                op,
                cmp,
                limit: 0.0,
                abort: None,
                baseline: Some(baseline),
            });
        }
        let (limit, kind, example) = match metric {
            Metric::Quantile(_) | Metric::Max | Metric::Mean => (
                humantime::parse_duration(rhs)
                    .ok()
                    .map(|d| d.as_secs_f64() * 1e6),
                "duration",
                "20ms, 1.5s, 800us",
            ),
            Metric::ErrorRate => (parse_ratio(rhs), "ratio", "0.1% or 0.001"),
            Metric::Throughput | Metric::Goodput => (parse_rate(rhs), "rate", "500/s"),
            Metric::Fault(_) => unreachable!("parsed by parse_fault"),
        };
        let limit = limit.ok_or_else(|| ThresholdError::BadLimit {
            text: owned(),
            limit: rhs.to_string(),
            kind,
            example,
        })?;
        Ok(Threshold {
            text: text.trim().to_string(),
            metric,
            op,
            cmp,
            limit,
            abort: None,
            baseline: None,
        })
    }

    /// Whether the threshold names an op the workload has: `ops` lists
    /// (name, type) pairs.
    pub fn check_op(&self, ops: &[(&str, &str)]) -> Result<(), ThresholdError> {
        match &self.op {
            Some(op) if !ops.iter().any(|(n, t)| n == op || t == op) => {
                let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
                Err(ThresholdError::UnknownOp {
                    text: self.text.clone(),
                    op: op.clone(),
                    ops: names.join(", "),
                })
            }
            _ => Ok(()),
        }
    }
}

/// `FIGURE after KIND CMP VALUE`.
fn parse_fault(
    text: &str,
    figure: &str,
    kind: &str,
    cmp: Cmp,
    rhs: &str,
) -> Result<Threshold, ThresholdError> {
    let unknown = |what, name: &str| ThresholdError::UnknownFault {
        text: text.trim().to_string(),
        what,
        name: name.to_string(),
        kinds: FAULT_KINDS.join(", "),
    };
    let figure_name = figure.split_whitespace().collect::<Vec<_>>().join(" ");
    let figure = match figure_name.to_ascii_lowercase().as_str() {
        "recovery" => FaultFigure::Recovery,
        "dip" => FaultFigure::Dip,
        "p99 spike" => FaultFigure::P99Spike,
        other => return Err(unknown("figure", other)),
    };
    let kind = kind.trim();
    let Some(&kind) = FAULT_KINDS.iter().find(|k| k.eq_ignore_ascii_case(kind)) else {
        return Err(unknown("event kind", kind));
    };
    if strip_baseline(rhs).is_some() {
        return Err(ThresholdError::FaultBaseline {
            text: text.trim().to_string(),
        });
    }
    let (limit, what, example) = match figure {
        FaultFigure::Dip => (
            rhs.strip_suffix('%').and_then(|_| parse_ratio(rhs)),
            "percentage",
            "dip after split < 20%",
        ),
        _ => (
            humantime::parse_duration(rhs)
                .ok()
                .map(|d| d.as_secs_f64() * 1e6),
            "duration",
            "recovery after store_offline < 2s",
        ),
    };
    let limit = limit.ok_or_else(|| ThresholdError::BadLimit {
        text: text.trim().to_string(),
        limit: rhs.to_string(),
        kind: what,
        example,
    })?;
    Ok(Threshold {
        text: text.trim().to_string(),
        metric: Metric::Fault(FaultMetric { figure, kind }),
        op: None,
        cmp,
        limit,
        abort: None,
        baseline: None,
    })
}

/// What follows the word `baseline` at the start of a limit, if it is one.
fn strip_baseline(rhs: &str) -> Option<&str> {
    let head = rhs.get(..8)?;
    head.eq_ignore_ascii_case("baseline")
        .then(|| rhs[8..].trim())
}

/// The margin after `baseline`: nothing, or `+`/`-` and a percentage or an
/// amount of the metric's unit.
fn parse_margin(
    text: &str,
    metric: Metric,
    metric_name: &str,
    rest: &str,
) -> Result<Margin, ThresholdError> {
    if metric == Metric::Max {
        return Err(ThresholdError::BaselineMax {
            text: text.trim().to_string(),
        });
    }
    let example = match metric {
        Metric::ErrorRate => "+ 0.1% (percentage points)",
        Metric::Throughput | Metric::Goodput => "- 100/s",
        _ => "+ 2ms",
    };
    let bad = || ThresholdError::BadMargin {
        text: text.trim().to_string(),
        margin: rest.to_string(),
        metric: metric_name.to_string(),
        example,
    };
    if rest.is_empty() {
        return Ok(Margin::Relative(0.0));
    }
    let (sign, amount) = match rest.as_bytes()[0] {
        b'+' => (1.0, rest[1..].trim()),
        b'-' => (-1.0, rest[1..].trim()),
        _ => return Err(bad()),
    };
    let pct = amount
        .strip_suffix('%')
        .and_then(|p| p.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p >= 0.0);
    let margin = match (metric, pct) {
        (Metric::ErrorRate, _) => parse_ratio(amount).map(|r| Margin::Absolute(sign * r)),
        (_, Some(p)) => Some(Margin::Relative(sign * p / 100.0)),
        (Metric::Throughput | Metric::Goodput, None) => {
            parse_rate(amount).map(|r| Margin::Absolute(sign * r))
        }
        (_, None) => humantime::parse_duration(amount)
            .ok()
            .map(|d| Margin::Absolute(sign * d.as_secs_f64() * 1e6)),
    };
    margin.ok_or_else(bad)
}

fn split_cmp(s: &str) -> Option<(&str, Cmp, &str)> {
    for (sym, cmp) in [
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ] {
        if let Some(i) = s.find(sym) {
            return Some((&s[..i], cmp, &s[i + sym.len()..]));
        }
    }
    None
}

fn parse_ratio(s: &str) -> Option<f64> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => s.parse::<f64>().ok()?,
    };
    (v.is_finite() && (0.0..=1.0).contains(&v)).then_some(v)
}

fn parse_rate(s: &str) -> Option<f64> {
    let n = s.strip_suffix("/s").unwrap_or(s).trim().replace('_', "");
    let v = n.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}
