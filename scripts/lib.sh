# Shell helpers shared by the scripts in this folder (sourced, not run).

# start_nodes NODES BASE_PORT DIR [SHEEP FLAG...]
# Starts NODES sheep processes on 127.0.0.1:BASE_PORT.. with the embedded
# `local` cluster driver in DIR/cluster, stores in DIR/node<i>, logs in
# DIR/node<i>.log, and waits until each one accepts TCP connections.
# Appends their PIDs to the caller's `pids` array (stop them by PID).
start_nodes() {
  local nodes="$1" base="$2" dir="$3"
  shift 3
  local i port
  for i in $(seq 0 $((nodes - 1))); do
    port=$((base + i))
    "${SHEEP:-target/release/sheep}" -b 127.0.0.1 -p "$port" -z "$i" -c "local:$dir/cluster" "$@" \
      "$dir/node$i" >"$dir/node$i.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
  done
}

# wait_members NODES BASE_PORT: waits (10 s at most) until the node at
# BASE_PORT lists NODES members; fails otherwise.
wait_members() {
  local nodes="$1" base="$2" n=0
  for _ in $(seq 1 100); do
    n=$("${DOG:-target/release/dog}" -a 127.0.0.1 -p "$base" node list 2>/dev/null | grep -c 127.0.0.1 || true)
    [[ "$n" == "$nodes" ]] && return 0
    sleep 0.1
  done
  return 1
}

# stop_pids: stops the processes in `pids` (TERM, then waits for them).
stop_pids() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
