//! The report's section on per store and per region: the RPCs' share, latency and answers, as a table and a chart. (Issue 22: the shared interface; the
//! section is filled in by the module's owner.)

use crate::metrics::RunResult;

/// The section's HTML, or `None` when the result has nothing for it.
pub fn section(r: &RunResult) -> Option<String> {
    let _ = r;
    None
}
