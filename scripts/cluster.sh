#!/usr/bin/env bash
# Run a sheep cluster on 127.0.0.1 with the embedded `local` cluster driver,
# format it on first start, and stay in the foreground until Ctrl-C.
#
#   scripts/cluster.sh [NODES] [DIR]       defaults: 3 nodes, ./sheep-cluster
#
# Node i listens on TCP 127.0.0.1:$((SHEEP_PORT + i)) (SHEEP_PORT defaults to
# 7000; tgt keeps only 4 digits of a port) and on the unix socket
# DIR/node<i>/sock, so both dog and tgtd can use it:
#   target/release/dog -p 7000 vdi create test 1G
#   tgtadm ... --bstype sheepdog --backing-store unix:DIR/node0/sock:test
# Env: SHEEP_PORT, SHEEP_COPIES (default min(NODES, 2)), SHEEP_ARGS (extra sheep flags).
set -euo pipefail
nodes="${1:-3}"
dir="${2:-./sheep-cluster}"
base="${SHEEP_PORT:-7000}"
copies="${SHEEP_COPIES:-$(( nodes < 2 ? nodes : 2 ))}"
cd "$(dirname "$0")/.."
cargo build --release --quiet -p sheep --bin sheep --bin dog
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

for i in $(seq 0 $((nodes - 1))); do
  port=$((base + i))
  # shellcheck disable=SC2086
  target/release/sheep -b 127.0.0.1 -p "$port" -z "$i" -c "local:$dir/cluster" ${SHEEP_ARGS:-} \
    "$dir/node$i" >"$dir/node$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done

if [[ ! -e "$dir/.formatted" ]]; then
  target/release/dog -p "$base" cluster format -c "$copies" -y
  touch "$dir/.formatted"
fi
target/release/dog -p "$base" node list
echo "sheep cluster of $nodes node(s) up (ports $base..$((base + nodes - 1)), logs in $dir/node*.log); Ctrl-C stops it"
wait
