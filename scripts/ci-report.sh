#!/usr/bin/env bash
# Runs a shortened lock sweep (optimistic vs pessimistic as contention grows)
# on the embedded stand-in cluster and renders every report into reports/ci/:
# one report.html per cell, index.json, and compare/compare.html with the
# contention chart; then the SLO search against the noop target of known
# capacity (4 slots of 10 ms), into OUT_DIR/capacity, which must converge
# below 400 ops/s and within 15% of it; then the harness's own regression
# gate: workloads/ci-harness.yaml on the noop target, judged against the
# committed baseline .ci/baselines/harness-noop.json (docs/regressions.md),
# which fails CI on a regression and leaves its Markdown summary and JUnit
# XML beside the reports. Usage: scripts/ci-report.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-reports/ci}"
rm -rf "$out"
mkdir -p "$out"
cargo run --release --locked --quiet -- run workloads/lock-sweep.yaml \
    --out "$out" --duration 2s --warmup 500ms --progress lines | tee "$out/run.log"
test -f "$out/compare/compare.html"
test -f "$out/compare/contention.png"
cargo run --release --locked --quiet -- run workloads/capacity-noop.yaml \
    --target noop --service-time 10ms --slots 4 --out "$out/capacity" \
    --progress lines | tee "$out/capacity.log"
test -f "$out/capacity/curve.png"
if command -v jq >/dev/null; then
    jq -e '.search.ended == "converged" and .search.best_rate <= 400 and .search.best_rate >= 340' \
        "$out/capacity/result.json" >/dev/null
else
    grep -q '"ended": "converged"' "$out/capacity/result.json"
fi || { echo "ci-report: the search missed the known capacity" >&2; exit 1; }
cargo run --release --locked --quiet -- run workloads/ci-harness.yaml \
    --target noop --baseline .ci/baselines/harness-noop.json --out "$out/harness" \
    --markdown "$out/harness.md" --junit "$out/harness.xml" --progress lines \
    | tee "$out/harness.log" \
    || { echo "ci-report: the harness regressed against its baseline:" >&2; cat "$out/harness.md" >&2; exit 1; }
cat "$out/harness.md"
# The gate must be able to fail: the same run with every op held 2 ms (the
# size of the timer lateness the harness once had; 64 workers and slots,
# so that the schedule is still kept) has to regress p50.
set +e
cargo run --release --locked --quiet -- run workloads/ci-harness.yaml \
    --target noop --service-time 2ms --slots 64 --concurrency 64 --no-report \
    --baseline .ci/baselines/harness-noop.json --out "$out/harness-late" \
    --markdown "$out/harness-late.md" --progress off > "$out/harness-late.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "baseline regressed: p50 of read" "$out/harness-late.log"; then
    echo "ci-report: the harness gate did not catch 2 ms of added latency (exit $rc)" >&2
    exit 1
fi
echo "ci-report: $out/compare/compare.html, $out/capacity/report.html, $out/harness/report.html"
