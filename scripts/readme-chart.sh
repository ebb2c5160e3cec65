#!/usr/bin/env bash
# Regenerates docs/img/contention.png, the chart README.md shows: the full
# lock sweep on the embedded cluster (about a minute), then its contention
# chart. Usage: scripts/readme-chart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
cargo run --release --locked --quiet -- run workloads/lock-sweep.yaml --out "$out" --progress lines --no-report
mkdir -p docs/img
cp "$out/compare/contention.png" docs/img/contention.png
echo "docs/img/contention.png from $out/compare/compare.html"
