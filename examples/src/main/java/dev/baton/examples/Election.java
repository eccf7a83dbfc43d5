package dev.baton.examples;

import dev.baton.client.BatonClient;
import dev.baton.client.lock.LeaderElection;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Leader election: a few scheduler processes (each its own {@link BatonClient}) contend for the name
 * "nightly-scheduler"; the leader writes to a store that remembers the largest fence it accepted and
 * refuses smaller ones. Every so often the leader steps down (as a process being upgraded would) and a
 * fresh contender takes its place. Each term has a larger fence, and there is never more than one
 * leader at a time.
 *
 * <p>{@code examples/run election --contenders 3 --handovers 4}.
 */
public final class Election {
    private Election() {}

    /**
     * What happened: terms seen, writes the store accepted, writes it refused as stale, the most
     * leaders at once (must be 1), and whether each term's fence was larger than the one before.
     */
    public record Outcome(int terms, long writes, long refusedStale, int mostLeadersAtOnce, boolean fencesIncreased) {}

    /** A resource protected by fences: it accepts a write only with a fence at least the largest seen. */
    static final class FencedStore {
        private long highest;
        private long writes;
        private long refused;

        synchronized boolean write(long fence) {
            if (fence < highest) {
                refused++;
                return false;
            }
            highest = fence;
            writes++;
            return true;
        }
    }

    /** One scheduler process: a client, its election, and a loop that writes while it leads. */
    private static final class Scheduler {
        final String name;
        final BatonClient client;
        final LeaderElection election;
        final Thread worker;
        volatile boolean running = true;

        Scheduler(String name, List<String> endpoints, Listener events, FencedStore store) {
            this.name = name;
            this.client = BatonClient.builder().securityFromEnvironment().endpoints(endpoints)
                    .retryFor(Duration.ofSeconds(30)).build();
            this.election = LeaderElection.builder(client, "nightly-scheduler").listener(new LeaderElection.Listener() {
                @Override
                public void gained(long fence) {
                    events.gained(Scheduler.this, fence);
                }

                @Override
                public void lost() {
                    events.lost(Scheduler.this);
                }
            }).build();
            this.worker = new Thread(() -> {
                while (running) {
                    if (election.isLeader()) {
                        try {
                            store.write(election.fence()); // quote the term's fence on every write
                        } catch (IllegalStateException notLeaderAnyMore) {
                            // lost between the check and the fence: nothing written
                        }
                    }
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "scheduler-" + name);
            worker.setDaemon(true);
        }

        void start() {
            worker.start();
            election.start();
        }

        /** Steps down cleanly: stops its work first, then gives up the leadership, so no late write follows. */
        void stop() throws InterruptedException {
            running = false;
            worker.interrupt();
            worker.join(5_000);
            election.close(); // lost() first if it leads, then the next contender is granted the lock
            client.close();
        }
    }

    /** The listener calls of every scheduler, counted. */
    private static final class Listener {
        final long start = System.nanoTime();
        final boolean print;
        final AtomicInteger leaders = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();
        final List<Long> fences = new ArrayList<>();

        Listener(boolean print) {
            this.print = print;
        }

        synchronized void gained(Scheduler s, long fence) {
            most.accumulateAndGet(leaders.incrementAndGet(), Math::max);
            fences.add(fence);
            if (print) {
                System.out.println(at() + s.name + " leads, term fence " + fence);
            }
        }

        synchronized void lost(Scheduler s) {
            leaders.decrementAndGet();
            if (print) {
                System.out.println(at() + s.name + " no longer leads");
            }
        }

        /** The time since the start, as a prefix of printed lines. */
        String at() {
            return String.format("%6.2f s  ", (System.nanoTime() - start) / 1e9);
        }

        synchronized Scheduler leaderAmong(List<Scheduler> all) {
            for (Scheduler s : all) {
                if (s.election.isLeader()) {
                    return s;
                }
            }
            return null;
        }

        synchronized List<Long> fences() {
            return List.copyOf(fences);
        }
    }

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv, "examples/run election [--endpoints host:port,...] [--contenders 3] [--handovers 4]");
        Outcome o = run(a.endpoints(), a.getInt("contenders", 3), a.getInt("handovers", 4), true);
        System.out.printf("%d terms, %d writes accepted, %d refused as stale, at most %d leader(s) at once,"
                + " fences %s%n", o.terms(), o.writes(), o.refusedStale(), o.mostLeadersAtOnce(),
                o.fencesIncreased() ? "increasing" : "NOT increasing");
    }

    public static Outcome run(List<String> endpoints, int contenders, int handovers, boolean print) throws Exception {
        FencedStore store = new FencedStore();
        Listener events = new Listener(print);
        List<Scheduler> all = new ArrayList<>();
        int made = 0;
        try {
            for (; made < contenders; made++) {
                Scheduler s = new Scheduler("s" + (made + 1), endpoints, events, store);
                all.add(s);
                s.start();
                if (print) {
                    System.out.println(events.at() + s.name + " contends");
                }
            }
            for (int h = 0; h < handovers; h++) {
                Scheduler leader = awaitLeader(events, all);
                long writes = storeWrites(store);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (storeWrites(store) < writes + 10 && System.nanoTime() < deadline) {
                    Thread.sleep(20); // let the leader work a little
                }
                if (print) {
                    System.out.println(events.at() + leader.name + " steps down");
                }
                leader.stop();
                all.remove(leader);
                Scheduler fresh = new Scheduler("s" + (++made), endpoints, events, store);
                all.add(fresh);
                fresh.start();
            }
            awaitLeader(events, all);
        } finally {
            // the contenders first, the leader last: shutting down hands nothing over
            all.sort((x, y) -> Boolean.compare(x.election.isLeader(), y.election.isLeader()));
            for (Scheduler s : all) {
                s.stop();
            }
        }
        List<Long> fences = events.fences();
        boolean increasing = true;
        for (int i = 1; i < fences.size(); i++) {
            increasing &= fences.get(i) > fences.get(i - 1);
        }
        synchronized (store) {
            return new Outcome(fences.size(), store.writes, store.refused, events.most.get(), increasing);
        }
    }

    private static long storeWrites(FencedStore store) {
        synchronized (store) {
            return store.writes;
        }
    }

    private static Scheduler awaitLeader(Listener events, List<Scheduler> all) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Scheduler s = events.leaderAmong(all);
            if (s != null) {
                return s;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no leader within 60 s");
            }
            Thread.sleep(20);
        }
    }
}
