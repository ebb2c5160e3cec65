//! TiKV's API version check (tikv `src/storage/mod.rs`, `check_api_version`
//! and `check_api_version_ranges`): which requests a store of each
//! `storage.api-version` takes, and the storage error it answers the
//! others with, in the reply's own error field (`src/storage/errors.rs`).
//!
//! | storage | V1 request | V2 request |
//! |---|---|---|
//! | V1 | every command | refused |
//! | V1TTL | raw commands only | refused |
//! | V2 | txn commands on TiDB keys (`m`, `t`) only | raw commands on raw keys (`r`), txn commands on txn keys (`x`) |
//!
//! A range is in a mode when both ends are non-empty and start with the
//! same byte (or the end is the one byte after the start's first), so an
//! unbounded scan is refused under V2. Transactional keys are checked in
//! their memcomparable encoding, as TiKV checks `Key::as_encoded`.
//! TiKV checks only the commands that name keys to read or write (raw
//! calls; get, batch get, scan, prewrite, pessimistic lock): commit,
//! rollback, cleanup, lock resolution and status checks pass unchecked.

use super::Space;
use crate::codec;
use crate::proto::kvrpcpb::{
    self, BatchGetResponse, GetResponse, KeyError, KvPair, PessimisticLockResponse,
    PrewriteResponse, RawBatchDeleteResponse, RawBatchGetResponse, RawBatchPutResponse,
    RawBatchScanResponse, RawCasResponse, RawDeleteRangeResponse, RawDeleteResponse,
    RawGetKeyTtlResponse, RawGetResponse, RawPutResponse, RawScanResponse, ScanResponse,
};
use crate::vocab::ApiVersion;

/// TiKV's `KeyMode` of API V2 keys, by their first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyMode {
    /// `r`: a raw key of a keyspace.
    Raw,
    /// `x`: a transactional key of a keyspace.
    Txn,
    /// `m` or `t`: a TiDB key (no keyspace).
    Tidb,
    /// Anything else, and the empty key.
    Unknown,
}

fn key_mode(key: &[u8]) -> KeyMode {
    match key.first() {
        Some(b'r') => KeyMode::Raw,
        Some(b'x') => KeyMode::Txn,
        Some(b'm' | b't') => KeyMode::Tidb,
        _ => KeyMode::Unknown,
    }
}

/// The mode of `[start, end)` (`ApiV2::parse_range_mode`).
fn range_mode(start: &[u8], end: &[u8]) -> KeyMode {
    match (start.first(), end.first()) {
        (Some(&s), Some(&e)) if s == e || end == [s.wrapping_add(1)] => key_mode(start),
        _ => KeyMode::Unknown,
    }
}

/// What a request asks about: its keys, or its ranges (`(start, end)`,
/// an empty end unbounded).
pub(super) enum Scope<'a, I> {
    Keys(I),
    Ranges(&'a [(&'a [u8], &'a [u8])]),
}

/// The name TiKV gives a storage api version in its errors (`{:?}` of
/// kvrpcpb's `ApiVersion`).
fn tikv_name(v: ApiVersion) -> &'static str {
    match v {
        ApiVersion::V1 => "V1",
        ApiVersion::V1Ttl => "V1ttl",
        ApiVersion::V2 => "V2",
    }
}

fn request_name(v: i32) -> String {
    match kvrpcpb::ApiVersion::try_from(v) {
        Ok(kvrpcpb::ApiVersion::V1) => "V1".into(),
        Ok(kvrpcpb::ApiVersion::V1ttl) => "V1ttl".into(),
        Ok(kvrpcpb::ApiVersion::V2) => "V2".into(),
        Err(_) => format!("unknown ({v})"),
    }
}

