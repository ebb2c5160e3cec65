//! What happened on the way through an operation: named counters, and
//! the op's trace, step by step.

use super::trace::Trace;

/// The event counting every request our client sent again within one
/// attempt of an op (a reroute after a region error, a busy store, an
/// unreachable store, a pessimistic lock tried again): the retries the
/// driver does not see, counted where they happened.
pub const CLIENT_RETRIES: &str = "client_retries";

/// Named counters a backend bumps while executing an op: lock waits, lock
/// wait time, reroutes, rows; and the op's [`Trace`], which the backend and
/// the driver's retry loop write step by step. Owned by one worker, so no
/// synchronisation; a handful of names, so a linear scan beats a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    entries: Vec<(&'static str, u64)>,
    trace: Trace,
}

impl Events {
    pub fn add(&mut self, name: &'static str, n: u64) {
        match self.entries.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v += n,
            None => self.entries.push((name, n)),
        }
    }

    pub fn get(&self, name: &str) -> u64 {
        self.entries
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(0, |(_, v)| *v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.entries.iter().copied()
    }

    /// Adds `other`'s counters (traces are not merged: each belongs to
    /// its op).
    pub fn merge(&mut self, other: &Events) {
        for (k, v) in other.iter() {
            self.add(k, v);
        }
    }

    /// No counter was bumped (whatever the trace holds).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets the counters and the trace, keeping their memory.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.trace.clear();
    }

    /// The op's steps so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Where the op's steps are recorded.
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.trace
    }
}
