#!/usr/bin/env bash
# Long fuzzing run of one target with AFL++ (cargo-afl, stable Rust).
#
#   fuzz/run.sh TARGET SECONDS        e.g. fuzz/run.sh headers 3600
#
# Targets: headers inode node_list cluster_info payload frame_codec sheep_conn
# Findings go to fuzz/out/TARGET/default/{crashes,hangs}; a run in an existing
# output directory resumes it (AFL_AUTORESUME). Env: FUZZ_OUT (output root,
# default fuzz/out), AFL_* as usual. Prints one line
#   TARGET execs=N crashes=N hangs=N seconds=S
# and appends it to $FUZZ_OUT/results.log; exits 1 if a crash or hang was found.
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
  sheep_conn) tmo=20000 ;;   # the harness itself gives the sheep 10 s
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
log="$out_root/$target.log"
set +e
cargo afl fuzz -i "$here/seeds/$target" -o "$odir" -V "$secs" -t "$tmo" -m none \
  -- "$bin" >"$log" 2>&1
rc=$?
set -e
stats="$odir/default/fuzzer_stats"
if [[ ! -f "$stats" ]]; then
  echo "$target: afl-fuzz did not start (rc=$rc), see $log" >&2
  tail -20 "$log" >&2
  exit 2
fi
get() { awk -F' *: *' -v k="$1" '$1==k{print $2}' "$stats"; }
execs="$(get execs_done)"; crashes="$(get saved_crashes)"; hangs="$(get saved_hangs)"
rm -rf "$SHEEP_FUZZ_DIR"
rmdir "/dev/shm/sdwire-fuzz.$$" 2>/dev/null || true
line="$target execs=$execs crashes=$crashes hangs=$hangs seconds=$secs execs_per_sec=$(get execs_per_sec) corpus=$(get corpus_count)"
echo "$line"
echo "$(date -u +%FT%TZ) $line" >>"$out_root/results.log"
if [[ "${crashes:-0}" != 0 || "${hangs:-0}" != 0 ]]; then
  echo "$target: findings in $odir/default/crashes and $odir/default/hangs" >&2
  exit 1
fi
