# shellcheck shell=bash
# Shared by the integration scripts (sourced after `build` is set): a scratch directory and the
# processes a script starts (add their PIDs to `pids`), both ended on exit; ports read from the
# logs of processes that listen on port 0; values from JSON files and from bench-sim.
: "${build:?set build before sourcing lib.sh}"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# fail MESSAGE: says why, shows the end of every log, exits 1.
fail() {
  echo "FAIL: $*"
  for log in "$work"/*.log; do
    [ -f "$log" ] || continue
    echo "--- $(basename "$log") (last lines)"
    tail -20 "$log"
  done
  exit 1
}

# wait_port LOG [PATTERN]: the port a process logged as "PATTERN 127.0.0.1:PORT" (default
# "listening on"), waiting up to 10 s.
wait_port() {
  local pattern=${2:-listening on} port=""
  for _ in $(seq 200); do
    port=$(sed -n "s/.*$pattern 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$1" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  cat "$1" >&2
  return 1
}

# json FILE EXPR: a Python expression over the JSON document `d` in FILE.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# start_sim LOG ARGS...: bench-sim on a free loopback port; sets sim_port.
start_sim() {
  local log=$1
  shift
  "$build/sim/bench-sim" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  pids+=($!)
  sim_port=$(wait_port "$log") || fail "bench-sim did not start"
}

# sim_served: the requests bench-sim has completed so far (all finish reasons).
sim_served() {
  curl -s "http://127.0.0.1:$sim_port/metrics" |
    awk '/^vllm:request_success_total/ {s += $2} END {print s + 0}'
}

# start_prometheus CONFIG: a Prometheus server with CONFIG on a port that was free a moment ago
# (retried if another process took it); sets prom_port once /-/ready answers.
start_prometheus() {
  local config=$1 attempt candidate prom_pid
  prom_port=""
  for attempt in 1 2 3; do
    candidate=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    prometheus --config.file="$config" --storage.tsdb.path="$work/tsdb-$attempt" \
      --web.listen-address="127.0.0.1:$candidate" >"$work/prometheus.log" 2>&1 &
    prom_pid=$!
    pids+=("$prom_pid")
    for _ in $(seq 100); do
      if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$candidate/-/ready")" = 200 ]
      then
        prom_port=$candidate
        return 0
      fi
      kill -0 "$prom_pid" 2>/dev/null || break  # exited: the port was taken, try another
      sleep 0.1
    done
    kill "$prom_pid" 2>/dev/null || true
  done
  fail "prometheus did not become ready"
}

# elapsed RUN: seconds into the run, from `status` (empty before it starts); needs `ctl`, the
# controller flags of the script.
elapsed() {
  "$controller" status "$1" "${ctl[@]}" 2>/dev/null |
    sed -n 's/.*\[\(running\|warmup\|draining\) *\([0-9.]*\)s.*/\2/p' | head -1
}
# wait_elapsed RUN SECONDS: until the run is that far in (up to 30 s).
wait_elapsed() {
  for _ in $(seq 600); do
    local e
    e=$(elapsed "$1")
    if [ -n "$e" ] && python3 -c "import sys; sys.exit(0 if float('$e') >= $2 else 1)"; then
      return 0
    fi
    sleep 0.05
  done
  fail "run $1 did not reach $2 s"
}

# start_dev_cluster: a plaintext loopback `serve` (results in $work/server-results) and one
# bench-worker of one thread dialing it; sets port. Needs controller and worker set.
start_dev_cluster() {
  "$controller" serve --insecure --listen 127.0.0.1:0 --allow-target 127.0.0.1/32 \
    --results-dir "$work/server-results" >"$work/serve.log" 2>&1 &
  pids+=($!)
  port=$(wait_port "$work/serve.log" "serve: listening on") || fail "serve did not start"
  "$worker" --controller "127.0.0.1:$port" --insecure --threads 1 --name w1 \
    >"$work/worker.log" 2>&1 &
  pids+=($!)
}
