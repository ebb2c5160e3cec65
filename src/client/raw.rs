//! The raw API: plain key-value calls on TiKV's raw key space. Point calls
//! go to one region; batch calls are split by region and sent
//! concurrently; a scan sends the whole user range to one region at a time
//! (the store clips at the region's end) and goes on from the region's end
//! until the limit is met.
//!
//! Under API V1 keys go out and are routed as they are. Under V2 every key
//! and range is encoded at the entry points into the client's keyspace
//! (see [`super::keyspace`]: an open end becomes the keyspace's end), is
//! routed by its memcomparable encoding (region bounds are decoded back to
//! continue a scan), and the keys of what comes back lose their prefix (a
//! key outside the keyspace is dropped).
//!
//! A read answer's pair that carries an error (TiKV reports a read that
//! failed for one pair, or as a whole, so) fails the read with it, as
//! tikv/client-rust has it; client-go's rawkv would return it as a pair
//! with an empty key.

use std::borrow::Cow;
use std::time::Duration;

use super::Error;
use super::join::join_all;
use super::keyspace::{KeyMode, KeyspaceCodec, full_key};
use super::region_cache::Route;
use super::request::Ctx;
use super::rpc::Rpc;
use super::tikv::Client;
use crate::codec;
use crate::proto::kvrpcpb::{
    KvPair, RawBatchDeleteRequest, RawBatchGetRequest, RawBatchPutRequest, RawCasRequest,
    RawDeleteRangeRequest, RawDeleteRequest, RawGetKeyTtlRequest, RawGetRequest, RawPutRequest,
    RawScanRequest,
};
use crate::txn_types::KeyError;
use crate::vocab::{ErrorKind, Pair};

/// What a compare-and-swap found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    /// Whether the value was written.
    pub succeed: bool,
    /// The value before (`None`: the key had none).
    pub previous: Option<Vec<u8>>,
}

/// The raw API of a [`Client`] connection.
#[derive(Debug, Clone, Copy)]
pub struct RawApi<'a> {
    tikv: &'a Client,
}

fn server_error(call: &str, e: String) -> Error {
    Error::Rpc {
        kind: ErrorKind::Other,
        message: format!("{call}: {e}"),
        undetermined: false,
    }
}

/// The answer's `error` text, if any, as the error of RPC `call`.
fn check(call: &str, e: String) -> Result<(), Error> {
    if e.is_empty() {
        Ok(())
    } else {
        Err(server_error(call, e))
    }
}

