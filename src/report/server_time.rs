//! The report's section on server time against client time: per op, network and queueing, store wait, store work. (Issue 22: the shared interface; the
//! section is filled in by the module's owner.)

use crate::metrics::RunResult;

/// The section's HTML, or `None` when the result has nothing for it.
pub fn section(r: &RunResult) -> Option<String> {
    let _ = r;
    None
}
