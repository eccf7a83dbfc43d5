#!/usr/bin/env bash
# Baton side by side with what users run today: the same closed-loop workload, in one run,
# on this machine, against
#   baton3-java, baton3-line, baton1-java, baton1-line   Baton, 3 or 1 durable nodes, Java client or line port
#   poolcounterd                                         the C daemon (Debian poolcounter)
#   redis-everysec, redis-always                         Redis (Debian redis-server), PoolCounterRedis Lua,
#                                                        AOF with appendfsync everysec / always
#   zookeeper                                            3 ZooKeeper members (Debian zookeeper) + Curator
#   etcd                                                 3 etcd members (Debian etcd-server) + jetcd
#   baton3-line-leader (experiment, only when named)     baton3-line with every connection on the leader
#   baton3-java-tls, baton1-java-tls (experiments, only  baton3-java / baton1-java secured: TLS on the API port,
#     when named)                                        mutual TLS on the Raft port, a bearer token on every call
#                                                        (throw-away certificates made with openssl)
#   baton3-java-shared (experiment, only when named)     baton3-java with one BatonClient shared by all client
#                                                        threads (as docs/client.md says to use it), not one each
# The load generator and the servers' lifecycle are dev.baton.bench.cluster.Compare: every server on
# loopback (free ports; poolcounterd on its fixed 7531), fresh for each contender, a JVM pre-warm,
# then the matrix (clients x keys x W) several times. Results: JSON lines, and a Markdown report
# written into BENCHMARKS.md between <!-- compare:begin --> and <!-- compare:end --> (at its end).
#
# Connection churn (--connect per-pair, or kept,per-pair for both in one run): each client thread opens a
# new connection or session for every acquire+release pair and closes it after the release, as MediaWiki
# does per web request. Per pair, per contender:
#   line contenders (baton*-line*, poolcounterd)   TCP connect, ACQ4ME, RELEASE, close the socket
#   baton*-java*                                    a new session (BatonClient.newSession(): Sessions.Open,
#                                                   keep-alive stream; Sessions.Close after the release) of the
#                                                   thread's BatonClient (-shared: of the one client), on gRPC
#                                                   channels it keeps: no new TCP/TLS connection per pair
#   redis-*                                         a new Jedis connection
#   zookeeper                                       a new CuratorFramework, hence ZooKeeper session
#   etcd                                            a new lease (grant, keep-alive, revoke) on the shared clients
# The report gives these cells tables of their own (open latency, acquire latency after the open, pair
# latency from open to close, CPU per pair) and each contender's "with churn / with kept connections".
#
# Usage: bench/compare.sh [--quick] [Compare options]
#   bench/compare.sh                              the full matrix: C = 1,8,64,256; K = 1000,1; W = 1,4;
#                                                 3 repetitions of 5 s warm-up + 10 s; 60 s pre-warm per W (~2.5 h)
#   bench/compare.sh --quick                      a reduced run (~10 min): 1 and 64 clients x 1000 keys
#                                                 and x 1 key, W=1; 1 repetition of 2 + 5 s; 15 s pre-warm
#   bench/compare.sh --contenders baton3-java,poolcounterd --clients 64 --keys 1000 --workers 1 --reps 2
#   bench/compare.sh --contenders baton3-java,baton3-java-tls ...   the cost of TLS and tokens (docs/benchmark-history.md)
#   bench/compare.sh --contenders baton3-line,baton3-java,poolcounterd --cells 64x1000x1 --connect kept,per-pair
#                                                 connection churn beside kept connections
# Compare options (later ones win; --quick only sets defaults):
#   --contenders LIST  names above, or all, baton, redis          --reps N, --warmup-s S, --duration-s S
#   --clients LIST --keys LIST --workers LIST (product)           --prewarm-s S (per contender)
#   --cells CxKxW,...  (instead of the product)                   --hold-ms H (default 0.1), --dist uniform|zipf[:S]
#   --connect kept|per-pair|kept,per-pair (default kept; each cell and the pre-warm in every mode given)
#   --timeout S, --maxqueue N, --server-jvm "..." (default: the flags of the release's conf/jvm.options),
#   --zk-jvm "...", --zk-recipe auto|semaphore, --etcd-recipe auto|semaphore, --etcd-handles-per-client N,
#   --redis-lock-ttl-s S, --note TEXT, --keep
# Environment:
#   JAR=path        benchmarks.jar (default baton-bench/target/benchmarks.jar, built if missing)
#   BATON_JAR=path  the server jar the Baton nodes run, as users run it (default baton.jar of the same
#                   build: baton-cli/target/baton.jar, or baton-cli/baton.jar beside a -Dbaton.out
#                   build's baton-bench/benchmarks.jar); given by hand, the results' baton_version
#                   names that jar and its hash (it may be any build), not the working tree's commit
#   RESULTS=file    JSON lines (default ${TMPDIR:-/tmp}/compare-<time>.jsonl)
#   REPORT=file     where the Markdown section goes (default BENCHMARKS.md; REPORT= to only print it)
#   JAVA_OPTS=...   options of the load generator's JVM (default -Xms1g -Xmx2g)
#   NO_APT=1        do not install missing Debian packages
# Regenerate the report from JSON lines: java -cp JAR dev.baton.bench.cluster.CompareReport --json FILE [--write BENCHMARKS.md]
# Every server is stopped by its PID when its contender is done, and on exit, failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
JAR=${JAR:-baton-bench/target/benchmarks.jar}
RESULTS=${RESULTS:-${TMPDIR:-/tmp}/compare-$(date +%Y%m%dT%H%M%S).jsonl}
REPORT=${REPORT-BENCHMARKS.md}
JAVA_OPTS=${JAVA_OPTS:--Xms1g -Xmx2g}

