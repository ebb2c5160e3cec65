//! Server time versus client time: for each op, the RPCs whose answers
//! carried the store's own timing (`exec_details_v2.time_detail_v2`),
//! split into network and queueing (client time minus the store's total),
//! the store's wait and the store's work. (Issue 22: the shared interface;
//! the figures are filled in by the module's owner.)

use serde::{Deserialize, Serialize};

use crate::vocab::trace::Trace;

/// One op's server-time figures over some span, kept in its
/// [`OpStats`](super::OpStats).
#[derive(Debug, Clone, Default)]
pub struct ServerStats {}

impl ServerStats {
    /// Counts the RPCs of one op, from its trace.
    #[inline]
    pub fn record(&mut self, _trace: &Trace) {}

    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, _other: &ServerStats) {}
}

/// An op's server-time section in the result (`ops.NAME.server_time`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerTimeResult {}
