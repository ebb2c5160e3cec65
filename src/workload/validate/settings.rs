//! Checking the client, cluster and threshold sections.

use std::time::Duration;

use super::Checker;
use super::tls::{TlsSpec, check_tls};
use crate::cluster::config::{BusyBurst, MIN_GC_LIFE_TIME};
use crate::vocab::op::DEFAULT_KEYSPACE;
use crate::vocab::tls::Tls;
use crate::vocab::{ApiVersion, ErrorKind, Jitter, RetryPolicy};
use crate::workload::checked::*;
use crate::workload::spec::*;

/// The client section; `uses_cas` when an op or a check of the workload
/// uses compare-and-swap, which needs atomic mode.
pub(in crate::workload) fn check_client(
    c: &mut Checker,
    spec: Option<ClientSpec>,
    uses_cas: bool,
) -> ClientConfig {
    let Some(s) = spec else {
        return ClientConfig {
            atomic: uses_cas,
            ..ClientConfig::default()
        };
    };
    let d = check_transport(c, &s, ClientConfig::default());
    let tls = check_tls(c, &TlsSpec::of_client(&s), Tls::client);
    let atomic = match s.atomic {
        None => uses_cas,
        Some(a) if uses_cas && !a.value => {
            c.err(
                &a,
                "client.atomic is false, but the workload uses compare-and-swap (a cas op, or the inventory or lock check): on TiKV a CAS is atomic only against raw writes sent with for_cas, which atomic mode sends (as client-go's); remove the line or set it to true",
            );
            false
        }
        Some(a) => a.value || uses_cas,
    };
    let api_version = s.api_version.map_or(d.api_version, |v| v.value);
    let pool_size = s
        .pool_size
        .map_or(d.pool_size, |p| c.int(&p, 1, 1024, "client.pool_size"));
    let connect_timeout = s.connect_timeout.map_or(d.connect_timeout, |t| {
        c.duration(&t, "client.connect_timeout", false)
    });
    let request_timeout = s.request_timeout.map_or(d.request_timeout, |t| {
        c.duration(&t, "client.request_timeout", false)
    });
    let retry = match s.retry {
        None => RetryPolicy::default(),
        Some(r) => check_retry(c, r),
    };
    ClientConfig {
        pool_size,
        connect_timeout,
        request_timeout,
        retry,
        atomic,
        keyspace: check_keyspace(c, s.keyspace, api_version),
        api_version,
        tls,
        ..d
    }
}

/// The transport and its batching knobs (which `transport: unary` ignores:
/// the as-run form of every workload names them).
fn check_transport(c: &mut Checker, s: &ClientSpec, mut config: ClientConfig) -> ClientConfig {
    config.transport = s.transport.as_ref().map_or(config.transport, |t| t.value);
    if let Some(n) = &s.max_batch_size {
        config.max_batch_size = c.int(n, 1, 65536, "client.max_batch_size");
    }
    if let Some(w) = &s.max_batch_wait {
        config.max_batch_wait = c.duration(w, "client.max_batch_wait", true);
    }
    if let Some(t) = &s.overload_threshold {
        config.overload_threshold = c.int(t, 0, i64::MAX, "client.overload_threshold");
    }
    config
}

/// The client's keyspace: API V2's alone (DEFAULT unless named); under
/// V1 or V1TTL a keyspace is an error, as TiKV has no keyspaces there.
fn check_keyspace(c: &mut Checker, k: Option<Sp<String>>, v: ApiVersion) -> Option<String> {
    match (k, v) {
        (None, ApiVersion::V2) => Some(DEFAULT_KEYSPACE.to_string()),
        (None, _) => None,
        (Some(k), ApiVersion::V2) => Some(k.value),
        (Some(k), v) => {
            c.err(
                &k,
                format!(
                    "client.keyspace '{}' needs client.api_version v2 (keyspaces are API V2's), \
                     but it is {}; valid api_version values: {}",
                    k.value,
                    v.as_str(),
                    ApiVersion::ALL.map(ApiVersion::as_str).join(", ")
                ),
            );
            None
        }
    }
}

