//! Server time versus client time: for each op, the RPCs whose answers
//! carried the store's own timing (`exec_details_v2.time_detail_v2` with a
//! total), split into network and queueing (client time minus the store's
//! total, 0 when the store says more), the store's wait and the store's
//! work (total minus wait).
//!
//! Each part is a histogram (one value per RPC) and an exact sum, so the
//! parts' shares of the summed client time add up: network + wait + work =
//! client time, for every RPC whose store total is within its client time.
//! One whose total exceeds the client's time is counted
//! (`server_over_client`): never on one machine, where both clocks are one;
//! on a real cluster a sign of the two hosts' clocks running at different
//! rates, or of a store counting time before the request's bytes had all
//! arrived (its network part is then 0).
//!
//! RPCs whose answers carry no total are counted as `untimed_rpcs`: raw
//! RPCs, and the ones TiKV leaves without (unary `KvBatchGet`, batched
//! rollbacks; see `cluster::store::timing`).

use serde::{Deserialize, Serialize};

use super::hist::{self, Hist, HistogramDecodeError, Percentiles, new_hist};
use crate::vocab::trace::{ServerTime, Step, Trace};

/// The parts of an RPC's time, in the order of [`ServerStats`]' arrays.
const PARTS: usize = 5;
const CLIENT: usize = 0;
const TOTAL: usize = 1;
const WAIT: usize = 2;
const WORK: usize = 3;
const NETWORK: usize = 4;

/// One op's server-time figures over some span, kept in its
/// [`OpStats`](super::OpStats).
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    /// RPCs whose answer carried a total.
    pub timed: u64,
    /// RPCs whose answer carried none.
    pub untimed: u64,
    /// Timed RPCs whose store total exceeded the client's time.
    pub over: u64,
    /// Sums in µs: client, store total, wait, work, network.
    pub sums: [u64; PARTS],
    /// The same, one value per RPC; made at the first timed RPC.
    hists: Option<Box<[Hist; PARTS]>>,
}

/// An RPC's parts in µs: client, total, wait, work, network.
fn parts(client_us: u64, t: ServerTime) -> [u64; PARTS] {
    let total = u64::from(t.total_us);
    let wait = u64::from(t.wait_us).min(total);
    [
        client_us,
        total,
        wait,
        total - wait,
        client_us.saturating_sub(total),
    ]
}

impl ServerStats {
    /// Counts the RPCs of one op, from its trace.
    #[inline]
    pub fn record(&mut self, trace: &Trace) {
        for span in trace.spans() {
            let Step::Rpc { server, .. } = span.step else {
                continue;
            };
            let Some(t) = server else {
                self.untimed += 1;
                continue;
            };
            let client = u64::try_from(span.dur.as_micros()).unwrap_or(u64::MAX);
            self.add(parts(client, t));
        }
    }

    fn add(&mut self, p: [u64; PARTS]) {
        self.timed += 1;
        if p[TOTAL] > p[CLIENT] {
            self.over += 1;
        }
        let hists = self
            .hists
            .get_or_insert_with(|| Box::new(std::array::from_fn(|_| new_hist())));
        for i in 0..PARTS {
            self.sums[i] = self.sums[i].saturating_add(p[i]);
            hist::record(&mut hists[i], p[i]);
        }
    }

    /// Adds `other` into `self` (exact).
    pub fn merge(&mut self, other: &ServerStats) {
        self.timed += other.timed;
        self.untimed += other.untimed;
        self.over += other.over;
        for i in 0..PARTS {
            self.sums[i] = self.sums[i].saturating_add(other.sums[i]);
        }
        if let Some(theirs) = &other.hists {
            let ours = self
                .hists
                .get_or_insert_with(|| Box::new(std::array::from_fn(|_| new_hist())));
            for (a, b) in ours.iter_mut().zip(theirs.iter()) {
                hist::add(a, b);
            }
        }
    }

    /// The result section, `None` when no RPC carried server time.
    pub fn result(&self) -> Option<ServerTimeResult> {
        let hists = self.hists.as_ref().filter(|_| self.timed > 0)?;
        let part = |i: usize| Part::of(&hists[i], self.sums[i]);
        Some(ServerTimeResult {
            rpcs: self.timed,
            untimed_rpcs: self.untimed,
            server_over_client: self.over,
            client: part(CLIENT),
            server_total: part(TOTAL),
            wait: part(WAIT),
            work: part(WORK),
            network: part(NETWORK),
        })
    }
}

/// One part of the RPCs' time: its percentiles, its histogram (µs, one
/// value per RPC) and its exact sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Part {
    pub us: Percentiles,
    pub histogram: String,
    pub sum_us: u64,
}

impl Part {
    fn of(h: &Hist, sum_us: u64) -> Part {
        Part {
            us: Percentiles::of(h),
            histogram: hist::encode(h),
            sum_us,
        }
    }

