//! A Prometheus text endpoint (`--metrics-addr`) serving the running view
//! of a run: measured ops by outcome, errors and retries by kind, latency
//! summaries per op, and per store (label `store="N"`) the RPCs sent by
//! answer class and a latency summary of the answered ones. Counts cover
//! the measured phase; warmup ops are a separate counter. Anything other
//! than `GET /metrics` gets 404.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::hist::Percentiles;
use super::{Live, LiveOp};
use crate::vocab::ErrorKind;
use crate::workload::Workload;

/// What the endpoint describes: the ops' names and types and the run's
/// name, fixed for the run; the counts come from `live`.
#[derive(Debug, Clone)]
pub struct Exposition {
    run: String,
    ops: Vec<(String, &'static str)>,
    live: Arc<Mutex<Live>>,
}

impl Exposition {
    pub fn new(workload: &Workload, live: Arc<Mutex<Live>>) -> Exposition {
        Exposition {
            run: workload.name.clone(),
            ops: workload
                .ops
                .iter()
                .map(|o| (o.name.clone(), o.kind.type_name()))
                .collect(),
            live,
        }
    }

    /// The exposition in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let run = escape(&self.run);
        let mut out = String::new();
        self.outcomes(&mut out, &run, &live);
        self.by_kind(
            &mut out,
            &run,
            &live,
            (
                "errors_total",
                "Measured operations that failed, by op and error kind.",
            ),
            |op| &op.errors,
        );
        self.by_kind(
            &mut out,
            &run,
            &live,
            (
                "retries_total",
                "Retried attempts, by op and the error kind that caused them.",
            ),
            |op| &op.retries,
        );
        self.latency(&mut out, &run, &live);
        store_series(&mut out, &run, &live);
        run_gauges(&mut out, &run, &live);
        out
    }

    /// `ops_total`: measured ops by op and outcome.
    fn outcomes(&self, out: &mut String, run: &str, live: &Live) {
        family(
            out,
            "ops_total",
            "counter",
            "Measured operations completed, by op and outcome.",
        );
        for ((name, ty), op) in self.ops.iter().zip(&live.ops) {
            for (outcome, n) in [
                ("ok", op.ok),
                ("failed", op.failed),
                ("unknown", op.unknown),
            ] {
                let _ = writeln!(
                    out,
                    "tikv_bench_ops_total{{run=\"{run}\",op=\"{}\",type=\"{ty}\",outcome=\"{outcome}\"}} {n}",
                    escape(name)
                );
            }
        }
    }

    /// A counter family by op and error kind, read off each op by `counts`.
    fn by_kind(
        &self,
        out: &mut String,
        run: &str,
        live: &Live,
        (name, help): (&str, &str),
        counts: fn(&LiveOp) -> &Vec<(ErrorKind, u64)>,
    ) {
        family(out, name, "counter", help);
        for ((op_name, _), op) in self.ops.iter().zip(&live.ops) {
            for (kind, n) in counts(op) {
                let _ = writeln!(
                    out,
                    "tikv_bench_{name}{{run=\"{run}\",op=\"{}\",kind=\"{kind}\"}} {n}",
                    escape(op_name)
                );
            }
        }
    }

    /// `latency_seconds`: a summary per op.
    fn latency(&self, out: &mut String, run: &str, live: &Live) {
        family(
            out,
            "latency_seconds",
            "summary",
            "Latency of successful measured operations (from the intended start in open loop).",
        );
        for ((name, _), op) in self.ops.iter().zip(&live.ops) {
            let l = &op.latency;
            let labels = format!("run=\"{run}\",op=\"{}\"", escape(name));
            let quantiles = [
                ("0.5", l.p50),
                ("0.9", l.p90),
                ("0.99", l.p99),
                ("0.999", l.p999),
                ("1", l.max),
            ];
            summary(out, "latency_seconds", &labels, &quantiles, l);
        }
    }
}