fn check_retry(c: &mut Checker, r: RetrySpec) -> RetryPolicy {
    let d = RetryPolicy::default();
    let base_delay = r
        .base_delay
        .as_ref()
        .map_or(d.base_delay, |v| c.duration(v, "retry.base_delay", true));
    let max_delay = r
        .max_delay
        .as_ref()
        .map_or(d.max_delay, |v| c.duration(v, "retry.max_delay", true));
    if base_delay > max_delay
        && let Some(v) = r.base_delay.as_ref().or(r.max_delay.as_ref())
    {
        c.err(
            v,
            format!(
                "retry.base_delay ({}) must not exceed retry.max_delay ({})",
                humantime::format_duration(base_delay),
                humantime::format_duration(max_delay)
            ),
        );
    }
    let multiplier = r.multiplier.as_ref().map_or(d.multiplier, |m| {
        if !(m.value.is_finite() && (1.0..=100.0).contains(&m.value)) {
            c.err(
                m,
                format!(
                    "retry.multiplier must be between 1 and 100, got {}",
                    m.value
                ),
            );
        }
        m.value
    });
    let on = match r.on {
        None => d.on.clone(),
        Some(names) => {
            let mut kinds = Vec::new();
            for n in &names {
                match ErrorKind::from_name(n.value.trim()) {
                    Some(k) if !kinds.contains(&k) => kinds.push(k),
                    Some(_) => {}
                    None => c.err(
                        n,
                        format!(
                            "unknown error kind '{}'; choose from: {}",
                            n.value,
                            ErrorKind::choices()
                        ),
                    ),
                }
            }
            kinds
        }
    };
    RetryPolicy {
        max_attempts: r
            .max_attempts
            .as_ref()
            .map_or(d.max_attempts, |m| c.int(m, 1, 1000, "retry.max_attempts")),
        base_delay,
        multiplier,
        max_delay,
        jitter: match r.jitter.map(|j| j.value) {
            None => d.jitter,
            Some(JitterName::None) => Jitter::None,
            Some(JitterName::Full) => Jitter::Full,
            Some(JitterName::Equal) => Jitter::Equal,
        },
        budget: r
            .budget
            .as_ref()
            .map_or(d.budget, |b| c.duration(b, "retry.budget", false)),
        on,
    }
}

pub(in crate::workload) fn check_cluster(c: &mut Checker, s: ClusterSpec) -> ClusterConfig {
    let d = ClusterConfig::default();
    let stores: u32 = s
        .stores
        .as_ref()
        .map_or(d.stores, |n| c.int(n, 1, 16, "cluster.stores"));
    let region_max_keys = s.region_max_keys.as_ref().map_or(d.region_max_keys, |n| {
        c.int(n, 10, i64::MAX, "cluster.region_max_keys")
    });
    let lock_wait_timeout = s
        .lock_wait_timeout
        .as_ref()
        .map_or(d.lock_wait_timeout, |t| {
            let v = c.duration(t, "cluster.lock_wait_timeout", false);
            if v > Duration::from_secs(60) {
                c.err(t, "cluster.lock_wait_timeout must be at most 60s");
            }
            v
        });
    let gc_life_time = s.gc_life_time.as_ref().map_or(d.gc_life_time, |t| {
        let v = c.duration(t, "cluster.gc_life_time", false);
        if v < MIN_GC_LIFE_TIME {
            c.err(t, "cluster.gc_life_time must be at least 1s");
        }
        v
    });
    let tls = check_tls(c, &TlsSpec::of_cluster(&s), Tls::server);
    let faults = s
        .faults
        .map_or(Faults::default(), |f| check_faults(c, f, stores));
    ClusterConfig {
        stores,
        region_max_keys,
        lock_wait_timeout,
        tiflash: s.tiflash.is_some_and(|t| t.value),
        gc_life_time,
        // Set by the caller, which knows the client's.
        api_version: ApiVersion::V1,
        keyspaces: Vec::new(),
        faults,
        tls,
    }
}

/// The `faults` section, store numbers checked against `stores`.
fn check_faults(c: &mut Checker, f: FaultsSpec, stores: u32) -> Faults {
    Faults {
        split_every: f
            .split_every
            .as_ref()
            .map(|v| c.duration(v, "faults.split_every", false)),
        transfer_leader_every: f
            .transfer_leader_every
            .as_ref()
            .map(|v| c.duration(v, "faults.transfer_leader_every", false)),
        store_offline: f.store_offline.map(|o| Outage {
            store: c.int(&o.store, 1, i64::from(stores), "faults.store_offline.store"),
            after: c.duration(&o.after, "faults.store_offline.after", true),
            duration: c.duration(&o.duration, "faults.store_offline.for", false),
            failover: o.failover.as_ref().map_or(Outage::DEFAULT_FAILOVER, |v| {
                c.duration(v, "faults.store_offline.failover", true)
            }),
        }),
        busy: probability(c, f.busy.as_ref(), "faults.busy"),
        busy_burst: f.busy_burst.map(|b| BusyBurst {
            after: c.duration(&b.after, "faults.busy_burst.after", true),
            duration: c.duration(&b.duration, "faults.busy_burst.for", false),
            probability: b
                .probability
                .as_ref()
                .map_or(BusyBurst::DEFAULT_PROBABILITY, |p| {
                    if !(p.value.is_finite() && p.value > 0.0 && p.value <= 1.0) {
                        c.err(
                            p,
                            format!(
                                "faults.busy_burst.probability is a probability in (0, 1], got {}",
                                p.value
                            ),
                        );
                    }
                    p.value
                }),
        }),
        busy_backoff: f.busy_backoff.as_ref().map_or(Duration::ZERO, |v| {
            c.duration(v, "faults.busy_backoff", true)
        }),
        latency: f
            .latency
            .as_ref()
            .map_or(Latency::default(), |v| latency(c, v, stores)),
        queue_wait: f
            .queue_wait
            .as_ref()
            .map_or(Duration::ZERO, |v| c.duration(v, "faults.queue_wait", true)),
        pair_error: probability(c, f.pair_error.as_ref(), "faults.pair_error"),
        transport_load: f
            .transport_load
            .as_ref()
            .map(|v| c.int(v, 0, i64::MAX, "faults.transport_load")),
    }
}

