package dev.baton.server.cluster;

import dev.baton.api.v1.StatusResponse;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.SessionLease;
import dev.baton.client.lock.FencedLock;
import dev.baton.client.lock.LeaderElection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An upgrade as operators do it: a rolling restart of a 3-node cluster of real {@code baton server}
 * processes under load. Each node in turn is stopped with SIGTERM, started again on its data
 * directory and ports, and waited for until it has applied what the leader had committed; the
 * leader goes last. Meanwhile pool workers hold slots of one hot key (3 holders at most, a bounded
 * queue) and lock workers take turns on one fenced lock, through two clients. The test counts the
 * holders itself: never more than the pool's limit, never two holders of the lock, lock fences
 * strictly increasing, no session lost, every call answered (time-outs and a full queue are answers),
 * every worker still making progress after the last restart, and never two leaders at once of a
 * {@link LeaderElection} with a contender on each client. Durations are printed, not asserted.
 */
class RollingRestartProcessTest {
    /** A JVM's start, a leader's election or a node's catch-up on a loaded 2-core box. */
    private static final long GENEROUS_MS = 120_000;
    private static final String POOL_KEY = "rolling:hot";
    private static final int POOL_LIMIT = 3;
    private static final int POOL_MAX_QUEUE = 8;
    private static final String LOCK = "rolling:lock";
    private static final int POOL_WORKERS_PER_CLIENT = 5;
    private static final int LOCK_WORKERS_PER_CLIENT = 2;

    @TempDir
    Path tmp;

    private static void await(String what, BooleanSupplier cond, ProcessCluster c) throws InterruptedException {
        await(what, cond, c, () -> "");
    }

