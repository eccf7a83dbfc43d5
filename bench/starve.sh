#!/usr/bin/env bash
# bench/starve.sh [compare.sh options]: bench/compare.sh with the servers starved of CPU, to hunt
# for wrong answers rather than to measure speed. After the contender's start-up (DELAY s, default
# 40), HOGS busy loops (default 6) run at nice -15 (above the servers and the load generator, as
# heavy neighbours on a shared host do) until the run ends. Elections, UNAVAILABLE, DEADLINE_EXCEEDED
# and timeouts are expected; a violation, an INTERNAL error, a STALE_FENCE or an answer of the wrong
# kind is a bug: the load generator prints the first error of each kind with its message.
# Example (found the forwarding link's numbering bug, docs/benchmark-history.md):
#   bench/starve.sh --contenders baton3-java --cells 64x1000x1 --connect per-pair --reps 3 --duration-s 20 --prewarm-s 30
# Needs root (or CAP_SYS_NICE) for the negative nice value; without it the hogs run at nice 0.
# Name one contender per run: the loops run until the whole run ends, so a later contender would
# start starved (a 3-node Baton then does not elect within the load generator's 60 s).
set -euo pipefail
cd "$(dirname "$0")/.."
HOGS=${HOGS:-6}; DELAY=${DELAY:-40}
pidfile=$(mktemp)
stop() { [[ -s $pidfile ]] && kill $(cat "$pidfile") 2>/dev/null; kill "$starter" 2>/dev/null; rm -f "$pidfile"; }
trap stop EXIT
( sleep "$DELAY"
  for _ in $(seq "$HOGS"); do
    if nice -n -15 true 2>/dev/null; then nice -n -15 bash -c 'while :; do :; done' & else bash -c 'while :; do :; done' & fi
    echo $! >> "$pidfile"
  done
  wait ) &
starter=$!
REPORT= bench/compare.sh "$@"
