package dev.baton.examples;

import dev.baton.client.BatonClient;
import dev.baton.client.poolcounter.PoolCounter;
import dev.baton.client.poolcounter.PoolCounterWork;
import dev.baton.client.poolcounter.PoolType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Stampede protection, as MediaWiki's ArticleView pool does it: many app servers ask for the same
 * hot page at once; at most {@code workers} of them render it, the others wait for anyone's result
 * ({@code ACQ4ANY}), get {@code DONE} and read the cached copy.
 *
 * <p>Each thread stands for one app server (its own {@link BatonClient}, so its own session, as a
 * PHP process has its own connection). {@code examples/run stampede --threads 100 --workers 2}.
 */
public final class Stampede {
    private Stampede() {}

    /** What happened: pages rendered, served from the cache, and the most renders seen at once. */
    public record Outcome(int callers, int rendered, int fromCache, int served, int maxRendersInFlight) {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv, "examples/run stampede [--endpoints host:port,...] [--threads 100] [--workers 2]"
                + " [--render-ms 300]");
        Outcome o = run(a.endpoints(), a.getInt("threads", 100), a.getInt("workers", 2), a.getInt("render-ms", 300));
        System.out.printf("%d callers asked for the page at once (workers %d):%n", o.callers(), a.getInt("workers", 2));
        System.out.printf("  %d rendered it, %d got DONE and read the cached copy%n", o.rendered(), o.fromCache());
        System.out.printf("  at most %d renders were in flight at once; %d of %d callers got a page%n",
                o.maxRendersInFlight(), o.served(), o.callers());
    }

    public static Outcome run(List<String> endpoints, int threads, int workers, long renderMs) throws Exception {
        PoolType articleView = PoolType.builder().workers(workers).maxQueue(threads + 10)
                .timeout(Duration.ofSeconds(30)).build();
        String key = "enwiki:page:Main_Page";
        AtomicReference<String> cache = new AtomicReference<>(); // the parser cache
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicInteger rendered = new AtomicInteger();
        AtomicInteger fromCache = new AtomicInteger();
        AtomicInteger served = new AtomicInteger();
        List<BatonClient> clients = new ArrayList<>();
        try {
            for (int i = 0; i < threads; i++) {
                clients.add(BatonClient.builder().securityFromEnvironment().endpoints(endpoints).retryFor(Duration.ofSeconds(30)).build());
            }
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> appServers = new ArrayList<>();
            for (BatonClient client : clients) {
                PoolCounterWork<String> view = PoolCounterWork.builder(new PoolCounter(client, "ArticleView", articleView, key),
                        () -> {
                            maxInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                            try {
                                Thread.sleep(renderMs); // the expensive parse
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            } finally {
                                inFlight.decrementAndGet();
                            }
                            rendered.incrementAndGet();
                            cache.set("<html>Main Page</html>");
                            return cache.get();
                        })
                        .cachedWork(() -> {
                            String page = cache.get();
                            if (page != null) {
                                fromCache.incrementAndGet();
                            }
                            return page;
                        })
                        .build();
                Thread t = new Thread(() -> {
                    try {
                        go.await();
                        if (view.execute() != null) {
                            served.incrementAndGet();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                t.start();
                appServers.add(t);
            }
            go.countDown();
            for (Thread t : appServers) {
                t.join();
            }
        } finally {
            clients.forEach(BatonClient::close);
        }
        return new Outcome(threads, rendered.get(), fromCache.get(), served.get(), maxInFlight.get());
    }
}
