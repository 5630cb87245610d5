#!/usr/bin/env bash
# Short bounded fuzzing of EVERY target (default 25 s each, CI_FUZZ_SECONDS to
# change), from the committed seeds into a fresh output directory. Prints
# execs per target; exits non-zero if any target found a crash or a hang (or
# did not run).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${CI_FUZZ_SECONDS:-25}"
targets=(headers inode node_list cluster_info payload frame_codec sheep_conn nbd_conn cluster_record cluster_join cluster_notice cluster_state)
cargo afl build --release --quiet || exit 2
export FUZZ_OUT="${FUZZ_OUT:-$(mktemp -d -t sdwire-fuzz-ci.XXXXXX)}"
export FUZZ_SKIP_BUILD=1
fail=0
for t in "${targets[@]}"; do
  if ! "$here/run.sh" "$t" "$secs"; then
    fail=1
    for d in crashes hangs; do
      ls "$FUZZ_OUT/$t/default/$d" 2>/dev/null | grep -v README | sed "s|^|  $t $d: |"
    done
  fi
done
echo "fuzz ci: output in $FUZZ_OUT"
exit $fail
