//! The result's per-store rows (`stores`) and hot-region table
//! (`regions`): built from the run's [`Places`], flagged (`slow`, `hot`)
//! by one rule each, and merged across drivers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Class, Places};
use crate::metrics::hist::{self, Hist, Percentiles, new_hist};

/// Regions listed by name in `regions.top`: the 20 with the most ops; the
/// others are added up in `regions.rest`.
pub const TOP_REGIONS: usize = 20;

/// A store is `slow` when its p50 is more than this many times the median
/// of the other stores' p50 ...
pub const SLOW_FACTOR: f64 = 2.0;
/// ... and at least this many µs above it (so that a busy machine's
/// 150 µs against 400 µs does not count) ...
pub const SLOW_MARGIN_US: u64 = 1_000;
/// ... with at least this many answered RPCs behind each p50 compared.
pub const SLOW_MIN_RPCS: u64 = 20;

/// Answers by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    /// Answered without error.
    pub ok: u64,
    /// Answered with a key error (a lock, a write conflict, ...).
    pub key_error: u64,
    /// Answered with a region error (not leader, epoch not match, server
    /// busy, ...): the client sent it again.
    pub region_error: u64,
    /// No answer: timeout, unreachable store, gRPC error.
    pub failed: u64,
}

impl Answers {
    pub(super) fn count(&mut self, c: Class) {
        match c {
            Class::Ok => self.ok += 1,
            Class::KeyError => self.key_error += 1,
            Class::RegionError => self.region_error += 1,
            Class::Failed => self.failed += 1,
        }
    }

    pub fn add(&mut self, o: &Answers) {
        self.ok += o.ok;
        self.key_error += o.key_error;
        self.region_error += o.region_error;
        self.failed += o.failed;
    }
}

/// One store's row in the result (`stores`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreRow {
    pub store: u64,
    /// RPC attempts sent to it.
    pub rpcs: u64,
    /// Measured ops that sent it at least one attempt.
    pub ops: u64,
    /// Its part of all stores' `rpcs` (0 to 1; the rows add up to 1).
    pub share: f64,
    pub answers: Answers,
    /// Client-side duration of its answered attempts, µs.
    pub latency_us: Percentiles,
    /// `latency_us`'s histogram (HdrHistogram V2, base64).
    pub histogram: String,
    /// `slow` (see [`slow`]), `hot` (see [`hot`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// One region's row (`regions.top`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionRow {
    pub region: u64,
    pub rpcs: u64,
    /// Measured ops that sent it at least one attempt.
    pub ops: u64,
    /// Its part of all regions' `ops` (top and rest add up to 1).
    pub share: f64,
    /// Attempts not answered ok.
    pub errors: u64,
    /// The stores that served it, sorted (more than one: its leader moved).
    pub stores: Vec<u64>,
    /// Client-side duration of its answered attempts, µs.
    pub latency_us: Percentiles,
    pub histogram: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Merged: some driver did not list this region in its top (its
    /// figures there are in that driver's `rest`), so the figures are
    /// a lower bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// The regions not listed, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionRest {
    pub rpcs: u64,
    pub ops: u64,
    pub share: f64,
    pub errors: u64,
}

/// The hottest regions in the result (`regions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RegionTable {
    /// Distinct regions the run's RPCs went to (merged: the most any
    /// driver saw, a lower bound).
    pub regions_seen: u64,
    /// The [`TOP_REGIONS`] regions with the most ops, most first (merged:
    /// every region any driver listed).
    pub top: Vec<RegionRow>,
    pub rest: RegionRest,
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1e4).round() / 1e4
    }
}

/// The one rule for `slow`: a store's p50 is more than [`SLOW_FACTOR`]
/// times the median of the other stores' p50 and at least
/// [`SLOW_MARGIN_US`] above it. `others` are the other stores' p50 (only
/// stores with enough answered RPCs); with none, nothing is slow.
pub fn slow(p50: u64, others: &[u64]) -> bool {
    if others.is_empty() {
        return false;
    }
    let mut sorted = others.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    };
    p50 as f64 > SLOW_FACTOR * median && p50 as f64 >= median + SLOW_MARGIN_US as f64
}

/// The one rule for `hot`: of `n` places (stores, or regions seen), one
/// whose share is more than twice its fair share (1/n). With fewer than 2
/// places there is no unfairness to show.
pub fn hot(share: f64, n: usize) -> bool {
    n >= 2 && share > 2.0 / n as f64
}

