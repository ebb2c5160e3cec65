#!/usr/bin/env bash
# Capacity: the SLO search of a workload (default workloads/capacity-lock.yaml,
# the lock sweep's hottest cell in both lock modes), run N rounds on a
# release build (`run --repeat N`: every cell once, then every cell again,
# ...). Prints, per result or sweep cell, the search's answer over the
# rounds: the highest rate that met the SLO and what the target achieved
# there (median [lowest-highest]), the first rate that failed and why, how
# each search ended. Writes the comparison page (every round's curve on
# one chart, the answers' table) into OUT/compare; with --readme, also
# copies its curve chart to docs/img/<workload>.png (its file name, capacity- prefixed unless it is).
# With --results DIR, only the answers and the page of an earlier run's DIR.
# --bin PATH runs that tikv-bench binary instead of building a release one.
# Usage: scripts/capacity.sh [--workload F] [--rounds N] [--out DIR]
#                            [--results DIR] [--readme] [--bin PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/capacity.sh [--workload F] [--rounds N] [--out DIR] [--results DIR] [--readme] [--bin PATH]"
workload=workloads/capacity-lock.yaml
rounds=3
out=""
results=""
readme=""
bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --workload) workload="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --results) results="$2"; shift 2 ;;
        --readme) readme=1; shift ;;
        --bin) bin="$2"; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
command -v jq >/dev/null || { echo "capacity.sh needs jq" >&2; exit 2; }
if [ -z "$bin" ]; then
    cargo build --release --locked --quiet
    bin=target/release/tikv-bench
    [ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/tikv-bench"
fi
if [ -n "$results" ]; then
    out="$results"
else
    [ -f "$workload" ] || { echo "$workload: no such workload" >&2; exit 2; }
    out="${out:-$(mktemp -d)}"
    "$bin" run "$workload" --repeat "$rounds" --out "$out" --progress lines --no-report
fi

# The results of the run: index.json lists them (a sweep, or several
# rounds); a lone run wrote result.json.
result_files() {
    if [ -f "$1/index.json" ]; then
        jq -r '.cells[].result' "$1/index.json" | sed "s|^|$1/|"
    elif [ -f "$1/result.json" ]; then
        echo "$1/result.json"
    else
        echo "$1: neither index.json nor result.json" >&2
        return 1
    fi
}

# The answers' table from the results (JSON) on stdin: one row per sweep
# cell (or workload), its rounds' searches combined.
answers() {
    jq -rs '
      def median: sort | if length == 0 then null
        elif length % 2 == 1 then .[(length - 1) / 2]
        else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def fig: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
      def spread($xs): ($xs | map(select(. != null))) as $v
        | if ($v | length) == 0 then "-"
          elif ($v | length) == 1 then ($v[0] | fig)
          else "\($v | median | fig) [\($v | min | fig)-\($v | max | fig)]" end;
      map(select(.search != null)
          | {label: (.sweep.id // .name), slo: (.search.slo | join(" and ")),
             best: .search.best_rate, achieved: .search.best_achieved_per_s,
             failed: .search.first_failed_rate, why: (.search.why | join("; ")),
             ended: .search.ended})
      | if length == 0 then error("no result holds a search") else . end
      | group_by(.label)
      | (["result", "rounds", "SLO", "best rate/s", "achieved/s", "first failed/s", "why (last round)", "ended"] | @tsv),
        (.[] | [.[0].label, (length | tostring), .[0].slo,
                spread(map(.best)), spread(map(.achieved)), spread(map(.failed)),
                (.[-1].why | if . == "" then "-" else . end),
                (map(.ended) | unique | join(","))] | @tsv)'
}

mapfile -t files < <(result_files "$out")
echo
echo "Search answers, median [lowest-highest] over the rounds; results under $out"
echo
for f in "${files[@]}"; do cat "$f"; done | answers | column -t -s $'\t'
echo
"$bin" compare "${files[@]}" --out "$out/compare"
if [ -n "$readme" ]; then
    [ -f "$out/compare/curve.png" ] || { echo "no curve chart: no result has stages" >&2; exit 1; }
    base="$(basename "$workload" .yaml)"
    dest="docs/img/capacity-${base#capacity-}.png"
    cp "$out/compare/curve.png" "$dest"
    echo "curve: $dest"
fi
