#!/usr/bin/env bash
# How exactly the open-loop scheduler keeps its schedule: runs the noop target
# (which answers at once, so everything measured is the harness's own) open
# loop at each rate, several rounds each, and prints per round and, per rate,
# for the round with the lowest lateness p99 ("best of"):
#   lateness  how late each send started after its slot: actual start minus
#             intended start (driver_check.lateness_us, all sends together).
#             This is the latency the harness adds; with noop the rest of an
#             op's latency is its service time.
#   service   the op's own time from its actual start (noop: about 1 us).
#   latency   from the intended start: lateness + service.
#   cpu       the tikv-bench process's CPU over the whole run, in cores.
#   others    CPU used by everything else on the machine meanwhile, in cores
#             (from /proc/stat; a busy neighbour spoils a round's tail).
# A binary without the lateness histogram (an older tikv-bench) shows "-"
# there; its latency is then the harness-added figure (noop's service time
# is about 1 us).
#
# Usage: scripts/bench-pacing.sh [--rounds N] [--rates "1000 10000 100000"]
#          [--duration 3s] [--concurrency 16] [--bin PATH]
# Needs a release build (built here unless --bin is given) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
rates="1000 10000 100000"
duration=3s
concurrency=16
bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --rates) rates="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v jq >/dev/null || { echo "bench-pacing.sh needs jq" >&2; exit 2; }
if [ -z "$bin" ]; then
    cargo build --release --bin tikv-bench
    bin="${CARGO_TARGET_DIR:-target}/release/tikv-bench"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pacing.yaml" <<EOF
name: pacing
description: one get op against the noop target, open loop
load: {records: 0}
concurrency: $concurrency
warmup: 1s
duration: $duration
ops:
  - {name: read, type: get, weight: 1}
EOF

# Busy jiffies (all but idle and iowait) and all jiffies, machine-wide.
jiffies() { awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat 2>/dev/null || echo "0 0"; }
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)

# One round at rate $1: prints "late_p50 late_p99 late_max svc_p50 svc_p99
# lat_p50 lat_p99 lat_max cpu others" (microseconds, cores).
round() {
    local rate=$1 out="$work/out" t0 t1 busy0 busy1 times user sys real
    rm -rf "$out"
    read -r busy0 _ < <(jiffies)
    TIMEFORMAT='%U %S %R'
    times=$( { time "$bin" run "$work/pacing.yaml" --target noop --rate "$rate" \
        --progress off --no-report -o "$out" >/dev/null 2>"$work/stderr"; } 2>&1 ) || {
        cat "$work/stderr" >&2; exit 1; }
    read -r busy1 _ < <(jiffies)
    read -r user sys real <<<"$times"
    jq -r --argjson user "$user" --argjson sys "$sys" --argjson real "$real" \
        --argjson busy "$(( busy1 - busy0 ))" --argjson hz "$hz" '
        def f: if . == null then "-" else tostring end;
        (.driver_check.lateness_us // null) as $l
        | .ops.read as $o
        | (($user + $sys) / $real) as $cpu
        | ([($busy / $hz - $user - $sys) / $real, 0] | max) as $others
        | [($l.p50 | f), ($l.p99 | f), ($l.max | f),
           ($o.service_us.p50 | f), ($o.service_us.p99 | f),
           $o.latency_us.p50, $o.latency_us.p99, $o.latency_us.max,
           ($cpu * 100 | round / 100), ($others * 100 | round / 100)]
        | map(tostring) | join(" ")' "$out/result.json"
}

row() { printf '%-7s %-6s %8s %8s %8s %7s %7s %7s %7s %8s %5s %6s\n' "$@"; }
echo "binary: $bin ($("$bin" --version 2>/dev/null || echo '?')); $(nproc) cores; $concurrency workers; $duration measured after 1s warmup"
echo "figures in microseconds; cpu and others in cores"
row rate round late_p50 late_p99 late_max svc_p50 svc_p99 lat_p50 lat_p99 lat_max cpu others
summary=()
for rate in $rates; do
    best="" best_p99="" spread=()
    for r in $(seq "$rounds"); do
        line=$(round "$rate")
        # shellcheck disable=SC2086 # the fields of one round
        row "$rate" "$r" $line
        read -r _ p99 _ _ _ _ lp99 _ <<<"$line"
        key=$([ "$p99" = "-" ] && echo "$lp99" || echo "$p99")
        spread+=("$key")
        if [ -z "$best" ] || [ "$key" -lt "$best_p99" ]; then
            best="$line" best_p99="$key"
        fi
    done
    summary+=("$rate|$best|$(printf '%s\n' "${spread[@]}" | sort -n | tr '\n' ' ')")
done
echo
echo "best of $rounds per rate (lowest lateness p99, or latency p99 when lateness is absent), with that p99 in every round:"
row rate "" late_p50 late_p99 late_max svc_p50 svc_p99 lat_p50 lat_p99 lat_max cpu others
for s in "${summary[@]}"; do
    IFS='|' read -r rate best spread <<<"$s"
    # shellcheck disable=SC2086 # the fields of one round
    row "$rate" best $best
    echo "        p99 over rounds: $spread"
done
