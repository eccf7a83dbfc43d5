#!/usr/bin/env bash
# bench/start-time.sh: how long a single Baton node takes from process launch until
# GET /health/ready answers 200, and how long a client command takes.
#
# Each run launches a node on free ports of 127.0.0.1, polls /health/ready every POLL_MS (curl), prints
# the milliseconds from launch to the first HTTP answer (any status) and to the first 200 (and the CPU
# time the node used until then), then stops the node with SIGTERM and waits for it to exit. "fresh" runs start on a new, empty data directory each
# time; "resume" runs restart on one data directory that a node has already used (the log and the Raft
# meta are read back, the snapshot loaded if there is one). Then CLIENT_RUNS client commands
# (`status -e HOST:PORT`) are timed against one ready node. Median and max of each series are printed.
#
#   bench/start-time.sh                         # 5 fresh runs, 5 resume runs, 5 client commands
#   RUNS=10 MODES=resume bench/start-time.sh
#   JAVA_OPTS='-XX:TieredStopAtLevel=1' bench/start-time.sh
#   LAUNCH='dist/target/baton-0.1.0/bin/baton server' CLIENT='dist/target/baton-0.1.0/bin/baton' bench/start-time.sh
#
# Environment:
#   JAR         the jar of baton-cli (default: baton-cli/target/baton.jar beside this script's folder; build it
#               with: mvn -B -q -o -DskipTests -P '!fuzz' -pl baton-cli -am package)
#   JAVA        java command (default: java)
#   JAVA_OPTS   JVM flags of the node and of the client when LAUNCH/CLIENT are not set (default: none)
#   LAUNCH      the node command, to which the script appends --node-id n1 --data-dir DIR and the four
#               --*-port options (default: $JAVA $JAVA_OPTS -cp $JAR dev.baton.server.ServerCommand)
#   CLIENT      the client command, to which the script appends `status -e 127.0.0.1:PORT`
#               (default: $JAVA $JAVA_OPTS -jar $JAR); CLIENT_RUNS=0 skips the client series
#   SERVER_ARGS more node options, appended after the script's own
#   RUNS        runs per mode (default 5); MODES: "fresh resume" (default), "fresh" or "resume"
#   CLIENT_RUNS client commands (default: RUNS)
#   POLL_MS     poll interval (default 10); TIMEOUT_S: give up on a run after this long (default 60)
#   KEEP=1      keep the data and log directory (printed) instead of deleting it
#   PRIO=1      on a machine busy with other work (root only): run this script and the nodes it starts in a
#               scheduling group of their own at nice -20 (Linux autogroup), so that other sessions' processes
#               take little of the CPU during a run: closer to an idle machine. Say so beside the figures.
#
# The node's output of each run is in DIR/run-MODE-N.log. Figures depend on the machine and on what else
# runs on it: compare runs made one after the other on one machine, and look at the max as well.
set -euo pipefail
if [ -n "${PRIO:-}" ] && [ -z "${START_TIME_PRIO_SET:-}" ]; then
  export START_TIME_PRIO_SET=1
  # a new session is a new autogroup; its nice value weighs it against the other sessions' groups
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup || exit 2; exec "$@"' bash "$0" "$@"
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA=${JAVA:-java}
JAR=${JAR:-$here/baton-cli/target/baton.jar}
JAVA_OPTS=${JAVA_OPTS:-}
RUNS=${RUNS:-5}
MODES=${MODES:-fresh resume}
CLIENT_RUNS=${CLIENT_RUNS:-$RUNS}
POLL_MS=${POLL_MS:-10}
TIMEOUT_S=${TIMEOUT_S:-60}
# shellcheck disable=SC2206
LAUNCH_CMD=(${LAUNCH:-$JAVA $JAVA_OPTS -cp $JAR dev.baton.server.ServerCommand})
# shellcheck disable=SC2206
CLIENT_CMD=(${CLIENT:-$JAVA $JAVA_OPTS -jar $JAR})
# shellcheck disable=SC2206
EXTRA=(${SERVER_ARGS:-})
if [ -z "${LAUNCH:-}" ] && [ ! -f "$JAR" ]; then
  echo "start-time: no $JAR; build it: mvn -B -q -o -DskipTests -P '!fuzz' -pl baton-cli -am package" >&2
  exit 2
fi
work=$(mktemp -d /tmp/baton-start-time.XXXX)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [ -n "${KEEP:-}" ]; then echo "start-time: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# now_ms: sets now, milliseconds since the epoch (bash 5's clock: no fork, no command substitution, which
# would fork a subshell; the same for the poll below)
now_ms() { local t=${EPOCHREALTIME/[.,]/}; now=$((t / 1000)); }
clk_tck=$(getconf CLK_TCK)
mkfifo "$work/never" && exec 9<>"$work/never"
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
# Four distinct ports that nothing listens on (a random block, tried again when one is taken).
pick_ports() {
  local tries=0
  while :; do
    local base=$((20000 + RANDOM % 40000)) ok=1 p
    for p in $base $((base + 1)) $((base + 2)) $((base + 3)); do
      if listening "$p"; then ok=0; fi
    done
    if [ $ok = 1 ]; then
      api=$base line=$((base + 1)) http=$((base + 2)) raft=$((base + 3))
      return
    fi
    tries=$((tries + 1))
    [ $tries -lt 50 ] || { echo "start-time: no free ports" >&2; exit 2; }
  done
}

