#!/bin/bash
# bench/idle-cpu.sh JAR LABEL: starts a 3-node cluster of `baton server` processes from JAR (ports
# 19101-19303 on 127.0.0.1 unless PORTS is set, data in a temp dir), lets it settle for 20 s, then prints the
# CPU the three JVMs used over the next 30 s while idle (utime + stime from /proc, in 1/100 s), and
# stops them.
# SETTLE=s: settle that long instead of 20 s (the JIT is still compiling at 20 s, more so on a busy box).
# THREADS=1: also print the CPU of each thread name (digits folded to N, the three JVMs summed) over
# the same 30 s, from /proc/PID/task: which timer or pool the idle CPU goes to.
# JVM_OPTS="...": more options for the three JVMs (after -Xms256m -Xmx256m).
# PORTS=N: use ports N+1..N+3 (Raft), N+101.. (API), N+201.. (line) instead of 19101..: two clusters can
# then run side by side, which compares two builds under the same conditions (idle runs differ by
# +-50 % from one to the next on a VM).
S=$1; L=$2; W=${SETTLE:-20}; D=$(mktemp -d /tmp/baton-idle-$L.XXXX); head -c 32 /dev/urandom | base64 > $D/secret
B=${PORTS:-19100}
P="n1=127.0.0.1:$((B + 1)),n2=127.0.0.1:$((B + 2)),n3=127.0.0.1:$((B + 3))"
for i in 1 2 3; do java -Xms256m -Xmx256m ${JVM_OPTS:-} -cp $S dev.baton.server.ServerCommand --node-id n$i --data-dir $D/d$i --raft-port $((B + i)) --api-port $((B + 100 + i)) --peers $P --cluster-secret-file $D/secret --line-port $((B + 200 + i)) --no-http > $D/log$i 2>&1 & echo $! > $D/pid$i; done
# per thread: "node/tid name ticks" (comm may hold spaces: the fields start after ") S "; utime, stime are fields 14, 15)
threads() { for i in 1 2 3; do awk -v n=$i 'FNR == 1 { m = match($0, /\) [A-Za-z] /); o = index($0, "(")
  name = substr($0, o + 1, m - o - 1); gsub(/ /, "_", name); split(substr($0, m + 2), f, " ")
  t = FILENAME; sub(/\/stat$/, "", t); sub(/.*\//, "", t); print n "/" t, name, f[12] + f[13] }' \
  /proc/$(cat $D/pid$i)/task/*/stat 2>/dev/null; done; }
sleep $W
[ -n "$THREADS" ] && threads > $D/t0
t0=0; for i in 1 2 3; do t0=$((t0 + $(awk "{print \$14+\$15}" /proc/$(cat $D/pid$i)/stat))); done
sleep 30
t1=0; for i in 1 2 3; do t1=$((t1 + $(awk "{print \$14+\$15}" /proc/$(cat $D/pid$i)/stat))); done
[ -n "$THREADS" ] && threads > $D/t1
echo "$L: $((t1 - t0)) ticks (1/100 s) in 30 s for 3 idle nodes ($(echo "scale=3; ($t1 - $t0)/3000" | bc) cores)"
if [ -n "$THREADS" ]; then
  # threads that ended in the window are missing here (their CPU is in the total above)
  awk 'NR==FNR { a[$1] = $3; next } { d = $3 - a[$1]; n = $2; gsub(/[0-9]+/, "N", n); s[n] += d }
       END { for (n in s) if (s[n] > 0) printf "  %5d %s\n", s[n], n }' $D/t0 $D/t1 | sort -rn
fi
for i in 1 2 3; do kill $(cat $D/pid$i); done; sleep 2
rm -rf "$D"
