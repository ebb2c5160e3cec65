//! The process's memory: its resident set now and at its peak, read from
//! `/proc/self/status` on Linux (`VmRSS`, `VmHWM`); elsewhere absent. The
//! embedded cluster runs in the driver's process, so there the figures
//! include it; `serve` is a process of its own.

use serde::{Deserialize, Serialize};

/// The result's `memory` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    /// The process's peak resident set since it started (`VmHWM`), bytes;
    /// in a merge, the largest of the drivers' peaks.
    pub peak_rss_bytes: u64,
    /// Whether the figures include the target, running in the same process
    /// (the embedded cluster, the in-process engine, the memory map).
    pub includes_target: bool,
    /// In a merge: each driver's peak, sorted (drivers are separate
    /// processes, often machines, so their peaks are not added up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_peaks_rss_bytes: Option<Vec<u64>>,
}

/// The process's resident set now, bytes.
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// The process's peak resident set since it started, bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

/// A `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kib(&text, field)
}

fn parse_kib(text: &str, field: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(field))?;
    rest.trim().strip_suffix("kB")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kib_fields_of_proc_status() {
        let text = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(parse_kib(text, "VmRSS:"), Some(10_240));
        assert_eq!(parse_kib(text, "VmHWM:"), Some(20_480));
        assert_eq!(parse_kib(text, "VmSwap:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_set_no_larger_than_its_peak() {
        let (now, peak) = (rss_bytes().unwrap(), peak_rss_bytes().unwrap());
        assert!(now > 0 && now <= peak, "{now} {peak}");
    }
}
