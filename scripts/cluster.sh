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
cargo build --release --quiet -p sheep -p sheep-client --bin sheep --bin dog
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

source scripts/lib.sh
pids=()
trap stop_pids EXIT INT TERM
# shellcheck disable=SC2086
start_nodes "$nodes" "$base" "$dir" ${SHEEP_ARGS:-}
wait_members "$nodes" "$base" || { echo "the nodes did not all join; logs in $dir/node*.log" >&2; exit 1; }

if [[ ! -e "$dir/.formatted" ]]; then
  target/release/dog -p "$base" cluster format -c "$copies" -y
  touch "$dir/.formatted"
fi
target/release/dog -p "$base" node list
echo "sheep cluster of $nodes node(s) up (ports $base..$((base + nodes - 1)), logs in $dir/node*.log); Ctrl-C stops it"
wait
