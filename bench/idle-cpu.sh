#!/bin/bash
# bench/idle-cpu.sh JAR LABEL: starts a 3-node cluster of `baton server` processes from JAR (ports
# 19101-19303 on 127.0.0.1, data in a temp dir), lets it settle for 20 s, then prints the
# CPU the three JVMs used over the next 30 s while idle (utime + stime from /proc, in 1/100 s), and
# stops them.
S=$1; L=$2; D=$(mktemp -d /tmp/baton-idle-$L.XXXX); head -c 32 /dev/urandom | base64 > $D/secret
P="n1=127.0.0.1:19101,n2=127.0.0.1:19102,n3=127.0.0.1:19103"
for i in 1 2 3; do java -Xms256m -Xmx256m -cp $S dev.baton.server.BatonCli server --node-id n$i --data-dir $D/d$i --raft-port 1910$i --api-port 1920$i --peers $P --cluster-secret-file $D/secret --line-port 1930$i --no-http > $D/log$i 2>&1 & echo $! > $D/pid$i; done
sleep 20
t0=0; for i in 1 2 3; do t0=$((t0 + $(awk "{print \$14+\$15}" /proc/$(cat $D/pid$i)/stat))); done
sleep 30
t1=0; for i in 1 2 3; do t1=$((t1 + $(awk "{print \$14+\$15}" /proc/$(cat $D/pid$i)/stat))); done
echo "$L: $((t1 - t0)) ticks (1/100 s) in 30 s for 3 idle nodes ($(echo "scale=3; ($t1 - $t0)/3000" | bc) cores)"
for i in 1 2 3; do kill $(cat $D/pid$i); done; sleep 2
rm -rf "$D"