/// Sets every row's flags by [`slow`] and [`hot`].
pub fn flag_stores(rows: &mut [StoreRow]) {
    let p50s: Vec<(u64, Option<u64>)> = rows
        .iter()
        .map(|r| {
            let enough = r.latency_us.count >= SLOW_MIN_RPCS;
            (r.store, enough.then_some(r.latency_us.p50))
        })
        .collect();
    let n = rows.len();
    for r in rows.iter_mut() {
        r.flags.clear();
        let others: Vec<u64> = p50s
            .iter()
            .filter(|(id, _)| *id != r.store)
            .filter_map(|(_, p)| *p)
            .collect();
        if r.latency_us.count >= SLOW_MIN_RPCS && slow(r.latency_us.p50, &others) {
            r.flags.push("slow".into());
        }
        if hot(r.share, n) {
            r.flags.push("hot".into());
        }
    }
}

fn store_row(store: u64, rpcs: u64, ops: u64, answers: Answers, h: &Hist) -> StoreRow {
    StoreRow {
        store,
        rpcs,
        ops,
        share: 0.0,
        answers,
        latency_us: Percentiles::of(h),
        histogram: hist::encode(h),
        flags: Vec::new(),
    }
}

/// Shares and flags of rows whose counts are final.
fn finish_stores(mut rows: Vec<StoreRow>) -> Vec<StoreRow> {
    let total: u64 = rows.iter().map(|r| r.rpcs).sum();
    for r in &mut rows {
        r.share = share(r.rpcs, total);
    }
    flag_stores(&mut rows);
    rows
}

/// The result's `stores`: `None` when no RPC was traced.
pub fn stores_of(p: &Places) -> Option<Vec<StoreRow>> {
    if p.stores.is_empty() {
        return None;
    }
    let rows = p
        .stores
        .iter()
        .map(|(id, s)| store_row(*id, s.rpcs, s.ops, s.answers, &s.latency))
        .collect();
    Some(finish_stores(rows))
}

/// The result's `regions`: `None` when no RPC was traced.
pub fn regions_of(p: &Places) -> Option<RegionTable> {
    if p.regions.is_empty() {
        return None;
    }
    let mut by_ops: Vec<(&u64, &super::RegionAcc)> = p.regions.iter().collect();
    by_ops.sort_by(|a, b| b.1.ops.cmp(&a.1.ops).then(a.0.cmp(b.0)));
    let mut table = RegionTable {
        regions_seen: p.regions.len() as u64,
        ..RegionTable::default()
    };
    for (i, (id, r)) in by_ops.into_iter().enumerate() {
        if i < TOP_REGIONS {
            table.top.push(RegionRow {
                region: *id,
                rpcs: r.rpcs,
                ops: r.ops,
                share: 0.0,
                errors: r.errors,
                stores: r.stores.clone(),
                latency_us: Percentiles::of(&r.latency),
                histogram: hist::encode(&r.latency),
                flags: Vec::new(),
                partial: false,
            });
        } else {
            table.rest.rpcs += r.rpcs;
            table.rest.ops += r.ops;
            table.rest.errors += r.errors;
        }
    }
    Some(finish_regions(table))
}

/// Shares, flags and order of a table whose counts are final.
fn finish_regions(mut t: RegionTable) -> RegionTable {
    let total = t.top.iter().map(|r| r.ops).sum::<u64>() + t.rest.ops;
    let n = t.regions_seen as usize;
    for r in &mut t.top {
        r.share = share(r.ops, total);
        r.flags.clear();
        if hot(r.share, n) {
            r.flags.push("hot".into());
        }
    }
    t.rest.share = share(t.rest.ops, total);
    t.top
        .sort_by(|a, b| b.ops.cmp(&a.ops).then(a.region.cmp(&b.region)));
    t
}

/// A histogram that cannot be read, with the place it belongs to.
pub type PlaceDecodeError = (String, hist::HistogramDecodeError);

fn decode(place: String, text: &str) -> Result<Hist, PlaceDecodeError> {
    hist::decode(text).map_err(|e| (place, e))
}

