//! A Prometheus text endpoint (`--metrics-addr`) serving the running view
//! of a run: measured ops by outcome, errors and retries by kind, latency
//! summaries per op. Counts cover the measured phase; warmup ops are a
//! separate counter. Anything other than `GET /metrics` gets 404.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Live;
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
        let family = |name: &str, kind: &str, help: &str, out: &mut String| {
            let _ = writeln!(out, "# HELP tikv_bench_{name} {help}");
            let _ = writeln!(out, "# TYPE tikv_bench_{name} {kind}");
        };
        family(
            "ops_total",
            "counter",
            "Measured operations completed, by op and outcome.",
            &mut out,
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
        family(
            "errors_total",
            "counter",
            "Measured operations that failed, by op and error kind.",
            &mut out,
        );
        for ((name, _), op) in self.ops.iter().zip(&live.ops) {
            for (kind, n) in &op.errors {
                let _ = writeln!(
                    out,
                    "tikv_bench_errors_total{{run=\"{run}\",op=\"{}\",kind=\"{kind}\"}} {n}",
                    escape(name)
                );
            }
        }
        family(
            "retries_total",
            "counter",
            "Retried attempts, by op and the error kind that caused them.",
            &mut out,
        );
        for ((name, _), op) in self.ops.iter().zip(&live.ops) {
            for (kind, n) in &op.retries {
                let _ = writeln!(
                    out,
                    "tikv_bench_retries_total{{run=\"{run}\",op=\"{}\",kind=\"{kind}\"}} {n}",
                    escape(name)
                );
            }
        }
        family(
            "latency_seconds",
            "summary",
            "Latency of successful measured operations (from the intended start in open loop).",
            &mut out,
        );
        for ((name, _), op) in self.ops.iter().zip(&live.ops) {
            let l = &op.latency;
            let name = escape(name);
            for (q, us) in [
                ("0.5", l.p50),
                ("0.9", l.p90),
                ("0.99", l.p99),
                ("0.999", l.p999),
                ("1", l.max),
            ] {
                let _ = writeln!(
                    out,
                    "tikv_bench_latency_seconds{{run=\"{run}\",op=\"{name}\",quantile=\"{q}\"}} {}",
                    us as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "tikv_bench_latency_seconds_sum{{run=\"{run}\",op=\"{name}\"}} {}",
                l.mean * l.count as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "tikv_bench_latency_seconds_count{{run=\"{run}\",op=\"{name}\"}} {}",
                l.count
            );
        }
        family(
            "warmup_ops_total",
            "counter",
            "Operations completed during warmup (excluded elsewhere).",
            &mut out,
        );
        let _ = writeln!(
            out,
            "tikv_bench_warmup_ops_total{{run=\"{run}\"}} {}",
            live.warmup_ops
        );
        if let Some((_, ops, p99)) = live.last_second {
            family(
                "last_second_ops",
                "gauge",
                "Operations completed in the last complete second.",
                &mut out,
            );
            let _ = writeln!(out, "tikv_bench_last_second_ops{{run=\"{run}\"}} {ops}");
            family(
                "last_second_p99_seconds",
                "gauge",
                "p99 latency in the last complete second.",
                &mut out,
            );
            let _ = writeln!(
                out,
                "tikv_bench_last_second_p99_seconds{{run=\"{run}\"}} {}",
                p99 as f64 / 1e6
            );
        }
        out
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
