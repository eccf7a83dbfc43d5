package dev.baton.it.dispatch;

import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchTarget;
import dev.baton.client.BatonClient;
import dev.baton.client.NotFoundException;
import dev.baton.client.StaleFenceException;
import dev.baton.client.dispatch.ChangeDispatchCoordinator;
import dev.baton.client.dispatch.CoordinatorSettings;
import dev.baton.client.dispatch.DispatchState;
import dev.baton.it.Nodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every method of the coordinator facade against one real node and against a three-node cluster. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChangeDispatchCoordinatorTest {
    private static final AtomicInteger GROUPS = new AtomicInteger();

    private final Map<Integer, Nodes> clusters = new HashMap<>();
    private final List<BatonClient> clients = new ArrayList<>();

    private Nodes nodes(int n) {
        return clusters.computeIfAbsent(n, k -> k == 1 ? Nodes.single() : Nodes.three());
    }

    private BatonClient client(int n) {
        BatonClient c = nodes(n).client();
        clients.add(c);
        return c;
    }

    private static String group() {
        return "wikidata-" + GROUPS.incrementAndGet();
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

    private static Map<String, DispatchTarget> targets(BatonClient c, String group) {
        Map<String, DispatchTarget> out = new HashMap<>();
        for (DispatchTarget t : c.dispatch().get(group).targets()) {
            out.put(t.id(), t);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void initStateAddsOnlyUntrackedTargetsAndAppliesSettings(int n) {
        BatonClient c = client(n);
        String g = group();
        CoordinatorSettings settings = new CoordinatorSettings(Duration.ofSeconds(5), 7, 2);
        ChangeDispatchCoordinator coord = new ChangeDispatchCoordinator(c, g, settings);

        assertThat(coord.initState(Map.of("enwiki", "enwikidb", "dewiki", "dewikidb", "0", "zerodb"))).isEqualTo(3);
        coord.advanceHead(10);
        DispatchState en = coord.lockClient("enwiki");
        coord.releaseClient(en.withSeen(4));

        // again, with a renamed known target and a new one: only the new one is added
        assertThat(coord.initState(Map.of("enwiki", "renamed", "frwiki", "frwikidb"))).isEqualTo(1);
        DispatchGroup info = c.dispatch().get(g);
        assertThat(info.settings().intervalMs()).isEqualTo(5000);
        assertThat(info.settings().batchSize()).isEqualTo(7);
        assertThat(info.settings().randomness()).isEqualTo(2);
        Map<String, DispatchTarget> t = targets(c, g);
        assertThat(t).containsOnlyKeys("enwiki", "dewiki", "0", "frwiki");
        assertThat(t.get("enwiki").name()).isEqualTo("enwikidb");
        assertThat(t.get("enwiki").seen()).isEqualTo(4);
        assertThat(t.get("frwiki").seen()).isZero();
        assertThat(t.get("frwiki").touched()).isZero();

        // a coordinator without settings keeps the group's
        assertThat(new ChangeDispatchCoordinator(c, g).initState(Map.of())).isZero();
        assertThat(c.dispatch().get(g).settings().batchSize()).isEqualTo(7);
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void selectClientLocksTheMostLaggedEligibleTargetOrReturnsNull(int n) {
        BatonClient c = client(n);
        BatonClient other = client(n);
        String g = group();
        // randomness 1: strictly the most lagged; batch size 1: any lag above 1 is eligible without resting
        ChangeDispatchCoordinator coord = new ChangeDispatchCoordinator(c, g,
                new CoordinatorSettings(Duration.ofHours(1), 1, 1));
        ChangeDispatchCoordinator rival = new ChangeDispatchCoordinator(other, g);
        assertThatThrownBy(coord::selectClient).isInstanceOf(NotFoundException.class);
        coord.initState(Map.of("a", "adb", "b", "bdb", "c", "cdb", "d", "ddb"));

        assertThat(coord.selectClient()).as("nothing pending at head 0").isNull();
        assertThat(coord.advanceHead(10)).isEqualTo(10);
        assertThat(coord.advanceHead(3)).as("never lowered").isEqualTo(10);
        coord.releaseClient(coord.lockClient("a").withSeen(5));
        coord.releaseClient(coord.lockClient("b").withSeen(3));
        c.dispatch().setDisabled(g, "d", true);

        DispatchState first = coord.selectClient();
        assertThat(first.site()).isEqualTo("c");
        assertThat(first.db()).isEqualTo("cdb");
        assertThat(first.seen()).isZero();
        assertThat(first.fence()).isPositive();
        DispatchState second = coord.selectClient();
        assertThat(second.site()).isEqualTo("b");
        assertThat(second.seen()).isEqualTo(3);
        assertThat(second.fence()).isGreaterThan(first.fence());
        assertThat(rival.selectClient().site()).isEqualTo("a");
        assertThat(coord.selectClient()).as("the rest is locked or disabled").isNull();
        assertThat(targets(c, g).get("c").holder()).isEqualTo(c.sessionId());
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void lockClientIsExclusiveAndFreedWhenTheHolderDies(int n) throws Exception {
        BatonClient c = client(n);
        BatonClient holder = client(n);
        String g = group();
        ChangeDispatchCoordinator mine = new ChangeDispatchCoordinator(c, g);
        ChangeDispatchCoordinator theirs = new ChangeDispatchCoordinator(holder, g);
        mine.initState(Map.of("a", "adb"));
        mine.advanceHead(10);

        DispatchState s = theirs.lockClient("a");
        assertThat(s.fence()).isPositive();
        assertThat(theirs.lockClient("a")).as("the holder locks again with the same fence").isEqualTo(s);
        assertThat(mine.lockClient("a")).as("busy").isNull();
        assertThatThrownBy(() -> mine.lockClient("nope")).isInstanceOf(NotFoundException.class);
        theirs.releaseClient(s.withSeen(3));

        DispatchState again = theirs.lockClient("a");
        assertThat(again.seen()).isEqualTo(3);
        assertThat(again.fence()).isGreaterThan(s.fence());
        holder.close(); // the holder dies: its lock goes, its cursor stays
        // close() gives up on the cluster after about 2 s (the session then lapses by its TTL): until
        // the close is applied, the site is still busy.
        DispatchState[] taken = new DispatchState[1];
        dev.baton.server.TestWaits.await("the site free once its holder closed",
                () -> (taken[0] = mine.lockClient("a")) != null);
        assertThat(taken[0].seen()).isEqualTo(3);
        assertThat(taken[0].fence()).isGreaterThan(again.fence());
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void releaseClientStoresTheCursorNeverBackwardsAndRefusesAStaleFence(int n) {
        BatonClient c = client(n);
        BatonClient other = client(n);
        String g = group();
        ChangeDispatchCoordinator coord = new ChangeDispatchCoordinator(c, g);
        ChangeDispatchCoordinator rival = new ChangeDispatchCoordinator(other, g);
        coord.initState(Map.of("a", "adb", "b", "bdb"));
        coord.advanceHead(100);

        DispatchState s = coord.lockClient("a");
        DispatchState stored = coord.releaseClient(s.withSeen(40));
        assertThat(stored.seen()).isEqualTo(40);
        assertThat(stored.fence()).isZero();
        assertThat(stored.touched()).isAfter(Instant.EPOCH);
        assertThatThrownBy(() -> coord.releaseClient(s.withSeen(50))).as("already released")
                .isInstanceOf(StaleFenceException.class).hasMessageContaining("cursor 50 was not stored");
        assertThat(targets(c, g).get("a").seen()).isEqualTo(40);

        // a state made up with a lower cursor: the stored one stays
        DispatchState s2 = coord.lockClient("a");
        assertThat(coord.releaseClient(new DispatchState("a", "adb", 10, Instant.EPOCH, s2.fence())).seen())
                .isEqualTo(40);
        assertThatThrownBy(() -> coord.releaseClient(stored)).isInstanceOf(IllegalArgumentException.class);

        // a paused ex-holder cannot overwrite the work of the target's new holder
        DispatchState old = coord.lockClient("b");
        c.dispatch().release(g, "b", 0, 0); // lost, as if its session had ended
        DispatchState now = rival.lockClient("b");
        assertThatThrownBy(() -> coord.releaseClient(old.withSeen(99))).isInstanceOf(StaleFenceException.class);
        assertThat(rival.releaseClient(now.withSeen(20)).seen()).isEqualTo(20);
        assertThat(targets(c, g).get("b").seen()).isEqualTo(20);
    }

    @ParameterizedTest(name = "{0} node(s)")
    @ValueSource(ints = {1, 3})
    void releaseHeldUnlocksOnlyThisSessionsTargets(int n) {
        BatonClient c = client(n);
        BatonClient other = client(n);
        String g = group();
        ChangeDispatchCoordinator coord = new ChangeDispatchCoordinator(c, g);
        ChangeDispatchCoordinator rival = new ChangeDispatchCoordinator(other, g);
        coord.initState(Map.of("a", "adb", "b", "bdb", "c", "cdb"));
        coord.advanceHead(10);
        coord.releaseClient(coord.lockClient("a").withSeen(6));
        coord.lockClient("a");
        coord.lockClient("b");
        rival.lockClient("c");

        assertThat(coord.releaseHeld()).isEqualTo(2);
        Map<String, DispatchTarget> t = targets(c, g);
        Set<String> locked = new HashSet<>();
        t.values().stream().filter(x -> x.holder() != 0).forEach(x -> locked.add(x.id()));
        assertThat(locked).containsExactly("c");
        assertThat(t.get("a").seen()).as("cursor unchanged").isEqualTo(6);
        assertThat(coord.releaseHeld()).isZero();
    }
}
