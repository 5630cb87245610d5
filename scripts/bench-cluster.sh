#!/usr/bin/env bash
# Benchmark dog and the sheep on loopback (release build, local driver,
# durable store: every write fsynced on every replica) in a temporary
# directory, and print one table:
#
#   * sheep-bench: 4 MiB sequential new-object write / overwrite / read of
#     SIZE MiB over one pipelined client connection (32 in flight);
#   * dog vdi write / vdi read of SIZE MiB, the default (pipelined) dog
#     side by side with `--inflight 1` (the C dog's pattern: one request at
#     a time, each piece read from stdin / written to stdout before the
#     next request) and with `--no-zero-copy` (pipelined, but the data
#     copied through the dog's memory instead of sendfile from stdin /
#     splice to stdout), BENCH_ROUNDS rounds, the order of the three
#     rotating between rounds. Per round and mode: a fresh VDI is written from a file
#     (new objects), written again (overwrite), read back into a file on
#     tmpfs with the page cache warm (compared with the input, outside the
#     timing), and read again after dropping the page cache (cold; only
#     when /proc/sys/vm/drop_caches is writable, i.e. as root).
#
#   On one node, the floor for the reads is printed below the table: `cat`
#   of the VDI's object files from the store to the same tmpfs, warm and
#   cold, once per round.
#
#   scripts/bench-cluster.sh [SIZE_MIB]        default 256
#
# Env: BENCH_NODES (default 3; copies = min(nodes, 2)), BENCH_ROUNDS
#      (default 3), BENCH_PORT (base TCP port, default: a free one in
#      7100..9900), BENCH_DIR (parent of the temp dir, default /tmp),
#      BENCH_NOSYNC=1 (sheep -n: no fsync, for comparison only).
# Rates are MiB/s (2^20 bytes per second); the table shows the median and
# every round, the ratio default / --inflight 1 of the medians and of
# each round, and the ratio --no-zero-copy / --inflight 1 of the medians
# (what pipelining alone gives). The nodes this script started are stopped by PID on exit;
# the temp dirs are removed.
set -euo pipefail
size="${1:-256}"
nodes="${BENCH_NODES:-3}"
rounds="${BENCH_ROUNDS:-3}"
copies=$((nodes < 2 ? nodes : 2))
cd "$(dirname "$0")/.."
source scripts/lib.sh
cargo build --release --quiet -p sheep -p sheep-client --bin sheep --bin dog --bin sheep-bench
tdir="${CARGO_TARGET_DIR:-target}/release"
SHEEP="$tdir/sheep"
DOG="$tdir/dog"
BENCH="$tdir/sheep-bench"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base="${BENCH_PORT:-}"
if [[ -z "$base" ]]; then
  for _ in $(seq 1 50); do
    cand=$((7100 + RANDOM % 2800))
    ok=1
    for i in $(seq 0 $((nodes - 1))); do port_free $((cand + i)) || ok=0; done
    if [[ $ok == 1 ]]; then
      base=$cand
      break
    fi
  done
fi
[[ -n "$base" ]] || { echo "no free ports" >&2; exit 1; }

dir="$(mktemp -d "${BENCH_DIR:-/tmp}/sheep-bench.XXXXXX")"
# Read-back files go to tmpfs when there is one: the reader's cost is one
# copy into memory, not the noise of the benchmark disk's writeback.
out="$(mktemp -d /dev/shm/sheep-bench.XXXXXX 2>/dev/null || mktemp -d "$dir/out.XXXXXX")"
pids=()
cleanup() {
  stop_pids
  rm -rf "$dir" "$out"
}
trap cleanup EXIT INT TERM

extra=()
[[ "${BENCH_NOSYNC:-0}" == 1 ]] && extra+=(-n)
start_nodes "$nodes" "$base" "$dir" "${extra[@]}"
wait_members "$nodes" "$base" || { echo "cluster did not form; logs in $dir" >&2; cat "$dir"/node*.log >&2; exit 1; }
"$DOG" -a 127.0.0.1 -p "$base" cluster format -c "$copies" >/dev/null

dog() { "$DOG" -a 127.0.0.1 -p "$base" "$@"; }
now() { date +%s.%N; }
rate() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.0f", b / 1048576 / (t1 - t0) }'; }
bytes=$((size << 20))
can_drop=0
[[ -w /proc/sys/vm/drop_caches ]] && can_drop=1

# sheep-bench: new objects, overwrite, read (32 in flight, one connection).
bout="$("$BENCH" --addr "127.0.0.1:$base" --size-mib "$size" --seq-only)"
b_new=$(awk '/^seq new/ {print $3}' <<<"$bout")
b_over=$(awk '/^seq overwrite/ {print $3}' <<<"$bout")
b_read=$(awk '/^seq read/ {print $3}' <<<"$bout")

