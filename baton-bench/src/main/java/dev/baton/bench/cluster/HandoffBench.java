package dev.baton.bench.cluster;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.locks.LockSupport;

/**
 * A machine fact for the server benchmarks: what one thread-to-thread hand-off costs here. Two
 * threads ping-pong {@code --rounds} times through a volatile field, the waiting side parking
 * ({@code LockSupport.park}, as executors and disruptor blocking strategies do) and the other
 * unparking it. Prints wall time and CPU time (both threads, user + system) per one-way hand-off.
 */
public final class HandoffBench {
    private HandoffBench() {}

    private static volatile int turn;

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        int rounds = a.integer("rounds", 200_000);
        a.checkNoneUnknown();
        System.out.println(Machine.header());
        for (int run = 0; run < 3; run++) {
            turn = 0;
            Thread[] ts = new Thread[2];
            ThreadMXBean mx = ManagementFactory.getThreadMXBean();
            long[] cpu = new long[2];
            for (int side = 0; side < 2; side++) {
                final int me = side;
                ts[side] = new Thread(() -> {
                    long c0 = mx.getCurrentThreadCpuTime();
                    for (int i = 0; i < rounds; i++) {
                        while (turn != me) {
                            LockSupport.park();
                        }
                        turn = 1 - me;
                        LockSupport.unpark(ts[1 - me]);
                    }
                    cpu[me] = mx.getCurrentThreadCpuTime() - c0;
                }, "handoff-" + side);
            }
            long t0 = System.nanoTime();
            ts[0].start();
            ts[1].start();
            ts[0].join();
            ts[1].join();
            long wall = System.nanoTime() - t0;
            long handoffs = 2L * rounds;
            System.out.printf("run %d: %,d hand-offs, %.1f us wall and %.1f us CPU per hand-off; loadavg %s%n", run,
                    handoffs, wall / 1e3 / handoffs, (cpu[0] + cpu[1]) / 1e3 / handoffs, Machine.loadavg());
        }
    }
}
