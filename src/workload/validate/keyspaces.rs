//! Raw and transactional ops on separate key ranges. Under TiKV's API V1
//! both kinds of data live in one column family: transactional values sit
//! under the memcomparable encoding of their keys with the start_ts
//! appended, raw values under their keys as they are. When the two ranges
//! meet, a raw scan returns transactional records and a raw delete can
//! remove a transactional value out from under its write record. PingCAP's
//! FAQ ("Can both TiDB data and RawKV data be stored in the same TiKV
//! cluster?") allows the mix only with API V2.

use super::Checker;
use crate::codec;
use crate::workload::checked::{KeySpace, OpConfig};
use crate::workload::keys::KeyFormat;
use crate::workload::ops::Api;
use crate::workload::spec::OpSpec;

/// The bytes `[start, end)` that `api`'s keys occupy in the column family
/// they share: raw keys as they are, transactional keys encoded.
fn stored_range(keys: &KeySpace, api: Api) -> (Vec<u8>, Vec<u8>) {
    let (start, end) = KeyFormat::new(keys, api).range();
    match api {
        Api::Raw => (start, end),
        Api::Txn => (codec::encode(&start), codec::encode(&end)),
    }
}

/// Refuses a mix whose raw and transactional ops share a key range, at the
/// first transactional op. `specs` and `ops` are the op list as written and
/// as checked (same order, an op of unknown type missing from `ops`).
pub(super) fn check_key_spaces(
    c: &mut Checker,
    keys: &KeySpace,
    specs: &[OpSpec],
    ops: &[OpConfig],
) {
    let first = |api| ops.iter().find(|o| o.kind.api() == Some(api));
    let (Some(raw), Some(txn)) = (first(Api::Raw), first(Api::Txn)) else {
        return;
    };
    let (r, t) = (stored_range(keys, Api::Raw), stored_range(keys, Api::Txn));
    if r.0.max(t.0.clone()) >= r.1.min(t.1) {
        return;
    }
    let Some(at) = specs.iter().find(|s| {
        s.name
            .as_ref()
            .map_or(s.op_type.value == txn.name, |n| n.value == txn.name)
    }) else {
        return;
    };
    c.err(
        &at.op_type,
        format!(
            "op '{}' (transactional) and op '{}' (raw) use the same key range (keys.prefix '{}', \
             keys.txn_prefix '{}'): under TiKV's API V1 raw and transactional data must not share \
             a key range, because TiKV keeps both in one column family, so raw reads and scans \
             return transactional records and raw deletes can destroy them (PingCAP FAQ: \"Can \
             both TiDB data and RawKV data be stored in the same TiKV cluster?\"); give the \
             transactional ops keys of their own, e.g. keys: {{txn_prefix: acct}}",
            txn.name, raw.name, keys.prefix, keys.txn_prefix
        ),
    );
}
