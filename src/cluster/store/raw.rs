//! The raw API handlers: plain key-value calls onto the engine's raw key
//! space. Errors a caller should see go in the string `error` field; scans
//! are clipped at the region's end (the client sends the whole user range).
//!
//! A raw read's pairs may come back as errors (the pair-error fault), as
//! TiKV reports a read that failed for one pair: a `KvPair` carrying only
//! its `error` (tikv `storage/errors.rs`, `map_kv_pairs`).
//!
//! TTLs follow the stand-in's api-version, as TiKV's `storage.api-version`
//! decides them (tikv `src/storage/mod.rs`): under V1TTL and V2 a put, a
//! batch put (one TTL per pair in `ttls`, or one for all) and a CAS write
//! values that expire (see [`crate::storage::raw`]) and `RawGetKeyTTL`
//! answers the seconds left; under V1 a non-zero TTL is TiKV's
//! `TtlNotEnabled` error. The batch put's older single `ttl` field is
//! ignored, as TiKV's service ignores it.

use tonic::Status;

use super::{Space, Store, admit, clip_scan, convert, need_key, need_keys, outside};
use crate::proto::RegionReply;
use crate::proto::kvrpcpb::{
    KeyError, KvPair, RawBatchDeleteRequest, RawBatchDeleteResponse, RawBatchGetRequest,
    RawBatchGetResponse, RawBatchPutRequest, RawBatchPutResponse, RawBatchScanRequest,
    RawBatchScanResponse, RawCasRequest, RawCasResponse, RawDeleteRangeRequest,
    RawDeleteRangeResponse, RawDeleteRequest, RawDeleteResponse, RawGetKeyTtlRequest,
    RawGetKeyTtlResponse, RawGetRequest, RawGetResponse, RawPutRequest, RawPutResponse,
    RawScanRequest, RawScanResponse,
};
use crate::storage::raw::KeyTtl;
use crate::vocab::Pair;

/// TiKV's `TtlNotEnabled` (tikv `src/storage/errors.rs`): a write with a
/// TTL to a store whose api-version is V1.
const TTL_NOT_ENABLED: &str = "ttl is not enabled, but get put request with ttl";

/// TiKV's `TtlLenNotEqualsToPairs`: a batch put with more than one TTL but
/// not one per pair.
const TTL_LEN_NOT_EQUALS_TO_PAIRS: &str =
    "The length of ttls does not equal to the length of pairs";

/// `RawGetKeyTTL` on a V1 store. TiKV has no answer for it (the call
/// reaches an assertion, `get ttl on non-ttl store`): the stand-in answers
/// this error instead.
const GET_TTL_NOT_ENABLED: &str =
    "get ttl on non-ttl store: RawGetKeyTTL needs storage.api-version V1TTL or V2";

/// Whether the stand-in's api-version keeps TTLs (V1TTL or V2).
fn ttl_enabled(s: &Store) -> bool {
    s.shared.config.api_version.ttl_enabled()
}

/// The TTL of each pair of a batch put, as TiKV's service reads `ttls`
/// (none: no TTL; one: the same for every pair), or the error it answers.
fn batch_ttls(s: &Store, pairs: usize, ttls: &[u64]) -> Result<Vec<u64>, &'static str> {
    if !ttl_enabled(s) {
        return if ttls.iter().any(|&t| t != 0) {
            Err(TTL_NOT_ENABLED)
        } else {
            Ok(Vec::new())
        };
    }
    match ttls {
        [] => Ok(Vec::new()),
        [one] => Ok(vec![*one; pairs]),
        many if many.len() == pairs => Ok(many.to_vec()),
        _ => Err(TTL_LEN_NOT_EQUALS_TO_PAIRS),
    }
}

/// Only the default column family exists.
fn check_cf(cf: &str) -> Result<(), Status> {
    if cf.is_empty() || cf == "default" {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "column family '{cf}' does not exist; raw keys live in 'default'"
        )))
    }
}

/// The pairs of a raw read as the store answers them, each an error in its
/// place when the pair-error fault strikes it.
fn pairs(s: &Store, kvs: Vec<Pair>) -> Vec<KvPair> {
    kvs.into_iter()
        .map(|(key, value)| {
            if s.shared.faults.pair_error() {
                pair_error(&key)
            } else {
                KvPair {
                    key,
                    value,
                    error: None,
                }
            }
        })
        .collect()
}

