#!/bin/bash
# bench/thread-cpu.sh PID...: where the CPU of running processes goes, per thread name, exactly.
# Reads /proc/PID/task/TID/schedstat (nanoseconds on a CPU, number of times the thread ran) of every
# thread of the given processes twice, $WIN seconds apart (default 30), and prints per thread name
# (digits folded to N, the processes summed) the CPU in ms, the runs, and the CPU per run, busiest
# first, with the total on top; and of that CPU, the part in the kernel (system time, from
# /proc/PID/task/TID/stat, in clock ticks of 10 ms: coarse for a thread that ran little). Exact where sampling profilers are not: async-profiler's itimer misses
# most of the work done in bursts shorter than the kernel's tick, which is how an idle or lightly
# loaded server spends its CPU. Threads that start or end inside the window are not counted.
# Under load, point it at the servers of a bench/compare.sh cell, e.g. after the "pre-warm:" line:
#   WIN=45 bench/thread-cpu.sh $(pgrep -f ServerCommand)
# One node at a time (one call per PID, run together) tells the leader from the followers.
set -euo pipefail
T0=$(mktemp); T1=$(mktemp); trap 'rm -f "$T0" "$T1"' EXIT
snap() { # "pid/tid name ns-on-cpu ns-waiting runs system-ticks", with shell builtins only (no process per thread)
  local n a b c st f
  for p in "$@"; do for t in /proc/$p/task/*; do
    { read -r n < "$t/comm" && read -r a b c < "$t/schedstat" && read -r st < "$t/stat" \
      && read -r -a f <<< "${st##*) }" && echo "$p/${t##*/} ${n// /_} $a $b $c ${f[12]}"; } || true
  done; done 2>/dev/null
}
snap "$@" > "$T0"; sleep "${WIN:-30}"; snap "$@" > "$T1"
awk 'NR == FNR { r[$1] = $3; c[$1] = $5; k[$1] = $6; next }
  ($1 in r) { n = $2; gsub(/[0-9]+/, "N", n); R[n] += $3 - r[$1]; C[n] += $5 - c[$1]; K[n] += ($6 - k[$1]) * 10 }
  END { for (n in R) if (R[n] > 0) { printf "%9.1f ms (kernel %7.0f) %8d runs %7.1f us/run  %s\n", R[n] / 1e6, K[n], C[n], (C[n] ? R[n] / 1e3 / C[n] : 0), n; tr += R[n]; tc += C[n]; tk += K[n] }
        printf "%9.1f ms (kernel %7.0f) %8d runs                 TOTAL over %s s\n", tr / 1e6, tk, tc, "'"${WIN:-30}"'" }' "$T0" "$T1" | sort -rn
