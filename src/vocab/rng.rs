//! The one random generator and the registry of its streams.
//!
//! Every random choice derives from the workload's seed through a named
//! [`Stream`]; each stream's number is unique, so no two purposes ever draw
//! from the same sequence (a test checks that the ranges are disjoint).

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The deterministic random generator used everywhere.
pub type Rng = Xoshiro256PlusPlus;

/// What a random stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The op stream of worker `i` (its op mix, keys and values).
    Worker(u32),
    /// The retry jitter of worker `i`.
    WorkerJitter(u32),
    /// The retry jitter of load task `t`.
    LoadJitter(u32),
    /// The retry jitter of the checks' setup and reads.
    ChecksJitter,
    /// The retry jitter of the client's `n`th retried request.
    ClientJitter(u64),
    /// The bytes that values are cut from.
    Values,
}

const JITTER_BASE: u64 = 1 << 32;
const CHECKS: u64 = 3 << 32;
const CLIENT_BASE: u64 = 4 << 32;

impl Stream {
    /// The stream's number, unique across purposes.
    pub fn id(self) -> u64 {
        match self {
            Stream::Worker(i) => u64::from(i),
            Stream::WorkerJitter(i) => JITTER_BASE + u64::from(i),
            // Counted down from just below the worker jitter, as before the
            // registry; `t` is at most the load concurrency.
            Stream::LoadJitter(t) => JITTER_BASE - 1 - u64::from(t),
            Stream::ChecksJitter => CHECKS,
            Stream::ClientJitter(n) => CLIENT_BASE + (n & (CLIENT_BASE - 1)),
            Stream::Values => u64::MAX,
        }
    }

    /// A generator for this stream of `seed`.
    pub fn rng(self, seed: u64) -> Rng {
        rng_for(seed, self.id())
    }
}

/// Mixes the workload seed with a stream number (splitmix64), so that
/// neighbouring streams are unrelated.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for stream number `stream` of `seed` (prefer [`Stream::rng`]).
pub fn rng_for(seed: u64, stream: u64) -> Rng {
    Rng::seed_from_u64(stream_seed(seed, stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn no_two_purposes_share_a_stream() {
        // Workers and load tasks up to a generous concurrency.
        let n = 4096u32;
        let mut all = Vec::new();
        all.extend((0..n).map(Stream::Worker));
        all.extend((0..n).map(Stream::WorkerJitter));
        all.extend((0..n).map(Stream::LoadJitter));
        all.extend((0..u64::from(n)).map(Stream::ClientJitter));
        all.extend([Stream::ChecksJitter, Stream::Values]);
        let ids: HashSet<u64> = all.iter().map(|s| s.id()).collect();
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn the_checks_do_not_draw_from_a_load_task_stream() {
        // Before the registry the checks used 2^32 - 7: load task 6's.
        assert_ne!(Stream::ChecksJitter.id(), Stream::LoadJitter(6).id());
    }
}