/// A pair that failed to be read: its error alone (TiKV's key error for a
/// storage failure is an `abort` with the error's text), no key, no value.
fn pair_error(key: &[u8]) -> KvPair {
    KvPair {
        error: Some(KeyError {
            abort: format!(
                "reading key '{}' failed (injected pair error)",
                key.escape_ascii()
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) async fn get(s: &Store, req: RawGetRequest) -> Result<RawGetResponse, Status> {
    need_key(&req.key, "key")?;
    check_cf(&req.cf)?;
    admit!(s, req, RawGetResponse, Space::Raw, [req.key.as_slice()]);
    Ok(match s.shared.storage.raw().get(&req.key) {
        Some(value) => RawGetResponse {
            value,
            ..Default::default()
        },
        None => RawGetResponse {
            not_found: true,
            ..Default::default()
        },
    })
}

pub(super) async fn batch_get(
    s: &Store,
    req: RawBatchGetRequest,
) -> Result<RawBatchGetResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    check_cf(&req.cf)?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, RawBatchGetResponse, Space::Raw, keys);
    Ok(RawBatchGetResponse {
        pairs: pairs(s, s.shared.storage.raw().batch_get(&req.keys)),
        ..Default::default()
    })
}

pub(super) async fn put(s: &Store, req: RawPutRequest) -> Result<RawPutResponse, Status> {
    need_key(&req.key, "key")?;
    check_cf(&req.cf)?;
    let region = admit!(s, req, RawPutResponse, Space::Raw, [req.key.as_slice()]);
    if let Some(e) = convert::entry_too_large(region.id, prost::Message::encoded_len(&req)) {
        return Ok(RawPutResponse::with_region_error(e));
    }
    if req.ttl != 0 && !ttl_enabled(s) {
        return Ok(RawPutResponse {
            error: TTL_NOT_ENABLED.into(),
            ..Default::default()
        });
    }
    s.shared
        .storage
        .raw()
        .put_ttl(&req.key, &req.value, req.for_cas, req.ttl);
    s.written(&region);
    Ok(RawPutResponse::default())
}

pub(super) async fn batch_put(
    s: &Store,
    req: RawBatchPutRequest,
) -> Result<RawBatchPutResponse, Status> {
    need_keys(req.pairs.iter().map(|p| p.key.as_slice()))?;
    check_cf(&req.cf)?;
    let keys = req.pairs.iter().map(|p| p.key.as_slice());
    let region = admit!(s, req, RawBatchPutResponse, Space::Raw, keys);
    if let Some(e) = convert::entry_too_large(region.id, prost::Message::encoded_len(&req)) {
        return Ok(RawBatchPutResponse::with_region_error(e));
    }
    let ttls = match batch_ttls(s, req.pairs.len(), &req.ttls) {
        Ok(ttls) => ttls,
        Err(e) => {
            return Ok(RawBatchPutResponse {
                error: e.into(),
                ..Default::default()
            });
        }
    };
    let atomic = req.for_cas;
    let kvs: Vec<Pair> = req.pairs.into_iter().map(|p| (p.key, p.value)).collect();
    s.shared.storage.raw().batch_put_ttl(&kvs, &ttls, atomic);
    s.written(&region);
    Ok(RawBatchPutResponse::default())
}

pub(super) async fn delete(s: &Store, req: RawDeleteRequest) -> Result<RawDeleteResponse, Status> {
    need_key(&req.key, "key")?;
    check_cf(&req.cf)?;
    admit!(s, req, RawDeleteResponse, Space::Raw, [req.key.as_slice()]);
    s.shared.storage.raw().delete(&req.key, req.for_cas);
    Ok(RawDeleteResponse::default())
}

pub(super) async fn batch_delete(
    s: &Store,
    req: RawBatchDeleteRequest,
) -> Result<RawBatchDeleteResponse, Status> {
    need_keys(req.keys.iter().map(Vec::as_slice))?;
    check_cf(&req.cf)?;
    let keys = req.keys.iter().map(Vec::as_slice);
    admit!(s, req, RawBatchDeleteResponse, Space::Raw, keys);
    s.shared.storage.raw().batch_delete(&req.keys, req.for_cas);
    Ok(RawBatchDeleteResponse::default())
}

pub(super) async fn scan(s: &Store, req: RawScanRequest) -> Result<RawScanResponse, Status> {
    check_cf(&req.cf)?;
    let range = [(req.start_key.as_slice(), req.end_key.as_slice())];
    let region = admit!(s, req, RawScanResponse, Space::Raw, []; &range);
    let Some((start, end)) = clip_scan(
        s.placement(Space::Raw),
        &region,
        &req.start_key,
        &req.end_key,
        req.reverse,
    ) else {
        return Ok(outside(&req.start_key, &region));
    };
    let kvs =
        s.shared
            .storage
            .raw()
            .scan(&start, &end, req.limit as usize, req.key_only, req.reverse);
    Ok(RawScanResponse {
        kvs: pairs(s, kvs),
        ..Default::default()
    })
}

pub(super) async fn batch_scan(
    s: &Store,
    req: RawBatchScanRequest,
) -> Result<RawBatchScanResponse, Status> {
    check_cf(&req.cf)?;
    let ranges: Vec<(&[u8], &[u8])> = req
        .ranges
        .iter()
        .map(|r| (r.start_key.as_slice(), r.end_key.as_slice()))
        .collect();
    let region = admit!(s, req, RawBatchScanResponse, Space::Raw, []; &ranges);
    let mut kvs = Vec::new();
    for range in &req.ranges {
        let Some((start, end)) = clip_scan(
            s.placement(Space::Raw),
            &region,
            &range.start_key,
            &range.end_key,
            req.reverse,
        ) else {
            return Ok(outside(&range.start_key, &region));
        };
        kvs.extend(s.shared.storage.raw().scan(
            &start,
            &end,
            req.each_limit as usize,
            req.key_only,
            req.reverse,
        ));
    }
    Ok(RawBatchScanResponse {
        kvs: pairs(s, kvs),
        ..Default::default()
    })
}

pub(super) async fn delete_range(
    s: &Store,
    req: RawDeleteRangeRequest,
) -> Result<RawDeleteRangeResponse, Status> {
    check_cf(&req.cf)?;
    let range = [(req.start_key.as_slice(), req.end_key.as_slice())];
    let region = admit!(
        s,
        req,
        RawDeleteRangeResponse,
        Space::Raw,
        [req.start_key.as_slice()];
        &range
    );
    if !req.end_key.is_empty() && req.start_key > req.end_key {
        return Ok(RawDeleteRangeResponse {
            error: format!(
                "invalid range: start '{}' is after end '{}'",
                req.start_key.escape_ascii(),
                req.end_key.escape_ascii()
            ),
            ..Default::default()
        });
    }
    // As TiKV's apply (handle_delete_range): an end past the region's end
    // (an empty end is past every end but the last region's) is
    // KeyNotInRegion; the client must cut the range at each region.
    if past_end(&req.end_key, &s.placement(Space::Raw).bounds(&region).1) {
        return Ok(outside(&req.end_key, &region));
    }
    s.shared
        .storage
        .raw()
        .delete_range(&req.start_key, &req.end_key);
    Ok(RawDeleteRangeResponse::default())
}

pub(super) async fn compare_and_swap(
    s: &Store,
    req: RawCasRequest,
) -> Result<RawCasResponse, Status> {
    need_key(&req.key, "key")?;
    check_cf(&req.cf)?;
    let region = admit!(s, req, RawCasResponse, Space::Raw, [req.key.as_slice()]);
    if req.ttl != 0 && !ttl_enabled(s) {
        return Ok(RawCasResponse {
            error: TTL_NOT_ENABLED.into(),
            ..Default::default()
        });
    }
    let previous = (!req.previous_not_exist).then_some(req.previous_value.as_slice());
    let r = s
        .shared
        .storage
        .raw()
        .compare_and_swap(&req.key, &req.value, previous, req.ttl);
    if r.succeed {
        s.written(&region);
    }
    Ok(RawCasResponse {
        succeed: r.succeed,
        previous_not_exist: r.previous_not_exist,
        previous_value: r.previous_value,
        ..Default::default()
    })
}

pub(super) async fn get_key_ttl(
    s: &Store,
    req: RawGetKeyTtlRequest,
) -> Result<RawGetKeyTtlResponse, Status> {
    need_key(&req.key, "key")?;
    check_cf(&req.cf)?;
    admit!(
        s,
        req,
        RawGetKeyTtlResponse,
        Space::Raw,
        [req.key.as_slice()]
    );
    if !ttl_enabled(s) {
        return Ok(RawGetKeyTtlResponse {
            error: GET_TTL_NOT_ENABLED.into(),
            ..Default::default()
        });
    }
    // As TiKV's get_key_ttl_cf: the seconds left, 0 for a key that never
    // expires, not_found for a missing or expired one.
    let (ttl, not_found) = match s.shared.storage.raw().key_ttl(&req.key) {
        KeyTtl::Absent => (0, true),
        KeyTtl::Forever => (0, false),
        KeyTtl::Left(secs) => (secs, false),
    };
    Ok(RawGetKeyTtlResponse {
        ttl,
        not_found,
        ..Default::default()
    })
}

/// Whether a range ending at `end` (empty: unbounded) reaches past a region
/// ending at `region_end` (empty: unbounded).
fn past_end(end: &[u8], region_end: &[u8]) -> bool {
    !region_end.is_empty() && (end.is_empty() || end > region_end)
}
