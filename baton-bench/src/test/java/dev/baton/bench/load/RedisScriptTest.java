package dev.baton.bench.load;

import dev.baton.bench.cluster.Machine;
import dev.baton.bench.load.Contender.ContenderException;
import dev.baton.bench.load.Contender.Handle;
import dev.baton.bench.load.Contender.Outcome;
import dev.baton.bench.load.Contender.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The PoolCounterRedis script ({@code poolcounter-redis.lua}) through {@link RedisContender}, against a
 * real {@code redis-server} started here on a free loopback port (skipped, with a message, where
 * Debian's redis-server is not installed). Each test uses its own pool keys.
 */
@Timeout(60)
class RedisScriptTest {
    private static final String REDIS = "/usr/bin/redis-server";
    private static final AtomicInteger POOLS = new AtomicInteger();

    private static Process server;
    private static Path dir;
    private static int port;
    private static RedisContender redis;
    private static final ExecutorService POOL = Executors.newCachedThreadPool();

    @BeforeAll
    static void startRedis() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(REDIS)),
                "SKIPPED: " + REDIS + " is not installed (apt-get install redis-server); the Lua is not tested");
        dir = Files.createTempDirectory("redis-script-test-");
        port = Machine.freePort();
        server = new ProcessBuilder(REDIS, "--port", Integer.toString(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", dir.toString(), "--daemonize", "no")
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Jedis j = new Jedis("127.0.0.1", port, 1000)) {
                if ("PONG".equals(j.ping())) {
                    break;
                }
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline || !server.isAlive()) {
                    throw new IllegalStateException("redis-server did not come up: "
                            + Files.readString(dir.resolve("out.log")), e);
                }
                Thread.sleep(50);
            }
        }
        redis = new RedisContender("redis-test", "127.0.0.1", port, 3_600_000);
    }

    @AfterAll
    static void stopRedis() throws Exception {
        POOL.shutdownNow();
        if (server != null) {
            server.destroy();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
        Machine.deleteTree(dir);
    }

    private static String newKey() {
        return "t" + POOLS.incrementAndGet();
    }

    private static Request me(String key, int workers, int maxQueue, long timeoutMs) {
        return new Request(key, workers, maxQueue, Duration.ofMillis(timeoutMs), false);
    }

    private static Request anyone(String key, long timeoutMs) {
        return new Request(key, 1, 100, Duration.ofMillis(timeoutMs), true);
    }

    private static Future<Outcome> async(Handle h, Request r) {
        return POOL.submit(() -> h.acquire(r));
    }

    /**
     * Waits until {@code n} waiters are registered on the pool and Redis reports at least {@code n}
     * clients blocked in BLPOP. Registration alone is not enough: between the script's WAIT answer and
     * the BLPOP there is a round trip, and on a loaded machine a release that lands in it pushes its
     * tokens before the waiter listens (a wake-up token for anyone lives 1 ms), so the waiter then takes
     * the free slot instead of DONE. The tests run one at a time and each ends with no client blocked.
     */
    private static void awaitWaiters(String key, int workers, int n) throws InterruptedException {
        String waiters = RedisContender.poolKeys(key, workers).get(2);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        try (Jedis j = new Jedis("127.0.0.1", port, 1000)) {
            while (j.zcard(waiters) < n || blockedClients(j) < n) {
                assertThat(System.nanoTime()).as("waiters registered and blocked").isLessThan(deadline);
                Thread.sleep(10);
            }
        }
    }

    private static long blockedClients(Jedis j) {
        for (String line : j.info("clients").split("\r?\n")) {
            if (line.startsWith("blocked_clients:")) {
                return Long.parseLong(line.substring("blocked_clients:".length()).trim());
            }
        }
        throw new IllegalStateException("INFO clients has no blocked_clients: " + j.info("clients"));
    }

    @Test
    void grantsUpToWorkersThenTimesOutAndHandsOverOnRelease() throws Exception {
        String key = newKey();
        try (Handle a = redis.open(); Handle b = redis.open(); Handle c = redis.open()) {
            assertThat(a.acquire(me(key, 2, 10, 1000))).isEqualTo(Outcome.GRANTED);
            assertThat(b.acquire(me(key, 2, 10, 1000))).isEqualTo(Outcome.GRANTED);
            long t0 = System.nanoTime();
            assertThat(c.acquire(me(key, 2, 10, 300))).isEqualTo(Outcome.TIMEOUT);
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(250));
            assertThat(c.acquire(me(key, 2, 10, 0))).as("timeout 0 does not wait").isEqualTo(Outcome.TIMEOUT);

            Future<Outcome> waiting = async(c, me(key, 2, 10, 5000));
            awaitWaiters(key, 2, 1);
            a.release();
            assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo(Outcome.GRANTED);
            b.release();
            c.release();
            // Idle again: the pool is dropped and re-created, all W slots free.
            assertThat(a.acquire(me(key, 2, 10, 0))).isEqualTo(Outcome.GRANTED);
            assertThat(b.acquire(me(key, 2, 10, 0))).isEqualTo(Outcome.GRANTED);
            a.release();
            b.release();
        }
    }

    /** FIX 1: every waiter counts, so maxqueue refuses; PHP's shared waiter id never counts more than one. */
    @Test
    void maxQueueCountsEveryWaiter() throws Exception {
        String key = newKey();
        try (Handle h = redis.open(); Handle w1 = redis.open(); Handle w2 = redis.open(); Handle late = redis.open()) {
            assertThat(h.acquire(me(key, 1, 2, 5000))).isEqualTo(Outcome.GRANTED);
            Future<Outcome> f1 = async(w1, me(key, 1, 2, 5000));
            Future<Outcome> f2 = async(w2, me(key, 1, 2, 5000));
            awaitWaiters(key, 1, 2);
            assertThat(late.acquire(me(key, 1, 2, 5000))).isEqualTo(Outcome.QUEUE_FULL);
            h.release();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!f1.isDone() && !f2.isDone()) {
                assertThat(System.nanoTime()).as("a waiter got the slot").isLessThan(deadline);
                Thread.sleep(5);
            }
            boolean firstIsW1 = f1.isDone();
            assertThat((firstIsW1 ? f1 : f2).get()).isEqualTo(Outcome.GRANTED);
            (firstIsW1 ? w1 : w2).release();
            assertThat((firstIsW1 ? f2 : f1).get(5, TimeUnit.SECONDS)).isEqualTo(Outcome.GRANTED);
            (firstIsW1 ? w2 : w1).release();
        }
    }

    /**
     * FIX 1: a waiter that gives up removes only itself. With PHP's shared waiter id the waiter set is
     * then empty, the release deletes the pool instead of pushing the slot, and the waiter still
     * blocked is never woken.
     */
    @Test
    void aWaiterThatGivesUpDoesNotStrandTheOthers() throws Exception {
        String key = newKey();
        try (Handle h = redis.open(); Handle quitter = redis.open(); Handle patient = redis.open()) {
            assertThat(h.acquire(me(key, 1, 10, 5000))).isEqualTo(Outcome.GRANTED);
            Future<Outcome> p = async(patient, me(key, 1, 10, 8000));
            awaitWaiters(key, 1, 1);
            assertThat(quitter.acquire(me(key, 1, 10, 300))).isEqualTo(Outcome.TIMEOUT);
            h.release();
            assertThat(p.get(3, TimeUnit.SECONDS)).isEqualTo(Outcome.GRANTED);
            patient.release();
        }
    }

    /**
     * FIX 2: a holder-for-anyone's release wakes every waiter-for-anyone with DONE, and the slot goes to
     * the waiter-for-me.
     */
    @Test
    void releaseForAnyoneWakesEveryWaiterForAnyone() throws Exception {
        String key = newKey();
        try (Handle h = redis.open(); Handle any1 = redis.open(); Handle any2 = redis.open(); Handle mine = redis.open()) {
            assertThat(h.acquire(anyone(key, 5000))).isEqualTo(Outcome.GRANTED);
            Future<Outcome> a1 = async(any1, anyone(key, 5000));
            Future<Outcome> a2 = async(any2, anyone(key, 5000));
            Future<Outcome> m = async(mine, new Request(key, 1, 100, Duration.ofSeconds(5), false));
            awaitWaiters(key, 1, 3);
            h.release();
            assertThat(a1.get(5, TimeUnit.SECONDS)).isEqualTo(Outcome.DONE);
            assertThat(a2.get(5, TimeUnit.SECONDS)).isEqualTo(Outcome.DONE);
            assertThat(m.get(5, TimeUnit.SECONDS)).isEqualTo(Outcome.GRANTED);
            mine.release();
        }
    }

    /** A holder past its lease loses the slot to the next acquire, and its late release says so. */
    @Test
    void anExpiredLeaseIsReclaimed() throws Exception {
        // 2 s: the second acquire must see the lease still running even if the test's thread stalls.
        RedisContender shortLease = new RedisContender("redis-test-ttl", "127.0.0.1", port, 2_000);
        String key = newKey();
        try (Handle slow = shortLease.open(); Handle next = shortLease.open()) {
            assertThat(slow.acquire(me(key, 1, 10, 0))).isEqualTo(Outcome.GRANTED);
            assertThat(next.acquire(me(key, 1, 10, 0))).isEqualTo(Outcome.TIMEOUT);
            Thread.sleep(2_200);
            assertThat(next.acquire(me(key, 1, 10, 0))).isEqualTo(Outcome.GRANTED);
            assertThatThrownBy(slow::release).isInstanceOf(ContenderException.class)
                    .extracting(e -> ((ContenderException) e).kind()).isEqualTo("release:EXPIRED");
            next.release();
        }
    }

    /** Many clients on one key through the load generator: never more than W holders. */
    @Test
    void loadOnOneKeyKeepsTheLimit() throws Exception {
        Load.Result r = Load.run(redis, new Load.Config("redis-test", 8, Keys.uniform(2), 2, 1000, 10, 200, 0, 2,
                false, List.of()));
        assertThat(r.violations()).isZero();
        assertThat(r.errors()).isEmpty();
        assertThat(r.pairsInRun()).isPositive();
    }
}
