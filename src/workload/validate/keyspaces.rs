//! Raw and transactional ops on separate key ranges. Under TiKV's API V1
//! both kinds of data live in one column family: transactional values sit
//! under the memcomparable encoding of their keys with the start_ts
//! appended, raw values under their keys as they are. When the two ranges
//! meet, a raw scan returns transactional records and a raw delete can
//! remove a transactional value out from under its write record. PingCAP's
//! FAQ ("Can both TiDB data and RawKV data be stored in the same TiKV
//! cluster?") allows the mix only with API V2, where raw and
//! transactional keys carry different prefixes (`r`, `x`) and never meet:
//! there the overlap is accepted. Under V1TTL TiKV takes raw requests only
//! (`check_api_version`), so a transactional op is refused.

use super::Checker;
use crate::codec;
use crate::vocab::ApiVersion;
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

/// The op as written that `op` was checked from.
fn written<'s>(specs: &'s [OpSpec], op: &OpConfig) -> Option<&'s OpSpec> {
    specs.iter().find(|s| {
        s.name
            .as_ref()
            .map_or(s.op_type.value == op.name, |n| n.value == op.name)
    })
}

/// Refuses a mix whose raw and transactional ops share a key range under
/// API V1, at the first transactional op, and any transactional op under
/// V1TTL. `specs` and `ops` are the op list as written and as checked
/// (same order, an op of unknown type missing from `ops`); `api` is the
/// client's api_version.
pub(super) fn check_key_spaces(
    c: &mut Checker,
    keys: &KeySpace,
    specs: &[OpSpec],
    ops: &[OpConfig],
    api: ApiVersion,
) {
    let first = |api| ops.iter().find(|o| o.kind.api() == Some(api));
    if api == ApiVersion::V1Ttl
        && let Some(txn) = first(Api::Txn)
        && let Some(at) = written(specs, txn)
    {
        c.err(
            &at.op_type,
            format!(
                "op '{}' is transactional, but client.api_version is v1ttl: a TiKV with \
                 storage.api-version V1TTL takes raw requests only; use raw ops, or \
                 api_version v1 or v2 (valid api_version values: {})",
                txn.name,
                ApiVersion::ALL.map(ApiVersion::as_str).join(", ")
            ),
        );
        return;
    }
    let (Some(raw), Some(txn)) = (first(Api::Raw), first(Api::Txn)) else {
        return;
    };
    if api == ApiVersion::V2 {
        return;
    }
    let (r, t) = (stored_range(keys, Api::Raw), stored_range(keys, Api::Txn));
    if r.0.max(t.0.clone()) >= r.1.min(t.1) {
        return;
    }
    let Some(at) = written(specs, txn) else {
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
             transactional ops keys of their own, e.g. keys: {{txn_prefix: acct}}, or use \
             client.api_version v2",
            txn.name, raw.name, keys.prefix, keys.txn_prefix
        ),
    );
}
