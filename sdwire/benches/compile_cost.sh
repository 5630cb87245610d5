#!/usr/bin/env bash
# Debug build time added per extra `#[derive(Wire)]` 48-byte struct.
#
# Generates a scratch crate outside the repo (default /tmp/compilecost) that
# depends on this workspace's sdwire by path, warms its dependencies, then
# builds it with 0, 20 and 40 copies of the 48-byte header struct
# (best of $REPS builds each) and prints ms per struct.
#
#   bash sdwire/benches/compile_cost.sh [scratch-dir]
#   COUNTS="0 20 40 80" REPS=5 bash sdwire/benches/compile_cost.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-/tmp/compilecost}"
counts="${COUNTS:-0 20 40}"
reps="${REPS:-3}"

mkdir -p "$dir/src"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "compilecost"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
sdwire = { path = "$repo/sdwire" }

[workspace]
TOML
# Same dependency versions as the workspace.
cp "$repo/Cargo.lock" "$dir/Cargo.lock"

gen() {
  local n=$1
  {
    echo "#![allow(unused)]"
    echo "use sdwire::Wire;"
    for ((i = 0; i < n; i++)); do
      cat <<RS
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, size = 48)]
pub struct Header$i {
    pub proto_ver: u8, pub opcode: u8, pub flags: u16, pub epoch: u32, pub id: u32,
    pub data_length: u32, pub oid: u64, pub cow_oid: u64, pub copies: u8,
    pub copy_policy: u8, pub ec_index: u8, pub reserved: u8, pub tgt_epoch: u32,
    pub offset: u32, pub pad: u32,
}
RS
    done
    # Use every type so that its impls are monomorphised and codegen'd, as a
    # protocol crate's decoder would.
    echo "pub fn roundtrip(b: &[u8]) -> usize {"
    echo "    let mut n = 0;"
    for ((i = 0; i < n; i++)); do
      echo "    if let Ok(h) = sdwire::from_slice::<Header$i>(b, 0) { n += sdwire::to_vec(&h, 0).map_or(0, |v| v.len()); }"
    done
    echo "    n"
    echo "}"
  } > "$dir/src/lib.rs"
}

cd "$dir"
gen 0
echo "warming dependencies..." >&2
cargo build -q 2>&1 >&2

declare -A best
for n in $counts; do
  gen "$n"
  b=""
  for ((r = 0; r < reps; r++)); do
    touch src/lib.rs
    t0=$(date +%s%N)
    cargo build -q
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    if [[ -z "$b" || $ms -lt $b ]]; then b=$ms; fi
  done
  best[$n]=$b
  printf 'structs=%-4s build=%6d ms (best of %d)\n' "$n" "$b" "$reps"
done

first=${counts%% *}
for n in $counts; do
  if [[ $n != "$first" ]]; then
    awk -v a="${best[$first]}" -v b="${best[$n]}" -v n="$n" -v f="$first" \
      'BEGIN { printf "%d -> %d structs: %.1f ms per struct\n", f, n, (b - a) / (n - f) }'
  fi
done
