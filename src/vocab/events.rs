//! Named counters bumped on the way through an operation.

/// The event counting every request our client sent again within one
/// attempt of an op (a reroute after a region error, a busy store, an
/// unreachable store, a pessimistic lock tried again): the retries the
/// driver does not see, counted where they happened.
pub const CLIENT_RETRIES: &str = "client_retries";

/// Named counters a backend bumps while executing an op: lock waits, lock
/// wait time, reroutes, rows. Owned by one worker, so no synchronisation;
/// a handful of names, so a linear scan beats a map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    entries: Vec<(&'static str, u64)>,
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

    pub fn merge(&mut self, other: &Events) {
        for (k, v) in other.iter() {
            self.add(k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
