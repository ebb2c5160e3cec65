#!/usr/bin/env bash
# N drivers, each in a network namespace of its own with its own address,
# against one stand-in (`tikv-bench serve`) in another: the run crosses
# veth links and a bridge (its own namespace too), a real network path
# rather than loopback. The drivers start at one shared instant
# (--start-at), take their shard from JOB_COMPLETION_INDEX as pods of a
# Kubernetes Indexed Job would, and their results are merged; the script
# prints each driver's address, throughput and start skew.
#
# Needs root (ip netns, veth). Every namespace and process it makes, it
# removes on exit.
#
#   scripts/netns-drivers.sh [--drivers N] [--workload FILE] [--bin PATH] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

drivers=4
workload=workloads/regress-kv.yaml
bin=${CARGO_TARGET_DIR:-target}/release/tikv-bench
out=reports/netns
while [ $# -gt 0 ]; do
    case "$1" in
        --drivers) drivers=$2; shift 2 ;;
        --workload) workload=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "netns-drivers: unknown argument '$1' (--drivers N, --workload FILE, --bin PATH, --out DIR)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "netns-drivers: needs root to make network namespaces (ip netns)" >&2
    exit 2
fi
[ -x "$bin" ] || cargo build --release --locked
[ -f "$workload" ] || { echo "netns-drivers: no workload file $workload" >&2; exit 2; }
if [ -e "$out" ]; then
    echo "netns-drivers: $out exists; give another --out (nothing is overwritten)" >&2
    exit 2
fi

tag="tbn$$"
sw="$tag-sw"
subnet=10.231.0
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT

ip netns add "$sw"
ip netns exec "$sw" ip link add br0 type bridge
ip netns exec "$sw" ip link set br0 up
# join NAME ADDR: a namespace NAME with one veth to the bridge, at ADDR.
join() {
    local ns="$tag-$1" i=$2
    ip netns add "$ns"
    ip link add "$tag-$1a" type veth peer name "$tag-$1b"
    ip link set "$tag-$1a" netns "$ns"
    ip link set "$tag-$1b" netns "$sw"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$subnet.$i/24" dev "$tag-$1a"
    ip netns exec "$ns" ip link set "$tag-$1a" up
    ip netns exec "$sw" ip link set "$tag-$1b" master br0
    ip netns exec "$sw" ip link set "$tag-$1b" up
}
join srv 1
for i in $(seq 1 "$drivers"); do join "d$i" $((10 + i)); done

mkdir -p "$out"
ip netns exec "$tag-srv" "$bin" serve --pd "$subnet.1:0" > "$out/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do
    grep -q '^pd=' "$out/serve.log" 2>/dev/null && break
    sleep 0.1
done
pd=$(sed -n 's/^pd=//p' "$out/serve.log" | head -1)
[ -n "$pd" ] || { echo "netns-drivers: serve did not start:" >&2; cat "$out/serve.log" >&2; exit 1; }
echo "stand-in: PD at $pd (namespace $tag-srv)"

start=$(( $(date +%s) + 8 ))
run_id="netns-$$"
pids=()
for i in $(seq 1 "$drivers"); do
    # Each driver in its own namespace and with a host name of its own
    # (a UTS namespace), as a pod would have.
    JOB_COMPLETION_INDEX=$((i - 1)) TIKV_BENCH_SHARDS=$drivers \
        ip netns exec "$tag-d$i" unshare --uts sh -c 'hostname "$0" && exec "$@"' \
        "driver-$i" "$bin" run "$workload" --pd "$pd" --no-report --progress off \
        --start-at "@$start" --run-id "$run_id" --results-dir "$out" \
        > "$out/driver-$i.log" 2>&1 &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { echo "netns-drivers: a driver failed; see $out/driver-*.log" >&2; exit 1; }
"$bin" merge "$out/$run_id" -o "$out/merged/result.json" --report > "$out/merge.log"
python3 - "$out/merged/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for d in r.get("drivers", []):
    print(f"driver {d['shard'][0]}/{d['shard'][1]} on {d.get('host','?')}: "
          f"{d['throughput']:.0f} ops/s, start offset {d['start_offset_us']/1000:.1f} ms, "
          f"skew {d.get('skew_us', 0)/1000:.1f} ms")
print(f"merged: {r['measured']['ok_per_s']:.0f} ops/s from {r['merged_from']} drivers")
PY
echo "netns-drivers: $out/merged/report.html"