/// The latency fault: one duration for both cost classes, or each its own
/// (one left out: zero).
fn latency(c: &mut Checker, v: &Sp<LatencySpec>, stores: u32) -> Latency {
    match &v.value {
        LatencySpec::Same(text) => {
            let spanned = Sp {
                value: text.clone(),
                referenced: v.referenced,
                defined: v.defined,
            };
            Latency::same(c.duration(&spanned, "faults.latency", true))
        }
        LatencySpec::Split { read, write, store } => {
            let mut one = |d: &Option<Sp<String>>, what| {
                d.as_ref()
                    .map_or(Duration::ZERO, |d| c.duration(d, what, true))
            };
            Latency {
                read: one(read, "faults.latency.read"),
                write: one(write, "faults.latency.write"),
                store: store
                    .as_ref()
                    .map(|s| c.int::<u32>(s, 1, i64::from(stores), "faults.latency.store")),
            }
        }
    }
}

/// A fault's probability in [0, 1) (absent: 0).
fn probability(c: &mut Checker, p: Option<&Sp<f64>>, what: &str) -> f64 {
    p.map_or(0.0, |p| {
        if !(p.value.is_finite() && (0.0..1.0).contains(&p.value)) {
            c.err(
                p,
                format!("{what} is a probability in [0, 1), got {}", p.value),
            );
        }
        p.value
    })
}

pub(in crate::workload) fn check_thresholds(
    c: &mut Checker,
    specs: Vec<Sp<ThresholdSpec>>,
    ops: &[OpConfig],
) -> Vec<Threshold> {
    specs
        .iter()
        .filter_map(|t| match &t.value {
            ThresholdSpec::Text(text) => {
                let at = Sp {
                    value: text.clone(),
                    referenced: t.referenced,
                    defined: t.defined,
                };
                parse_threshold(c, &at, ops)
            }
            ThresholdSpec::Map {
                threshold,
                abort_on_fail,
                delay,
            } => {
                let Some(text) = threshold else {
                    c.err(
                        t,
                        format!(
                            "a threshold's map form needs 'threshold', e.g. {{threshold: \"p99 of read < 20ms\", abort_on_fail: true, delay: 5s}}; its keys: {}",
                            THRESHOLD_KEYS.join(", ")
                        ),
                    );
                    return None;
                };
                let abort = abort_on_fail.as_ref().is_some_and(|a| a.value);
                let delay = delay.as_ref().map_or(Duration::ZERO, |d| {
                    if !abort {
                        c.err(
                            d,
                            "'delay' is how long into the measured phase an aborting threshold waits before it is judged; it needs abort_on_fail: true",
                        );
                    }
                    c.duration(d, "a threshold's delay", true)
                });
                let th = parse_threshold(c, text, ops)?;
                if abort && th.fault().is_some() {
                    c.err(
                        text,
                        format!(
                            "threshold '{}' judges a fault's impact, which is known once the run is over; it cannot abort_on_fail",
                            th.text
                        ),
                    );
                    return None;
                }
                if abort && th.relative() {
                    c.err(
                        text,
                        format!(
                            "threshold '{}' is relative to a baseline, which is judged once the run is over; it cannot abort_on_fail. Give an absolute limit, e.g. \"p99 of read < 20ms\"",
                            th.text
                        ),
                    );
                    return None;
                }
                Some(Threshold {
                    abort: abort.then_some(delay),
                    ..th
                })
            }
        })
        .collect()
}

/// One condition in the thresholds' grammar, naming ops the workload has.
pub(in crate::workload) fn parse_threshold(
    c: &mut Checker,
    text: &Sp<String>,
    ops: &[OpConfig],
) -> Option<Threshold> {
    let names: Vec<(&str, &str)> = ops
        .iter()
        .map(|o| (o.name.as_str(), o.kind.type_name()))
        .collect();
    match Threshold::parse(&text.value).and_then(|th| th.check_op(&names).map(|()| th)) {
        Ok(th) => Some(th),
        Err(e) => {
            c.err(text, e.to_string());
            None
        }
    }
}
