//! The readback tag: with readback on, every put, cas and txn value starts
//! with 16 bytes naming the write (magic, worker, per-worker sequence
//! number), so a value read back tells which write left it.

use std::fmt;

/// Bytes of a tag at the start of a value.
pub const TAG_LEN: usize = 16;
const MAGIC: [u8; 4] = *b"tbrb";

/// One write: worker `worker`'s write number `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub worker: u32,
    pub seq: u64,
}

impl Tag {
    /// Writes the tag over the first [`TAG_LEN`] bytes of `value`.
    pub fn write(self, value: &mut [u8]) {
        value[..4].copy_from_slice(&MAGIC);
        value[4..8].copy_from_slice(&self.worker.to_be_bytes());
        value[8..16].copy_from_slice(&self.seq.to_be_bytes());
    }

    /// The tag at the start of `value`, if it has one.
    pub fn read(value: &[u8]) -> Option<Tag> {
        if value.len() < TAG_LEN || value[..4] != MAGIC {
            return None;
        }
        Some(Tag {
            worker: u32::from_be_bytes(value[4..8].try_into().ok()?),
            seq: u64::from_be_bytes(value[8..16].try_into().ok()?),
        })
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}#{}", self.worker, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_plain_values_have_none() {
        let mut v = vec![7u8; 40];
        let t = Tag {
            worker: 3,
            seq: 1 << 40,
        };
        t.write(&mut v);
        assert_eq!(Tag::read(&v), Some(t));
        assert_eq!(&v[16..], &[7u8; 24][..]);
        assert_eq!(Tag::read(&[7u8; 40]), None);
        assert_eq!(Tag::read(&v[..15]), None);
        assert_eq!(t.to_string(), "w3#1099511627776");
    }
}
