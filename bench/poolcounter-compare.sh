#!/usr/bin/env bash
# Baton's PoolCounter line port against the C poolcounterd (Debian package "poolcounter"), side by side
# in one run: ACQ4ME+RELEASE pairs/s and acquire latency (dev.baton.bench.line.LineLoad) for
# C = 1, 8, 64 connections over 1000 keys and 64 connections on 1 key, W=1, on poolcounterd, a 1-node
# and a 3-node Baton (dev.baton.bench.cluster.LineCompare does the runs and prints the table).
#
# Usage: bench/poolcounter-compare.sh [LineCompare options]
#   e.g. bench/poolcounter-compare.sh --only poolcounterd --reps 1
#        bench/poolcounter-compare.sh --reps 5 --duration-s 20
# Environment:
#   JAR=path      benchmarks.jar (default baton-bench/target/benchmarks.jar, built if missing)
#   RESULTS=file  JSON lines, one per measured run (default /tmp/poolcounter-compare-<time>.jsonl)
#   REPS=n        repetitions (default 3; --reps wins)
# poolcounterd always listens on 127.0.0.1:7531; this script refuses to run if that port is taken.
# The Baton servers get free line ports (never 7531, which poolcounterd holds meanwhile).
# Everything started here is stopped by PID on exit, also on failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
JAR=${JAR:-baton-bench/target/benchmarks.jar}
RESULTS=${RESULTS:-${TMPDIR:-/tmp}/poolcounter-compare-$(date +%Y%m%dT%H%M%S).jsonl}
REPS=${REPS:-3}
POOLCOUNTERD=/usr/bin/poolcounterd
PORT=7531

# Which contenders? Only look at --only, LineCompare validates the rest.
only="poolcounterd,baton1,baton3"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --only) only="${args[i + 1]:-}" ;;
    --only=*) only="${args[i]#--only=}" ;;
  esac
done
want_c=false
[[ ",$only," == *",poolcounterd,"* || ",$only," == *",c,"* ]] && want_c=true

pc_pid=""
java_pid=""
pids_file=$(mktemp "${TMPDIR:-/tmp}/poolcounter-compare-pids.XXXXXX")
pc_log=$(mktemp "${TMPDIR:-/tmp}/poolcounterd-log.XXXXXX")

# Stops a process we started, by PID: TERM, then KILL after a grace period.
stop_pid() {
  local pid=$1 what=$2
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.5
    done
    echo "# $what (pid $pid) ignored SIGTERM; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # LineCompare stops its servers itself (and a JVM shutdown hook kills them on SIGTERM) ...
  [[ -n $java_pid ]] && stop_pid "$java_pid" "LineCompare"
  # ... but if the JVM died hard, its servers are still up: stop the ones it recorded, if they still
  # are Baton servers (a PID may have been reused).
  if [[ -s $pids_file ]]; then
    while read -r pid; do
      if [[ -n $pid ]] && grep -qa 'dev.baton.server.BatonCli' "/proc/$pid/cmdline" 2>/dev/null; then
        stop_pid "$pid" "Baton server"
      fi
    done <"$pids_file"
  fi
  [[ -n $pc_pid ]] && stop_pid "$pc_pid" "poolcounterd"
  rm -f "$pids_file" "$pc_log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ! -f $JAR ]]; then
  echo "# building $JAR"
  mvn -q -DskipTests -pl baton-bench -am package
fi

port_taken() {
  # A connect that succeeds means someone listens (bash's /dev/tcp; no extra tools needed).
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

pc_args=()
if $want_c; then
  if [[ ! -x $POOLCOUNTERD ]]; then
    echo "# installing the Debian package poolcounter"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y poolcounter
  fi
  if port_taken; then
    echo "port $PORT is already taken (another poolcounterd? e.g. the package's service);" \
      "stop it first: poolcounterd can only listen on $PORT, and this script measures the one it starts." >&2
    exit 1
  fi
  "$POOLCOUNTERD" >"$pc_log" 2>&1 &
  pc_pid=$!
  for _ in $(seq 1 50); do
    port_taken && break
    kill -0 "$pc_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! kill -0 "$pc_pid" 2>/dev/null || ! port_taken; then
    echo "poolcounterd did not come up on 127.0.0.1:$PORT:" >&2
    cat "$pc_log" >&2
    exit 1
  fi
  echo "# poolcounterd pid $pc_pid on 127.0.0.1:$PORT ($(dpkg-query -W -f='${Version}' poolcounter 2>/dev/null || echo '?'))"
  pc_args=(--poolcounterd "127.0.0.1:$PORT" --poolcounterd-pid "$pc_pid")
fi

echo "# $(uptime)"
echo "# results: $RESULTS"
# In the background, so that the EXIT trap can stop it by PID; "wait" returns its status.
java -cp "$JAR" dev.baton.bench.cluster.LineCompare --reps "$REPS" ${pc_args[@]+"${pc_args[@]}"} \
  --json "$RESULTS" --pids-file "$pids_file" "$@" &
java_pid=$!
set +e
wait "$java_pid"
rc=$?
set -e
java_pid=""
echo "# $(uptime)"
exit "$rc"
