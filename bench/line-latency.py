#!/usr/bin/env python3
# bench/line-latency.py PORT N: one PoolCounter client, N acquire+release pairs on one connection to the
# line port on 127.0.0.1:PORT (a key drawn among 1,000, ACQ4ME key 1 1000 10, then RELEASE); prints the
# acquire latency's p50/p90/p99 in microseconds. For latency through one chosen node (a follower, say),
# which bench/compare.sh's one-client cell cannot pick: it connects to the first address, leader or not.
# The figures include Python's own few tens of microseconds per request; compare builds with it, side by side.
import socket, sys, time, random
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
lat = []
for i in range(n):
    k = "k%d" % random.randrange(1000)
    t = time.perf_counter_ns(); s.sendall(b"ACQ4ME %s 1 1000 10\n" % k.encode()); r = f.readline(); lat.append((time.perf_counter_ns() - t) / 1000)
    assert r.startswith(b"LOCKED"), r
    s.sendall(b"RELEASE\n"); r = f.readline(); assert r.startswith(b"RELEASED"), r
lat.sort()
print("p50 %.0f p90 %.0f p99 %.0f us over %d" % (lat[len(lat)//2], lat[len(lat)*9//10], lat[len(lat)*99//100], n))
