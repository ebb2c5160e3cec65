//! The report's section on stores and regions: a banner naming a flagged
//! store, the per-store table (RPCs, share, ops, latency, answers, flags;
//! its chart is the `stores` entry of `CHARTS`, drawn by
//! [`super::stores_chart`]), and the hot-regions table. Also the text
//! summary's store lines.

use std::fmt::Write as _;

use super::page::{self, Table, num, text};
use crate::metrics::RunResult;
use crate::metrics::places::{RegionTable, StoreRow};
use crate::vocab::fmt::micros;

/// The section's HTML, or `None` when the result has nothing for it (no
/// RPC was traced: a noop or in-memory target).
pub fn section(r: &RunResult) -> Option<String> {
    let stores = r.stores.as_ref()?;
    let mut html = String::new();
    for row in stores.iter().filter(|s| has(s, "slow")) {
        html.push_str(&page::para(
            "bad",
            &format!(
                "Store {} is slow: its p50 ({}) is more than twice the other stores' median.",
                row.store,
                micros(row.latency_us.p50)
            ),
        ));
    }
    html.push_str(&store_table(stores));
    if let Some(t) = &r.regions {
        html.push_str(&region_table(t));
    }
    Some(html)
}

fn has(row: &StoreRow, flag: &str) -> bool {
    row.flags.iter().any(|f| f == flag)
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn store_table(rows: &[StoreRow]) -> String {
    let mut t = Table::new(
        "data",
        &[
            "store",
            "RPCs",
            "share",
            "ops",
            "p50",
            "p99",
            "max",
            "ok",
            "key errors",
            "region errors",
            "failed",
            "flags",
        ],
    );
    for s in rows {
        let l = &s.latency_us;
        let a = &s.answers;
        let class = if s.flags.is_empty() { "" } else { "flagged" };
        t.row_of_class(
            class,
            [
                num(s.store.to_string()),
                num(page::count(s.rpcs)),
                num(pct(s.share)),
                num(page::count(s.ops)),
                num(micros(l.p50)),
                num(micros(l.p99)),
                num(micros(l.max)),
                num(page::count(a.ok)),
                num(page::count(a.key_error)),
                num(page::count(a.region_error)),
                num(page::count(a.failed)),
                text(s.flags.join(", ")),
            ],
        );
    }
    let mut html = page::para(
        "",
        "Per store, the RPC attempts of measured ops; latency is the client-side time of the attempts the store answered.",
    );
    html.push_str(&t.finish());
    html
}

fn region_table(t: &RegionTable) -> String {
    let mut table = Table::new(
        "data",
        &[
            "region", "ops", "share", "RPCs", "errors", "stores", "p50", "p99", "flags",
        ],
    );
    for r in &t.top {
        let l = &r.latency_us;
        let class = if r.flags.is_empty() { "" } else { "flagged" };
        let mut flags = r.flags.clone();
        if r.partial {
            flags.push("partial (at least)".into());
        }
        let stores: Vec<String> = r.stores.iter().map(u64::to_string).collect();
        table.row_of_class(
            class,
            [
                num(r.region.to_string()),
                num(page::count(r.ops)),
                num(pct(r.share)),
                num(page::count(r.rpcs)),
                num(page::count(r.errors)),
                text(stores.join(", ")),
                num(micros(l.p50)),
                num(micros(l.p99)),
                text(flags.join(", ")),
            ],
        );
    }
    let rest = &t.rest;
    let others = t.regions_seen.saturating_sub(t.top.len() as u64);
    if rest.ops > 0 || rest.rpcs > 0 {
        table.row([
            text(format!("{others} others")),
            num(page::count(rest.ops)),
            num(pct(rest.share)),
            num(page::count(rest.rpcs)),
            num(page::count(rest.errors)),
            text(""),
            text(""),
            text(""),
            text(""),
        ]);
    }
    let mut html = String::new();
    let _ = write!(
        html,
        "<h3>Hottest regions</h3>{}",
        page::para(
            "",
            &format!(
                "The regions with the most ops, of {} the run touched; an op counts once per region it sent an RPC for.",
                t.regions_seen
            ),
        )
    );
    html.push_str(&table.finish());
    html
}

/// The text summary's lines: one per flagged store, or one line of every
/// store's share and p50 when none is flagged.
pub fn summary(out: &mut String, r: &RunResult) {
    let Some(stores) = &r.stores else {
        return;
    };
    let flagged: Vec<&StoreRow> = stores.iter().filter(|s| !s.flags.is_empty()).collect();
    if flagged.is_empty() {
        let each: Vec<String> = stores
            .iter()
            .map(|s| {
                format!(
                    "{} {} p50 {}",
                    s.store,
                    pct(s.share),
                    micros(s.latency_us.p50)
                )
            })
            .collect();
        let _ = writeln!(out, "stores: {}", each.join(", "));
        return;
    }
    for s in flagged {
        let _ = writeln!(
            out,
            "store {}: {} ({} of RPCs, p50 {}, p99 {})",
            s.store,
            s.flags.join(", "),
            pct(s.share),
            micros(s.latency_us.p50),
            micros(s.latency_us.p99)
        );
    }
}
