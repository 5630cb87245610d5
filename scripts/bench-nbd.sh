#!/usr/bin/env bash
# Benchmark the NBD front end (`sheep --nbd`) on loopback, side by side in
# one run (release build, one node, local driver, durable store: every
# write fsynced before it is acknowledged), and print one table of MiB/s:
#
#   * dog vdi write / vdi read of SIZE MiB (pipelined dog, the default);
#   * nbdcopy into / out of the same kind of VDI through sheep's NBD;
#   * qemu-img convert into / out of a VDI through sheep's NBD;
#   * the same nbdcopy and qemu-img against nbdkit's file plugin serving a
#     raw file of the same size on the same disk as the sheep store
#     (nbdcopy --flush, so its writes reach the disk like the sheep's).
#
# Every write goes into a fresh VDI / file (new objects); every read goes
# to tmpfs and is compared with the input outside the timing. Ratios:
# NBD vs dog, and sheep NBD vs nbdkit file, for the nbdcopy rows.
#
#   scripts/bench-nbd.sh [SIZE_MIB]        default 256
#
# Env: BENCH_PORT (base TCP port: sheep, sheep NBD, nbdkit; default: a
#      free one in 7100..9900), BENCH_DIR (parent of the temp dir, default
#      /tmp). The processes this script started are stopped by PID on exit;
#      the temp dirs are removed.
set -euo pipefail
size="${1:-256}"
cd "$(dirname "$0")/.."
source scripts/lib.sh
for t in nbdcopy qemu-img nbdkit; do
  command -v "$t" >/dev/null || { echo "$t missing: install libnbd-bin qemu-utils nbdkit" >&2; exit 2; }
done
cargo build --release --quiet -p sheep -p sheep-client --bin sheep --bin dog
tdir="${CARGO_TARGET_DIR:-target}/release"
SHEEP="$tdir/sheep"
DOG="$tdir/dog"

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
nbd=$((base + 1))
kit=$((base + 2))

dir="$(mktemp -d "${BENCH_DIR:-/tmp}/sheep-bench-nbd.XXXXXX")"
out="$(mktemp -d /dev/shm/sheep-bench-nbd.XXXXXX 2>/dev/null || mktemp -d "$dir/out.XXXXXX")"
pids=()
cleanup() {
  stop_pids
  rm -rf "$dir" "$out"
}
trap cleanup EXIT INT TERM

start_nodes 1 "$base" "$dir" --nbd "127.0.0.1:$nbd"
wait_members 1 "$base" || { echo "sheep did not start; log in $dir" >&2; cat "$dir"/node0.log >&2; exit 1; }
"$DOG" -a 127.0.0.1 -p "$base" cluster format -c 1 >/dev/null
dog() { "$DOG" -a 127.0.0.1 -p "$base" "$@"; }
now() { date +%s.%N; }
rate() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.0f", b / 1048576 / (t1 - t0) }'; }
bytes=$((size << 20))
head -c "$bytes" /dev/urandom >"$dir/data"
sync

# nbdkit's file plugin over a file on the same disk as the store.
truncate -s "$bytes" "$dir/kit.img"
nbdkit -f -i 127.0.0.1 -p "$kit" file "file=$dir/kit.img" &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$kit") 2>/dev/null && break; sleep 0.1; done

declare -A r
# timed NAME COMMAND...: runs it, records the rate under NAME.
timed() {
  local name="$1" t0 t1
  shift
  sync
  t0=$(now); "$@" >/dev/null; t1=$(now)
  r[$name]=$(rate "$bytes" "$t0" "$t1")
}
check() { cmp -s "$dir/data" "$out/back" || { echo "$1: read back differs" >&2; exit 1; }; rm -f "$out/back"; }

dog vdi create d1 "${size}M"
timed dog-write dog vdi write d1 <"$dir/data"
timed dog-read sh -c "\"$DOG\" -a 127.0.0.1 -p $base vdi read d1 >\"$out/back\""
check "dog vdi read"

dog vdi create d2 "${size}M"
timed nbdcopy-write nbdcopy "$dir/data" "nbd://127.0.0.1:$nbd/d2"
timed nbdcopy-read nbdcopy "nbd://127.0.0.1:$nbd/d2" "$out/back"
check "nbdcopy from sheep"

dog vdi create d3 "${size}M"
timed qemu-write qemu-img convert -n -f raw -O raw "$dir/data" "nbd://127.0.0.1:$nbd/d3"
timed qemu-read qemu-img convert -f raw -O raw "nbd://127.0.0.1:$nbd/d3" "$out/back"
check "qemu-img from sheep"

timed kit-nbdcopy-write nbdcopy --flush "$dir/data" "nbd://127.0.0.1:$kit"
timed kit-nbdcopy-read nbdcopy "nbd://127.0.0.1:$kit" "$out/back"
check "nbdcopy from nbdkit"
timed kit-qemu-write qemu-img convert -n -f raw -O raw "$dir/data" "nbd://127.0.0.1:$kit"
timed kit-qemu-read qemu-img convert -f raw -O raw "nbd://127.0.0.1:$kit" "$out/back"
check "qemu-img from nbdkit"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%s MiB, 1 node, durable store (MiB/s)\n' "$size"
printf '%-34s %8s %8s\n' "" write read
printf '%-34s %8s %8s\n' "dog vdi write/read" "${r[dog-write]}" "${r[dog-read]}"
printf '%-34s %8s %8s\n' "nbdcopy via sheep --nbd" "${r[nbdcopy-write]}" "${r[nbdcopy-read]}"
printf '%-34s %8s %8s\n' "qemu-img convert via sheep --nbd" "${r[qemu-write]}" "${r[qemu-read]}"
printf '%-34s %8s %8s\n' "nbdcopy via nbdkit file" "${r[kit-nbdcopy-write]}" "${r[kit-nbdcopy-read]}"
printf '%-34s %8s %8s\n' "qemu-img convert via nbdkit file" "${r[kit-qemu-write]}" "${r[kit-qemu-read]}"
printf '%-34s %8s %8s\n' "ratio nbdcopy sheep / dog" \
  "$(ratio "${r[nbdcopy-write]}" "${r[dog-write]}")" "$(ratio "${r[nbdcopy-read]}" "${r[dog-read]}")"
printf '%-34s %8s %8s\n' "ratio nbdcopy sheep / nbdkit file" \
  "$(ratio "${r[nbdcopy-write]}" "${r[kit-nbdcopy-write]}")" "$(ratio "${r[nbdcopy-read]}" "${r[kit-nbdcopy-read]}")"
