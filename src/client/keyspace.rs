//! API V2's key codec (client-go `internal/apicodec/codec_v2.go`,
//! tikv/client-rust `src/request/keyspace.rs`): a keyspace's keys are the
//! user's keys behind a 4-byte prefix, the mode byte (`r` raw, `x`
//! transactional) then the keyspace id in 3 bytes big-endian. A range with
//! no end ends at the next keyspace's prefix (the 4 bytes read as one
//! big-endian number, plus one). Both modes' keys are routed by their
//! memcomparable encoding (`crate::codec`), as TiKV stores them under V2.
//!
//! [`KeyspaceCodec`] is loaded from PD at connect (`Client::connect`); the raw
//! API encodes at its entry points and decodes what it returns, the
//! transaction protocol encodes at `Txn`'s entry points (so primaries,
//! secondaries and the keys of locks met are full keys throughout).

use std::borrow::Cow;

/// Which key space of a keyspace a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// The raw API's keys: prefix `r`.
    Raw,
    /// Transactional keys: prefix `x`.
    Txn,
}

/// The largest keyspace id (3 bytes).
pub const MAX_KEYSPACE_ID: u32 = 0xFF_FFFF;

/// A keyspace's key codec: its id, name and prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceCodec {
    id: u32,
    name: String,
    raw: [u8; 4],
    txn: [u8; 4],
}

impl KeyspaceCodec {
    /// The codec of keyspace `id` (at most [`MAX_KEYSPACE_ID`]), named
    /// `name`; `None` when the id does not fit in 3 bytes.
    pub fn new(id: u32, name: &str) -> Option<KeyspaceCodec> {
        if id > MAX_KEYSPACE_ID {
            return None;
        }
        Some(KeyspaceCodec {
            id,
            name: name.to_string(),
            raw: crate::codec::keyspace_prefix(b'r', id),
            txn: crate::codec::keyspace_prefix(b'x', id),
        })
    }

    /// The keyspace id (each request's `Context.keyspace_id`).
    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte prefix of the keys of `mode`.
    pub fn prefix(&self, mode: KeyMode) -> &[u8; 4] {
        match mode {
            KeyMode::Raw => &self.raw,
            KeyMode::Txn => &self.txn,
        }
    }

    /// Where the keys of `mode` end: the next keyspace's prefix.
    pub fn end(&self, mode: KeyMode) -> [u8; 4] {
        let next = u32::from_be_bytes(*self.prefix(mode)) + 1;
        next.to_be_bytes()
    }

    /// `key` with the prefix of `mode`.
    pub fn encode(&self, mode: KeyMode, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + key.len());
        out.extend_from_slice(self.prefix(mode));
        out.extend_from_slice(key);
        out
    }

    /// `[start, end)` of `mode` (an empty end: the keyspace's end).
    pub fn encode_range(&self, mode: KeyMode, start: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let end = if end.is_empty() {
            self.end(mode).to_vec()
        } else {
            self.encode(mode, end)
        };
        (self.encode(mode, start), end)
    }

    /// The user key of a full key of `mode`; `None` for a key outside the
    /// keyspace.
    pub fn decode<'k>(&self, mode: KeyMode, full: &'k [u8]) -> Option<&'k [u8]> {
        full.strip_prefix(self.prefix(mode).as_slice())
    }
}

/// `key` as the wire has it: encoded for `mode` in `keyspace`, or as it
/// is without one.
pub fn full_key<'k>(
    keyspace: Option<&KeyspaceCodec>,
    mode: KeyMode,
    key: &'k [u8],
) -> Cow<'k, [u8]> {
    match keyspace {
        Some(ks) => Cow::Owned(ks.encode(mode, key)),
        None => Cow::Borrowed(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_carry_the_mode_and_the_id_in_three_bytes() {
        let ks = KeyspaceCodec::new(0x01_0203, "a").unwrap();
        assert_eq!(ks.prefix(KeyMode::Raw), b"r\x01\x02\x03");
        assert_eq!(ks.prefix(KeyMode::Txn), b"x\x01\x02\x03");
        assert_eq!(ks.encode(KeyMode::Raw, b"k"), b"r\x01\x02\x03k");
        assert_eq!(KeyspaceCodec::new(MAX_KEYSPACE_ID + 1, "big"), None);
        let default = KeyspaceCodec::new(0, "DEFAULT").unwrap();
        assert_eq!(default.prefix(KeyMode::Raw), b"r\0\0\0");
    }

    #[test]
    fn an_open_range_ends_at_the_next_keyspace() {
        let ks = KeyspaceCodec::new(1, "a").unwrap();
        let (s, e) = ks.encode_range(KeyMode::Raw, b"", b"");
        assert_eq!(
            (s.as_slice(), e.as_slice()),
            (&b"r\0\0\x01"[..], &b"r\0\0\x02"[..])
        );
        let (s, e) = ks.encode_range(KeyMode::Txn, b"a", b"b");
        assert_eq!(
            (s.as_slice(), e.as_slice()),
            (&b"x\0\0\x01a"[..], &b"x\0\0\x01b"[..])
        );
        // The last id carries into the mode byte, as client-go's does.
        let last = KeyspaceCodec::new(MAX_KEYSPACE_ID, "z").unwrap();
        assert_eq!(last.end(KeyMode::Raw), *b"s\0\0\0");
    }

    #[test]
    fn decoding_strips_the_prefix_and_refuses_other_keyspaces() {
        let ks = KeyspaceCodec::new(1, "a").unwrap();
        assert_eq!(ks.decode(KeyMode::Raw, b"r\0\0\x01k"), Some(&b"k"[..]));
        assert_eq!(ks.decode(KeyMode::Raw, b"r\0\0\x02k"), None);
        assert_eq!(ks.decode(KeyMode::Txn, b"r\0\0\x01k"), None);
        assert_eq!(full_key(None, KeyMode::Raw, b"k"), Cow::Borrowed(&b"k"[..]));
    }
}