    /// `self` and `other` added (histograms decoded and added).
    fn add(&self, other: &Part) -> Result<Part, HistogramDecodeError> {
        let mut h = hist::decode(&self.histogram)?;
        hist::add(&mut h, &hist::decode(&other.histogram)?);
        Ok(Part::of(&h, self.sum_us.saturating_add(other.sum_us)))
    }
}

/// An op's server-time section in the result (`ops.NAME.server_time`):
/// over the RPCs whose answers carried the store's total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerTimeResult {
    /// RPCs whose answer carried a total (the count of each part).
    pub rpcs: u64,
    /// RPCs whose answer carried none (raw RPCs, unary `KvBatchGet`, ...).
    pub untimed_rpcs: u64,
    /// RPCs whose store total exceeded the client's time (0 on one
    /// machine; see the module doc).
    pub server_over_client: u64,
    /// The client's time per RPC, send to answer.
    pub client: Part,
    /// The store's total (`total_rpc_wall_time_ns`).
    pub server_total: Part,
    /// The store's wait before running it (`wait_wall_time_ns`).
    pub wait: Part,
    /// The store's work: total minus wait.
    pub work: Part,
    /// Network and queueing: client time minus store total (at least 0).
    pub network: Part,
}

impl ServerTimeResult {
    /// `a` and `b` added exactly (`None`s are nothing).
    pub fn merge(
        a: Option<&ServerTimeResult>,
        b: Option<&ServerTimeResult>,
    ) -> Result<Option<ServerTimeResult>, HistogramDecodeError> {
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (one, other) => return Ok(one.or(other).cloned()),
        };
        Ok(Some(ServerTimeResult {
            rpcs: a.rpcs + b.rpcs,
            untimed_rpcs: a.untimed_rpcs + b.untimed_rpcs,
            server_over_client: a.server_over_client + b.server_over_client,
            client: a.client.add(&b.client)?,
            server_total: a.server_total.add(&b.server_total)?,
            wait: a.wait.add(&b.wait)?,
            work: a.work.add(&b.work)?,
            network: a.network.add(&b.network)?,
        }))
    }

    /// The parts an RPC's client time splits into, for reports: name,
    /// part.
    pub fn split(&self) -> [(&'static str, &Part); 3] {
        [
            ("network + queueing", &self.network),
            ("store wait", &self.wait),
            ("store work", &self.work),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::vocab::trace::Answer;

    fn rpc(server: Option<ServerTime>) -> Step {
        Step::Rpc {
            rpc: "KvGet",
            store: 1,
            region: 2,
            answer: Answer::Ok,
            server,
        }
    }

    fn time(total_us: u32, wait_us: u32) -> Option<ServerTime> {
        Some(ServerTime {
            total_us,
            wait_us,
            process_us: total_us - wait_us,
            kv_read_us: 0,
        })
    }

    fn stats(rpcs: &[(u64, Option<ServerTime>)]) -> ServerStats {
        let mut t = Trace::default();
        let at = Instant::now();
        t.push(at, Duration::from_micros(50), Step::Tso { ts: 1 });
        for &(client, server) in rpcs {
            t.push(at, Duration::from_micros(client), rpc(server));
        }
        let mut s = ServerStats::default();
        s.record(&t);
        s
    }

    #[test]
    fn each_timed_rpc_splits_into_network_wait_and_work_that_add_up() {
        let s = stats(&[(1000, time(700, 200)), (300, None), (100, time(150, 0))]);
        assert_eq!((s.timed, s.untimed, s.over), (2, 1, 1));
        // client, total, wait, work, network
        assert_eq!(s.sums, [1100, 850, 200, 650, 300]);
        let r = s.result().expect("timed RPCs");
        assert_eq!(r.network.us.max, 300);
        assert_eq!(r.network.us.min, 0, "a total past the client's: 0");
        assert_eq!(
            stats(&[(10, time(8, 2))]).sums.iter().skip(2).sum::<u64>(),
            10,
            "network + wait + work = client"
        );
        assert_eq!(stats(&[(300, None)]).result(), None, "raw only: none");
        assert_eq!(stats(&[(300, None)]).untimed, 1);
    }

    #[test]
    fn stats_and_results_merge_exactly() {
        let a = stats(&[(1000, time(700, 200)), (300, None)]);
        let b = stats(&[(40, time(30, 10)), (5000, time(100, 0))]);
        let mut ab = a.clone();
        ab.merge(&b);
        let whole = stats(&[
            (1000, time(700, 200)),
            (300, None),
            (40, time(30, 10)),
            (5000, time(100, 0)),
        ]);
        assert_eq!(ab.result(), whole.result());
        let merged = ServerTimeResult::merge(a.result().as_ref(), b.result().as_ref()).unwrap();
        assert_eq!(merged, whole.result());
        let none = ServerTimeResult::merge(None, a.result().as_ref()).unwrap();
        assert_eq!(none, a.result());
        assert_eq!(ServerTimeResult::merge(None, None).unwrap(), None);
    }
}
