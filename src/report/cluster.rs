//! The cluster section of a report, readable: for the start and the end of
//! the run, the stores (state, regions led, peers), the regions (decoded
//! key ranges, epoch, leader, peers) and what the faults did, with the
//! snapshot's JSON kept below for anything the tables leave out.
//!
//! The snapshots are free-form JSON (the embedded cluster and a real PD
//! describe themselves differently): what a table cannot find is left out,
//! never guessed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::page::{self, Table, esc, num, text};
use crate::metrics::ClusterInfo;

/// Regions listed per snapshot; past this only counted.
const MAX_REGIONS: usize = 40;

/// The section's HTML.
pub fn section(c: &ClusterInfo) -> String {
    let mut html = String::new();
    let _ = write!(html, "<p>PD: <code>{}</code></p>", esc(&c.pd.join(", ")));
    for (when, snap) in [("At the start", &c.start), ("At the end", &c.end)] {
        let _ = write!(html, "<h3>{when}</h3>");
        html.push_str(&snapshot(snap));
    }
    let _ = write!(
        html,
        "<details><summary>The snapshots as recorded (JSON)</summary>{}</details>",
        page::json(&serde_json::to_value(c).unwrap_or_default())
    );
    html
}

fn snapshot(s: &Value) -> String {
    if let Some(e) = s.get("error").and_then(Value::as_str) {
        return page::para("bad", &format!("No snapshot: {e}"));
    }
    let regions = s.get("regions").and_then(Value::as_array);
    let mut html = stores(s, regions.map_or(&[][..], Vec::as_slice));
    if let Some(regions) = regions {
        html.push_str(&regions_table(regions));
    }
    if let Some(counts) = s.pointer("/faults/counts").and_then(Value::as_object) {
        let mut t = Table::new("kv", &[]);
        for (k, v) in counts {
            t.pair(&k.replace('_', " "), num(v.to_string()));
        }
        html.push_str(&page::para("note", "What the injected faults did:"));
        html.push_str(&t.finish());
    }
    html
}

/// Each store with the regions it leads and the peers it holds.
fn stores(s: &Value, regions: &[Value]) -> String {
    let mut led: BTreeMap<u64, usize> = BTreeMap::new();
    let mut peers: BTreeMap<u64, usize> = BTreeMap::new();
    for r in regions {
        if let Some(l) = r.get("leader").and_then(Value::as_u64) {
            *led.entry(l).or_default() += 1;
        }
        for p in r
            .get("peers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(st) = p.get("store").and_then(Value::as_u64) {
                *peers.entry(st).or_default() += 1;
            }
        }
    }
    let Some(list) = s.get("stores").and_then(Value::as_array) else {
        return String::new();
    };
    let mut t = Table::new(
        "stores",
        &["store", "address", "state", "regions led", "peers"],
    );
    for st in list {
        let id = st.get("id").and_then(Value::as_u64).unwrap_or(0);
        let field = |k: &str| st.get(k).and_then(Value::as_str).unwrap_or("–").to_string();
        t.row([
            num(id.to_string()),
            text(field("address")),
            text(field("state")),
            num(led.get(&id).copied().unwrap_or(0).to_string()),
            num(peers.get(&id).copied().unwrap_or(0).to_string()),
        ]);
    }
    t.finish()
}

/// The regions in key order: decoded bounds, epoch, leader and peers.
fn regions_table(regions: &[Value]) -> String {
    let mut t = Table::new(
        "regions",
        &[
            "region",
            "keys from",
            "to",
            "epoch (conf, version)",
            "leader",
            "peers on stores",
        ],
    );
    let bound = |r: &Value, k: &str, open: &str| {
        let v = r
            .get(format!("{k}_decoded"))
            .or_else(|| r.get(k))
            .and_then(Value::as_str)
            .unwrap_or("");
        if v.is_empty() {
            open.to_string()
        } else {
            v.to_string()
        }
    };
    for r in regions.iter().take(MAX_REGIONS) {
        let epoch = |k: &str| {
            r.pointer(&format!("/epoch/{k}"))
                .map_or("?".into(), Value::to_string)
        };
        let stores: Vec<String> = r
            .get("peers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("store").map(Value::to_string))
            .collect();
        t.row([
            num(r.get("id").map_or("?".into(), Value::to_string)),
            text(bound(r, "start", "(first key)")),
            text(bound(r, "end", "(last key)")),
            num(format!("{}, {}", epoch("conf_ver"), epoch("version"))),
            num(r.get("leader").map_or("?".into(), Value::to_string)),
            text(stores.join(", ")),
        ]);
    }
    let mut html = t.finish();
    if regions.len() > MAX_REGIONS {
        html.push_str(&page::para(
            "note",
            &format!(
                "{} regions in all; the first {MAX_REGIONS} shown (the JSON below has every one).",
                regions.len()
            ),
        ));
    }
    html
}