head -c "$bytes" /dev/urandom >"$dir/data"
declare -A r
n=0
for round in $(seq 1 "$rounds"); do
  case $((round % 3)) in
  1) order=(one default copy) ;;
  2) order=(default copy one) ;;
  0) order=(copy one default) ;;
  esac
  for mode in "${order[@]}"; do
    n=$((n + 1))
    flags=()
    [[ $mode == one ]] && flags=(--inflight 1)
    [[ $mode == copy ]] && flags=(--no-zero-copy)
    v="v$n-$mode"
    dog vdi create "$v" "${size}M"
    sync
    t0=$(now); dog vdi write "${flags[@]}" "$v" <"$dir/data"; t1=$(now)
    r[$mode,new]+=" $(rate "$bytes" "$t0" "$t1")"
    t0=$(now); dog vdi write "${flags[@]}" "$v" <"$dir/data"; t1=$(now)
    r[$mode,over]+=" $(rate "$bytes" "$t0" "$t1")"
    t0=$(now); dog vdi read "${flags[@]}" "$v" >"$out/back"; t1=$(now)
    r[$mode,read]+=" $(rate "$bytes" "$t0" "$t1")"
    cmp -s "$dir/data" "$out/back" || { echo "dog read back differs ($mode)" >&2; exit 1; }
    rm -f "$out/back"
    if [[ $can_drop == 1 ]]; then
      sync
      echo 3 >/proc/sys/vm/drop_caches
      t0=$(now); dog vdi read "${flags[@]}" "$v" >"$out/back"; t1=$(now)
      r[$mode,cold]+=" $(rate "$bytes" "$t0" "$t1")"
      rm -f "$out/back"
    fi
    # The floor on one node: `cat` of the VDI's data object files (named
    # by its vid, 8 hex digits, then the index) straight from the store
    # to the same tmpfs.
    if [[ $nodes == 1 && $mode == default ]]; then
      vid=$(dog vdi list -r "$v" | awk '{print $8}')
      objs=("$dir"/node0/obj/"$(printf %08x "0x$vid")"*)
      [[ ${#objs[@]} == $(((bytes + (4 << 20) - 1) >> 22)) ]] || { echo "floor: ${#objs[@]} objects for $v?" >&2; exit 1; }
      t0=$(now); cat "${objs[@]}" >"$out/back"; t1=$(now)
      r[cat,read]+=" $(rate "$bytes" "$t0" "$t1")"
      rm -f "$out/back"
      if [[ $can_drop == 1 ]]; then
        echo 3 >/proc/sys/vm/drop_caches
        t0=$(now); cat "${objs[@]}" >"$out/back"; t1=$(now)
        r[cat,cold]+=" $(rate "$bytes" "$t0" "$t1")"
        rm -f "$out/back"
      fi
    fi
    dog vdi delete "$v"
  done
done

# median of a list of numbers; ratio of two lists' medians; per-round ratios.
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m}'; }
ratios() {
  paste -d' ' <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) |
    awk '{printf "%s%.2f", (NR>1?" ":""), $1/$2}'
}
row() {
  local what="$1" key="$2" bsh="$3"
  local d="${r[default,$key]:-}" o="${r[one,$key]:-}" c="${r[copy,$key]:-}"
  [[ -z "$d" ]] && return 0
  local md mo mc
  md=$(median "$d"); mo=$(median "$o"); mc=$(median "$c")
  echo "| $what | $bsh | $md ($(echo $d)) | $mc ($(echo $c)) | $mo ($(echo $o)) | $(awk -v a="$md" -v b="$mo" 'BEGIN{printf "%.2f", a/b}')x ($(ratios "$d" "$o")) | $(awk -v a="$mc" -v b="$mo" 'BEGIN{printf "%.2f", a/b}')x |"
}
sync_mode=$([[ "${BENCH_NOSYNC:-0}" == 1 ]] && echo "no fsync (-n)" || echo "durable (fsync)")
echo "$nodes node(s) on 127.0.0.1:$base.., copies=$copies, local driver, $sync_mode, $size MiB, $rounds rounds, MiB/s"
echo "| 4 MiB sequential | sheep-bench (32 in flight) | dog default: median (rounds) | dog --no-zero-copy | dog --inflight 1 | default / --inflight 1: medians (per round) | --no-zero-copy / --inflight 1 |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "write, new objects" new "$b_new"
row "overwrite" over "$b_over"
row "read, warm cache" read "$b_read"
row "read, cold cache" cold "-"
if [[ -n "${r[cat,read]:-}" ]]; then
  echo
  echo "Floor, cat of the VDI's object files from the store to tmpfs: warm $(median "${r[cat,read]}") ($(echo ${r[cat,read]}))${r[cat,cold]:+, cold $(median "${r[cat,cold]}") ($(echo ${r[cat,cold]}))}"
fi
