//! Checking a parsed workload file: every default filled in, every value
//! checked against its range and against the rest of the file, every problem
//! reported at once with the position of the value at fault.

use std::path::Path;
use std::time::Duration;

mod checks;
mod keyspaces;
mod settings;
mod stages;
mod tls;

use super::Diagnostic;
use super::checked::*;
use super::ops::{self, Fields};
use super::spec::*;
use super::sweep::check_sweep;
use crate::vocab::ApiVersion;
use settings::{check_client, check_cluster, check_thresholds};

/// Collects diagnostics while checking a spec.
pub struct Checker<'a> {
    pub diags: &'a mut Vec<Diagnostic>,
    /// The directory relative paths (TLS files) are taken from: the
    /// workload file's.
    pub base: &'a Path,
    /// The client's api-version as written (V1 when not), for the fields
    /// that depend on it (an op's `ttl`).
    pub api_version: ApiVersion,
}

impl Checker<'_> {
    pub fn err<T>(&mut self, at: &Sp<T>, message: impl Into<String>) {
        self.diags.push(Diagnostic::at(
            at.referenced.line(),
            at.referenced.column(),
            message,
        ));
    }

    /// Checks `lo <= v <= hi` for a spanned integer and returns it.
    pub fn int<T: TryFrom<i64> + Default>(
        &mut self,
        v: &Sp<i64>,
        lo: i64,
        hi: i64,
        what: &str,
    ) -> T {
        self.int_at(v, v.value, lo, hi, what)
    }

    /// Checks `lo <= n <= hi` for integer `n` written at `at`.
    pub fn int_at<T: TryFrom<i64> + Default, U>(
        &mut self,
        at: &Sp<U>,
        n: i64,
        lo: i64,
        hi: i64,
        what: &str,
    ) -> T {
        if n < lo || n > hi {
            let msg = if hi == i64::MAX {
                format!("{what} must be at least {lo}, got {n}")
            } else {
                format!("{what} must be between {lo} and {hi}, got {n}")
            };
            self.err(at, msg);
            return T::try_from(lo).unwrap_or_default();
        }
        T::try_from(n).unwrap_or_default()
    }

    pub fn fraction(&mut self, v: &Sp<f64>, lo_open: bool, what: &str) -> f64 {
        let ok = v.value.is_finite()
            && v.value <= 1.0
            && if lo_open {
                v.value > 0.0
            } else {
                v.value >= 0.0
            };
        if !ok {
            let lo = if lo_open { "(0" } else { "[0" };
            self.err(v, format!("{what} must be in {lo}, 1], got {}", v.value));
        }
        v.value
    }

    pub fn duration(&mut self, v: &Sp<String>, what: &str, allow_zero: bool) -> Duration {
        match humantime::parse_duration(v.value.trim()) {
            Ok(d) if allow_zero || !d.is_zero() => d,
            Ok(_) => {
                self.err(v, format!("{what} must be greater than zero"));
                Duration::from_secs(1)
            }
            Err(e) => {
                self.err(
                    v,
                    format!(
                        "{what}: cannot read '{}' as a duration ({e}); write e.g. 500ms, 2s, 1m",
                        v.value
                    ),
                );
                Duration::from_secs(1)
            }
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

const NAME_RULE: &str = "use 1-64 letters, digits, '_', '-' or '.'";

/// The client's api-version as written (V1 when not).
fn client_api_version(spec: &WorkloadSpec) -> ApiVersion {
    spec.client
        .as_ref()
        .and_then(|s| s.api_version.as_ref())
        .map_or(ApiVersion::V1, |v| v.value)
}

/// Checks a parsed spec, taking relative paths from `base`. Returns the
/// workload, or every problem found.
pub fn validate(spec: WorkloadSpec, base: &Path) -> Result<Workload, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let api = client_api_version(&spec);
    let mut c = Checker {
        diags: &mut diags,
        base,
        api_version: api,
    };

    if !valid_name(&spec.name.value) {
        c.err(
            &spec.name,
            format!("invalid name '{}': {NAME_RULE}", spec.name.value),
        );
    }

    stages::check_replaced(&mut c, &spec);
    let keys = check_keys(&mut c, spec.keys);
    let values = check_values(&mut c, spec.values);
    let load = check_load(&mut c, spec.load, &keys);
    let warmup = spec
        .warmup
        .map_or(Duration::ZERO, |w| c.duration(&w, "warmup", true));
    let stop = check_stop(&mut c, spec.duration, spec.operations);
    let concurrency = spec.concurrency.map_or(DEFAULT_CONCURRENCY, |n| {
        c.int(&n, 1, 100_000, "concurrency")
    });
    let rate = spec.rate.map(|r| check_rate(&mut c, &r));

    let check_ops_added = checks::adds_ops(&spec.checks);
    let mut ops = check_ops(&mut c, spec.ops, &keys, check_ops_added, api);
    let checks = checks::check_checks(&mut c, spec.checks, &keys, &values, &mut ops);
    // TiKV's raw CAS is atomic only against writes that ask for it.
    let uses_cas = ops.iter().any(|o| matches!(o.kind, OpKind::Cas(_)))
        || checks.inventory.is_some()
        || checks.lock.is_some();
    let client_tls = spec.client.as_ref().map(tls::TlsSpec::of_client);
    let cluster_tls = spec.cluster.as_ref().map(tls::TlsSpec::of_cluster);
    let client = check_client(&mut c, spec.client, uses_cas);
    let cluster = cluster_of(&mut c, spec.cluster, &client);
    tls::check_pairing(&mut c, client_tls.as_ref(), cluster_tls.as_ref());
    let sweep = spec
        .sweep
        .and_then(|s| check_sweep(&mut c, s, &keys, &ops, &checks));
    let thresholds = check_thresholds(&mut c, spec.thresholds.unwrap_or_default(), &ops);
    let stages = stages::check_stages(&mut c, spec.stages);
    let search = stages::check_search(&mut c, spec.search, &ops);

    if diags.is_empty() {
        Ok(stages::settle(Workload {
            name: spec.name.value,
            description: spec.description,
            seed: spec.seed.unwrap_or(DEFAULT_SEED),
            keys,
            values,
            load,
            warmup,
            stop,
            concurrency,
            rate,
            ops,
            client,
            cluster,
            checks,
            sweep,
            thresholds,
            stages,
            search,
        }))
    } else {
        Err(diags)
    }
}

/// The embedded cluster: the stand-in stores what the client speaks
/// unless told otherwise.
fn cluster_of(c: &mut Checker, spec: Option<ClusterSpec>, client: &ClientConfig) -> ClusterConfig {
    let mut cluster_spec = spec;
    let (api_version, keyspaces) = cluster_spec
        .as_mut()
        .map_or((None, None), |s| (s.api_version.take(), s.keyspaces.take()));
    let mut cluster = cluster_spec.map_or_else(ClusterConfig::default, |s| check_cluster(c, s));
    cluster.api_version = api_version.map_or(client.api_version, |v| v.value);
    cluster.keyspaces = match keyspaces {
        Some(names) => names.into_iter().map(|n| n.value).collect(),
        None => client.keyspace.iter().cloned().collect(),
    };
    cluster
}

fn check_values(c: &mut Checker, spec: Option<ValuesSpec>) -> Values {
    let Some(sz) = spec.and_then(|v| v.size) else {
        return Values {
            size: SizeRange {
                min: DEFAULT_VALUE_SIZE,
                max: DEFAULT_VALUE_SIZE,
            },
        };
    };
    let r = sz.value;
    if r.min < 1 || r.max > MAX_VALUE_SIZE || r.min > r.max {
        c.err(
            &sz,
            format!(
                "value size must satisfy 1 <= min <= max <= {MAX_VALUE_SIZE}, got min {} max {}",
                r.min, r.max
            ),
        );
    }
    Values {
        size: SizeRange {
            min: r.min,
            max: r.max,
        },
    }
}

fn check_load(c: &mut Checker, spec: Option<LoadSpec>, keys: &KeySpace) -> Load {
    let Some(l) = spec else {
        return Load {
            records: keys.records,
            batch: DEFAULT_LOAD_BATCH,
            concurrency: DEFAULT_LOAD_CONCURRENCY,
        };
    };
    Load {
        records: l.records.map_or(keys.records, |r| {
            c.int(&r, 0, keys.records as i64, "load.records")
        }),
        batch: l
            .batch
            .map_or(DEFAULT_LOAD_BATCH, |b| c.int(&b, 1, 100_000, "load.batch")),
        concurrency: l.concurrency.map_or(DEFAULT_LOAD_CONCURRENCY, |n| {
            c.int(&n, 1, 4096, "load.concurrency")
        }),
    }
}

/// When the measured phase ends: a duration or an op count, not both.
fn check_stop(c: &mut Checker, duration: Option<Sp<String>>, operations: Option<Sp<i64>>) -> Stop {
    match (duration, operations) {
        (Some(_), Some(ops)) => {
            c.err(&ops, "give either 'duration' or 'operations', not both");
            Stop::Operations(ops.value.max(1) as u64)
        }
        (Some(d), None) => Stop::Duration(c.duration(&d, "duration", false)),
        (None, Some(ops)) => Stop::Operations(c.int(&ops, 1, i64::MAX, "operations")),
        (None, None) => Stop::Duration(DEFAULT_DURATION),
    }
}

fn check_rate(c: &mut Checker, r: &Sp<f64>) -> f64 {
    if !(r.value.is_finite() && r.value > 0.0) {
        c.err(
            r,
            format!("rate must be a positive number of ops/s, got {}", r.value),
        );
    }
    r.value
}

fn check_keys(c: &mut Checker, spec: Option<KeysSpec>) -> KeySpace {
    let Some(k) = spec else {
        return KeySpace {
            records: DEFAULT_RECORDS,
            prefix: DEFAULT_PREFIX.into(),
            txn_prefix: DEFAULT_PREFIX.into(),
            size: DEFAULT_KEY_SIZE,
            distribution: Distribution::Uniform,
        };
    };
    let records = k
        .records
        .as_ref()
        .map_or(DEFAULT_RECORDS, |r| c.int(r, 1, i64::MAX, "keys.records"));
    let size = k.size.as_ref().map_or(DEFAULT_KEY_SIZE, |s| {
        c.int(s, 1, i64::from(MAX_KEY_SIZE), "keys.size")
    });
    let prefix = k
        .prefix
        .as_ref()
        .map_or(DEFAULT_PREFIX.to_string(), |p| p.value.clone());
    let txn_prefix = k
        .txn_prefix
        .as_ref()
        .map_or(prefix.clone(), |p| p.value.clone());
    let space = KeySpace {
        records,
        prefix,
        txn_prefix,
        size,
        distribution: Distribution::Uniform,
    };
    check_key_room(c, &k, &space);
    KeySpace {
        distribution: check_distribution(c, &k),
        ..space
    }
}

/// The records must fit the digits the key size leaves after each prefix.
fn check_key_room(c: &mut Checker, k: &KeysSpec, space: &KeySpace) {
    let (records, size) = (space.records, space.size);
    let longest = [
        (Api::Raw, "prefix", k.prefix.as_ref()),
        (Api::Txn, "txn_prefix", k.txn_prefix.as_ref()),
    ]
    .into_iter()
    .max_by_key(|(api, ..)| space.prefix_of(*api).len())
    .expect("two prefixes");
    let (api, field, spanned) = longest;
    let prefix = space.prefix_of(api);
    if prefix.len() as u32 >= size {
        let msg = format!(
            "keys.size {size} leaves no room for digits after the {}-byte {field} '{prefix}'",
            prefix.len(),
        );
        match (spanned.or(k.prefix.as_ref()), k.size.as_ref()) {
            (_, Some(s)) => c.err(s, msg),
            (Some(p), None) => c.err(p, msg),
            (None, None) => {}
        }
    } else if space.capacity() < records {
        let msg = format!(
            "{records} records need more than the {} digits that keys.size {size} leaves after the {field}",
            space.digits(api)
        );
        match (k.records.as_ref(), k.size.as_ref()) {
            (Some(r), _) => c.err(r, msg),
            (None, Some(s)) => c.err(s, msg),
            (None, None) => {}
        }
    }
}

/// The distribution, with only its own parameters.
fn check_distribution(c: &mut Checker, k: &KeysSpec) -> Distribution {
    let name = k
        .distribution
        .as_ref()
        .map_or(DistributionName::Uniform, |d| d.value);
    let zipf_like = matches!(name, DistributionName::Zipfian | DistributionName::Latest);
    if !zipf_like && let Some(t) = &k.theta {
        c.err(
            t,
            "'theta' applies only to the zipfian and latest distributions",
        );
    }
    if name != DistributionName::Zipfian
        && let Some(s) = &k.scramble
    {
        c.err(s, "'scramble' applies only to the zipfian distribution");
    }
    if name != DistributionName::Hotspot {
        for f in [&k.hot_set, &k.hot_ops].into_iter().flatten() {
            c.err(
                f,
                "'hot_set' and 'hot_ops' apply only to the hotspot distribution",
            );
        }
    }
    let theta = || k.theta.as_ref().map_or(DEFAULT_THETA, |t| t.value);
    if let Some(t) = &k.theta
        && zipf_like
        && !(t.value.is_finite() && t.value > 0.0 && t.value <= 10.0)
    {
        c.err(t, format!("theta must be in (0, 10], got {}", t.value));
    }
    match name {
        DistributionName::Uniform => Distribution::Uniform,
        DistributionName::Zipfian => Distribution::Zipfian {
            theta: theta(),
            scramble: k.scramble.as_ref().is_none_or(|s| s.value),
        },
        DistributionName::Latest => Distribution::Latest { theta: theta() },
        DistributionName::Hotspot => Distribution::Hotspot {
            hot_set: k
                .hot_set
                .as_ref()
                .map_or(DEFAULT_HOT_SET, |f| c.fraction(f, true, "hot_set")),
            hot_ops: k
                .hot_ops
                .as_ref()
                .map_or(DEFAULT_HOT_OPS, |f| c.fraction(f, false, "hot_ops")),
        },
        DistributionName::Sequential => Distribution::Sequential,
    }
}

/// Checks the op mix; `checks_add_ops`: the checks add ops of their own, so
/// the mix may be empty or all weight 0; `api`: the client's api_version.
fn check_ops(
    c: &mut Checker,
    ops: Sp<Vec<OpSpec>>,
    keys: &KeySpace,
    checks_add_ops: bool,
    api: ApiVersion,
) -> Vec<OpConfig> {
    if ops.value.is_empty() {
        if !checks_add_ops {
            c.err(
                &ops,
                format!(
                    "'ops' is empty; list at least one op ({})",
                    ops::TYPES.join(", ")
                ),
            );
        }
        return Vec::new();
    }
    if !checks_add_ops && ops.value.iter().all(|o| o.weight.value == 0) {
        c.err(
            &ops,
            "every op has weight 0; give at least one op a positive weight",
        );
    }
    let mut out: Vec<OpConfig> = Vec::with_capacity(ops.value.len());
    for o in &ops.value {
        let name = op_name(c, o, &out);
        let fields = Fields {
            op_type: &o.op_type,
            list: &o.fields,
        };
        let Some(kind) = ops::check(&o.op_type.value, c, &fields, keys) else {
            c.err(
                &o.op_type,
                format!(
                    "unknown op type '{}', expected one of {}",
                    o.op_type.value,
                    ops::TYPES.join(", ")
                ),
            );
            continue;
        };
        let weight = c.int(&o.weight, 0, 1_000_000, "weight");
        out.push(OpConfig { name, kind, weight });
    }
    keyspaces::check_key_spaces(c, keys, &ops.value, &out, api);
    out
}

/// An op's name: as given (valid and unique), or its type when that is
/// unique.
fn op_name(c: &mut Checker, o: &OpSpec, earlier: &[OpConfig]) -> String {
    match &o.name {
        Some(n) => {
            if !valid_name(&n.value) {
                c.err(n, format!("invalid op name '{}': {NAME_RULE}", n.value));
            }
            if earlier.iter().any(|p| p.name == n.value) {
                c.err(
                    n,
                    format!("op name '{}' is used twice; names must be unique", n.value),
                );
            }
            n.value.clone()
        }
        None => {
            let t = &o.op_type.value;
            if earlier.iter().any(|p| p.name == *t) {
                c.err(
                    &o.op_type,
                    format!("a second '{t}' op needs a 'name' to tell it apart"),
                );
            }
            t.clone()
        }
    }
}
