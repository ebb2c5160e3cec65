//! TiKV's memcomparable byte encoding, in which transactional region bounds
//! are expressed: the key in groups of 8 bytes, each followed by a marker
//! byte `0xFF - padding`, the last group padded with zeros (a key whose length
//! is a multiple of 8 ends with a group of 8 zeros and marker `0xF7`). The
//! encoding preserves order, so encoded keys compare like the keys.
//!
//! Also API V2's keyspace prefix ([`keyspace_prefix`]), which the client's
//! key codec and the stand-in's keyspace splits share.

const GROUP: usize = 8;
const MARKER: u8 = 0xFF;

/// Encodes `key` into a memcomparable byte string.
pub fn encode(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((key.len() / GROUP + 1) * (GROUP + 1));
    encode_into(key, &mut out);
    out
}

/// Appends the encoding of `key` to `out`.
pub fn encode_into(key: &[u8], out: &mut Vec<u8>) {
    let mut chunks = key.chunks_exact(GROUP);
    for chunk in &mut chunks {
        out.extend_from_slice(chunk);
        out.push(MARKER);
    }
    let rest = chunks.remainder();
    let pad = GROUP - rest.len();
    out.extend_from_slice(rest);
    out.extend(std::iter::repeat_n(0, pad));
    out.push(MARKER - pad as u8);
}

/// Why an encoded key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a group: it is not an encoded key.
    #[error("encoded key is truncated")]
    Truncated,
    /// A marker byte or padding is not what the encoding produces.
    #[error("invalid marker or padding in encoded key")]
    Invalid,
}

/// The 4-byte API V2 key prefix: the mode byte, then the keyspace id's
/// low 3 bytes, big-endian.
/// An id past the 3 bytes is the mode's end (the next mode byte), as PD's
/// `EncodeKeyspaceBoundary` has it.
pub fn keyspace_prefix(mode: u8, id: u32) -> [u8; 4] {
    match id.to_be_bytes() {
        [0, a, b, c] => [mode, a, b, c],
        _ => [mode + 1, 0, 0, 0],
    }
}

/// Decodes a memcomparable byte string; returns the key and the bytes that
/// follow its encoding.
pub fn decode(mut data: &[u8]) -> Result<(Vec<u8>, &[u8]), DecodeError> {
    let mut key = Vec::with_capacity(data.len());
    loop {
        if data.len() < GROUP + 1 {
            return Err(DecodeError::Truncated);
        }
        let (group, rest) = data.split_at(GROUP + 1);
        data = rest;
        let marker = group[GROUP];
        let pad = usize::from(MARKER - marker);
        if pad > GROUP {
            return Err(DecodeError::Invalid);
        }
        let real = GROUP - pad;
        key.extend_from_slice(&group[..real]);
        if pad != 0 {
            if group[real..GROUP].iter().any(|&b| b != 0) {
                return Err(DecodeError::Invalid);
            }
            return Ok((key, data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        assert_eq!(encode(b""), [0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        assert_eq!(encode(b"ab"), [b'a', b'b', 0, 0, 0, 0, 0, 0, 0xF9]);
        assert_eq!(
            encode(b"12345678"),
            [
                b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7
            ]
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode(b"abc"), Err(DecodeError::Truncated));
        assert_eq!(
            decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0xF0]),
            Err(DecodeError::Invalid)
        );
        assert_eq!(
            decode(&[1, 2, 0, 0, 0, 0, 0, 0, 0xF8]),
            Err(DecodeError::Invalid)
        );
        assert_eq!(
            decode(&[1, 2, 3, 4, 5, 6, 7, 8, 0xFF]),
            Err(DecodeError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn round_trips(key in proptest::collection::vec(any::<u8>(), 0..40), tail in proptest::collection::vec(any::<u8>(), 0..5)) {
            let mut enc = encode(&key);
            enc.extend_from_slice(&tail);
            let (dec, rest) = decode(&enc).unwrap();
            prop_assert_eq!(dec, key);
            prop_assert_eq!(rest, &tail[..]);
        }

        #[test]
        fn preserves_order(a in proptest::collection::vec(any::<u8>(), 0..20), b in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(a.cmp(&b), encode(&a).cmp(&encode(&b)));
        }
    }
}
