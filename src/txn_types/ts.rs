//! Hybrid timestamps: `physical_ms << 18 | logical`, as PD hands them out.

/// Bits of the logical part.
pub const LOGICAL_BITS: u32 = 18;

/// The physical (wall clock, ms since the Unix epoch) part of `ts`.
pub fn physical(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The logical part of `ts`.
pub fn logical(ts: u64) -> u64 {
    ts & ((1 << LOGICAL_BITS) - 1)
}

/// The timestamp with physical part `ms` and logical part `logical`
/// (the logical part is masked to its 18 bits).
pub fn compose(ms: u64, logical: u64) -> u64 {
    (ms << LOGICAL_BITS) | (logical & ((1 << LOGICAL_BITS) - 1))
}
