#!/usr/bin/env bash
# Records the C dog driving fresh C sheep as an sdtrace v1 file.
#
#   SHEEPDOG_BUILD=/path/to/sheepdog scripts/record-c-trace.sh SCENARIO NODES 'DOG ARGS' ['DOG ARGS'...]
#
# SHEEPDOG_BUILD is a built sheepdog source tree (sheep/sheep, dog/dog; see
# tests/data/traces/c-dog/README.md for the build). Starts NODES C sheep with
# the local driver (ports 7831.., zone i, listening on 127.0.0.2 and
# advertising 127.0.0.1), puts the recording proxy
# (sheep/daemon/examples/trace_proxy.rs) on 127.0.0.1 in front of each, so dog and
# peer traffic both pass it, runs `PRE` (dog commands separated by ';', not
# recorded), then records the given dog commands (each gets -p 7831 unless it
# names a port) into ${OUT:-tests/data/traces/c-dog}/SCENARIO.trace, and
# prints what the dog printed. Stops every process it started, by PID.
set -euo pipefail
scenario=$1 nodes=$2
shift 2
: "${SHEEPDOG_BUILD:?set SHEEPDOG_BUILD to a built sheepdog tree}"
out=${OUT:-tests/data/traces/c-dog}
proxy=${PROXY:-target/release/examples/trace_proxy}
dog="$SHEEPDOG_BUILD/dog/dog"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
pairs=()
for i in $(seq 0 $((nodes - 1))); do
  port=$((7831 + i))
  "$SHEEPDOG_BUILD/sheep/sheep" -f -b 127.0.0.2 -y 127.0.0.1 -p "$port" -z "$i" \
    -c "local:$work/shm" "$work/s$port" >"$work/out$port" 2>&1 &
  pids+=($!)
  wait_port 127.0.0.2 "$port"
  pairs+=("127.0.0.1:$port=127.0.0.2:$port")
done
with_port() { if [[ " $* " == *" -p "* ]]; then echo "$@"; else echo "$@" -p 7831; fi; }
start_proxy() {
  "$proxy" --out "$1" --scenario "$scenario" "${cmds[@]}" "${pairs[@]}" 2>>"$work/proxy.log" &
  px=$!
  wait_port 127.0.0.1 7831
}
stop_proxy() { kill -INT "$px"; wait "$px" || true; }
cmds=()
for c in "$@"; do cmds+=(--command "dog $(with_port $c)"); done
# Setup, not recorded (the proxy still forwards it).
start_proxy "$work/setup.trace"
for _ in $(seq 1 100); do
  [[ $("$dog" node list -r -p 7831 2>/dev/null | wc -l) == "$nodes" ]] && break
  sleep 0.2
done
IFS=';' read -ra pre <<<"${PRE:-}"
for c in "${pre[@]}"; do [[ -n "$c" ]] && { "$dog" $(with_port $c) || true; }; done >/dev/null 2>&1
stop_proxy
mkdir -p "$out"
start_proxy "$out/$scenario.trace"
for c in "$@"; do
  echo "\$ dog $(with_port $c)"
  "$dog" $(with_port $c) 2>&1 && echo "rc=0" || echo "rc=$?"
done
# Background peer traffic a command caused (e.g. removals) settles.
sleep 0.5
stop_proxy
grep -c "BEGIN EXCHANGE" "$out/$scenario.trace" | sed 's/^/exchanges: /'
