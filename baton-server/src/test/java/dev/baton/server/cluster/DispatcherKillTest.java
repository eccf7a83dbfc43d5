package dev.baton.server.cluster;

import dev.baton.api.v1.GroupInfo;
import dev.baton.api.v1.Target;
import dev.baton.client.BatonClient;
import dev.baton.client.dispatch.Change;
import dev.baton.client.dispatch.ChangeSource;
import dev.baton.client.dispatch.DispatchSummary;
import dev.baton.client.dispatch.Dispatcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fault test of the dispatch facade: three {@link Dispatcher}s (each its own client and
 * session) work a growing change feed over 15 targets of a 3-node cluster of real processes, and
 * the leader is killed with {@code kill -9} in the middle of the run. No target may ever be in two
 * deliveries at once, no stored cursor may move backwards, and every target ends caught up.
 */
class DispatcherKillTest {
    private static final String GROUP = "feed";

    @TempDir
    Path tmp;

    record Numbered(long id) implements Change {}

    @Test
    void killingTheLeaderMidRunNeverDoubleDispatchesOrMovesACursorBack() throws Exception {
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            ProcessCluster.NodeProc leader = c.awaitLeader(120_000).orElseThrow(() -> new AssertionError(c.logs()));
            for (ProcessCluster.NodeProc n : c.nodes()) {
                c.awaitStatus(n);
            }
            Map<String, String> targets = new LinkedHashMap<>();
            for (int i = 1; i <= 15; i++) {
                targets.put("site" + i, "site" + i + "_db");
            }
            AtomicLong head = new AtomicLong();
            ChangeSource<Numbered> source = new ChangeSource<>() {
                @Override
                public long head() {
                    return head.get();
                }

                @Override
                public List<Numbered> after(long seen, int max) {
                    long h = head.get();
                    List<Numbered> out = new ArrayList<>();
                    for (long id = seen + 1; id <= h && out.size() < max; id++) {
                        out.add(new Numbered(id));
                    }
                    return out;
                }
            };
            Set<String> inDelivery = ConcurrentHashMap.newKeySet();
            Map<String, Long> delivered = new ConcurrentHashMap<>();
            ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            Set<Long> lost = ConcurrentHashMap.newKeySet();
            List<BatonClient> clients = new ArrayList<>();
            List<Dispatcher<Numbered>> dispatchers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                BatonClient client = BatonClient.builder().endpoints(c.apiEndpoints()).retryFor(Duration.ofSeconds(60))
                        .onSessionLost(e -> lost.add(e.sessionId())).build();
                clients.add(client);
                dispatchers.add(Dispatcher.builder(client, GROUP, source, (target, batch) -> {
                    if (!inDelivery.add(target.site())) {
                        problems.add(target.site() + " delivered by two dispatchers at once");
                    }
                    try {
                        Thread.sleep(2);
                        delivered.merge(target.site(), batch.get(batch.size() - 1).id(), Math::max);
                    } finally {
                        inDelivery.remove(target.site());
                    }
                }).clients(targets).maxTime(Duration.ofMinutes(5)).idleDelay(Duration.ofMillis(50))
                        .dispatchInterval(Duration.ofMillis(100)).batchSize(20).randomness(5).build());
            }
            List<Thread> threads = new ArrayList<>();
            ConcurrentLinkedQueue<DispatchSummary> done = new ConcurrentLinkedQueue<>();
            for (Dispatcher<Numbered> d : dispatchers) {
                Thread t = new Thread(() -> {
                    try {
                        done.add(d.run());
                    } catch (Throwable e) {
                        problems.add("dispatcher failed: " + e);
                    }
                });
                t.start();
                threads.add(t);
            }
            // A watcher of the stored cursors: none may ever move backwards.
            AtomicBoolean watching = new AtomicBoolean(true);
            Thread watcher = new Thread(() -> {
                Map<String, Long> last = new ConcurrentHashMap<>();
                try (BatonClient w = BatonClient.builder().endpoints(c.apiEndpoints()).retryFor(Duration.ofSeconds(60)).build()) {
                    while (watching.get()) {
                        try {
                            for (dev.baton.client.DispatchTarget t : w.dispatch().get(GROUP).targets()) {
                                Long before = last.put(t.id(), t.seen());
                                if (before != null && before > t.seen()) {
                                    problems.add(t.id() + " cursor went back from " + before + " to " + t.seen());
                                }
                            }
                            Thread.sleep(50);
                        } catch (InterruptedException e) {
                            return;
                        } catch (RuntimeException unavailable) {
                            // during the fail-over
                        }
                    }
                }
            });
            watcher.start();

            long killAt = 30;
            for (int tick = 1; tick <= 80; tick++) { // 8 s of feed, +10 changes every 100 ms
                head.addAndGet(10);
                if (tick == killAt) {
                    c.kill(leader);
                    System.out.println("[DispatcherKillTest] killed the leader " + leader.id + " at head " + head.get());
                }
                Thread.sleep(100);
            }
            long finalHead = head.get();
            try (BatonClient check = BatonClient.builder().endpoints(c.apiEndpoints()).retryFor(Duration.ofSeconds(60)).build()) {
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
                while (true) {
                    var g = check.dispatch().get(GROUP);
                    if (g.targets().stream().allMatch(t -> t.seen() == finalHead)) {
                        break;
                    }
                    assertThat(System.nanoTime()).as("every target caught up to " + finalHead + ": " + g.targets())
                            .isLessThan(deadline);
                    Thread.sleep(100);
                }
            }
            dispatchers.forEach(Dispatcher::stop);
            for (Thread t : threads) {
                t.join(120_000);
            }
            watching.set(false);
            watcher.join(30_000);
            clients.forEach(BatonClient::close);
            System.out.println("[DispatcherKillTest] " + done);
            assertThat(problems).isEmpty();
            assertThat(lost).as("no dispatcher's session was lost in the fail-over").isEmpty();
            assertThat(delivered).hasSize(15);
            assertThat(delivered.values()).allMatch(v -> v == finalHead);
        }
    }
}
