#!/usr/bin/env bash
# Benchmark a 3-node sheep cluster on loopback (release build, local
# driver, copies=2, durable store: every write fsynced on both replicas)
# in a temporary directory, and print one table:
#
#   * sheep-bench: 4 MiB sequential new-object write / overwrite / read of
#     SIZE MiB over one pipelined client connection (32 in flight);
#   * dog vdi write / vdi read of SIZE MiB from/to a file, in the default
#     (pipelined) mode and with --inflight 1 (the C dog's one request at a
#     time), side by side: the first write of a fresh VDI creates its
#     objects, the second overwrites them.
#
#   scripts/bench-cluster.sh [SIZE_MIB]        default 256
#
# Env: BENCH_PORT (base TCP port, default: a free one in 7100..9900),
#      BENCH_DIR (parent of the temp dir, default /tmp),
#      BENCH_NOSYNC=1 (sheep -n: no fsync, for comparison only).
# Rates are MiB/s (2^20 bytes per second). The nodes this script started
# are stopped by PID on exit; the temp dir is removed.
set -euo pipefail
size="${1:-256}"
cd "$(dirname "$0")/.."
cargo build --release --quiet -p sheep --bin sheep --bin dog --bin sheep-bench
tdir="${CARGO_TARGET_DIR:-target}/release"
SHEEP="$tdir/sheep"
DOG="$tdir/dog"
BENCH="$tdir/sheep-bench"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base="${BENCH_PORT:-}"
if [[ -z "$base" ]]; then
  for _ in $(seq 1 50); do
    cand=$((7100 + RANDOM % 2800))
    if port_free "$cand" && port_free $((cand + 1)) && port_free $((cand + 2)); then
      base=$cand
      break
    fi
  done
fi
[[ -n "$base" ]] || { echo "no free ports" >&2; exit 1; }

dir="$(mktemp -d "${BENCH_DIR:-/tmp}/sheep-bench.XXXXXX")"
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap stop EXIT INT TERM

extra=()
[[ "${BENCH_NOSYNC:-0}" == 1 ]] && extra+=(-n)
for i in 0 1 2; do
  port=$((base + i))
  "$SHEEP" -b 127.0.0.1 -p "$port" -z "$i" -c "local:$dir/cluster" "${extra[@]}" \
    "$dir/node$i" >"$dir/node$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done
for _ in $(seq 1 100); do
  n=$("$DOG" -a 127.0.0.1 -p "$base" node list 2>/dev/null | grep -c 127.0.0.1 || true)
  [[ "$n" == 3 ]] && break
  sleep 0.1
done
[[ "$n" == 3 ]] || { echo "cluster did not form; logs in $dir" >&2; cat "$dir"/node*.log >&2; exit 1; }
"$DOG" -a 127.0.0.1 -p "$base" cluster format -c 2 >/dev/null

dog() { "$DOG" -a 127.0.0.1 -p "$base" "$@"; }
now() { date +%s.%N; }
rate() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.1f", b / 1048576 / (t1 - t0) }'; }
bytes=$((size << 20))

# sheep-bench: new objects, overwrite, read (32 in flight, one connection).
bout="$("$BENCH" --addr "127.0.0.1:$base" --size-mib "$size" --seq-only)"
b_new=$(awk '/^seq new/ {print $3}' <<<"$bout")
b_over=$(awk '/^seq overwrite/ {print $3}' <<<"$bout")
b_read=$(awk '/^seq read/ {print $3}' <<<"$bout")

# dog: a file of random data, written into a fresh VDI (new objects), written
# again (overwrite), read back (compared); default mode and --inflight 1.
head -c "$bytes" /dev/urandom >"$dir/data"
declare -A r
for mode in default one; do
  flags=()
  [[ $mode == one ]] && flags=(--inflight 1)
  dog vdi create "v-$mode" "${size}M"
  t0=$(now); dog vdi write "${flags[@]}" "v-$mode" <"$dir/data"; t1=$(now)
  r[$mode,new]=$(rate "$bytes" "$t0" "$t1")
  t0=$(now); dog vdi write "${flags[@]}" "v-$mode" <"$dir/data"; t1=$(now)
  r[$mode,over]=$(rate "$bytes" "$t0" "$t1")
  t0=$(now); dog vdi read "${flags[@]}" "v-$mode" >"$dir/back"; t1=$(now)
  r[$mode,read]=$(rate "$bytes" "$t0" "$t1")
  cmp -s "$dir/data" "$dir/back" || { echo "dog read back differs ($mode)" >&2; exit 1; }
  rm -f "$dir/back"
done

sync_mode=$([[ "${BENCH_NOSYNC:-0}" == 1 ]] && echo "no fsync (-n)" || echo "durable (fsync)")
echo "3 nodes on 127.0.0.1:$base.., copies=2, local driver, $sync_mode, $size MiB, MiB/s"
echo "| 4 MiB sequential | sheep-bench (32 in flight) | dog (default) | dog --inflight 1 |"
echo "|---|---:|---:|---:|"
echo "| write, new objects | $b_new | ${r[default,new]} | ${r[one,new]} |"
echo "| overwrite | $b_over | ${r[default,over]} | ${r[one,over]} |"
echo "| read | $b_read | ${r[default,read]} | ${r[one,read]} |"
