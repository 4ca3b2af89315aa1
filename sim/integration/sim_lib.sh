# Shared by bench-sim's shell integration tests: start a bench-sim on 127.0.0.1 port 0, read
# the port from its log line, stop it by its PID and check it stopped cleanly.
# Usage: source sim_lib.sh; start_sim NAME [flags...]  -> sets SIM_PORT_<NAME>, SIM_PID_<NAME>

SIM_WORK=$(mktemp -d /tmp/bench_sim_it.XXXXXX)
SIM_PIDS=()
cleanup_sims() {
  for pid in "${SIM_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$SIM_WORK"
}
trap cleanup_sims EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# start_sim NAME flags...: the sim's log is $SIM_WORK/NAME.log.
start_sim() {
  local name=$1
  shift
  local log="$SIM_WORK/$name.log"
  "$BENCH_SIM" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  local pid=$!
  SIM_PIDS+=("$pid")
  local port=""
  for _ in $(seq 1 1000); do
    port=$(sed -n 's/.*bench-sim listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "bench-sim $name exited: $(cat "$log")"
    sleep 0.01
  done
  [ -n "$port" ] || fail "bench-sim $name printed no listening line: $(cat "$log")"
  printf -v "SIM_PORT_$name" '%s' "$port"
  printf -v "SIM_PID_$name" '%s' "$pid"
}

# stop_sim NAME: SIGTERM, exit status 0, no error lines (leaked handles log one).
stop_sim() {
  local name=$1
  local pid_var="SIM_PID_$name"
  local pid=${!pid_var}
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  [ "$status" -eq 0 ] || fail "bench-sim $name exited with $status: $(cat "$SIM_WORK/$name.log")"
  if grep -E '^[EF][0-9]{4} ' "$SIM_WORK/$name.log"; then
    fail "bench-sim $name logged errors"
  fi
}
