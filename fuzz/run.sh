#!/usr/bin/env bash
# Long fuzzing run of one target with AFL++ (cargo-afl, stable Rust).
#
#   fuzz/run.sh TARGET SECONDS        e.g. fuzz/run.sh headers 3600
#
# Targets: headers inode node_list cluster_info payload frame_codec sheep_conn nbd_conn
#          cluster_record cluster_join cluster_notice cluster_state
# Findings go to fuzz/out/TARGET/NAME/{crashes,hangs}; a run in an existing
# output directory resumes it (AFL_AUTORESUME). Env: FUZZ_OUT (output root,
# default fuzz/out), FUZZ_JOBS (parallel instances, default 1), AFL_* as
# usual. One job runs as AFL's "default" instance, with CmpLog. Several jobs
# share one corpus: "main" (-M, with CmpLog) and "s1".. (-S, without CmpLog,
# as AFL++ recommends for the extra instances: more plain executions).
# FUZZ_CMPLOG=0 turns CmpLog off everywhere (sheep_conn's slow inputs can keep
# a CmpLog instance in its colorization stage for many minutes).
# Prints one line
#   TARGET execs=N crashes=N hangs=N seconds=S
# (summed over the instances) and appends it to $FUZZ_OUT/results.log; exits
# 1 if a crash or hang was found.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
target="${1:?usage: run.sh TARGET SECONDS}"
secs="${2:-600}"
out_root="${FUZZ_OUT:-$here/out}"
mkdir -p "$out_root"

if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
  cargo afl build --release --quiet
fi
bin="$here/target/release/$target"
[[ -x "$bin" ]] || { echo "unknown target $target" >&2; exit 2; }
[[ -d "$here/seeds/$target" ]] || "$here/target/release/seeds" "$here/seeds" >/dev/null

case "$target" in
  sheep_conn|nbd_conn) tmo=20000 ;;   # the harness itself gives the sheep 10 s
  cluster_info|inode) tmo=2000 ;;
  *) tmo=1000 ;;
esac

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_NO_AFFINITY=1 AFL_AUTORESUME=1 AFL_SKIP_CRASHES=1 AFL_QUIET=1
# The sheep_conn store: on tmpfs when there is one (its FLUSH_VDI syncfs and
# object file I/O then cost no disk work), else next to the output.
if [[ -z "${SHEEP_FUZZ_DIR:-}" ]]; then
  if mkdir -p "/dev/shm/sdwire-fuzz.$$" 2>/dev/null; then
    SHEEP_FUZZ_DIR="/dev/shm/sdwire-fuzz.$$/$target.stores"
  else
    SHEEP_FUZZ_DIR="$out_root/$target.stores"
  fi
fi
export SHEEP_FUZZ_DIR
odir="$out_root/$target"
jobs="${FUZZ_JOBS:-1}"
names=()
pids=()
for ((j = 0; j < jobs; j++)); do
  if ((jobs == 1)); then
    name=default role=()
  elif ((j == 0)); then
    name=main role=(-M main)
  else
    name="s$j" role=(-S "s$j" -c -)   # cargo afl adds -c0; "-c -" turns CmpLog off again
  fi
  [[ "${FUZZ_CMPLOG:-1}" == 0 && $j == 0 ]] && role+=(-c -)
  names+=("$name")
  SHEEP_FUZZ_DIR="$SHEEP_FUZZ_DIR/$name" cargo afl fuzz "${role[@]}" -i "$here/seeds/$target" -o "$odir" \
    -V "$secs" -t "$tmo" -m none -- "$bin" >"$out_root/$target.$name.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
total=0 crashes=0 hangs=0 speeds=() corpus=0
for name in "${names[@]}"; do
  stats="$odir/$name/fuzzer_stats"
  if [[ ! -f "$stats" ]]; then
    echo "$target: afl-fuzz ($name) did not start (rc=$rc), see $out_root/$target.$name.log" >&2
    tail -20 "$out_root/$target.$name.log" >&2
    exit 2
  fi
  get() { awk -F' *: *' -v k="$1" '$1==k{print $2}' "$stats"; }
  total=$((total + $(get execs_done)))
  # Files, not fuzzer_stats' counters: those survive a resume even after
  # the findings were triaged and moved out.
  crashes=$((crashes + $(find "$odir/$name/crashes" -name 'id:*' 2>/dev/null | wc -l)))
  hangs=$((hangs + $(find "$odir/$name/hangs" -name 'id:*' 2>/dev/null | wc -l)))
  speeds+=("$(get execs_per_sec)")
  corpus=$(get corpus_count)
done
rm -rf "$SHEEP_FUZZ_DIR"
rmdir "/dev/shm/sdwire-fuzz.$$" 2>/dev/null || true
speed=$(IFS=+; echo "${speeds[*]}")
line="$target execs=$total crashes=$crashes hangs=$hangs seconds=$secs jobs=$jobs execs_per_sec=$speed corpus=$corpus"
echo "$line"
echo "$(date -u +%FT%TZ) $line" >>"$out_root/results.log"
if [[ "$crashes" != 0 || "$hangs" != 0 ]]; then
  echo "$target: findings in $odir/*/crashes and $odir/*/hangs" >&2
  exit 1
fi
