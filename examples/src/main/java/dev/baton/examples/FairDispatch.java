package dev.baton.examples;

import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchTarget;
import dev.baton.client.BatonClient;
import dev.baton.client.dispatch.Change;
import dev.baton.client.dispatch.ChangeDispatchCoordinator;
import dev.baton.client.dispatch.ChangeSource;
import dev.baton.client.dispatch.DispatchSummary;
import dev.baton.client.dispatch.Dispatcher;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fair dispatch, as Wikibase's dispatchChanges.php did it: a change feed grows, several dispatcher
 * processes each pick the stalest target they can lock, deliver the changes it has not seen, and
 * move its cursor. The parent process appends changes and prints the lag (head − seen) of the
 * targets every second; with 3 dispatchers and 50 targets it evens out and ends at 0.
 *
 * <p>The feed lives in Baton itself: its head is the group's head, and change {@code n} is just the
 * number {@code n}, so the dispatcher processes need nothing else to share it. Each dispatcher checks
 * on every delivery that Baton still shows it as the target's holder with the same fence: two
 * dispatchers never serve one target at once.
 *
 * <p>{@code examples/run dispatch --processes 3 --targets 50 --seconds 20}.
 */
public final class FairDispatch {
    static final String GROUP = "example-feed";
    /** Pending while the dispatchers should stop (begun by the parent when every target caught up). */
    static final String STOP = "example-feed:stop";

    private FairDispatch() {}

    /** One change: its id is its position in the feed. */
    record Numbered(long id) implements Change {}

