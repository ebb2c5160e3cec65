//! The run's timeline, bounded for long runs: one row per second for the
//! first hour, then one row per 10 s up to ten hours, then one per minute
//! (see [`TIERS`]). A coarse row adds up its seconds exactly (counts
//! summed, histograms added) and starts at a Unix time that is a multiple
//! of its width, so that rows of drivers that started at different times
//! still line up when their results are merged. A 24-hour run keeps 7,680
//! rows, a week 16,320, instead of 86,400 and 604,800.

use super::hist::{self, Hist, Percentiles, new_hist};
use super::recorder::OpStats;

/// The row widths, in seconds, and from how many seconds after the first
/// row each one applies. Each width divides the next, so aligned rows of
/// two widths never overlap partly.
pub const TIERS: [Tier; 3] = [
    Tier {
        width_s: 1,
        from_s: 0,
    },
    Tier {
        width_s: 10,
        from_s: 3_600,
    },
    Tier {
        width_s: 60,
        from_s: 36_000,
    },
];

/// Rows `width_s` seconds wide, from `from_s` seconds into the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub width_s: u32,
    pub from_s: i64,
}

/// One op in one row of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondOp {
    pub ok: u64,
    pub failed: u64,
    pub latency: Percentiles,
    /// The row's latency histogram, encoded (see [`hist::encode`]).
    pub histogram: String,
}

impl SecondOp {
    /// The figures of `ok` and `failed` ops whose latencies are `h`.
    fn of(ok: u64, failed: u64, h: &Hist) -> SecondOp {
        SecondOp {
            ok,
            failed,
            latency: Percentiles::of(h),
            histogram: hist::encode(h),
        }
    }
}

/// One row of the measured phase: a wall-clock second, or past the first
/// hour several (`width_s`).
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    /// The row's first second (Unix time).
    pub unix_s: i64,
    /// How many seconds the row covers (1 for the first hour).
    pub width_s: u32,
    /// Per op, indexed like the workload's ops; `None` when idle.
    pub ops: Vec<Option<SecondOp>>,
    /// All ops together.
    pub all: Percentiles,
    /// The process's resident memory, bytes: the largest sample taken in
    /// the row (one as each second is final); `None` where it cannot be
    /// read.
    pub rss_bytes: Option<u64>,
}

/// The row a second belongs in: its start and width, for a timeline whose
/// first row is `first`. A second goes into a row of a tier when the whole
/// aligned row starts at or past the tier's start.
pub fn row_of(first: i64, unix_s: i64) -> (i64, u32) {
    TIERS
        .iter()
        .rev()
        .map(|t| (unix_s - unix_s.rem_euclid(i64::from(t.width_s)), t))
        .find(|(start, t)| *start >= first + t.from_s)
        .map_or((unix_s, 1), |(start, t)| (start, t.width_s))
}

/// A coarse row still taking seconds.
#[derive(Debug)]
struct Open {
    unix_s: i64,
    width_s: u32,
    /// Per op: ok, failed, latency.
    ops: Vec<Option<(u64, u64, Hist)>>,
    all: Hist,
    rss_bytes: Option<u64>,
}

impl Open {
    fn close(self) -> Second {
        Second {
            unix_s: self.unix_s,
            width_s: self.width_s,
            ops: self
                .ops
                .into_iter()
                .map(|o| o.map(|(ok, failed, h)| SecondOp::of(ok, failed, &h)))
                .collect(),
            all: Percentiles::of(&self.all),
            rss_bytes: self.rss_bytes,
        }
    }
}

/// The rows so far, and the coarse row being filled.
#[derive(Debug, Default)]
pub struct Timeline {
    rows: Vec<Second>,
    first: Option<i64>,
    open: Option<Open>,
}