# launch DATA_DIR LOG [same]: starts a node in the background (node_pid), sets t_launch. New ports unless
# "same": a node restarted on a data directory must keep its Raft address (the log's configuration names it).
launch() {
  if [ "${3:-}" != same ]; then pick_ports; fi
  now_ms; t_launch=$now
  "${LAUNCH_CMD[@]}" --node-id n1 --data-dir "$1" --api-port "$api" --line-port "$line" \
    --http-port "$http" --raft-port "$raft" "${EXTRA[@]}" > "$2" 2>&1 &
  node_pid=$!
}

# http_status PORT: sets code, the status of GET /health/ready, or 000 when nothing answers. Bash's /dev/tcp,
# not curl: a poll every 10 ms must not fork, or the poller's own CPU slows the node it measures.
http_status() {
  local line=""
  { printf 'GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3; } 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" || true
  case "$line" in HTTP/1.?" "???*) code=${line:9:3} ;; *) code=000 ;; esac
}

# await_ready LOG: polls until 200; sets ms_answer (first HTTP answer), ms_ready and cpu_ready; fails if the
# node exits or the time runs out.
await_ready() {
  local code sleep_s
  sleep_s=$(printf '0.%03d' "$POLL_MS")
  ms_answer=""
  while :; do
    http_status "$http"
    now_ms
    if [ "$code" != "000" ] && [ -z "$ms_answer" ]; then ms_answer=$((now - t_launch)); fi
    if [ "$code" = "200" ]; then
      ms_ready=$((now - t_launch))
      # CPU the node used until then (user + system, all threads; less sensitive than the wall time to
      # what else runs on the machine): fields 14 and 15 of /proc/PID/stat, in clock ticks
      cpu_ready=$(awk -v hz="$clk_tck" '{ sub(/.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
        "/proc/$node_pid/stat" 2>/dev/null || echo 0)
      return 0
    fi
    if ! kill -0 "$node_pid" 2>/dev/null; then echo "start-time: the node exited; see $1" >&2; KEEP=1; exit 1; fi
    if [ $((now - t_launch)) -gt $((TIMEOUT_S * 1000)) ]; then
      echo "start-time: not ready within ${TIMEOUT_S}s; see $1" >&2; KEEP=1; exit 1
    fi
    read -r -t "$sleep_s" -u 9 || true # sleeps without a fork: nothing ever writes to fd 9
  done
}

# stop: SIGTERM, wait for the exit; sets ms_stop.
stop() {
  local t0
  now_ms; t0=$now
  kill "$node_pid"
  wait "$node_pid" 2>/dev/null || true
  node_pid=""
  now_ms; ms_stop=$((now - t0))
}

# stats LABEL VALUES...: "LABEL: median M ms, max X ms (n runs: v1 v2 ...)"
stats() {
  local label=$1; shift
  local sorted n median
  sorted=$(printf '%s\n' "$@" | sort -n)
  n=$#
  median=$(echo "$sorted" | awk -v n="$n" '{ a[NR] = $1 } END { if (n % 2) print a[(n + 1) / 2]; else print int((a[n / 2] + a[n / 2 + 1]) / 2) }')
  printf '%-28s median %5d ms, max %5d ms  (%d runs: %s)\n' "$label" "$median" "$(echo "$sorted" | tail -1)" "$n" "$*"
}

echo "start-time: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)${PRIO:+, PRIO (autogroup nice -20)};" \
  "node: ${LAUNCH_CMD[*]}"
resume_dir="$work/resume-data"
for mode in $MODES; do
  answers=() readies=() stops=() cpus=()
  if [ "$mode" = resume ] && [ ! -d "$resume_dir" ]; then
    # a data directory a node has used: started once, ready, stopped
    launch "$resume_dir" "$work/prepare.log"; await_ready "$work/prepare.log"; stop
  fi
  for i in $(seq 1 "$RUNS"); do
    if [ "$mode" = fresh ]; then dir="$work/fresh-$i"; else dir="$resume_dir"; fi
    log="$work/run-$mode-$i.log"
    launch "$dir" "$log" "$([ "$mode" = resume ] && echo same)"
    await_ready "$log"
    stop
    answers+=("$ms_answer") readies+=("$ms_ready") stops+=("$ms_stop") cpus+=("$cpu_ready")
    echo "  $mode run $i: first answer ${ms_answer} ms, ready ${ms_ready} ms (CPU ${cpu_ready} ms), stop ${ms_stop} ms"
    [ "$mode" = fresh ] && [ -z "${KEEP:-}" ] && rm -rf "$dir"
  done
  stats "$mode: launch to ready" "${readies[@]}"
  stats "$mode: launch to first answer" "${answers[@]}"
  stats "$mode: CPU until ready" "${cpus[@]}"
  stats "$mode: SIGTERM to exit" "${stops[@]}"
done

if [ "$CLIENT_RUNS" -gt 0 ]; then
  log="$work/client-node.log"
  launch "$work/client-data" "$log"
  await_ready "$log"
  echo "client: ${CLIENT_CMD[*]} status -e 127.0.0.1:$api"
  times=()
  for i in $(seq 1 "$CLIENT_RUNS"); do
    now_ms; t0=$now
    "${CLIENT_CMD[@]}" status -e "127.0.0.1:$api" > "$work/client-$i.out" 2>&1 \
      || { echo "start-time: client command failed:"; cat "$work/client-$i.out"; } >&2
    now_ms; times+=($((now - t0)))
  done
  stats "client: status command" "${times[@]}"
  stop
fi
