#!/usr/bin/env bash
# False alarms of the regression gate: runs a workload N times in pairs of
# identical runs (same workload, same seed, same target, back to back) and
# judges the second run of each pair against the first with
# `run --baseline`, exactly as CI would. Nothing changed between the two,
# so every "regressed" verdict is a false alarm. Prints, per metric, how
# many pairs came out regressed, unchanged and improved, then the share of
# pairs with at least one regressed metric (what fails a build) with its
# 95% Wilson interval. With --repeat K each side is K runs (run --repeat
# K), judged together. With --baseline FILE every run is judged against
# that one baseline instead (how CI judges a build against a committed
# baseline), N runs in all.
# The workload's thresholds relative to a baseline are what is judged
# (workloads/regress-kv.yaml and workloads/ci-harness.yaml have them).
# Usage: scripts/false-alarms.sh [--workload F] [--target T] [--pairs N]
#                                [--repeat K] [--baseline FILE]
#                                [--out DIR] [--bin PATH]
#                                [-- EXTRA RUN FLAGS]
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/false-alarms.sh [--workload F] [--target T] [--pairs N] [--repeat K] [--baseline FILE] [--out DIR] [--bin PATH] [-- FLAGS]"
workload=workloads/regress-kv.yaml
target=embedded
pairs=20
repeat=1
fixed=""
out=""
bin=""
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --workload) workload="$2"; shift 2 ;;
        --target) target="$2"; shift 2 ;;
        --pairs) pairs="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        --baseline) fixed="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
command -v jq >/dev/null || { echo "false-alarms.sh needs jq" >&2; exit 2; }
[ -f "$workload" ] || { echo "$workload: no such workload" >&2; exit 2; }
if [ -z "$bin" ]; then
    cargo build --release --locked --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/tikv-bench"
fi
out="${out:-$(mktemp -d)}"
mkdir -p "$out"

# One side of a pair: a run (or K repeats) into $1, judged against $2 when
# given. Exit 1 (a regression) is what this script counts, not a failure.
side() {
    local dir="$1" base="${2:-}" args=()
    [ "$repeat" -gt 1 ] && args+=(--repeat "$repeat")
    [ -n "$base" ] && args+=(--baseline "$base")
    "$bin" run "$workload" --target "$target" --out "$dir" --progress off \
        --no-report "${args[@]}" "${extra[@]}" >"$dir.log" 2>&1 || {
        local rc=$?
        [ "$rc" -eq 1 ] || { echo "run into $dir failed ($rc): see $dir.log" >&2; exit "$rc"; }
    }
}

# The file that stands for a side: its result, or the index of its repeats.
stands_for() {
    if [ "$repeat" -gt 1 ]; then echo "$1/index.json"; else echo "$1/result.json"; fi
}

# The comparison a judged side wrote.
comparison() {
    if [ "$repeat" -gt 1 ]; then cat "$1/baseline.json"; else jq '.baseline' "$1/result.json"; fi
}

for i in $(seq 1 "$pairs"); do
    if [ -n "$fixed" ]; then
        side "$out/pair-$i-b" "$fixed"
    else
        side "$out/pair-$i-a"
        side "$out/pair-$i-b" "$(stands_for "$out/pair-$i-a")"
    fi
    comparison "$out/pair-$i-b" >"$out/pair-$i.json"
    printf 'pair %d/%d: %s\n' "$i" "$pairs" \
        "$(jq -r '[.verdicts[] | "\(.metric) \(.verdict)"] | join(", ")' "$out/pair-$i.json")"
done

echo
if [ -n "$fixed" ]; then
    echo "$pairs runs of $workload on --target $target (--repeat $repeat), each judged against $fixed, $(date -u +%Y-%m-%d):"
else
    echo "$pairs pairs of identical runs of $workload on --target $target (--repeat $repeat), $(date -u +%Y-%m-%d):"
fi
jq -rs --argjson n "$pairs" '
  (map(.verdicts[]) | group_by(.threshold)
   | map({t: .[0].threshold,
          r: map(select(.verdict == "regressed")) | length,
          u: map(select(.verdict == "unchanged")) | length,
          i: map(select(.verdict == "improved")) | length})) as $rows
  | "| threshold | regressed | unchanged | improved |",
    "|---|---:|---:|---:|",
    ($rows[] | "| `\(.t)` | \(.r) | \(.u) | \(.i) |"),
    "",
    (map(select(any(.verdicts[]; .verdict == "regressed"))) | length) as $k
    | ($k / $n) as $p | 1.96 as $z
    | (($p + $z*$z/(2*$n)) / (1 + $z*$z/$n)) as $c
    | ($z * ((($p*(1-$p)/$n) + ($z*$z/(4*$n*$n))) | sqrt) / (1 + $z*$z/$n)) as $h
    | "false alarms: \($k) of \($n) failed (\($p*100 | floor)%; 95% Wilson interval \((([$c-$h,0]|max)*100*10|round)/10)%-\((($c+$h)*100*10|round)/10)%)"
' "$out"/pair-*.json
echo "results: $out"
