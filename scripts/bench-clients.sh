#!/usr/bin/env bash
# Raw get throughput of tikv-bench's client, over unary RPCs and over
# BatchCommands streams (`transport: batch`), against the official tikv-client
# crate and a bare tonic RawGet loop with the same channel count, on one
# stand-in started here (`tikv-bench serve`, its own process), at the same
# concurrency, for pool sizes 1, 2 and 4. Release build. Not a test.
#
#   scripts/bench-clients.sh [bench_clients flags...]
#   e.g. scripts/bench-clients.sh --concurrency 32 --duration 10s --rounds 3
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bin tikv-bench --example bench_clients
bin="${CARGO_TARGET_DIR:-target}/release"

log=$(mktemp)
"$bin/tikv-bench" serve --stores 3 --region-max-keys 2000 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT

pd=""
for _ in $(seq 100); do
    pd=$(sed -n 's/^pd=//p' "$log" | head -n1)
    [ -n "$pd" ] && break
    sleep 0.1
done
if [ -z "$pd" ]; then
    echo "bench-clients: the stand-in did not start:" >&2
    cat "$log" >&2
    exit 1
fi
echo "stand-in: PD at $pd (3 stores, split past 2000 keys per region)"
"$bin/examples/bench_clients" --pd "$pd" "$@"
