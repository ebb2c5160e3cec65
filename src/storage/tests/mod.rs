//! Unit tests of the engine through its facade, grouped by concern; this
//! file holds the helpers they share.

mod async_commit;
mod errors;
mod gc;
mod reads;
mod waits;

use super::*;

pub(super) const K: &[u8] = b"k";

pub(super) fn prewrite_req(muts: Vec<Mutation>, primary: &[u8], ts: u64) -> PrewriteRequest {
    PrewriteRequest {
        txn_size: muts.len() as u64,
        mutations: muts,
        primary_lock: primary.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        // What client-go sends.
        min_commit_ts: ts + 1,
        ..PrewriteRequest::default()
    }
}

pub(super) fn prewrite(
    s: &Storage,
    muts: Vec<Mutation>,
    primary: &[u8],
    ts: u64,
) -> Result<(), Vec<KeyError>> {
    s.prewrite(&prewrite_req(muts, primary, ts)).map(drop)
}

pub(super) fn one<T: std::fmt::Debug>(r: Result<T, Vec<KeyError>>) -> KeyError {
    let errs = r.expect_err("expected an error");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().expect("one")
}

/// A whole optimistic transaction writing `pairs`; returns its commit_ts.
pub(super) fn write(s: &Storage, pairs: &[(&[u8], &[u8])]) -> u64 {
    let ts = s.timestamp();
    let muts = pairs.iter().map(|(k, v)| Mutation::put(*k, *v)).collect();
    prewrite(s, muts, pairs[0].0, ts).expect("prewrite");
    let keys: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| k.to_vec()).collect();
    let cts = s.timestamp();
    s.commit(&keys, ts, cts).expect("commit");
    cts
}

pub(super) fn lock_req(
    key: &[u8],
    ts: u64,
    for_update_ts: u64,
    wait: i64,
) -> PessimisticLockRequest {
    PessimisticLockRequest {
        keys: vec![key.to_vec()],
        primary_lock: key.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        for_update_ts,
        is_first_lock: true,
        wait_timeout: wait,
        return_values: true,
        min_commit_ts: for_update_ts + 1,
    }
}

pub(super) fn status_req(primary: &[u8], lock_ts: u64, current_ts: u64) -> CheckTxnStatusRequest {
    CheckTxnStatusRequest {
        primary_key: primary.to_vec(),
        lock_ts,
        caller_start_ts: 0,
        current_ts,
        rollback_if_not_exist: false,
        resolving_pessimistic_lock: false,
        force_sync_commit: false,
    }
}
