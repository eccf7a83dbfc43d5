#!/usr/bin/env python3
"""Drives a PoolCounter server the way MediaWiki's PHP client and the Prometheus exporter do.

Standard library only. Usage: php_style_client.py HOST PORT. Prints one line per check and exits
non-zero on the first failure. Written for Baton's test suite; it works against poolcounterd too.

PHP client (includes/PoolCounter/PoolCounterClient.php): one connection per server, spaces in keys
sent as %20, "ACQ4ME key workers maxqueue timeout\n", read exactly one line, "RELEASE\n", read one
line, close (closing releases whatever is still held). The exporter sends "STATS FULL\n" and splits
lines on ": " until the empty line.
"""
import socket
import sys


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""

    def send(self, line):
        self.sock.sendall(line.encode("utf-8") + b"\n")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed by server; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8")

    def call(self, line):
        self.send(line)
        return self.read()

    def close(self):
        self.sock.close()


def php_args(*args):
    # PoolCounterClient::sendCommand: str_replace(' ', '%20', $args), implode(' ') . "\n"
    return " ".join(str(a).replace(" ", "%20") for a in args)


def expect(what, got, want):
    if got != want:
        print("FAIL %s: got %r, want %r" % (what, got, want))
        sys.exit(1)
    print("ok   %s: %s" % (what, got))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    key = "ArticleView:enwiki:Main Page:rev 42"

    # A page view: acquire for me, work, release, close.
    c1 = Conn(host, port)
    expect("ACQ4ME", c1.call(php_args("ACQ4ME", key, 2, 100, 15)), "LOCKED")
    expect("RELEASE", c1.call("RELEASE"), "RELEASED")
    expect("RELEASE again", c1.call("RELEASE"), "NOT_LOCKED")
    c1.close()

    # Stampede: one worker renders, another waits for anyone's result and gets DONE.
    r = Conn(host, port)
    w = Conn(host, port)
    expect("render ACQ4ME", r.call(php_args("ACQ4ME", key, 1, 100, 15)), "LOCKED")
    w.send(php_args("ACQ4ANY", key, 1, 100, 15))
    # a round trip shows the waiter is queued and has no answer yet
    expect("waiter still waiting", w.call("STATS waiting_workers").startswith("waiting_workers: "), True)
    expect("render RELEASE", r.call("RELEASE"), "RELEASED")
    expect("waiter", w.read(), "DONE")

    # Queue full and an immediate timeout, with fast-stale's timeout 0.
    h = Conn(host, port)
    expect("holder", h.call(php_args("ACQ4ME", "FileRender:x.png", 1, 2, 8)), "LOCKED")
    expect("fast-stale ACQ4ANY timeout 0", w.call(php_args("ACQ4ANY", "FileRender:x.png", 1, 2, 0)), "TIMEOUT")
    expect("maxqueue 1", w.call(php_args("ACQ4ME", "FileRender:x.png", 1, 1, 8)), "QUEUE_FULL")

    # The holder's PHP process ends without RELEASE: closing the connection frees the slot.
    h.close()
    expect("after the holder closed", w.call(php_args("ACQ4ME", "FileRender:x.png", 1, 2, 8)), "LOCKED")
    w.close()
    r.close()

    # The Prometheus exporter's parse of STATS FULL.
    s = Conn(host, port)
    s.send("STATS FULL")
    stats = {}
    while True:
        line = s.read()
        if ": " not in line:
            expect("STATS FULL ends with an empty line", line, "")
            break
        name, value = line.split(": ", 1)
        stats[name] = value
    for name in ("uptime", "total processing time", "gained time", "waiting time for good", "total_acquired",
                 "hashtable_entries", "processing_workers", "waiting_workers", "processed_count"):
        expect("STATS FULL has " + name, name in stats, True)
    expect("total_acquired is a number", stats["total_acquired"].isdigit(), True)
    s.close()
    print("all checks passed")


if __name__ == "__main__":
    main()
