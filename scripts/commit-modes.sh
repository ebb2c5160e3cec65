#!/usr/bin/env bash
# The README's commit-mode table: workloads/commit-modes.yaml (two-key
# transactions on one region, store writes 5 ms on the wire) swept over
# commit 2pc, async and 1pc, N rounds round by round (all three cells, then
# all three again, ...), then a Markdown table per mode: txn p50 and p99
# (median of the rounds [lowest-highest]), p50 as a ratio of 2PC's and the
# p50 saved against 2PC in write round trips, where one write round trip is
# the raw put's p50 in the same runs.
# With --results DIR, only the table of an earlier run's DIR.
# Usage: scripts/commit-modes.sh [--rounds N] [--duration D] [--out DIR] [--results DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
duration=""
out=""
results=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --results) results="$2"; shift 2 ;;
        *) echo "usage: scripts/commit-modes.sh [--rounds N] [--duration D] [--out DIR] [--results DIR]" >&2; exit 2 ;;
    esac
done
if [ -n "$results" ]; then
    out="$results"
else
    out="${out:-$(mktemp -d)}"
    cargo run --release --locked --quiet -- run workloads/commit-modes.yaml \
        --repeat "$rounds" --out "$out" --progress lines --no-report \
        ${duration:+--duration "$duration"}
fi
python3 - "$out" <<'PY'
import glob, json, os, statistics, sys

out = sys.argv[1]
modes = ["2pc", "async", "1pc"]

def runs(mode):
    paths = sorted(glob.glob(os.path.join(out, f"commit-{mode}", "repeat-*", "result.json")))
    if not paths:
        sys.exit(f"no results for commit-{mode} under {out}")
    return [json.load(open(p)) for p in paths]

def lat(r, op, q):
    return r["ops"][op]["latency_us"][q] / 1000.0

def fig(values, unit="ms"):
    med = statistics.median(values)
    return f"{med:.2f} [{min(values):.2f}–{max(values):.2f}] {unit}"

results = {m: runs(m) for m in modes}
base = [lat(r, "txn", "p50") for r in results["2pc"]]
base_med = statistics.median(base)
puts = [lat(r, "put", "p50") for m in modes for r in results[m]]
rtt = statistics.median(puts)
print()
print(f"Rounds: {len(base)} per mode; results under {out}")
print()
print("| commit | txn p50 | txn p99 | p50 / 2pc p50 | p50 saved vs 2pc | committed txn/s | write round trip (put p50) |")
print("|---|---|---|---|---|---|---|")
for m in modes:
    rs = results[m]
    p50 = [lat(r, "txn", "p50") for r in rs]
    p99 = [lat(r, "txn", "p99") for r in rs]
    put = [lat(r, "put", "p50") for r in rs]
    ok = [r["ops"]["txn"]["ok_per_s"] for r in rs]
    med = statistics.median(p50)
    saved = base_med - med
    print(
        f"| {m} | {fig(p50)} | {fig(p99)} | {med / base_med:.2f} | "
        f"{saved:.2f} ms = {saved / rtt:.2f} round trips | "
        f"{statistics.median(ok):,.0f} [{min(ok):,.0f}–{max(ok):,.0f}] | {fig(put)} |"
    )
print()
print(f"One write round trip (put p50, median over every run): {rtt:.2f} ms")
PY
