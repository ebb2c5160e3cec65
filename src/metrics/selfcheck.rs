//! The driver's self-check, the `driver_check` section of a result: did
//! the driver keep its schedule (open loop), was it short of CPU (closed
//! loop)? When it was not, the figures measure the driver rather than the
//! target, and the result says so.
//!
//! The bounds, and why:
//! - **Open loop: more than 1% of sends started more than 1 ms late** (so
//!   lateness p99 beyond 1 ms). The pacer keeps lateness in the tens of
//!   microseconds on a healthy machine (README, "Harness accuracy"); 1 ms
//!   is the resolution of the timer it replaced, and as large as the
//!   figures a TiKV read takes. Sends that late are counted (`late_ops`)
//!   like k6's dropped iterations, whatever the verdict. A worker runs one
//!   op at a time, so a slow target also makes sends late: then the
//!   workers are too few for the rate (raise `concurrency`).
//! - **Closed loop: the process used at least 90% of the cores it may
//!   use** over the measured phase. A closed loop runs as fast as the
//!   driver can go, so a driver out of CPU caps the throughput it reports.
//!   The figure is the whole process's: with the embedded cluster or an
//!   in-process target it includes the target's CPU too, and then a busy
//!   process is not the driver's fault alone: the verdict is `cpu_bound`
//!   (the driver and the target shared the cores; the figures are this
//!   machine's capacity), said in a note rather than a warning. In open
//!   loop the CPU is reported, not judged: lateness measures its effect
//!   directly, and the pacer spins by design.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::hist::{Hist, Percentiles};

/// A send is late when it started more than this after its slot.
pub const LATE_BOUND_US: u64 = 1_000;
/// The driver fell behind when more than this share of sends were late.
pub const LATE_SHARE_BOUND: f64 = 0.01;
/// A closed-loop driver is saturated at this share of its cores.
pub const SATURATION_BOUND: f64 = 0.9;

/// The driver's self-check: its verdict and what it was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverCheck {
    pub verdict: DriverVerdict,
    /// Open loop: the lateness of every measured send (actual start minus
    /// intended start), all ops together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness_us: Option<Percentiles>,
    /// Open loop: the sends that started more than `late_bound_us` late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_ops: Option<u64>,
    pub late_bound_us: u64,
    /// The share of late sends beyond which the driver fell behind.
    pub late_share_bound: f64,
    /// The process's CPU over the measured phase (the system clock only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
    /// The share of its cores at which a closed-loop driver is saturated.
    pub saturation_bound: f64,
}

/// What the self-check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverVerdict {
    /// The driver kept its schedule, or had CPU to spare.
    Ok,
    /// Open loop: too many sends started late.
    FellBehind,
    /// Closed loop: the process used (nearly) all its cores.
    Saturated,
    /// Closed loop: the process used (nearly) all its cores, and it also
    /// ran the target (the embedded cluster, an in-process engine), so the
    /// driver and the target were bound by this machine's CPU together.
    CpuBound,
}

impl fmt::Display for DriverVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverVerdict::Ok => "ok",
            DriverVerdict::FellBehind => "fell behind",
            DriverVerdict::Saturated => "saturated",
            DriverVerdict::CpuBound => "cpu-bound",
        })
    }
}

/// The process's CPU use over a span. Integer sums, so merging is exact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    /// CPU time (user + system) the process used, in microseconds.
    pub cpu_us: u64,
    /// The wall-clock span it was measured over, in microseconds.
    pub wall_us: u64,
    /// The cores the process may use.
    pub cores: u32,
    /// `cpu_us / (wall_us × cores)`: 1 is every core busy all the time.
    pub busy: f64,
    /// The drivers (of those merged into this result) that were saturated.
    pub saturated_drivers: u32,
    /// The process also ran the target (the embedded cluster or an
    /// in-process engine): its CPU is theirs together.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_target: bool,
}

