package dev.baton.it.poolcounter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.client.PoolInfo;
import dev.baton.client.BatonClient;
import dev.baton.client.poolcounter.PoolCounter;
import dev.baton.client.poolcounter.PoolCounterStatus;
import dev.baton.client.poolcounter.PoolCounterStatus.Code;
import dev.baton.client.poolcounter.PoolCounterWork;
import dev.baton.client.poolcounter.PoolType;
import dev.baton.it.Nodes;
import dev.baton.server.node.ApiServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link PoolCounterWork} against real nodes: a stampede on one hot key, fast-stale, and failing
 * open or closed when the cluster is gone. Run on one node and on three by the subclasses.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PoolCounterWorkCases {
    /** Like MediaWiki's ArticleView pool, with a longer timeout so that no waiter times out here. */
    private static final PoolType ARTICLE_VIEW = PoolType.of(2, 100, 60);
    private static final AtomicInteger KEYS = new AtomicInteger();

    Nodes nodes;
    private final List<BatonClient> clients = new ArrayList<>();

    abstract Nodes start();

    @BeforeAll
    void startNodes() {
        nodes = start();
    }

    @AfterAll
    void stopNodes() {
        nodes.close();
    }

    @AfterEach
    void closeClients() {
        clients.forEach(BatonClient::close);
        clients.clear();
    }

    private BatonClient client() {
        BatonClient c = nodes.client();
        clients.add(c);
        return c;
    }

    private static String key(String what) {
        return what + "-" + KEYS.incrementAndGet();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 60 s: " + what);
            }
            Thread.sleep(20);
        }
    }

    /**
     * 40 callers, each with its own client (one session each, as MediaWiki has one connection per
     * request), render one hot page through PoolCounterWork with 2 workers and a shared cache. The
     * renderers wait until every caller is holding or queued, so the outcome does not depend on timing:
     * exactly 2 render, never more than 2 at once, and the 38 others get DONE and read the cache.
     */
    @Test
    void stampedeOnAHotKey() throws Exception {
        int callers = 40;
        String page = key("hot-page");
        List<BatonClient> callerClients = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            callerClients.add(client());
        }
        BatonClient observer = client();
        AtomicReference<String> cache = new AtomicReference<>();
        AtomicInteger rendering = new AtomicInteger();
        AtomicInteger mostAtOnce = new AtomicInteger();
        AtomicInteger renders = new AtomicInteger();
        AtomicInteger fromCache = new AtomicInteger();
        AtomicReference<Throwable> renderFailure = new AtomicReference<>();
        AtomicBoolean everyoneArrived = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(1);

        ExecutorService pool = Executors.newFixedThreadPool(callers);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (BatonClient c : callerClients) {
                results.add(pool.submit(() -> {
                    go.await();
                    PoolCounterWork<String> work = new PoolCounterWork<>(new PoolCounter(c, "ArticleView", ARTICLE_VIEW, page)) {
                        @Override
                        protected String doWork() {
                            int now = rendering.incrementAndGet();
                            mostAtOnce.accumulateAndGet(now, Math::max);
                            renders.incrementAndGet();
                            try {
                                // Hold the slot until all callers hold or wait (bounded, in case of a bug).
                                AtomicReference<PoolInfo> last = new AtomicReference<>();
                                try {
                                    // Latched: once one renderer has seen everyone, the first release
                                    // sends the waiters away, and the other renderer must not wait for them.
                                    await(() -> {
                                        if (everyoneArrived.get()) {
                                            return true;
                                        }
                                        PoolInfo info = observer.pools().get(page);
                                        last.set(info);
                                        if (info.processing() + info.waiting() == callers) {
                                            everyoneArrived.set(true);
                                        }
                                        return everyoneArrived.get();
                                    }, "every caller holds or waits");
                                } catch (AssertionError e) {
                                    throw new AssertionError(e.getMessage() + "; last seen: " + last.get(), e);
                                }
                            } catch (Throwable t) {
                                renderFailure.set(t);
                            }
                            cache.set("<html>rendered</html>");
                            rendering.decrementAndGet();
                            return "<html>rendered</html>";
                        }

                        @Override
                        protected String getCachedWork() {
                            String cached = cache.get();
                            if (cached != null) {
                                fromCache.incrementAndGet();
                            }
                            return cached;
                        }
                    };
                    return work.execute();
                }));
            }
            go.countDown();
            for (Future<String> r : results) {
                assertThat(r.get(120, TimeUnit.SECONDS)).isEqualTo("<html>rendered</html>");
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(renderFailure.get()).isNull();
        assertThat(mostAtOnce.get()).isEqualTo(2);
        assertThat(renders.get()).isEqualTo(2);
        assertThat(fromCache.get()).isEqualTo(callers - 2);
        assertThat(observer.pools().get(page).exists()).isFalse();
        assertThat(observer.pools().totals().done()).isGreaterThanOrEqualTo(callers - 2);
    }

    @Test
    void fastStaleServesStaleWhileTheKeyIsBusy() throws Exception {
        String page = key("stale-page");
        PoolType fastStale = PoolType.builder().workers(1).maxQueue(10).timeoutSeconds(30).fastStale(true).build();
        BatonClient observer = client();
        PoolCounter renderer = new PoolCounter(client(), "ArticleView", fastStale, page);
        assertThat(renderer.acquireForMe().code()).isEqualTo(Code.LOCKED);

        // Busy: the fast try times out at once and the stale copy is served; nothing waits.
        List<String> calls = new ArrayList<>();
        PoolCounterWork<String> withStale = PoolCounterWork.builder(new PoolCounter(client(), "ArticleView", fastStale, page),
                        () -> "fresh")
                .cachedWork(() -> "cached")
                .fallback(fast -> {
                    calls.add("fallback(" + fast + ")");
                    return fast ? "stale" : null;
                })
                .build();
        assertThat(withStale.execute()).isEqualTo("stale");
        assertThat(calls).containsExactly("fallback(true)");
        assertThat(observer.pools().get(page).waiting()).isZero();

        // No stale copy: it waits for anyone, and gets the renderer's result.
        PoolCounterWork<String> withoutStale = PoolCounterWork.<String>builder(
                        new PoolCounter(client(), "ArticleView", fastStale, page), () -> "fresh")
                .cachedWork(() -> "cached")
                .build();
        CompletableFuture<String> waiting = CompletableFuture.supplyAsync(withoutStale::execute);
        await(() -> observer.pools().get(page).waiting() == 1, "the second caller waits");
        renderer.release();
        assertThat(waiting.get(30, TimeUnit.SECONDS)).isEqualTo("cached");

        // Free key: the fast try gets the slot and the work is done at once.
        assertThat(withStale.execute()).isEqualTo("fresh");
        assertThat(observer.pools().get(page).exists()).isFalse();
    }

    @Test
    void failsOpenOrClosedWhenTheClusterIsGone() {
        try (Nodes doomed = start()) {
            BatonClient open = doomed.clientBuilder().retryFor(Duration.ofMillis(500))
                    .requestTimeout(Duration.ofSeconds(1)).build();
            BatonClient closed = doomed.clientBuilder().retryFor(Duration.ofMillis(500))
                    .requestTimeout(Duration.ofSeconds(1)).build();
            clients.add(open);
            clients.add(closed);
            for (ApiServer s : doomed.servers()) {
                doomed.stop(s);
            }
            // A waiting acquire retries unavailability for its timeout plus retryFor: a short timeout.
            PoolType type = PoolType.builder().workers(1).maxQueue(10).timeoutSeconds(1).fastStale(true).build();
            List<PoolCounterStatus> errors = new ArrayList<>();

            PoolCounterWork<String> failOpen = PoolCounterWork.<String>builder(
                            new PoolCounter(open, "ArticleView", type, "page"), () -> "rendered without a limit")
                    .cachedWork(() -> null)
                    .error(status -> {
                        errors.add(status);
                        return "error page";
                    })
                    .build();
            assertThat(failOpen.execute()).isEqualTo("rendered without a limit");
            assertThat(errors).isEmpty();

            PoolCounterWork<String> failClosed = PoolCounterWork.<String>builder(
                            new PoolCounter(closed, "ArticleView", type, "page"), () -> "rendered without a limit")
                    .error(status -> {
                        errors.add(status);
                        return "error page";
                    })
                    .failMode(PoolCounterWork.FailMode.CLOSED)
                    .build();
            assertThat(failClosed.execute()).isEqualTo("error page");
            assertThat(errors).singleElement().satisfies(s -> {
                assertThat(s.code()).isEqualTo(Code.ERROR);
                assertThat(s.message()).contains("BatonUnavailableException");
            });
        }
    }
}