    /** What the run showed: lag per second (max over targets), the final lags, the dispatchers' exits. */
    public record Outcome(List<Long> maxLagPerSecond, Map<String, Long> finalLag, List<Integer> exitCodes,
                          long backwardsCursors) {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv, "examples/run dispatch [--endpoints host:port,...] [--processes 3] [--targets 50]"
                + " [--seconds 20] [--changes-per-second 200]");
        if (a.get("worker", null) != null) {
            System.exit(worker(a.endpoints(), Duration.ofSeconds(Long.parseLong(a.get("worker", "20")))));
        }
        Outcome o = run(a.endpoints(), a.getInt("processes", 3), a.getInt("targets", 50), a.getInt("seconds", 20),
                a.getInt("changes-per-second", 200), true);
        System.out.println("final lag per target: " + o.finalLag().values().stream().distinct().toList()
                + "; dispatcher exit codes " + o.exitCodes() + "; cursors seen going backwards: " + o.backwardsCursors());
    }

    /**
     * Starts the dispatcher processes, feeds changes for {@code seconds}, then waits (up to a minute)
     * for every target to catch up, and stops the dispatchers.
     */
    public static Outcome run(List<String> endpoints, int processes, int targets, int seconds, int changesPerSecond,
                              boolean print) throws Exception {
        List<Process> workers = new ArrayList<>();
        List<Long> maxLag = new ArrayList<>();
        Map<String, Long> lastSeen = new HashMap<>();
        long backwards = 0;
        try (BatonClient feed = BatonClient.builder().securityFromEnvironment().endpoints(endpoints).retryFor(Duration.ofSeconds(30)).build()) {
            ChangeDispatchCoordinator coordinator = new ChangeDispatchCoordinator(feed, GROUP);
            Map<String, String> sites = new LinkedHashMap<>();
            for (int i = 1; i <= targets; i++) {
                sites.put(String.format("site%03d", i), String.format("site%03d_db", i));
            }
            coordinator.initState(sites);
            long head = feed.dispatch().get(GROUP).head();
            int runFor = seconds + 90; // the dispatchers outlive the feed; they are stopped at the end
            for (int i = 0; i < processes; i++) {
                workers.add(new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", System.getProperty("java.class.path"), FairDispatch.class.getName(),
                        "--endpoints", String.join(",", endpoints), "--worker", Integer.toString(runFor))
                        .inheritIO().start());
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            long catchUpEnd = end + TimeUnit.SECONDS.toNanos(60);
            int tick = 0;
            while (true) {
                boolean feeding = System.nanoTime() < end;
                if (feeding) {
                    head += Math.max(1, changesPerSecond / 5);
                    coordinator.advanceHead(head);
                }
                Thread.sleep(200);
                if (++tick % 5 != 0 && feeding) {
                    continue;
                }
                DispatchGroup g = feed.dispatch().get(GROUP);
                long max = 0;
                long sum = 0;
                for (DispatchTarget t : g.targets()) {
                    long lag = Math.max(0, g.head() - t.seen());
                    max = Math.max(max, lag);
                    sum += lag;
                    Long before = lastSeen.put(t.id(), t.seen());
                    if (before != null && before > t.seen()) {
                        backwards++;
                    }
                }
                maxLag.add(max);
                if (print) {
                    System.out.printf("t=%3ds head %6d  lag max %5d  mean %7.1f%s%n", tick / 5, g.head(), max,
                            (double) sum / Math.max(1, g.targets().size()), feeding ? "" : "  (feed stopped)");
                }
                if (!feeding && (max == 0 || System.nanoTime() > catchUpEnd)) {
                    break;
                }
            }
            DispatchGroup g = feed.dispatch().get(GROUP);
            Map<String, Long> finalLag = new LinkedHashMap<>();
            for (DispatchTarget t : g.targets()) {
                finalLag.put(t.id(), Math.max(0, g.head() - t.seen()));
            }
            List<Integer> codes = new ArrayList<>();
            feed.events().begin(STOP); // the dispatchers finish their pass and report
            for (Process p : workers) {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
                codes.add(p.exitValue());
            }
            return new Outcome(maxLag, finalLag, codes, backwards);
        } finally {
            workers.forEach(Process::destroyForcibly);
        }
    }

    /** One dispatcher process: dispatches until stopped (SIGTERM) or {@code maxTime}; exit 3 on a violation. */
    static int worker(List<String> endpoints, Duration maxTime) {
        AtomicLong violations = new AtomicLong();
        try (BatonClient client = BatonClient.builder().securityFromEnvironment().endpoints(endpoints).retryFor(Duration.ofSeconds(30)).build()) {
            ChangeSource<Numbered> source = new ChangeSource<>() {
                @Override
                public long head() {
                    return client.dispatch().get(GROUP).head();
                }

                @Override
                public List<Numbered> after(long seen, int max) {
                    long head = head();
                    List<Numbered> out = new ArrayList<>();
                    for (long id = seen + 1; id <= head && out.size() < max; id++) {
                        out.add(new Numbered(id));
                    }
                    return out;
                }
            };
            Dispatcher<Numbered> dispatcher = Dispatcher.builder(client, GROUP, source, (target, batch) -> {
                // Baton must still show this session as the target's holder, with this fence.
                for (DispatchTarget t : client.dispatch().get(GROUP).targets()) {
                    if (t.id().equals(target.site())
                            && (t.holder() != client.sessionId() || t.fence() != target.fence())) {
                        violations.incrementAndGet();
                    }
                }
                Thread.sleep(5); // delivering: a job queued on the client wiki
            }).maxTime(maxTime).idleDelay(Duration.ofMillis(100)).dispatchInterval(Duration.ofMillis(200))
                    .batchSize(100).randomness(5).build();
            Thread watcher = new Thread(() -> {
                try {
                    while (!client.events().get(STOP).pending()) {
                        Thread.sleep(200);
                    }
                } catch (InterruptedException | RuntimeException e) {
                    // stopping anyway
                }
                dispatcher.stop();
            });
            watcher.setDaemon(true);
            watcher.start();
            DispatchSummary s = dispatcher.run();
            System.out.println("dispatcher session " + client.sessionId() + ": " + s + ", violations " + violations.get());
        }
        return violations.get() == 0 ? 0 : 3;
    }
}