impl CpuUse {
    /// One driver's use: `cpu` over `wall` with `cores`; `closed_loop`
    /// decides whether it may be judged saturated.
    pub fn new(cpu_us: u64, wall_us: u64, cores: u32, closed_loop: bool) -> CpuUse {
        let busy = busy(cpu_us, wall_us, cores);
        CpuUse {
            cpu_us,
            wall_us,
            cores,
            busy,
            saturated_drivers: u32::from(closed_loop && busy >= SATURATION_BOUND),
            with_target: false,
        }
    }

    /// The same use, from a process that also ran the target when
    /// `with_target`.
    pub fn with_target(self, with_target: bool) -> CpuUse {
        CpuUse {
            with_target,
            ..self
        }
    }

    /// Several drivers' together: their CPU and cores added, the longest
    /// span.
    pub fn sum(parts: impl Iterator<Item = CpuUse>) -> Option<CpuUse> {
        let mut total: Option<CpuUse> = None;
        for p in parts {
            let t = total.get_or_insert(CpuUse {
                cpu_us: 0,
                wall_us: 0,
                cores: 0,
                busy: 0.0,
                saturated_drivers: 0,
                with_target: false,
            });
            t.cpu_us += p.cpu_us;
            t.wall_us = t.wall_us.max(p.wall_us);
            t.cores += p.cores;
            t.saturated_drivers += p.saturated_drivers;
            t.with_target |= p.with_target;
        }
        total.map(|mut t| {
            t.busy = busy(t.cpu_us, t.wall_us, t.cores);
            t
        })
    }
}