    private static void await(String what, BooleanSupplier cond, ProcessCluster c, java.util.function.Supplier<String> state)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " not reached within " + GENEROUS_MS + " ms (" + state.get() + ")\n"
                        + c.logs());
            }
            Thread.sleep(50);
        }
    }

    @Test
    void restartingEveryNodeInTurnUnderLoadLosesNoSessionAndNeverOverGrants() throws Exception {
        long t0 = System.nanoTime();
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            ProcessCluster.NodeProc firstLeader = c.awaitLeader(GENEROUS_MS)
                    .orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            long started = System.nanoTime();

            Set<Long> lost = ConcurrentHashMap.newKeySet();
            ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
            AtomicInteger poolHolders = new AtomicInteger();
            AtomicInteger maxPoolHolders = new AtomicInteger();
            AtomicInteger lockHolders = new AtomicInteger();
            AtomicLong lastLockFence = new AtomicLong();
            Set<Long> sessionsUsed = ConcurrentHashMap.newKeySet();
            AtomicLong timeouts = new AtomicLong();
            AtomicLong queueFull = new AtomicLong();
            AtomicBoolean stop = new AtomicBoolean();
            int workersTotal = 2 * (POOL_WORKERS_PER_CLIENT + LOCK_WORKERS_PER_CLIENT);
            AtomicLongArray done = new AtomicLongArray(workersTotal); // completed holds per worker

            List<BatonClient> clients = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                clients.add(BatonClient.builder().endpoints(c.apiEndpoints())
                        .sessionTtl(Duration.ofSeconds(10))
                        // a restart may cost an election on a loaded box: keep retrying the same request
                        .retryFor(Duration.ofSeconds(90))
                        // the sessions the clients open for the load stay open, so the end can check them all
                        .idleSessionClose(Duration.ofMinutes(10))
                        .onSessionLost(e -> lost.add(e.sessionId()))
                        .build());
            }
            List<Thread> threads = new ArrayList<>();
            int w = 0;
            for (BatonClient client : clients) {
                for (int i = 0; i < POOL_WORKERS_PER_CLIENT; i++, w++) {
                    int me = w;
                    threads.add(new Thread(() -> {
                        while (!stop.get()) {
                            try {
                                PoolReply r = client.pools().acquire(POOL_KEY, POOL_LIMIT, POOL_MAX_QUEUE,
                                        Duration.ofSeconds(5), false);
                                sessionsUsed.add(r.session());
                                if (r.status() == PoolStatus.TIMEOUT) {
                                    timeouts.incrementAndGet();
                                    continue;
                                }
                                if (r.status() == PoolStatus.QUEUE_FULL) {
                                    queueFull.incrementAndGet();
                                    Thread.sleep(5); // the queue is full: step back a little
                                    continue;
                                }
                                if (r.status() != PoolStatus.LOCKED) {
                                    violations.add("pool acquire answered " + r);
                                    continue;
                                }
                                int now = poolHolders.incrementAndGet();
                                maxPoolHolders.accumulateAndGet(now, Math::max);
                                if (now > POOL_LIMIT) {
                                    violations.add(now + " pool holders at once (fence " + r.fence() + ")");
                                }
                                Thread.sleep(3); // the work
                                poolHolders.decrementAndGet(); // before releasing: the counted hold lies inside the real one
                                PoolReply rel = client.pools().release(r);
                                if (rel.status() != PoolStatus.RELEASED) {
                                    violations.add("release of " + r + " answered " + rel);
                                }
                                done.incrementAndGet(me);
                                Thread.sleep(2); // work outside the pool, so a worker does not re-queue at once
                            } catch (InterruptedException e) {
                                return;
                            } catch (BatonException e) {
                                if (!stop.get()) {
                                    violations.add("pool call failed: " + e);
                                }
                            }
                        }
                    }, "pool-" + me));
                }
                FencedLock lock = new FencedLock(client, LOCK);
                for (int i = 0; i < LOCK_WORKERS_PER_CLIENT; i++, w++) {
                    int me = w;
                    threads.add(new Thread(() -> {
                        while (!stop.get()) {
                            try {
                                if (!lock.tryLock(5, TimeUnit.SECONDS)) {
                                    timeouts.incrementAndGet();
                                    continue;
                                }
                                long fence = lock.fence();
                                if (lockHolders.incrementAndGet() > 1) {
                                    violations.add("two lock holders at once (fence " + fence + ")");
                                }
                                long before = lastLockFence.getAndAccumulate(fence, Math::max);
                                if (fence <= before) {
                                    violations.add("lock fence " + fence + " after " + before);
                                }
                                Thread.sleep(3); // the work
                                lockHolders.decrementAndGet();
                                lock.unlock();
                                done.incrementAndGet(me);
                                Thread.sleep(2); // work outside the lock, so the other thread of this client gets its turn
                            } catch (InterruptedException e) {
                                return;
                            } catch (RuntimeException e) { // BatonException, or LockLostException from unlock()
                                if (!stop.get()) {
                                    violations.add("lock call failed: " + e);
                                }
                            }
                        }
                    }, "lock-" + me));
                }
            }
            // two contenders of a leader election, one on each client: never both leaders at once
            List<LeaderElection> elections = new ArrayList<>();
            AtomicInteger terms = new AtomicInteger();
            for (BatonClient client : clients) {
                LeaderElection e = LeaderElection.builder(client, "rolling:leader").listener(new LeaderElection.Listener() {
                    @Override
                    public void gained(long fence) {
                        terms.incrementAndGet();
                    }

                    @Override
                    public void lost() {}
                }).build();
                elections.add(e);
                e.start();
            }
            threads.add(new Thread(() -> {
                while (!stop.get()) {
                    if (elections.get(0).isLeader() && elections.get(1).isLeader()) {
                        violations.add("two leaders of the election at once");
                    }
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "election-watch"));
            threads.forEach(Thread::start);
            List<String> restarts = new ArrayList<>();
            Set<Long> sessionsBefore;
            try {
                java.util.function.Supplier<String> state = () -> "holds per worker " + done + ", violations " + violations;
                long[] none = new long[workersTotal];
                await("every worker under way", () -> allAbove(done, none), c, state);
                sessionsBefore = Set.copyOf(sessionsUsed);
                for (BatonClient client : clients) {
                    sessionsBefore = union(sessionsBefore, client.sessionId());
                }

                // followers first, the leader last
                List<ProcessCluster.NodeProc> order = new ArrayList<>(c.nodes());
                ProcessCluster.NodeProc leader = c.awaitLeader(GENEROUS_MS).orElse(firstLeader);
                order.remove(leader);
                order.add(leader);
                for (ProcessCluster.NodeProc n : order) {
                    long r0 = System.nanoTime();
                    long doneBefore = total(done);
                    c.stop(n); // SIGTERM: a clean stop
                    long r1 = System.nanoTime();
                    c.start(n); // the same data directory and ports
                    c.awaitStatus(n);
                    long r2 = System.nanoTime();
                    long target = caughtUpTarget(c, n);
                    await(n.id + " applied the leader's commit index " + target, () -> c.status(n)
                            .map(s -> s.getAppliedIndex() >= target && !s.getLeaderRaftAddress().isEmpty())
                            .orElse(false), c);
                    long r3 = System.nanoTime();
                    restarts.add(String.format("%s%s: stop %d ms, start %d ms, catch-up to %d %d ms, holds meanwhile %d",
                            n.id, n == leader ? " (leader)" : "", ms(r1 - r0), ms(r2 - r1), target, ms(r3 - r2),
                            total(done) - doneBefore));
                }
                long[] afterLast = snapshot(done);
                await("every worker makes progress after the last restart", () -> allAbove(done, afterLast), c, state);
                await("one leader of the election", () -> elections.stream().filter(LeaderElection::isLeader).count() == 1,
                        c, state);
            } finally {
                stop.set(true);
                for (Thread th : threads) {
                    th.interrupt();
                }
                for (Thread th : threads) {
                    th.join(30_000);
                }
            }
            elections.forEach(LeaderElection::close);
            System.out.println("[RollingRestartProcessTest] " + String.join("; ", restarts)
                    + "; election terms " + terms.get()
                    + "; holds per worker " + done + ", pool time-outs " + timeouts.get() + " (lock and pool), queue full "
                    + queueFull.get() + ", most pool holders at once " + maxPoolHolders.get()
                    + "; cluster up to end of load " + ms(System.nanoTime() - started) + " ms, test "
                    + ms(System.nanoTime() - t0) + " ms");

            assertThat(violations).as("violations\n%s", c.logs()).isEmpty();
            assertThat(lost).as("sessions lost across the restarts").isEmpty();
            Set<Long> listed = clients.get(0).sessions().list().stream().map(SessionLease::session)
                    .collect(Collectors.toSet());
            assertThat(listed).as("sessions opened before the restarts, still open").containsAll(sessionsBefore);
            for (BatonClient client : clients) {
                assertThat(client.sessionAlive()).isTrue();
                assertThat(client.sessions().get().session()).isEqualTo(client.sessionId());
                client.close();
            }
        }
    }

    /** The leader's commit index once {@code n} answers: what {@code n} must have applied to be caught up. */
    private static long caughtUpTarget(ProcessCluster c, ProcessCluster.NodeProc n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GENEROUS_MS);
        while (true) {
            Optional<ProcessCluster.NodeProc> leader = c.awaitLeader(GENEROUS_MS);
            Optional<StatusResponse> st = leader.flatMap(c::status);
            if (st.isPresent() && st.get().getIsLeader()) {
                return st.get().getCommitIndex();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no leader's commit index while " + n.id + " restarts\n" + c.logs());
            }
        }
    }

    private static Set<Long> union(Set<Long> s, long id) {
        Set<Long> u = new java.util.HashSet<>(s);
        u.add(id);
        return u;
    }

    private static long[] snapshot(AtomicLongArray a) {
        long[] s = new long[a.length()];
        for (int i = 0; i < s.length; i++) {
            s[i] = a.get(i);
        }
        return s;
    }

    private static boolean allAbove(AtomicLongArray a, long[] floor) {
        for (int i = 0; i < floor.length; i++) {
            if (a.get(i) <= floor[i]) {
                return false;
            }
        }
        return true;
    }

    private static long total(AtomicLongArray a) {
        long t = 0;
        for (int i = 0; i < a.length(); i++) {
            t += a.get(i);
        }
        return t;
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
