#!/bin/bash
# bench/syscalls.sh PID...: system calls, context switches and CPU of running processes, per thread
# name, over $WIN seconds (default 30), busiest first, with the total on top. Counts, not samples: the
# kernel's raw_syscalls:sys_enter tracepoint and its context-switch and task-clock counters, read by
# `perf stat --per-thread` (Debian package linux-perf; root, or kernel.perf_event_paranoid = -1, for
# the tracepoint). A busy virtual machine host makes each system call and context switch dearer, not
# more frequent, so their number per pair tells two builds apart better than pairs/s or CPU time do;
# divide by the pairs of the window (the cell's pairs/s times $WIN).
# Under load, point it at the servers of a bench/compare.sh cell after the "pre-warm:" line, e.g.
#   WIN=40 bench/syscalls.sh $(pgrep -f ServerCommand)        # the nodes together
#   for p in $(pgrep -f ServerCommand); do WIN=40 bench/syscalls.sh $p > /tmp/node-$p & done; wait
# Thread names are folded as bench/thread-cpu.sh folds them (digits to N); perf cuts them at 15 characters.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: WIN=30 $0 PID..." >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 2; }
WIN=${WIN:-30}
pids=$(IFS=,; echo "$*")
out=$(mktemp); trap 'rm -f "$out"' EXIT
# perf writes its CSV (-x,) to stderr: "comm-tid,value,unit,event,..."
perf stat --per-thread -x, -e raw_syscalls:sys_enter,context-switches,task-clock -p "$pids" -- sleep "$WIN" \
  2>"$out" >/dev/null
if grep -q "not supported\|Permission\|No permission" "$out"; then
  cat "$out" >&2; exit 1
fi
awk -F, -v win="$WIN" '
  NF >= 4 && $2 ~ /^[0-9.]+$/ {
    n = $1; sub(/-[0-9]+$/, "", n); gsub(/[0-9]+/, "N", n); gsub(/ /, "_", n); seen[n] = 1
    if ($4 ~ /sys_enter/) S[n] += $2; else if ($4 ~ /context-switches/) C[n] += $2; else if ($4 ~ /task-clock/) T[n] += $2 }
  END {
    for (n in seen) { printf "%10d syscalls %9d switches %9.1f ms  %s\n", S[n], C[n], T[n], n; s += S[n]; c += C[n]; t += T[n] }
    printf "%10d syscalls %9d switches %9.1f ms  TOTAL over %s s\n", s, c, t, win }' "$out" | sort -rn