/// Several drivers' `stores` added up by store id (exact: counts summed,
/// histograms added); `None` when none has any.
pub fn merge_stores(
    parts: &[Option<&Vec<StoreRow>>],
) -> Result<Option<Vec<StoreRow>>, PlaceDecodeError> {
    let mut acc: BTreeMap<u64, (u64, u64, Answers, Hist)> = BTreeMap::new();
    for row in parts.iter().flatten().flat_map(|rows| rows.iter()) {
        let h = decode(format!("store {}", row.store), &row.histogram)?;
        let e = acc
            .entry(row.store)
            .or_insert_with(|| (0, 0, Answers::default(), new_hist()));
        e.0 += row.rpcs;
        e.1 += row.ops;
        e.2.add(&row.answers);
        hist::add(&mut e.3, &h);
    }
    if acc.is_empty() {
        return Ok(None);
    }
    let rows = acc
        .iter()
        .map(|(id, (rpcs, ops, answers, h))| store_row(*id, *rpcs, *ops, *answers, h))
        .collect();
    Ok(Some(finish_stores(rows)))
}

/// Several drivers' `regions` added up. A region listed by every driver
/// that has a table adds up exactly; one that some driver left in its
/// `rest` is summed over the drivers that listed it and marked `partial`
/// (what the others sent it is in the merged `rest`, which is the sum of
/// the drivers' rests). Every listed region is kept, so the merge is
/// associative and commutative; `regions_seen` is the largest of the
/// drivers' (a lower bound).
pub fn merge_regions(
    parts: &[Option<&RegionTable>],
) -> Result<Option<RegionTable>, PlaceDecodeError> {
    let tables: Vec<&RegionTable> = parts.iter().flatten().copied().collect();
    if tables.is_empty() {
        return Ok(None);
    }
    let mut rows: BTreeMap<u64, (RegionRow, Hist, usize)> = BTreeMap::new();
    let mut out = RegionTable::default();
    for t in &tables {
        out.regions_seen = out.regions_seen.max(t.regions_seen);
        out.rest.rpcs += t.rest.rpcs;
        out.rest.ops += t.rest.ops;
        out.rest.errors += t.rest.errors;
        for r in &t.top {
            let h = decode(format!("region {}", r.region), &r.histogram)?;
            let e = rows
                .entry(r.region)
                .or_insert_with(|| (empty_row(r.region), new_hist(), 0));
            e.0.rpcs += r.rpcs;
            e.0.ops += r.ops;
            e.0.errors += r.errors;
            e.0.partial |= r.partial;
            for s in &r.stores {
                super::served_by(&mut e.0.stores, *s);
            }
            hist::add(&mut e.1, &h);
            e.2 += 1;
        }
    }
    for (_, (mut row, h, listed_by)) in rows {
        row.partial |= listed_by < tables.len();
        row.latency_us = Percentiles::of(&h);
        row.histogram = hist::encode(&h);
        out.top.push(row);
    }
    Ok(Some(finish_regions(out)))
}

fn empty_row(region: u64) -> RegionRow {
    RegionRow {
        region,
        rpcs: 0,
        ops: 0,
        share: 0.0,
        errors: 0,
        stores: Vec::new(),
        latency_us: Percentiles::default(),
        histogram: String::new(),
        flags: Vec::new(),
        partial: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_well_above_the_others_median_is_slow() {
        assert!(slow(5_400, &[300, 350]), "a 5 ms fault on one store");
        assert!(slow(2_500, &[800, 1_000, 1_200]));
    }

    #[test]
    fn a_busy_but_healthy_store_is_not_slow() {
        assert!(!slow(450, &[150, 200]), "3x, but under a millisecond more");
        assert!(
            !slow(2_900, &[1_500, 1_600]),
            "3 ms against 1.5 ms: under 2x"
        );
        assert!(!slow(9_000, &[]), "nothing to compare with");
    }

    #[test]
    fn hot_is_more_than_twice_the_fair_share() {
        assert!(hot(0.7, 3));
        assert!(!hot(0.5, 3));
        assert!(!hot(1.0, 1), "one store cannot be unfair");
        assert!(hot(0.3, 20));
        assert!(!hot(0.09, 20));
    }

    #[test]
    fn flags_are_set_on_the_slow_store_only() {
        let mut h_fast = new_hist();
        let mut h_slow = new_hist();
        for _ in 0..100 {
            hist::record(&mut h_fast, 300);
            hist::record(&mut h_slow, 5_300);
        }
        let a = Answers::default();
        let rows = vec![
            store_row(1, 100, 100, a, &h_fast),
            store_row(2, 100, 100, a, &h_slow),
            store_row(3, 100, 100, a, &h_fast),
        ];
        let rows = finish_stores(rows);
        let flags: Vec<_> = rows.iter().map(|r| r.flags.clone()).collect();
        assert_eq!(flags, [vec![], vec!["slow".to_string()], vec![]]);
    }
}
