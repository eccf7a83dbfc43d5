package dev.baton.bench.dispatch;

import dev.baton.client.BatonClient;
import dev.baton.client.dispatch.Change;
import dev.baton.client.dispatch.ChangeSource;
import dev.baton.client.dispatch.DispatchSummary;
import dev.baton.client.dispatch.Dispatcher;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;

/**
 * Java's side of the PHP-vs-Java dispatch measurement (BENCHMARKS.md): N {@link Dispatcher}s, each with
 * its own {@link BatonClient} (one session each, as N dispatcher processes would have), over T targets
 * and a fixed feed of changes 1..M, delivering every batch as one line appended to the target's file
 * (what clients/php/examples/dispatchChanges.php does), until every target got its last change. Prints
 * the passes, batches and passes per second.
 *
 * <pre>java -cp benchmarks.jar dev.baton.bench.dispatch.DispatchPasses --endpoints h:7530,... \
 *     [--dispatchers 3] [--targets 20] [--changes 3000] [--batch-size 10] [--group NAME] [--sink DIR]</pre>
 */
public final class DispatchPasses {
    private DispatchPasses() {}

    record Numbered(long id) implements Change {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
        }
        String[] endpoints = a.getOrDefault("endpoints", "127.0.0.1:7530").split(",");
        int dispatchers = Integer.parseInt(a.getOrDefault("dispatchers", "3"));
        int targets = Integer.parseInt(a.getOrDefault("targets", "20"));
        long changes = Long.parseLong(a.getOrDefault("changes", "3000"));
        int batchSize = Integer.parseInt(a.getOrDefault("batch-size", "10"));
        String group = a.getOrDefault("group", "java-dispatch-" + System.currentTimeMillis());
        Path sink = Files.createDirectories(Path.of(a.getOrDefault("sink", Files.createTempDirectory("dispatch-sink").toString())));

        Map<String, String> clients = new LinkedHashMap<>();
        for (int t = 1; t <= targets; t++) {
            clients.put("client" + t, "client" + t + "wiki");
        }
        ChangeSource<Numbered> feed = new ChangeSource<>() {
            @Override
            public long head() {
                return changes;
            }

            @Override
            public List<Numbered> after(long seen, int max) {
                return LongStream.rangeClosed(seen + 1, Math.min(changes, seen + max)).mapToObj(Numbered::new).toList();
            }
        };
        // The sink sees each target's last batch: no reads of Baton's state while the dispatchers run.
        Set<String> caughtUp = ConcurrentHashMap.newKeySet();
        CountDownLatch allCaughtUp = new CountDownLatch(1);
        List<BatonClient> batons = new ArrayList<>();
        List<Dispatcher<Numbered>> ds = new ArrayList<>();
        for (int i = 0; i < dispatchers; i++) {
            BatonClient c = BatonClient.builder().endpoints(endpoints).retryFor(Duration.ofSeconds(60)).build();
            batons.add(c);
            ds.add(Dispatcher.builder(c, group, feed, (target, batch) -> {
                String line = target.seen() + " " + batch.get(0).id() + " " + batch.get(batch.size() - 1).id() + " "
                        + batch.size() + " " + target.fence() + "\n";
                try {
                    Files.writeString(sink.resolve(target.site() + ".log"), line, StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                if (batch.get(batch.size() - 1).id() == changes && caughtUp.add(target.site()) && caughtUp.size() == targets) {
                    allCaughtUp.countDown();
                }
            }).clients(clients).batchSize(batchSize).dispatchInterval(Duration.ZERO).randomness(5)
                    .idleDelay(Duration.ofMillis(200)).maxTime(Duration.ofMinutes(10)).build());
        }
        ExecutorService pool = Executors.newFixedThreadPool(dispatchers);
        long t0 = System.nanoTime();
        List<Future<DispatchSummary>> runs = new ArrayList<>();
        for (Dispatcher<Numbered> d : ds) {
            runs.add(pool.submit(d::run));
        }
        // Stop every dispatcher once every target got its last batch; the time includes the last
        // passes (their releases).
        allCaughtUp.await();
        ds.forEach(Dispatcher::stop);
        List<DispatchSummary> summaries = new ArrayList<>();
        for (Future<DispatchSummary> f : runs) {
            summaries.add(f.get());
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long passes = 0;
        long batches = 0;
        for (DispatchSummary s : summaries) {
            System.out.println("dispatcher: " + s);
            passes += s.passes();
            batches += s.batches();
        }
        pool.shutdown();
        batons.forEach(BatonClient::close);
        System.out.printf("java: %d dispatchers, %d targets, %d changes, batch %d: %d passes, %d batches in %.2f s ="
                + " %.1f passes/s, %.1f batches/s%n", dispatchers, targets, changes, batchSize, passes, batches, seconds,
                passes / seconds, batches / seconds);
    }
}