/// One summary's samples: its quantiles (µs, written in seconds), sum
/// and count, under `labels`.
fn summary(out: &mut String, name: &str, labels: &str, quantiles: &[(&str, u64)], l: &Percentiles) {
    for (q, us) in quantiles {
        let _ = writeln!(
            out,
            "tikv_bench_{name}{{{labels},quantile=\"{q}\"}} {}",
            *us as f64 / 1e6
        );
    }
    let sum = l.mean * l.count as f64 / 1e6;
    let _ = writeln!(out, "tikv_bench_{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "tikv_bench_{name}_count{{{labels}}} {}", l.count);
}

/// A family's `HELP` and `TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP tikv_bench_{name} {help}");
    let _ = writeln!(out, "# TYPE tikv_bench_{name} {kind}");
}

/// Per store: `store_rpcs_total` by answer class and
/// `store_rpc_latency_seconds`, a summary of the answered RPCs' client-side
/// latency. Absent until a second with traced RPCs has ended.
fn store_series(out: &mut String, run: &str, live: &Live) {
    if live.stores.is_empty() {
        return;
    }
    family(
        out,
        "store_rpcs_total",
        "counter",
        "RPC attempts of measured operations, by store and answer class.",
    );
    for s in &live.stores {
        let a = &s.answers;
        for (answer, n) in [
            ("ok", a.ok),
            ("key_error", a.key_error),
            ("region_error", a.region_error),
            ("failed", a.failed),
        ] {
            let _ = writeln!(
                out,
                "tikv_bench_store_rpcs_total{{run=\"{run}\",store=\"{}\",answer=\"{answer}\"}} {n}",
                s.store
            );
        }
    }
    family(
        out,
        "store_rpc_latency_seconds",
        "summary",
        "Client-side latency of the RPC attempts each store answered.",
    );
    for s in &live.stores {
        let l = &s.latency;
        let labels = format!("run=\"{run}\",store=\"{}\"", s.store);
        let quantiles = [("0.5", l.p50), ("0.99", l.p99), ("1", l.max)];
        summary(out, "store_rpc_latency_seconds", &labels, &quantiles, l);
    }
}

/// The whole run's warmup count and, once a second has ended, its ops and
/// p99.
fn run_gauges(out: &mut String, run: &str, live: &Live) {
    family(
        out,
        "warmup_ops_total",
        "counter",
        "Operations completed during warmup (excluded elsewhere).",
    );
    let _ = writeln!(
        out,
        "tikv_bench_warmup_ops_total{{run=\"{run}\"}} {}",
        live.warmup_ops
    );
    if let Some((_, ops, p99)) = live.last_second {
        family(
            out,
            "last_second_ops",
            "gauge",
            "Operations completed in the last complete second.",
        );
        let _ = writeln!(out, "tikv_bench_last_second_ops{{run=\"{run}\"}} {ops}");
        family(
            out,
            "last_second_p99_seconds",
            "gauge",
            "p99 latency in the last complete second.",
        );
        let _ = writeln!(
            out,
            "tikv_bench_last_second_p99_seconds{{run=\"{run}\"}} {}",
            p99 as f64 / 1e6
        );
    }
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Binds the endpoint's listener (so a bad address fails before the run).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `GET /metrics` on `listener` until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, exposition: Exposition) {
    let exposition = Arc::new(exposition);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let exposition = exposition.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let exposition = exposition.clone();
                async move {
                    let response =
                        if req.method() == hyper::Method::GET && req.uri().path() == "/metrics" {
                            Response::builder()
                                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                                .body(Full::new(Bytes::from(exposition.render())))
                        } else {
                            Response::builder()
                                .status(StatusCode::NOT_FOUND)
                                .body(Full::new(Bytes::from_static(
                                    b"tikv-bench serves GET /metrics\n",
                                )))
                        };
                    Ok::<_, hyper::http::Error>(response.expect("static response parts are valid"))
                }
            });
            // A client that hangs up or speaks garbage only ends its own
            // connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
