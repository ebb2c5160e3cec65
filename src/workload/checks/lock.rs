//! The lock check: every holder notes when it entered and left the
//! critical section; sorted by entry, no section may begin before the one
//! before it ended.

use std::time::{Duration, Instant};

use super::config::LockCheck;
use super::tracker::{Fates, WorkerLog};
use super::verdict::CheckVerdict;
use crate::vocab::CheckMode;

pub(super) fn verify(lock: &LockCheck, logs: &[WorkerLog], base: Instant) -> CheckVerdict {
    let mut fates = Fates::default();
    let mut sections: Vec<(Instant, Instant)> = Vec::new();
    for l in logs {
        fates.unknown += l.lock.fates.unknown;
        fates.failed += l.lock.fates.failed;
        sections.extend_from_slice(&l.lock.sections);
    }
    sections.sort();
    let at = |t: Instant| t.saturating_duration_since(base).as_secs_f64();
    let mut v = CheckVerdict::new("lock");
    v.detail("mode", lock.mode.as_str());
    if lock.mode == CheckMode::Cas {
        v.detail("lease", humantime::format_duration(lock.lease).to_string());
    }
    v.detail("hold", humantime::format_duration(lock.hold).to_string());
    v.detail("sections", sections.len());
    v.detail("unknown", fates.unknown);
    v.detail("failed", fates.failed);
    let longest = sections
        .iter()
        .map(|(e, l)| l.saturating_duration_since(*e))
        .max()
        .unwrap_or(Duration::ZERO);
    v.detail("longest_section_us", longest.as_micros() as u64);
    // The section that reaches furthest so far: a new one that begins
    // before it ends overlaps it.
    let mut reach: Option<(Instant, Instant)> = None;
    let mut overlaps = 0u64;
    for &(entered, left) in &sections {
        if let Some((e0, l0)) = reach
            && entered < l0
        {
            overlaps += 1;
            v.violation(|| {
                format!(
                    "two holders at once: one held the lock {:.6}s..{:.6}s, another entered at {:.6}s (overlap {:?})",
                    at(e0),
                    at(l0),
                    at(entered),
                    l0.min(left).saturating_duration_since(entered)
                )
            });
        }
        if reach.is_none_or(|(_, l0)| left > l0) {
            reach = Some((entered, left));
        }
    }
    v.detail("overlaps", overlaps);
    let summary = if overlaps == 0 {
        format!("{} critical sections, none overlapping", sections.len())
    } else {
        format!(
            "{} critical sections, {overlaps} overlapping",
            sections.len()
        )
    };
    v.summary(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> LockCheck {
        LockCheck {
            mode: CheckMode::Cas,
            lease: Duration::from_millis(500),
            hold: Duration::from_millis(1),
            weight: 1,
        }
    }

    fn log(base: Instant, ms: &[(u64, u64)]) -> WorkerLog {
        let mut l = WorkerLog::default();
        let t = |m: u64| base + Duration::from_millis(m);
        l.lock.sections = ms.iter().map(|&(e, x)| (t(e), t(x))).collect();
        l
    }

    #[test]
    fn back_to_back_sections_pass_and_an_overlap_fails() {
        let base = Instant::now();
        let ok = [
            log(base, &[(0, 5), (10, 12)]),
            log(base, &[(5, 9), (12, 20)]),
        ];
        assert!(verify(&lock(), &ok, base).passed);
        let bad = [log(base, &[(0, 50)]), log(base, &[(10, 12), (20, 30)])];
        let v = verify(&lock(), &bad, base);
        assert_eq!(v.violation_count, 2, "{v:?}");
        assert!(v.violations[0].contains("0.000000s..0.050000s"), "{v}");
        assert!(v.violations[0].contains("entered at 0.010000s"), "{v}");
    }
}
