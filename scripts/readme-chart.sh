#!/usr/bin/env bash
# Regenerates docs/img/contention.png and the figures of README.md's lock-sweep
# table: the full lock sweep on the embedded cluster, each cell run 3 times
# (about four minutes), then its comparison, whose chart shows each cell's
# median with its range. The table printed at the end (each cell's median
# [lowest - highest]) is what the README's table states.
# With --workload workloads/lock-sweep-tikv.yaml, the sweep under the
# TiKV-like cost model instead, its chart docs/img/contention-tikv.png.
# Usage: scripts/readme-chart.sh [--repeat N] [--workload FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=3
workload=workloads/lock-sweep.yaml
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) repeat="$2"; shift 2 ;;
        --workload) workload="$2"; shift 2 ;;
        *) echo "usage: scripts/readme-chart.sh [--repeat N] [--workload FILE]" >&2; exit 2 ;;
    esac
done
png=docs/img/contention.png
if [ "$workload" != workloads/lock-sweep.yaml ]; then
    png="docs/img/contention-$(basename "$workload" .yaml | sed 's/^lock-sweep-//').png"
fi
out="$(mktemp -d)"
cargo run --release --locked --quiet -- run "$workload" --repeat "$repeat" \
    --out "$out" --progress lines --no-report
mkdir -p docs/img
cp "$out/compare/contention.png" "$png"
echo "$png from $out/compare/compare.html"
