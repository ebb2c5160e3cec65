#!/usr/bin/env bash
# Runs a shortened lock sweep (optimistic vs pessimistic as contention grows)
# on the embedded stand-in cluster and renders every report into reports/ci/:
# one report.html per cell, index.json, and compare/compare.html with the
# contention chart. Usage: scripts/ci-report.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-reports/ci}"
rm -rf "$out"
mkdir -p "$out"
cargo run --release --locked --quiet -- run workloads/lock-sweep.yaml \
    --out "$out" --duration 2s --warmup 500ms --progress lines | tee "$out/run.log"
test -f "$out/compare/compare.html"
test -f "$out/compare/contention.png"
echo "ci-report: $out/compare/compare.html"
