//! The report's section on server time against client time: per op, where
//! the time of its timed RPCs went (network and queueing, store wait,
//! store work: p50, p99 and share of the summed client time), a stacked
//! bar per op (inline SVG, one colour per part), and which RPCs carry the
//! store's timing at all.

use std::fmt::Write as _;

use super::page::{self, Table, count, num, text};
use crate::metrics::RunResult;
use crate::metrics::server_time::ServerTimeResult;

/// The bar colours of the three parts, in [`ServerTimeResult::split`]'s
/// order.
const COLOURS: [&str; 3] = ["#9aa5b1", "#e8a33d", "#3a7bd5"];

/// Width of a bar in the SVG's units.
const BAR: f64 = 600.0;

/// Microseconds as milliseconds with two decimals.
fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// `part` of `whole`, in percent with one decimal.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// The section's HTML, or `None` when no op has server time.
pub fn section(r: &RunResult) -> Option<String> {
    let timed: Vec<(&str, &ServerTimeResult)> = r
        .ops
        .iter()
        .filter_map(|(name, o)| o.server_time.as_ref().map(|s| (name.as_str(), s)))
        .collect();
    if timed.is_empty() {
        return None;
    }
    let mut html = page::para(
        "note",
        "Each RPC's client time (send to answer) split by the store's own account \
         (exec_details_v2.time_detail_v2): network and queueing is the client's time \
         less the store's total, store wait the time it queued before running, store \
         work the rest. TiKV fills it in for KvGet, KvPrewrite, KvCommit, the lock and \
         rollback RPCs, KvCheckTxnStatus, KvCheckSecondaryLocks, KvTxnHeartBeat, \
         KvScanLock and KvResolveLock, and BatchGet only through BatchCommands; raw RPCs \
         and KvScan carry none.",
    );
    let mut t = Table::new(
        "server-time",
        &["op", "RPCs", "part", "p50", "p99", "share of time"],
    );
    for (name, s) in &timed {
        for (i, (part, p)) in s.split().into_iter().enumerate() {
            let (op, rpcs) = if i == 0 {
                (name.to_string(), count(s.rpcs))
            } else {
                (String::new(), String::new())
            };
            t.row([
                text(op),
                num(rpcs),
                text(part),
                num(ms(p.us.p50)),
                num(ms(p.us.p99)),
                num(format!("{:.1}%", share(p.sum_us, s.client.sum_us))),
            ]);
        }
    }
    html.push_str(&t.finish());
    html.push_str(&bars(&timed));
    let untimed: u64 = r
        .ops
        .values()
        .map(|o| o.server_time.as_ref().map_or(0, |s| s.untimed_rpcs))
        .sum();
    let without: Vec<&str> = r
        .ops
        .iter()
        .filter(|(_, o)| o.server_time.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    let mut note = String::new();
    if !without.is_empty() {
        let _ = write!(note, "No server time for {}. ", without.join(", "));
    }
    if untimed > 0 {
        let _ = write!(
            note,
            "{} RPC(s) of the ops above carried none (counted apart). ",
            count(untimed)
        );
    }
    let over: u64 = timed.iter().map(|(_, s)| s.server_over_client).sum();
    if over > 0 {
        let _ = write!(
            note,
            "{} RPC(s) had a store total above the client's time (clocks of \
             different hosts disagree).",
            count(over)
        );
    }
    if !note.is_empty() {
        html.push_str(&page::para("note", note.trim_end()));
    }
    Some(html)
}

/// One stacked bar per op: its parts' shares of the summed client time.
fn bars(timed: &[(&str, &ServerTimeResult)]) -> String {
    let row = 28.0;
    let label = 160.0;
    let height = row * timed.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg class=\"server-time\" role=\"img\" viewBox=\"0 0 {w} {height}\" \
         width=\"{w}\" height=\"{height}\" aria-label=\"share of each op's RPC time: \
         network and queueing, store wait, store work\">",
        w = label + BAR + 10.0
    );
    for (i, (name, s)) in timed.iter().enumerate() {
        let y = row * i as f64 + 4.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text>",
            y + 15.0,
            page::esc(name)
        );
        let mut x = label;
        for ((part, p), colour) in s.split().into_iter().zip(COLOURS) {
            let pct = share(p.sum_us, s.client.sum_us);
            let w = BAR * pct / 100.0;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"20\" \
                 fill=\"{colour}\"><title>{name}: {part} {pct:.1}%</title></rect>",
                name = page::esc(name)
            );
            x += w;
        }
    }
    let y = row * timed.len() as f64 + 20.0;
    let mut x = label;
    for ((part, _), colour) in ServerTimeResult::default().split().into_iter().zip(COLOURS) {
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{y}\" font-size=\"12\">{part}</text>",
            y - 10.0,
            x + 16.0
        );
        x += 170.0;
    }
    svg.push_str("</svg>");
    format!("<div class=\"scroll\">{svg}</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_tenths_of_a_percent_and_zero_of_nothing() {
        assert_eq!(share(1, 3), 33.3);
        assert_eq!(share(5, 0), 0.0);
        assert_eq!(ms(1234), "1.23 ms");
    }
}
