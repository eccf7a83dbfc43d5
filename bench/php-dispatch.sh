#!/usr/bin/env bash
# Dispatch passes per second: 3 PHP dispatchers (clients/php/examples/dispatchChanges.php, one process
# each, over the HTTP/JSON API) against 3 Java Dispatchers (dev.baton.bench.dispatch.DispatchPasses,
# one BatonClient and session each, over gRPC), on the same running cluster, with the same targets,
# feed and settings: 20 targets, changes 1..1000 (CHANGES=n for more), batch size 10, dispatch
# interval 0, randomness 5.
# Rounds alternate PHP and Java so that both see the same machine; each round uses a new group.
#
#   bench/php-dispatch.sh HTTP_ENDPOINTS GRPC_ENDPOINTS [ROUNDS]
#   e.g. bench/php-dispatch.sh 127.0.0.1:7532,127.0.0.1:7542,127.0.0.1:7552 127.0.0.1:7530,127.0.0.1:7540,127.0.0.1:7550 3
#
# Both get the endpoints in the same order: the Java client moves to the leader by itself, the PHP
# client keeps to the first node that answers, so list the leader first for a like-for-like run
# (through a follower every write is forwarded, one more hop).
# CP: the class path of the Java side (default baton-bench/target/benchmarks.jar, built by
# `mvn -q -DskipTests -pl baton-bench -am package`).
set -euo pipefail
cd "$(dirname "$0")/.."
http=${1:?HTTP endpoints}
grpc=${2:?gRPC endpoints}
rounds=${3:-3}
changes=${CHANGES:-1000}
CP=${CP:-baton-bench/target/benchmarks.jar}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for ((r = 1; r <= rounds; r++)); do
  group=php-dispatch-$r-$$-$RANDOM
  echo "round $r: php, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  for i in 1 2 3; do
    php clients/php/examples/dispatchChanges.php --endpoints "$http" --group "$group" --targets 20 --changes "$changes" \
      --batch-size 10 --dispatch-interval 0 --randomness 5 --idle-delay 0.2 --sink "$work/php-$r" --exit-when-done \
      >"$work/php-$r-$i.out" 2>&1 &
  done
  wait
  cat "$work"/php-$r-?.out | php -r '
    $p = $b = 0; $s = 0.0;
    while (($l = fgets(STDIN)) !== false) {
      $j = json_decode($l, true);
      if (is_array($j)) { $p += $j["passes"]; $b += $j["batches"]; $s = max($s, $j["seconds"]); }
    }
    printf("php: 3 dispatchers, 20 targets, %d changes, batch 10: %d passes, %d batches in %.2f s = %.1f passes/s\n", $argv[1], $p, $b, $s, $p / $s);' "$changes"
  echo "round $r: java, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  java -cp "$CP" dev.baton.bench.dispatch.DispatchPasses --endpoints "$grpc" --dispatchers 3 --targets 20 \
    --changes "$changes" --batch-size 10 --group "java-dispatch-$r-$$-$RANDOM" --sink "$work/java-$r" 2>/dev/null | grep '^java:'
done
