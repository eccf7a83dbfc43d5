package dev.baton.it.dispatch;

import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchTarget;
import dev.baton.client.BatonClient;
import dev.baton.client.dispatch.Change;
import dev.baton.client.dispatch.ChangeSink;
import dev.baton.client.dispatch.ChangeSource;
import dev.baton.client.dispatch.DispatchState;
import dev.baton.client.dispatch.DispatchSummary;
import dev.baton.client.dispatch.Dispatcher;
import dev.baton.it.Nodes;
import dev.baton.server.node.ApiServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three dispatchers, each with its own client (session), share twenty targets of one group while a
 * producer appends changes. Checked throughout: no target is in two deliveries at once, no cursor
 * moves backwards (neither as the dispatchers see it nor as stored); at the end every change reached
 * every target and the lag is 0. Also with the leader stopped in the middle of the run.
 */
class DispatcherClusterTest {
    private static final int TARGETS = 20;
    private static final int CHANGES = 90;
    /** Generous bounds: only a hang or a lost change should ever reach them. */
    private static final Duration PATIENCE = Duration.ofMinutes(3);

    record Edit(long id) implements Change {}

    /** An in-memory feed: ids 1..head, appended by the producer. */
    static final class Feed implements ChangeSource<Edit> {
        private final AtomicLong head = new AtomicLong();

        void append(int n) {
            head.addAndGet(n);
        }

        @Override
        public long head() {
            return head.get();
        }

        @Override
        public List<Edit> after(long seen, int max) {
            long h = head.get();
            List<Edit> out = new ArrayList<>();
            for (long id = seen + 1; id <= h && out.size() < max; id++) {
                out.add(new Edit(id));
            }
            return out;
        }
    }

    /**
     * Delivers into per-target sets and records every broken invariant it sees. Like a downstream
     * system that checks fences, it asks Baton (a linearizable read) whether the target is locked
     * with the delivering fence; the in-flight map catches two deliveries overlapping in time.
     */
    static final class CheckingSink implements ChangeSink<Edit> {
        final BatonClient reader;
        final String group;
        final Map<String, Set<Long>> delivered = new ConcurrentHashMap<>();
        final Map<String, Long> inFlight = new ConcurrentHashMap<>();
        final Map<String, Long> lastCursor = new ConcurrentHashMap<>();
        final Map<String, Long> lastFence = new ConcurrentHashMap<>();
        final List<String> violations = new CopyOnWriteArrayList<>();
        final AtomicLong total = new AtomicLong();

        CheckingSink(BatonClient reader, String group) {
            this.reader = reader;
            this.group = group;
        }

        @Override
        public void deliver(DispatchState target, List<Edit> batch) throws InterruptedException {
            String site = target.site();
            Long other = inFlight.putIfAbsent(site, target.fence());
            if (other != null) {
                violations.add(site + " delivered under fence " + target.fence() + " while in flight under " + other);
            }
            try {
                synchronized (this) { // cursor and fence of one target: compare and record together
                    long before = lastCursor.getOrDefault(site, 0L);
                    if (target.seen() < before) {
                        violations.add(site + " cursor went back from " + before + " to " + target.seen());
                    }
                    lastCursor.put(site, target.seen());
                    long fence = lastFence.getOrDefault(site, 0L);
                    if (target.fence() <= fence) {
                        violations.add(site + " fence " + target.fence() + " not above " + fence);
                    }
                    lastFence.put(site, target.fence());
                }
                DispatchTarget stored = reader.dispatch().get(group).targets().stream()
                        .filter(t -> t.id().equals(site)).findFirst().orElseThrow();
                if (stored.fence() != target.fence() || stored.holder() == 0) {
                    violations.add(site + " delivered under fence " + target.fence() + " but Baton has holder "
                            + stored.holder() + " fence " + stored.fence());
                }
                if (batch.get(0).id() <= target.seen()) {
                    violations.add(site + " got change " + batch.get(0).id() + " at cursor " + target.seen());
                }
                Thread.sleep(2); // widen the window in which a second holder would show
                Set<Long> got = delivered.computeIfAbsent(site, s -> ConcurrentHashMap.newKeySet());
                batch.forEach(e -> got.add(e.id()));
                total.addAndGet(batch.size());
            } finally {
                inFlight.remove(site, target.fence());
            }
        }
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void threeDispatchersShareTwentyTargets(int n) throws Exception {
        try (Nodes nodes = n == 1 ? Nodes.single() : Nodes.three()) {
            runAndCheck(nodes, false);
        }
    }