/// Moves a read answer's pairs into `out`, or fails with the errors its
/// pairs carry (a pair with an error is no data: it has no key).
fn take_pairs(kvs: Vec<KvPair>, out: &mut Vec<Pair>) -> Result<(), Error> {
    let mut errors = Vec::new();
    for p in kvs {
        match p.error {
            Some(e) => errors.push(KeyError::from(e)),
            None => out.push((p.key, p.value)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Key(errors))
    }
}

/// A TTL in whole seconds, a fraction rounded up (0: none).
fn ttl_secs(ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// Whether a region ending at `region_end` reaches past a range ending at
/// `end` (empty: unbounded).
fn covers(region_end: &[u8], end: &[u8]) -> bool {
    region_end.is_empty() || (!end.is_empty() && region_end >= end)
}

impl<'a> RawApi<'a> {
    pub(crate) fn new(tikv: &'a Client) -> RawApi<'a> {
        RawApi { tikv }
    }

    /// Whether writes carry `for_cas` (the client's atomic mode).
    fn atomic(&self) -> bool {
        self.tikv.config.atomic
    }

    fn codec(&self) -> Option<&KeyspaceCodec> {
        self.tikv.keyspace.as_ref()
    }

    /// A user key as sent (in the keyspace under V2).
    fn key<'k>(&self, key: &'k [u8]) -> Cow<'k, [u8]> {
        full_key(self.codec(), KeyMode::Raw, key)
    }

    /// User keys as sent.
    fn keys<K: AsRef<[u8]>>(&self, keys: &[K]) -> Vec<Vec<u8>> {
        keys.iter()
            .map(|k| self.key(k.as_ref()).into_owned())
            .collect()
    }

    /// A user range as sent (under V2 an open end is the keyspace's end).
    fn range(&self, start: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
        match self.codec() {
            Some(ks) => ks.encode_range(KeyMode::Raw, start, end),
            None => (start.to_vec(), end.to_vec()),
        }
    }

    /// Where a sent key is routed: PD's key space holds V2 keys in their
    /// memcomparable encoding, V1 raw keys as they are.
    fn route<'k>(&self, key: &'k [u8]) -> Cow<'k, [u8]> {
        match self.codec() {
            Some(_) => Cow::Owned(codec::encode(key)),
            None => Cow::Borrowed(key),
        }
    }

    /// Pairs as the caller sees them: the keyspace's prefix stripped, and
    /// no pair outside the keyspace.
    fn user_pairs(&self, pairs: Vec<Pair>) -> Vec<Pair> {
        let Some(ks) = self.codec() else {
            return pairs;
        };
        let user = |(k, v): Pair| Some((ks.decode(KeyMode::Raw, &k)?.to_vec(), v));
        pairs.into_iter().filter_map(user).collect()
    }

    /// Where user keys `keys`, as sent, are routed (see [`RawApi::route`]).
    fn routes<'k, K: AsRef<[u8]>>(&self, keys: &'k [K]) -> Vec<Cow<'k, [u8]>> {
        let route = |k: &'k K| match self.codec() {
            Some(ks) => Cow::Owned(codec::encode(&ks.encode(KeyMode::Raw, k.as_ref()))),
            None => Cow::Borrowed(k.as_ref()),
        };
        keys.iter().map(route).collect()
    }

    /// Where a range ending at `end` (as sent) goes on after the region
    /// `route` took it to (`None`: it ends there), as a sent key.
    fn next_from(&self, route: Route, end: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let region_end = route.end.unwrap_or_default();
        if covers(&region_end, &self.route(end)) {
            return Ok(None);
        }
        if self.codec().is_none() {
            return Ok(Some(region_end));
        }
        match codec::decode(&region_end) {
            Ok((next, _)) => Ok(Some(next)),
            Err(e) => Err(server_error(
                "region bounds",
                format!(
                    "region {} ends at '{}', not a memcomparable key: {e}",
                    route.region_id,
                    region_end.escape_ascii()
                ),
            )),
        }
    }

    /// The value of `key`.
    pub async fn get(&self, cx: &Ctx<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let key = self.key(key);
        let req = RawGetRequest {
            context: None,
            key: key.to_vec(),
            cf: String::new(),
        };
        let resp = self.tikv.call_one(cx, &self.route(&key), &req).await?;
        check(RawGetRequest::NAME, resp.error)?;
        Ok((!resp.not_found).then_some(resp.value))
    }

    /// Writes `value` to `key`, for `ttl` if given (whole seconds, a
    /// fraction rounded up; the cluster must run a TTL-enabled api-version).
    pub async fn put(
        &self,
        cx: &Ctx<'_>,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        let key = self.key(key);
        let req = RawPutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            for_cas: self.atomic(),
            ttl: ttl_secs(ttl),
            ..Default::default()
        };
        let resp = self.tikv.call_one(cx, &self.route(&key), &req).await?;
        check(RawPutRequest::NAME, resp.error)
    }

    pub async fn delete(&self, cx: &Ctx<'_>, key: &[u8]) -> Result<(), Error> {
        let key = self.key(key);
        let req = RawDeleteRequest {
            key: key.to_vec(),
            for_cas: self.atomic(),
            ..Default::default()
        };
        let resp = self.tikv.call_one(cx, &self.route(&key), &req).await?;
        check(RawDeleteRequest::NAME, resp.error)
    }

    /// The time `key` has left (RawGetKeyTTL): `None` when it has no
    /// value (or it expired), zero when it never expires.
    pub async fn get_key_ttl(&self, cx: &Ctx<'_>, key: &[u8]) -> Result<Option<Duration>, Error> {
        let key = self.key(key);
        let req = RawGetKeyTtlRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        let resp = self.tikv.call_one(cx, &self.route(&key), &req).await?;
        check(RawGetKeyTtlRequest::NAME, resp.error)?;
        Ok((!resp.not_found).then_some(Duration::from_secs(resp.ttl)))
    }

    /// Writes `value` (for `ttl` if given, as [`put`](Self::put)) if the
    /// key's value is `previous` (`None`: absent).
    pub async fn compare_and_swap(
        &self,
        cx: &Ctx<'_>,
        key: &[u8],
        previous: Option<&[u8]>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Swap, Error> {
        if !self.atomic() {
            return Err(Error::Rpc {
                kind: ErrorKind::Other,
                message: CAS_NEEDS_ATOMIC.into(),
                undetermined: false,
            });
        }
        let key = self.key(key);
        let req = RawCasRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            previous_not_exist: previous.is_none(),
            previous_value: previous.unwrap_or_default().to_vec(),
            ttl: ttl_secs(ttl),
            ..Default::default()
        };
        let resp = self.tikv.call_one(cx, &self.route(&key), &req).await?;
        check(RawCasRequest::NAME, resp.error)?;
        Ok(Swap {
            succeed: resp.succeed,
            previous: (!resp.previous_not_exist).then_some(resp.previous_value),
        })
    }

    /// The pairs of `keys` that have values, in no particular order.
    pub async fn batch_get<K: AsRef<[u8]>>(
        &self,
        cx: &Ctx<'_>,
        keys: &[K],
    ) -> Result<Vec<Pair>, Error> {
        let req = RawBatchGetRequest {
            context: None,
            keys: self.keys(keys),
            cf: String::new(),
        };
        let groups = self.tikv.call_grouped(cx, &self.routes(keys), req).await?;
        let mut out = Vec::with_capacity(keys.len());
        for (_, resp) in groups {
            take_pairs(resp.pairs, &mut out)?;
        }
        Ok(self.user_pairs(out))
    }

    /// Writes every pair: in pieces of at most [`RAW_BATCH_PUT_SIZE`]
    /// bytes, as client-go does, a few pieces at a time.
    pub async fn batch_put(&self, cx: &Ctx<'_>, pairs: &[Pair]) -> Result<(), Error> {
        for wave in pieces(pairs, RAW_BATCH_PUT_SIZE).chunks(PIECES_AT_ONCE) {
            let sends = wave.iter().map(|p| self.batch_put_piece(cx, p)).collect();
            join_all(sends)
                .await
                .into_iter()
                .collect::<Result<(), Error>>()?;
        }
        Ok(())
    }

    async fn batch_put_piece(&self, cx: &Ctx<'_>, pairs: &[Pair]) -> Result<(), Error> {
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| k.as_slice()).collect();
        let req = RawBatchPutRequest {
            pairs: pairs
                .iter()
                .map(|(key, value)| KvPair {
                    error: None,
                    key: self.key(key).into_owned(),
                    value: value.clone(),
                })
                .collect(),
            for_cas: self.atomic(),
            ..Default::default()
        };
        let groups = self.tikv.call_grouped(cx, &self.routes(&keys), req).await?;
        groups
            .into_iter()
            .try_for_each(|(_, resp)| check(RawBatchPutRequest::NAME, resp.error))
    }

    pub async fn batch_delete<K: AsRef<[u8]>>(
        &self,
        cx: &Ctx<'_>,
        keys: &[K],
    ) -> Result<(), Error> {
        let req = RawBatchDeleteRequest {
            keys: self.keys(keys),
            for_cas: self.atomic(),
            ..Default::default()
        };
        let groups = self.tikv.call_grouped(cx, &self.routes(keys), req).await?;
        groups
            .into_iter()
            .try_for_each(|(_, resp)| check(RawBatchDeleteRequest::NAME, resp.error))
    }

    /// Up to `limit` pairs of `[start, end)` (empty end: unbounded), in key
    /// order, across as many regions as it takes.
    pub async fn scan(
        &self,
        cx: &Ctx<'_>,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Vec<Pair>, Error> {
        let mut out: Vec<Pair> = Vec::new();
        let (mut from, end) = self.range(start, end);
        while (out.len() as u32) < limit {
            let req = RawScanRequest {
                start_key: from.clone(),
                end_key: end.clone(),
                limit: limit - out.len() as u32,
                ..Default::default()
            };
            let (resp, route) = self.tikv.call(cx, &self.route(&from), true, &req).await?;
            let next = self.next_from(route, &end)?;
            take_pairs(resp.kvs, &mut out)?;
            match next {
                Some(next) => from = next,
                None => break,
            }
        }
        out.truncate(limit as usize);
        Ok(self.user_pairs(out))
    }

    /// Deletes every key in `[start, end)` (empty end: unbounded), one
    /// region at a time.
    pub async fn delete_range(&self, cx: &Ctx<'_>, start: &[u8], end: &[u8]) -> Result<(), Error> {
        let (mut from, end) = self.range(start, end);
        loop {
            let req = RawDeleteRangeRequest {
                context: None,
                start_key: from.clone(),
                end_key: end.clone(),
                cf: String::new(),
            };
            let (resp, route) = self.tikv.call(cx, &self.route(&from), true, &req).await?;
            let next = self.next_from(route, &end)?;
            check(RawDeleteRangeRequest::NAME, resp.error)?;
            match next {
                Some(next) => from = next,
                None => return Ok(()),
            }
        }
    }
}