/// TiKV's check for command `cmd` of `space` from a request of version
/// `request` (a context's `api_version`) on a store of `storage`: the
/// storage error's text when it refuses.
pub(super) fn check<'k, I: IntoIterator<Item = &'k [u8]>>(
    storage: ApiVersion,
    request: i32,
    cmd: &str,
    space: Space,
    scope: Scope<'_, I>,
) -> Result<(), String> {
    let v1 = request == kvrpcpb::ApiVersion::V1 as i32;
    let v2 = request == kvrpcpb::ApiVersion::V2 as i32;
    let want = match (storage, space) {
        (ApiVersion::V1, _) if v1 => return Ok(()),
        (ApiVersion::V1Ttl, Space::Raw) if v1 => return Ok(()),
        (ApiVersion::V2, Space::Txn) if v1 => KeyMode::Tidb,
        (ApiVersion::V2, Space::Raw) if v2 => KeyMode::Raw,
        (ApiVersion::V2, Space::Txn) if v2 => KeyMode::Txn,
        _ => {
            return Err(format!(
                "Api version in request does not match with TiKV storage, cmd: {cmd}, \
                 storage: {}, request: {}",
                tikv_name(storage),
                request_name(request)
            ));
        }
    };
    let mismatch = "Key mode mismatched with the request mode";
    let storage = tikv_name(storage);
    match scope {
        Scope::Keys(keys) => {
            for key in keys {
                if key_mode(key) != want {
                    return Err(format!(
                        "{mismatch}, cmd: {cmd}, storage: {storage}, key: {}",
                        hex(key)
                    ));
                }
            }
        }
        Scope::Ranges(ranges) => {
            for &(start, end) in ranges {
                let (start, end) = match space {
                    Space::Raw => (start.to_vec(), end.to_vec()),
                    Space::Txn => (codec::encode(start), encode_end(end)),
                };
                if range_mode(&start, &end) != want {
                    let end = if end.is_empty() {
                        "None".to_string()
                    } else {
                        format!("Some(\"{}\")", hex(&end))
                    };
                    return Err(format!(
                        "{mismatch}, cmd: {cmd}, storage: {storage}, range: (Some(\"{}\"), {end})",
                        hex(&start)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A transactional range's end as TiKV takes it: unbounded stays empty.
fn encode_end(end: &[u8]) -> Vec<u8> {
    if end.is_empty() {
        Vec::new()
    } else {
        codec::encode(end)
    }
}

/// Upper-case hex, as TiKV's `log_wrappers::hex_encode_upper`.
fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02X}")).collect()
}

/// A reply that can carry the version check's refusal, as TiKV's service
/// puts a storage error into it.
pub(crate) trait Checked: Default {
    /// TiKV's `CommandKind` of the call; `None`: TiKV does not check it.
    const CMD: Option<&'static str>;
    /// The reply carrying storage error `text`.
    fn refused(text: String) -> Self;
}

fn abort(text: String) -> KeyError {
    KeyError {
        abort: text,
        ..Default::default()
    }
}

/// A pair carrying only the error (`extract_kv_pairs` on an error).
fn error_pair(text: String) -> Vec<KvPair> {
    vec![KvPair {
        error: Some(abort(text)),
        ..Default::default()
    }]
}

macro_rules! checked {
    ($how:ident: $($t:ident = $cmd:literal),* $(,)?) => {
        $(impl Checked for $t {
            const CMD: Option<&'static str> = Some($cmd);
            fn refused(text: String) -> Self {
                checked!(@$how text)
            }
        })*
    };
    (@string $text:ident) => { Self { error: $text, ..Default::default() } };
    (@pairs $text:ident) => { Self { pairs: error_pair($text), ..Default::default() } };
    (@kvs $text:ident) => { Self { kvs: error_pair($text), ..Default::default() } };
    (@key_error $text:ident) => { Self { error: Some(abort($text)), ..Default::default() } };
    (@key_error_and_pair $text:ident) => {
        Self { error: Some(abort($text.clone())), pairs: error_pair($text), ..Default::default() }
    };
    (@key_errors $text:ident) => { Self { errors: vec![abort($text)], ..Default::default() } };
}

checked!(string:
    RawGetResponse = "raw_get",
    RawPutResponse = "raw_put",
    RawBatchPutResponse = "raw_batch_put",
    RawDeleteResponse = "raw_delete",
    RawBatchDeleteResponse = "raw_batch_delete",
    RawDeleteRangeResponse = "raw_delete_range",
    RawCasResponse = "raw_compare_and_swap",
    RawGetKeyTtlResponse = "raw_get_key_ttl",
);
checked!(pairs: RawBatchGetResponse = "raw_batch_get");
checked!(kvs: RawScanResponse = "raw_scan", RawBatchScanResponse = "raw_batch_scan");
checked!(key_error: GetResponse = "get");
checked!(key_error_and_pair: BatchGetResponse = "batch_get", ScanResponse = "scan");
checked!(key_errors: PrewriteResponse = "prewrite", PessimisticLockResponse = "acquire_pessimistic_lock");

/// Replies TiKV does not check the version of.
macro_rules! unchecked {
    ($($t:ident),* $(,)?) => {
        $(impl Checked for kvrpcpb::$t {
            const CMD: Option<&'static str> = None;
            fn refused(_: String) -> Self {
                Self::default()
            }
        })*
    };
}

unchecked!(
    CommitResponse,
    PessimisticRollbackResponse,
    BatchRollbackResponse,
    CheckTxnStatusResponse,
    CheckSecondaryLocksResponse,
    ResolveLockResponse,
    TxnHeartBeatResponse,
    ScanLockResponse,
    CleanupResponse,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(
        storage: ApiVersion,
        request: kvrpcpb::ApiVersion,
        space: Space,
        key: &[u8],
    ) -> Result<(), String> {
        check(storage, request as i32, "c", space, Scope::Keys([key]))
    }

    #[test]
    fn the_matrix_of_storage_and_request_versions() {
        use ApiVersion as S;
        use kvrpcpb::ApiVersion as R;
        assert!(keys(S::V1, R::V1, Space::Txn, b"k").is_ok());
        assert!(keys(S::V1, R::V1, Space::Raw, b"k").is_ok());
        assert!(keys(S::V1, R::V2, Space::Raw, b"r\0\0\0k").is_err());
        assert!(keys(S::V1Ttl, R::V1, Space::Raw, b"k").is_ok());
        assert!(keys(S::V1Ttl, R::V1, Space::Txn, b"k").is_err());
        assert!(keys(S::V1Ttl, R::V1ttl, Space::Raw, b"k").is_err());
        assert!(keys(S::V2, R::V1, Space::Txn, b"t_1").is_ok());
        assert!(keys(S::V2, R::V1, Space::Txn, b"x\0\0\0k").is_err());
        assert!(keys(S::V2, R::V1, Space::Raw, b"r\0\0\0k").is_err());
        assert!(keys(S::V2, R::V2, Space::Raw, b"r\0\0\0k").is_ok());
        assert!(keys(S::V2, R::V2, Space::Raw, b"x\0\0\0k").is_err());
        assert!(keys(S::V2, R::V2, Space::Txn, b"x\0\0\0k").is_ok());
        assert!(keys(S::V2, R::V2, Space::Txn, b"k").is_err());
        let e = keys(S::V2, R::V2, Space::Raw, b"k1").unwrap_err();
        assert_eq!(
            e,
            "Key mode mismatched with the request mode, cmd: c, storage: V2, key: 6B31"
        );
        let e = keys(S::V1, R::V2, Space::Raw, b"r").unwrap_err();
        assert_eq!(
            e,
            "Api version in request does not match with TiKV storage, cmd: c, storage: V1, \
             request: V2"
        );
    }

    #[test]
    fn a_range_is_in_a_mode_when_both_ends_are() {
        let ranges = |space, r: &[(&[u8], &[u8])]| {
            check::<[&[u8]; 0]>(
                ApiVersion::V2,
                kvrpcpb::ApiVersion::V2 as i32,
                "scan",
                space,
                Scope::Ranges(r),
            )
        };
        assert!(ranges(Space::Raw, &[(b"r\0\0\x01a", b"r\0\0\x02")]).is_ok());
        assert!(
            ranges(Space::Raw, &[(b"r", b"s")]).is_ok(),
            "r..s: all raw keys"
        );
        assert!(
            ranges(Space::Raw, &[(b"r\0\0\x01a", b"")]).is_err(),
            "unbounded"
        );
        assert!(ranges(Space::Raw, &[(b"a", b"r")]).is_err());
        assert!(ranges(Space::Txn, &[(b"x\0\0\x01a", b"x\0\0\x02")]).is_ok());
        assert!(ranges(Space::Txn, &[(b"x\0\0\x01a", b"")]).is_err());
    }
}
