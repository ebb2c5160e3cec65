#!/usr/bin/env bash
# Regenerates docs/img/contention.png and the figures of README.md's lock-sweep
# table: the full lock sweep on the embedded cluster, each cell run 3 times
# (about four minutes), then its comparison, whose chart shows each cell's
# median with its range. The table printed at the end (each cell's median
# [lowest - highest]) is what the README's table states.
# Usage: scripts/readme-chart.sh [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=3
case "${1:-}" in
    --repeat) repeat="$2" ;;
    "") ;;
    *) echo "usage: scripts/readme-chart.sh [--repeat N]" >&2; exit 2 ;;
esac
out="$(mktemp -d)"
cargo run --release --locked --quiet -- run workloads/lock-sweep.yaml --repeat "$repeat" \
    --out "$out" --progress lines --no-report
mkdir -p docs/img
cp "$out/compare/contention.png" docs/img/contention.png
echo "docs/img/contention.png from $out/compare/compare.html"