    @Test
    void aRunSurvivesTheLeaderStopping() throws Exception {
        try (Nodes nodes = Nodes.three()) {
            runAndCheck(nodes, true);
        }
    }

    private void runAndCheck(Nodes nodes, boolean stopLeader) throws Exception {
        String group = "wikidata";
        Map<String, String> sites = new TreeMap<>();
        for (int i = 0; i < TARGETS; i++) {
            sites.put(String.format("site%02d", i), String.format("db%02d", i));
        }
        Feed feed = new Feed();
        feed.append(30);
        List<BatonClient> clients = new ArrayList<>();
        BatonClient reader = nodes.client();
        clients.add(reader);
        CheckingSink sink = new CheckingSink(reader, group);
        List<Dispatcher<Edit>> dispatchers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> crashes = new CopyOnWriteArrayList<>();
        List<DispatchSummary> summaries = new CopyOnWriteArrayList<>();
        try (BatonClient watcher = nodes.client()) {
            for (int i = 0; i < 3; i++) {
                BatonClient c = nodes.client();
                clients.add(c);
                Dispatcher<Edit> d = Dispatcher.builder(c, group, feed, sink)
                        .clients(sites)
                        .batchSize(7)
                        .randomness(3)
                        .dispatchInterval(Duration.ofMillis(50))
                        .idleDelay(Duration.ofMillis(20))
                        .maxTime(PATIENCE)
                        .build();
                dispatchers.add(d);
                Thread t = new Thread(() -> {
                    try {
                        summaries.add(d.run());
                    } catch (Throwable e) {
                        crashes.add(e);
                    }
                }, "dispatcher-" + i);
                threads.add(t);
                t.start();
            }

            // the producer: the rest of the changes while the dispatchers work
            Thread producer = new Thread(() -> {
                try {
                    while (feed.head() < CHANGES) {
                        Thread.sleep(25);
                        feed.append(3);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "producer");
            producer.start();

            // the stored cursors, watched from outside: never lower than seen before
            Map<String, Long> stored = new TreeMap<>();
            List<String> storedViolations = new ArrayList<>();
            BooleanSupplier caughtUp = () -> {
                DispatchGroup g = watcher.dispatch().get(group);
                boolean all = g.exists() && g.targets().size() == TARGETS && g.head() == CHANGES;
                for (DispatchTarget t : g.targets()) {
                    long before = stored.getOrDefault(t.id(), 0L);
                    if (t.seen() < before) {
                        storedViolations.add(t.id() + " stored cursor went back from " + before + " to " + t.seen());
                    }
                    stored.put(t.id(), t.seen());
                    all &= t.seen() == CHANGES && t.holder() == 0;
                }
                return all;
            };

            if (stopLeader) {
                awaitTrue(() -> sink.total.get() >= (long) TARGETS * CHANGES / 4, "a quarter of the work done");
                ApiServer leader = nodes.awaitLeader(Duration.ofSeconds(30));
                nodes.stop(leader);
                assertThat(nodes.awaitLeader(Duration.ofSeconds(60))).as("a new leader").isNotSameAs(leader);
            }
            awaitTrue(caughtUp, "every target caught up with the feed");
            producer.join();
            dispatchers.forEach(Dispatcher::stop);
            for (Thread t : threads) {
                t.join(PATIENCE.toMillis());
                assertThat(t.isAlive()).as(t.getName() + " ended").isFalse();
            }

            assertThat(crashes).isEmpty();
            assertThat(sink.violations).isEmpty();
            assertThat(storedViolations).isEmpty();
            assertThat(sink.inFlight).isEmpty();
            for (String site : sites.keySet()) {
                assertThat(sink.delivered.get(site)).as(site).hasSize(CHANGES)
                        .allMatch(id -> id >= 1 && id <= CHANGES);
            }
            assertThat(caughtUp.getAsBoolean()).as("lag 0, nothing locked").isTrue();
            assertThat(summaries).hasSize(3);
            long delivered = 0;
            for (DispatchSummary s : summaries) {
                assertThat(s.passes()).isEqualTo(s.batches() + s.empty() + s.idle() + s.failed());
                delivered += s.changes();
            }
            assertThat(delivered).as("at least once").isGreaterThanOrEqualTo((long) TARGETS * CHANGES);
            assertThat(summaries.stream().filter(s -> s.batches() > 0).count())
                    .as("the work was shared").isGreaterThanOrEqualTo(2);
        } finally {
            dispatchers.forEach(Dispatcher::stop);
            clients.forEach(BatonClient::close);
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + PATIENCE + ": " + what);
            }
            Thread.sleep(50);
        }
    }
}
