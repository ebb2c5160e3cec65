#!/usr/bin/env bash
# Raw get throughput of the stand-in cluster against a bare tonic server that
# answers the same RawGet from a HashMap: same client (a plain tonic RawGet
# loop), same channel count, same run, both on loopback. Prints ops/s of each
# and the ratio, for 1 and 4 channels (goal: ratio >= 0.7).
#
# Usage: scripts/bench-standin.sh [TASKS] [SECONDS]   (defaults: 32 tasks, 3 s)
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-32}"
seconds="${2:-3}"
cargo build --release --example standin_rawget
bin="${CARGO_TARGET_DIR:-target}/release/examples/standin_rawget"
for channels in 1 4; do
    "$bin" --channels "$channels" --tasks "$tasks" --seconds "$seconds" --rounds 3
done