fn busy(cpu_us: u64, wall_us: u64, cores: u32) -> f64 {
    let capacity = wall_us as f64 * f64::from(cores.max(1));
    if capacity > 0.0 {
        (cpu_us as f64 / capacity * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

impl DriverCheck {
    /// Judges a run from the lateness of all its sends (open loop) and its
    /// CPU use. `None` when there is nothing to judge (closed loop on
    /// tokio's clock).
    pub fn judge(lateness: Option<&Hist>, cpu: Option<CpuUse>) -> Option<DriverCheck> {
        if lateness.is_none() && cpu.is_none() {
            return None;
        }
        let late_ops = lateness.map(|h| h.len() - h.count_between(0, LATE_BOUND_US));
        let sends = lateness.map_or(0, |h| h.len());
        let verdict = match (late_ops, cpu) {
            (Some(late), _) if late as f64 > LATE_SHARE_BOUND * sends as f64 => {
                DriverVerdict::FellBehind
            }
            (_, Some(c)) if c.saturated_drivers > 0 && c.with_target => DriverVerdict::CpuBound,
            (_, Some(c)) if c.saturated_drivers > 0 => DriverVerdict::Saturated,
            _ => DriverVerdict::Ok,
        };
        Some(DriverCheck {
            verdict,
            lateness_us: lateness.map(Percentiles::of),
            late_ops,
            late_bound_us: LATE_BOUND_US,
            late_share_bound: LATE_SHARE_BOUND,
            cpu,
            saturation_bound: SATURATION_BOUND,
        })
    }

    /// The warning to print when the verdict is not ok: what happened, and
    /// that the figures measure the driver.
    pub fn warning(&self) -> Option<String> {
        let late = self.late_ops.unwrap_or(0);
        let sends = self.lateness_us.map_or(0, |l| l.count);
        match self.verdict {
            DriverVerdict::Ok | DriverVerdict::CpuBound => None,
            DriverVerdict::FellBehind => Some(format!(
                "the driver fell behind: {late} of {sends} sends ({:.1}%) started more than {} after their slot (lateness p99 {}, max {}); the figures measure the driver, not the cluster. Raise concurrency, or lower the rate.",
                100.0 * late as f64 / sends.max(1) as f64,
                crate::vocab::fmt::micros(self.late_bound_us),
                crate::vocab::fmt::micros(self.lateness_us.map_or(0, |l| l.p99)),
                crate::vocab::fmt::micros(self.lateness_us.map_or(0, |l| l.max)),
            )),
            DriverVerdict::Saturated => {
                let cpu = self.cpu.unwrap_or(CpuUse::new(0, 0, 0, false));
                Some(format!(
                    "the driver is saturated: the process used {:.0}% of its {} core(s); the throughput and latency figures measure the driver, not the cluster. Run the driver on a machine of its own, or give it more cores.",
                    100.0 * cpu.busy,
                    cpu.cores,
                ))
            }
        }
    }

    /// What a `cpu_bound` verdict means, to print beside the figures (not
    /// a warning: a closed loop on one machine with its target is meant to
    /// use the machine).
    pub fn note(&self) -> Option<String> {
        let cpu = self
            .cpu
            .filter(|_| self.verdict == DriverVerdict::CpuBound)?;
        Some(format!(
            "the driver and the in-process target together used {:.0}% of {} core(s): the figures are what this machine's CPU allows both, not a cluster's capacity. To measure a cluster, run against it (--pd) from a machine of its own.",
            100.0 * cpu.busy,
            cpu.cores,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::hist::{new_hist, record};

    fn hist(values: &[(u64, u64)]) -> Hist {
        let mut h = new_hist();
        for &(v, n) in values {
            for _ in 0..n {
                record(&mut h, v);
            }
        }
        h
    }

    #[test]
    fn more_than_one_percent_of_sends_over_a_millisecond_late_is_falling_behind() {
        let ok = hist(&[(20, 990), (1_000, 5), (1_001, 5)]);
        let c = DriverCheck::judge(Some(&ok), None).unwrap();
        assert_eq!((c.verdict, c.late_ops), (DriverVerdict::Ok, Some(5)));
        assert!(c.warning().is_none());
        let behind = hist(&[(20, 980), (5_000, 20)]);
        let c = DriverCheck::judge(Some(&behind), None).unwrap();
        assert_eq!(
            (c.verdict, c.late_ops),
            (DriverVerdict::FellBehind, Some(20))
        );
        let w = c.warning().unwrap();
        assert!(w.contains("20 of 1000 sends (2.0%)"), "{w}");
        assert!(w.contains("the figures measure the driver, not the cluster"));
    }

    #[test]
    fn a_closed_loop_using_its_cores_is_saturated_and_an_open_loop_is_not_judged_by_cpu() {
        let full = CpuUse::new(1_900_000, 1_000_000, 2, true);
        assert_eq!(full.busy, 0.95);
        let c = DriverCheck::judge(None, Some(full)).unwrap();
        assert_eq!(c.verdict, DriverVerdict::Saturated);
        assert!(c.warning().unwrap().contains("95% of its 2 core(s)"));
        let idle = CpuUse::new(100_000, 1_000_000, 2, true);
        assert_eq!(
            DriverCheck::judge(None, Some(idle)).unwrap().verdict,
            DriverVerdict::Ok
        );
        let shared = DriverCheck::judge(None, Some(full.with_target(true))).unwrap();
        assert_eq!(shared.verdict, DriverVerdict::CpuBound);
        assert!(shared.warning().is_none());
        assert!(
            shared
                .note()
                .unwrap()
                .contains("together used 95% of 2 core(s)")
        );
        assert!(c.note().is_none());
        let open = CpuUse::new(1_900_000, 1_000_000, 2, false);
        let on_time = hist(&[(3, 100)]);
        assert_eq!(
            DriverCheck::judge(Some(&on_time), Some(open))
                .unwrap()
                .verdict,
            DriverVerdict::Ok
        );
        assert!(DriverCheck::judge(None, None).is_none());
    }

    #[test]
    fn cpu_use_adds_up_exactly_in_any_order() {
        let a = CpuUse::new(1_900_000, 1_000_000, 2, true);
        let b = CpuUse::new(300_000, 1_200_000, 4, true).with_target(true);
        let ab = CpuUse::sum([a, b].into_iter()).unwrap();
        let ba = CpuUse::sum([b, a].into_iter()).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(
            (ab.cpu_us, ab.wall_us, ab.cores, ab.saturated_drivers),
            (2_200_000, 1_200_000, 6, 1)
        );
        assert!(ab.with_target, "one shared its process with the target");
        assert_eq!(CpuUse::sum(std::iter::empty()), None);
    }
}
