#!/usr/bin/env bash
# Soak: runs workloads/soak.yaml (quickstart without its insert op, so the
# key space is bounded) on the embedded cluster for DURATION, samples the
# tikv-bench process's resident set (ps rss) every EVERY seconds, and prints
# the samples and the least-squares slope of RSS over the last half of the
# run, in MB/min (MB = 10^6 bytes). The embedded cluster runs in the same
# process, so its memory is in the figures.
#
# Usage: scripts/soak.sh [DURATION] [EVERY]   (defaults: 10m, 10 s)
# Not a test: it takes DURATION and needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10m}"
every="${2:-10}"
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/tikv-bench"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$bin" run workloads/soak.yaml --duration "$duration" --out "$out/run" \
    --progress off --no-report >"$out/run.log" 2>&1 &
pid=$!
start=$(date +%s)
: >"$out/samples"
while kill -0 "$pid" 2>/dev/null; do
    rss_kb=$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ' || true)
    [ -n "$rss_kb" ] || break
    echo "$(($(date +%s) - start)) $rss_kb" >>"$out/samples"
    sleep "$every"
done
status=0
wait "$pid" || status=$?

echo "t_s rss_MB"
awk '{ printf "%d %.1f\n", $1, $2 * 1024 / 1e6 }' "$out/samples"
# Least squares over the samples of the last half of the run.
awk '
    { t[NR] = $1; r[NR] = $2 * 1024 / 1e6; if ($1 > last) last = $1 }
    END {
        n = 0; st = 0; sr = 0; stt = 0; str = 0
        for (i = 1; i <= NR; i++) {
            if (t[i] < last / 2) continue
            n++; st += t[i]; sr += r[i]; stt += t[i] * t[i]; str += t[i] * r[i]
        }
        if (n < 2 || n * stt == st * st) { print "slope: too few samples"; exit }
        slope = (n * str - st * sr) / (n * stt - st * st)
        printf "slope over the last half (%d samples, t >= %d s): %.2f MB/min\n", n, last / 2, slope * 60
        printf "first %.1f MB, last %.1f MB, max %.1f MB\n", r[1], r[NR], max_r(r, NR)
    }
    function max_r(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
' "$out/samples"
grep -E "^(soak|measured|memory)" "$out/run.log" || true
if [ "$status" -ne 0 ]; then
    echo "tikv-bench exited $status:" >&2
    tail -20 "$out/run.log" >&2
    exit "$status"
fi