/// client-go's `rawBatchPutSize`: the bytes (keys and values) of one piece
/// of a raw batch put, far below TiKV's raft entry limit (8 MiB).
pub const RAW_BATCH_PUT_SIZE: usize = 16 * 1024;

/// Why a compare-and-swap outside atomic mode is refused before it is
/// sent, as client-go refuses it (`CompareAndSwap` in rawkv/rawkv.go).
pub const CAS_NEEDS_ATOMIC: &str = "compare-and-swap needs the client's atomic mode \
    (client.atomic: true): without it raw writes go without for_cas, TiKV does not latch \
    them, and a CAS is not atomic against them";

/// How many pieces of one batch put are in flight together.
const PIECES_AT_ONCE: usize = 16;

/// `pairs` cut, in order, into pieces of at most `max` bytes of keys and
/// values (a pair larger than that is a piece of its own).
fn pieces(pairs: &[Pair], max: usize) -> Vec<&[Pair]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, (k, v)) in pairs.iter().enumerate() {
        let n = k.len() + v.len();
        if i > start && size + n > max {
            out.push(&pairs[start..i]);
            (start, size) = (i, 0);
        }
        size += n;
    }
    if start < pairs.len() {
        out.push(&pairs[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{covers, pieces};

    #[test]
    fn a_batch_is_cut_into_pieces_of_at_most_the_size_in_order() {
        let pair = |n: usize| (vec![b'k'], vec![b'v'; n - 1]);
        let pairs = vec![pair(6), pair(4), pair(3), pair(12), pair(1)];
        let sizes: Vec<usize> = pieces(&pairs, 10).iter().map(|p| p.len()).collect();
        assert_eq!(sizes, [2, 1, 1, 1], "6+4 | 3 | 12 alone | 1");
        assert!(pieces(&[], 10).is_empty());
    }

    #[test]
    fn a_region_covers_a_range_when_it_reaches_its_end() {
        assert!(covers(b"", b""));
        assert!(covers(b"", b"m"));
        assert!(!covers(b"m", b""));
        assert!(covers(b"m", b"m"));
        assert!(covers(b"n", b"m"));
        assert!(!covers(b"l", b"m"));
    }
}
