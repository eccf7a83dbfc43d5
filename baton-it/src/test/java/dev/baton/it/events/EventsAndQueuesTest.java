package dev.baton.it.events;

import dev.baton.client.BatonClient;
import dev.baton.client.NotFoundException;
import dev.baton.client.StaleFenceException;
import dev.baton.client.events.ClaimedItem;
import dev.baton.client.events.EventActivity;
import dev.baton.client.events.GatedQueue;
import dev.baton.client.events.QueueSignals;
import dev.baton.it.Nodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every method of the events and gated-queue facades against one real node and a three-node cluster. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EventsAndQueuesTest {
    /** Generous: only a hang or a lost wake-up reaches it. */
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    private static final AtomicInteger NAMES = new AtomicInteger();

    private final Map<Integer, Nodes> clusters = new HashMap<>();
    private final List<BatonClient> clients = new ArrayList<>();

    private Nodes nodes(int n) {
        return clusters.computeIfAbsent(n, k -> k == 1 ? Nodes.single() : Nodes.three());
    }

    private BatonClient client(int n) {
        return track(nodes(n).client());
    }

    private BatonClient track(BatonClient c) {
        clients.add(c);
        return c;
    }

    private static String name(String what) {
        return what + "-" + NAMES.incrementAndGet();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @AfterEach
    void closeClients() {
        clients.forEach(BatonClient::close);
        clients.clear();
    }

    @AfterAll
    void closeClusters() {
        clusters.values().forEach(Nodes::close);
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void beginIsExclusiveAndCompleteIsIdempotentAndUnchecked(int n) {
        EventActivity mine = new EventActivity(client(n));
        EventActivity theirs = new EventActivity(client(n));
        String robots = name(":webcrawler:robots:example.org:80");

        assertThat(mine.isPending(robots)).isFalse();
        assertThat(mine.beginEventSequence(robots)).isTrue();
        assertThat(mine.isPending(robots)).isTrue();
        assertThat(mine.beginEventSequence(robots)).as("already pending, even for its owner").isFalse();
        assertThat(theirs.beginEventSequence(robots)).isFalse();

        theirs.completeEventSequence(robots); // no ownership check, as in ManifoldCF
        assertThat(mine.isPending(robots)).isFalse();
        theirs.completeEventSequence(robots); // idempotent
        assertThat(theirs.beginEventSequence(robots)).isTrue();
        theirs.completeEventSequence(robots);
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void theEventsOfADeadOwnerComplete(int n) throws Exception {
        BatonClient owner = client(n);
        EventActivity watcher = new EventActivity(client(n));
        String login = name(":webcrawler:session:intranet");
        assertThat(new EventActivity(owner).beginEventSequence(login)).isTrue();
        owner.close();
        awaitTrue(() -> !watcher.isPending(login), "the dead owner's event completed");
        assertThat(watcher.beginEventSequence(login)).isTrue();
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void anItemGatedByTwoEventsIsClaimableOnlyWhenBothComplete(int n) {
        BatonClient c = client(n);
        EventActivity events = new EventActivity(c);
        GatedQueue q = new GatedQueue(c, name("fetch"));
        String robots = name("robots");
        String login = name("login");
        assertThat(events.beginEventSequence(robots)).isTrue();
        assertThat(events.beginEventSequence(login)).isTrue();

        assertThat(q.enqueue("doc", utf8("http://example.org/a"), List.of(robots, login))).isTrue();
        assertThat(q.enqueue("free", utf8("http://example.org/b"), List.of())).isTrue();
        List<ClaimedItem> first = q.claim(10);
        assertThat(first).extracting(ClaimedItem::id).containsExactly("free");
        q.done(first.get(0));

        events.completeEventSequence(robots);
        assertThat(q.claim(10)).as("login still pending").isEmpty();
        events.completeEventSequence(login);
        List<ClaimedItem> doc = q.claim(10);
        assertThat(doc).hasSize(1);
        ClaimedItem d = doc.get(0);
        assertThat(d.id()).isEqualTo("doc");
        assertThat(d.queue()).isEqualTo(q.name());
        assertThat(d.payloadUtf8()).isEqualTo("http://example.org/a");
        assertThat(d.fence()).isGreaterThan(first.get(0).fence());
        assertThat(d.attempts()).isEqualTo(1);

        // an event begun after the item was queued gates it too
        String dns = name("dns");
        assertThat(q.enqueue("later", null, List.of(dns))).isTrue();
        assertThat(q.enqueue("later", utf8("v2"), List.of(dns))).as("replaced").isFalse();
        assertThat(events.beginEventSequence(dns)).isTrue();
        assertThat(q.claim(10)).isEmpty();
        events.completeEventSequence(dns);
        List<ClaimedItem> later = q.claim(10);
        assertThat(later).extracting(ClaimedItem::payloadUtf8).containsExactly("v2");

        q.done(d);
        assertThatThrownBy(() -> q.done(d)).as("already done").isInstanceOf(NotFoundException.class);
        q.done(later.get(0));
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void retryRequeuesAtTheBackAndEndsTheClaim(int n) {
        BatonClient c = client(n);
        GatedQueue q = new GatedQueue(c, name("fetch"));
        EventActivity events = new EventActivity(c);
        q.enqueue("one", utf8("1"), List.of());
        q.enqueue("two", utf8("2"), List.of());

        ClaimedItem one = q.claim(1).get(0);
        assertThat(one.id()).isEqualTo("one");
        q.retry(one);
        assertThatThrownBy(() -> q.done(one)).as("the retried claim is over").isInstanceOf(StaleFenceException.class);
        List<ClaimedItem> both = q.claim(5);
        assertThat(both).extracting(ClaimedItem::id).containsExactly("two", "one");
        assertThat(both.get(1).attempts()).isEqualTo(2);

        // the crawler's login flow: the document meets a login it cannot start, gives up, and waits
        String login = name("login");
        q.enqueue("three", utf8("3"), List.of(login));
        ClaimedItem three = q.claim(1).get(0);
        assertThat(events.beginEventSequence(login)).isTrue(); // someone else logs in meanwhile
        events.retryDocumentProcessing(three);
        assertThatThrownBy(() -> events.retryDocumentProcessing(three)).isInstanceOf(StaleFenceException.class);
        assertThat(q.claim(5)).as("gated by the pending login").isEmpty();
        events.completeEventSequence(login);
        assertThat(q.claim(5)).extracting(ClaimedItem::id).containsExactly("three");

        GatedQueue other = new GatedQueue(c, name("other"));
        assertThatThrownBy(() -> other.done(both.get(0))).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void aBlockingClaimWakesWhenTheGatingEventCompletesWithSignals(int n) throws Exception {
        QueueSignals signals = new QueueSignals();
        BatonClient c = track(nodes(n).clientBuilder().onEvent(signals).build());
        GatedQueue q = new GatedQueue(c, name("fetch"), signals);
        blockingClaimWakes(c, q, n);
        // the wake-up came through the keep-alive stream, not only from polling
        awaitTrue(() -> signals.generation(q.name()) > 0, "a QueueClaimable announcement for " + q.name());
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void aBlockingClaimWakesWhenTheGatingEventCompletesByPolling(int n) throws Exception {
        BatonClient c = client(n);
        blockingClaimWakes(c, new GatedQueue(c, name("fetch")), n);
    }

    private void blockingClaimWakes(BatonClient c, GatedQueue q, int n) throws Exception {
        BatonClient crawler = client(n);
        EventActivity events = new EventActivity(crawler);
        String robots = name("robots");
        assertThat(events.beginEventSequence(robots)).isTrue();
        q.enqueue("page", utf8("http://example.org/"), List.of(robots));

        CompletableFuture<List<ClaimedItem>> claimed = CompletableFuture.supplyAsync(
                () -> q.claim(1, Duration.ofMinutes(5)));
        Thread.sleep(300); // lets the claim block; the outcome does not depend on it
        assertThat(claimed).as("a gated item is never handed out").isNotDone();
        events.completeEventSequence(robots);
        List<ClaimedItem> got = claimed.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        assertThat(got).extracting(ClaimedItem::id).containsExactly("page");
        q.done(got.get(0));
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void aTimedClaimOfNothingReturnsEmpty(int n) {
        GatedQueue q = new GatedQueue(client(n), name("empty"));
        assertThat(q.claim(3, Duration.ofMillis(300))).isEmpty();
        assertThat(q.claim(3, Duration.ZERO)).isEmpty();
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void theItemsOfADeadClaimerGoBackAndWakeAWaiter(int n) throws Exception {
        String queue = name("fetch");
        BatonClient dying = client(n);
        GatedQueue theirs = new GatedQueue(dying, queue);
        theirs.enqueue("page", utf8("p"), List.of());
        ClaimedItem lost = theirs.claim(1).get(0);

        QueueSignals signals = new QueueSignals();
        BatonClient c = track(nodes(n).clientBuilder().onEvent(signals).build());
        GatedQueue mine = new GatedQueue(c, queue, signals);
        CompletableFuture<List<ClaimedItem>> claimed = CompletableFuture.supplyAsync(
                () -> mine.claim(1, Duration.ofMinutes(5)));
        dying.close();
        List<ClaimedItem> got = claimed.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).id()).isEqualTo("page");
        assertThat(got.get(0).attempts()).isEqualTo(2);
        assertThat(got.get(0).fence()).isGreaterThan(lost.fence());
        mine.done(got.get(0));
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
