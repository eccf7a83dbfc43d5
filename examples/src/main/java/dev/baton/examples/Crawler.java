package dev.baton.examples;

import dev.baton.client.BatonClient;
import dev.baton.client.events.ClaimedItem;
import dev.baton.client.events.EventActivity;
import dev.baton.client.events.GatedQueue;
import dev.baton.client.events.QueueSignals;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A crawler in ManifoldCF's manner: documents of a site may be fetched only once the site's
 * robots.txt has been read and its login sequence has run. Each document is queued with those two
 * events as prerequisites; fetchers claim what is claimable; a fetch that fails is retried later.
 *
 * <p>{@code examples/run crawler --documents 30 --fetchers 4}.
 */
public final class Crawler {
    private Crawler() {}

    /** What happened: documents fetched, retries, and fetches that ran before their site was ready (must be 0). */
    public record Outcome(int documents, int fetched, int retries, int fetchedTooEarly, int fetchedTwice) {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv, "examples/run crawler [--endpoints host:port,...] [--documents 30] [--fetchers 4]");
        Outcome o = run(a.endpoints(), a.getInt("documents", 30), a.getInt("fetchers", 4), true);
        System.out.printf("%d documents: %d fetched, %d retries, %d fetched before robots.txt and login were done,"
                + " %d fetched twice%n", o.documents(), o.fetched(), o.retries(), o.fetchedTooEarly(), o.fetchedTwice());
    }

    public static Outcome run(List<String> endpoints, int documents, int fetchers, boolean print) throws Exception {
        String queue = "crawl-" + System.nanoTime();
        List<String> sites = List.of("en.example.org", "de.example.org");
        Set<String> ready = ConcurrentHashMap.newKeySet(); // events completed so far, as the crawler knows
        Map<String, Boolean> fetched = new ConcurrentHashMap<>();
        AtomicInteger retries = new AtomicInteger();
        AtomicInteger tooEarly = new AtomicInteger();
        AtomicInteger twice = new AtomicInteger();
        try (BatonClient setup = BatonClient.builder().securityFromEnvironment().endpoints(endpoints).retryFor(Duration.ofSeconds(30)).build()) {
            EventActivity events = new EventActivity(setup);
            for (String site : sites) {
                events.beginEventSequence("robots:" + site);
                events.beginEventSequence("login:" + site);
            }
            GatedQueue q = new GatedQueue(setup, queue);
            for (int i = 0; i < documents; i++) {
                String site = sites.get(i % sites.size());
                q.enqueue("https://" + site + "/doc/" + i, site.getBytes(StandardCharsets.UTF_8),
                        List.of("robots:" + site, "login:" + site));
            }
            List<Thread> threads = new ArrayList<>();
            List<BatonClient> clients = new ArrayList<>();
            for (int f = 0; f < fetchers; f++) {
                QueueSignals signals = new QueueSignals();
                BatonClient c = BatonClient.builder().securityFromEnvironment().endpoints(endpoints).retryFor(Duration.ofSeconds(30))
                        .onEvent(signals).build();
                clients.add(c);
                GatedQueue fq = new GatedQueue(c, queue, signals);
                EventActivity fe = new EventActivity(c);
                Thread t = new Thread(() -> {
                    while (fetched.size() < documents) {
                        for (ClaimedItem doc : fq.claim(1, Duration.ofSeconds(1))) {
                            String site = doc.payloadUtf8();
                            if (!ready.contains("robots:" + site) || !ready.contains("login:" + site)) {
                                tooEarly.incrementAndGet();
                            }
                            if (doc.attempts() <= 1 && doc.id().hashCode() % 4 == 0) {
                                retries.incrementAndGet(); // a flaky server: try this one again later
                                fe.retryDocumentProcessing(doc);
                                continue;
                            }
                            if (fetched.put(doc.id(), true) != null) {
                                twice.incrementAndGet();
                            }
                            fq.done(doc);
                        }
                    }
                });
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            // The robots.txt fetches and login sequences finish a little later, one after the other.
            for (String site : sites) {
                Thread.sleep(300);
                ready.add("robots:" + site);
                events.completeEventSequence("robots:" + site);
                if (print) {
                    System.out.println("robots.txt of " + site + " read");
                }
                Thread.sleep(300);
                ready.add("login:" + site);
                events.completeEventSequence("login:" + site);
                if (print) {
                    System.out.println("logged in to " + site);
                }
            }
            for (Thread t : threads) {
                t.join(120_000);
            }
            clients.forEach(BatonClient::close);
        }
        return new Outcome(documents, fetched.size(), retries.get(), tooEarly.get(), twice.get());
    }
}