quick=(--clients 1,64 --keys 1000,1 --workers 1 --reps 1 --warmup-s 2 --duration-s 5 --prewarm-s 15)
args=()
for a in "$@"; do
  if [[ $a == --quick ]]; then
    args=("${quick[@]}" ${args[@]+"${args[@]}"})
  else
    args+=("$a")
  fi
done

# Which contenders? Only to know what to install; Compare validates the names.
contenders=all
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --contenders) contenders="${args[i + 1]:-}" ;;
    --contenders=*) contenders="${args[i]#--contenders=}" ;;
  esac
done
wants() { [[ ",$contenders," == *",all,"* || ",$contenders," == *",$1"* ]]; }

java_pid=""
pids_file=$(mktemp "${TMPDIR:-/tmp}/compare-pids.XXXXXX")

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
  # Compare stops its servers itself (and its JVM's shutdown hooks kill them on SIGTERM) ...
  [[ -n $java_pid ]] && stop_pid "$java_pid" "Compare"
  # ... but if that JVM died hard, its servers are still up: stop those it recorded ("PID TOKEN"), if
  # the PID still runs a command line with that token (a PID may have been reused).
  if [[ -s $pids_file ]]; then
    while read -r pid token; do
      if [[ -n $pid && -n $token ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$token"; then
        stop_pid "$pid" "$token"
      fi
    done <"$pids_file"
  fi
  rm -f "$pids_file"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Debian packages of the contenders that need one.
need=()
wants poolcounterd && [[ ! -x /usr/bin/poolcounterd ]] && need+=(poolcounter)
wants redis && [[ ! -x /usr/bin/redis-server ]] && need+=(redis-server)
wants zookeeper && [[ ! -f /usr/share/java/zookeeper.jar ]] && need+=(zookeeper)
wants etcd && [[ ! -x /usr/bin/etcd ]] && need+=(etcd-server)
# The -tls experiments make their certificates with openssl ("all" does not include them).
[[ ",$contenders," == *-tls,* && ! -x /usr/bin/openssl ]] && need+=(openssl)
if ((${#need[@]} > 0)); then
  if [[ -n ${NO_APT:-} ]]; then
    echo "missing Debian packages: ${need[*]} (NO_APT is set)" >&2
    exit 1
  fi
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "# installing ${need[*]} with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  # On a machine with an init system the packages start their own services: poolcounterd then holds
  # 7531 and Compare refuses to start (it measures only processes it started itself).
fi

given_baton_jar=${BATON_JAR:-}
jar_dir=$(dirname "$JAR")
if [[ $(basename "$jar_dir") == target ]]; then
  BATON_JAR=${BATON_JAR:-$(dirname "$(dirname "$jar_dir")")/baton-cli/target/baton.jar}
else
  BATON_JAR=${BATON_JAR:-$(dirname "$jar_dir")/baton-cli/baton.jar}
fi
if [[ ! -f $JAR || ! -f $BATON_JAR ]]; then
  echo "# building $JAR and $BATON_JAR"
  mvn -q -DskipTests -pl baton-bench,baton-cli -am package
fi

baton_version=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
if [[ $baton_version != '?' ]] && ! git diff --quiet HEAD 2>/dev/null; then
  baton_version="$baton_version+local changes"
fi
if [[ -n $given_baton_jar ]]; then
  baton_version="$(basename "$BATON_JAR") sha256:$(sha256sum "$BATON_JAR" | cut -c1-12) (working tree $baton_version)"
fi
report_args=()
[[ -n $REPORT ]] && report_args=(--benchmarks-md "$REPORT")

echo "# $(uptime)"
echo "# results: $RESULTS"
# shellcheck disable=SC2086 # JAVA_OPTS is a list of options
java $JAVA_OPTS -cp "$JAR" dev.baton.bench.cluster.Compare --json "$RESULTS" --pids-file "$pids_file" \
  --server-cp "$BATON_JAR" --baton-version "$baton_version" ${report_args[@]+"${report_args[@]}"} ${args[@]+"${args[@]}"} &
java_pid=$!
set +e
wait "$java_pid"
rc=$?
set -e
java_pid=""
echo "# $(uptime)"
exit "$rc"