impl Timeline {
    /// Adds a final second (seconds come in order): `stats` per op, and the
    /// memory sample taken as it became final.
    pub fn push(&mut self, unix_s: i64, stats: &[OpStats], rss_bytes: Option<u64>) {
        let first = *self.first.get_or_insert(unix_s);
        let (start, width_s) = row_of(first, unix_s);
        if self.open.as_ref().is_some_and(|o| o.unix_s != start) {
            self.close();
        }
        if width_s == 1 {
            self.rows.push(one_second(unix_s, stats, rss_bytes));
            return;
        }
        let open = self.open.get_or_insert_with(|| Open {
            unix_s: start,
            width_s,
            ops: vec![None; stats.len()],
            all: new_hist(),
            rss_bytes: None,
        });
        for (slot, s) in open.ops.iter_mut().zip(stats) {
            if s.total() == 0 {
                continue;
            }
            let (ok, failed, h) = slot.get_or_insert_with(|| (0, 0, new_hist()));
            *ok += s.ok;
            *failed += s.failed + s.unknown;
            hist::add(h, &s.latency);
            hist::add(&mut open.all, &s.latency);
        }
        open.rss_bytes = open.rss_bytes.max(rss_bytes);
    }

    fn close(&mut self) {
        if let Some(open) = self.open.take() {
            self.rows.push(open.close());
        }
    }

    /// The rows closed so far.
    pub fn rows(&self) -> &[Second] {
        &self.rows
    }

    /// Every row, the open one closed.
    pub fn finish(mut self) -> Vec<Second> {
        self.close();
        self.rows
    }
}

/// A row of one second.
fn one_second(unix_s: i64, stats: &[OpStats], rss_bytes: Option<u64>) -> Second {
    let mut all = new_hist();
    let ops = stats
        .iter()
        .map(|s| {
            hist::add(&mut all, &s.latency);
            (s.total() > 0).then(|| SecondOp::of(s.ok, s.failed + s.unknown, &s.latency))
        })
        .collect();
    Second {
        unix_s,
        width_s: 1,
        ops,
        all: Percentiles::of(&all),
        rss_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n: u64, us: u64) -> OpStats {
        let mut s = OpStats {
            ok: n,
            ..OpStats::default()
        };
        for _ in 0..n {
            hist::record(&mut s.latency, us);
        }
        s
    }

    #[test]
    fn rows_are_seconds_for_an_hour_then_aligned_tens_then_minutes() {
        let first = 1_000_005;
        assert_eq!(row_of(first, first), (first, 1));
        assert_eq!(row_of(first, first + 3_604), (first + 3_604, 1));
        // The first 10 s row is the first aligned one wholly past the hour.
        assert_eq!(row_of(first, first + 3_605), (first + 3_605, 10));
        assert_eq!(row_of(first, first + 3_614), (first + 3_605, 10));
        assert_eq!(row_of(first, first + 36_000), (1_036_000, 10));
        assert_eq!(row_of(first, 1_036_020), (1_036_020, 60));
        assert_eq!(row_of(first, 1_036_079), (1_036_020, 60));
    }

    /// A simulated 11-hour run: the timeline keeps every op and every
    /// latency exactly, in 3,600 + 3,240 + 60 rows.
    #[test]
    fn a_long_timeline_is_bounded_and_exact() {
        let first = 1_700_000_040;
        let hours = 11 * 3_600;
        let mut t = Timeline::default();
        for s in 0..hours {
            let rss = Some(1_000 + (s as u64 % 7));
            t.push(
                first + s,
                &[stats(2, 100 + (s as u64 % 50)), stats(0, 0)],
                rss,
            );
        }
        let rows = t.finish();
        let widths = |w: u32| rows.iter().filter(|r| r.width_s == w).count();
        assert_eq!(widths(1), 3_600);
        assert_eq!(widths(10), 3_240);
        assert_eq!(widths(60), 60);
        assert_eq!(rows.len(), 6_900);
        let ok: u64 = rows
            .iter()
            .flat_map(|r| r.ops[0].as_ref())
            .map(|o| o.ok)
            .sum();
        assert_eq!(ok, 2 * hours as u64);
        assert!(rows.iter().all(|r| r.ops[1].is_none()));
        // Rows follow one another without gaps or overlaps.
        for w in rows.windows(2) {
            assert_eq!(w[0].unix_s + i64::from(w[0].width_s), w[1].unix_s);
        }
        // A coarse row's latency is its seconds' histograms added.
        let coarse = rows.iter().find(|r| r.width_s == 10).unwrap();
        let h = hist::decode(&coarse.ops[0].as_ref().unwrap().histogram).unwrap();
        assert_eq!(h.len(), 20);
        assert_eq!(coarse.all.count, 20);
        assert_eq!(coarse.rss_bytes, Some(1_006), "the row's largest sample");
    }
}
