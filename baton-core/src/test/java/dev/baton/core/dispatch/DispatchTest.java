package dev.baton.core.dispatch;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.DispatchRelease;
import dev.baton.core.command.Command.DispatchSelect;
import dev.baton.core.command.Command.DispatchSetDisabled;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.DispatchStatus;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;

import static dev.baton.core.testing.TestResults.assertRejected;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Dispatch groups: Wikibase's ChangeDispatchCoordinator (docs/design.md) on the state machine.
 *
 * <p>Selection follows Wikibase's rule: a target is eligible when it is enabled, has pending changes
 * ({@code seen < head}) and either rested ({@code touched < now - interval}) or lags by more than
 * {@code batchSize}; the pick is random among the {@code randomness} most lagged eligible targets.
 *
 * <p><b>The one deliberate difference from Wikibase</b> (see the {@link DispatchSelector} javadoc):
 * locked targets are not candidates. Wikibase takes the N most lagged rows first and only then
 * discovers that some are locked, so with the most lagged target locked it may return nothing (or
 * pick from fewer than N) although an unlocked eligible target exists further down. Baton draws the
 * N from the unlocked targets. The fixture test below reproduces the Wikibase case where the most
 * lagged wiki's lock is busy and checks Baton's behaviour, not Wikibase's.
 */
class DispatchTest {

    private static final String G = "wikis";
    /** The SqlChangeDispatchCoordinatorTest fixture: batchSize 3, randomness 3, interval 60 s. */
    private static final DispatchSettings WIKIBASE = new DispatchSettings(60_000, 3, 3);

    // ---- initState -------------------------------------------------------------------------

    @Test
    void initAddsUntrackedTargetsWithZeroStateAndReportsHowMany() {
        Harness h = new Harness();
        DispatchReply r = init(h, G, null, "dewiki", "enwiki", "frwiki", "nlwiki", "0");

        assertThat(r.status()).isEqualTo(DispatchStatus.INITIALIZED);
        assertThat(r.value()).isEqualTo(5);
        View.Group g = group(h, G);
        assertThat(g.head()).isZero();
        assertThat(g.settings()).isEqualTo(DispatchSettings.DEFAULTS);
        assertThat(g.targets()).extracting(TargetView::id)
                .containsExactlyInAnyOrder("dewiki", "enwiki", "frwiki", "nlwiki", "0");
        for (TargetView t : g.targets()) {
            assertThat(t.seen()).as(t.id()).isZero();
            assertThat(t.touched()).as(t.id()).isZero();
            assertThat(t.disabled()).as(t.id()).isFalse();
            assertThat(t.holder()).as(t.id()).isZero();
            assertThat(t.fence()).as(t.id()).isZero();
            assertThat(t.name()).isEqualTo("db_" + t.id());
        }
        // the numeric site id "0" is a plain string id (Wikibase T238575)
        assertThat(target(h, G, "0").id()).isEqualTo("0");
    }

    @Test
    void initIsIdempotentAndNeverChangesTrackedTargets() {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, WIKIBASE, "a", "b", "c");
        h.apply(new DispatchAdvance(0, 0, G, 50), DispatchReply.class);
        h.advance(1_000);
        lockAndRelease(h, s, G, "b", 17);
        DispatchReply lockedC = h.apply(new DispatchLock(s, 0, G, "c"), DispatchReply.class);
        h.apply(new DispatchSetDisabled(0, 0, G, "a", true), DispatchReply.class);
        View.Group before = group(h, G);

        // the same call again adds nothing and changes nothing
        h.advance(5_000);
        DispatchReply again = init(h, G, null, "a", "b", "c");
        assertThat(again.status()).isEqualTo(DispatchStatus.INITIALIZED);
        assertThat(again.value()).isZero();
        assertThat(group(h, G)).isEqualTo(before);

        // a new target is added; the tracked ones keep seen, touched, disabled, lock and even their name
        Map<String, String> targets = new TreeMap<>();
        targets.put("a", "renamed-a");
        targets.put("b", "renamed-b");
        targets.put("c", "renamed-c");
        targets.put("d", "db_d");
        DispatchReply added = h.apply(new DispatchInit(0, 0, G, targets, null), DispatchReply.class);
        assertThat(added.value()).isEqualTo(1);
        View.Group after = group(h, G);
        for (TargetView old : before.targets()) {
            assertThat(target(h, G, old.id())).as(old.id()).isEqualTo(old);
        }
        assertThat(target(h, G, "b").seen()).isEqualTo(17);
        assertThat(target(h, G, "a").disabled()).isTrue();
        assertThat(target(h, G, "c").holder()).isEqualTo(s);
        assertThat(target(h, G, "c").fence()).isEqualTo(lockedC.target().fence());
        TargetView d = target(h, G, "d");
        assertThat(d.seen()).isZero();
        assertThat(d.touched()).isZero();
        assertThat(d.holder()).isZero();
        assertThat(after.head()).isEqualTo(50);
        assertThat(after.settings()).as("null settings keep the group's").isEqualTo(WIKIBASE);
    }

    @Test
    void initWithSettingsReplacesTheGroupsSettings() {
        Harness h = new Harness();
        init(h, G, null, "a");
        assertThat(group(h, G).settings()).isEqualTo(DispatchSettings.DEFAULTS);
        DispatchSettings mine = new DispatchSettings(5_000, 10, 2);
        DispatchReply r = init(h, G, mine, "a");
        assertThat(r.value()).isZero();
        assertThat(group(h, G).settings()).isEqualTo(mine);
    }

    // ---- advance -----------------------------------------------------------------------------

    @Test
    void advanceNeverLowersTheHead() {
        Harness h = new Harness();
        init(h, G, null, "a");
        long[][] steps = { // head sent, head expected afterwards
                {10, 10}, {5, 10}, {10, 10}, {0, 10}, {11, 11}, {1_000_000, 1_000_000}, {999_999, 1_000_000}};
        for (long[] step : steps) {
            DispatchReply r = h.apply(new DispatchAdvance(0, 0, G, step[0]), DispatchReply.class);
            assertThat(r.status()).isEqualTo(DispatchStatus.ADVANCED);
            assertThat(r.value()).as("reply to advance(%d)", step[0]).isEqualTo(step[1]);
            assertThat(group(h, G).head()).as("head after advance(%d)", step[0]).isEqualTo(step[1]);
        }
    }

    @Test
    void advanceRejectsNegativeHeadAndUnknownGroup() {
        Harness h = new Harness();
        init(h, G, null, "a");
        h.apply(new DispatchAdvance(0, 0, G, 7), DispatchReply.class);
        byte[] before = h.essence();
        assertRejected(h.apply(new DispatchAdvance(0, 0, G, -1)), ErrorCode.INVALID_ARGUMENT);
        assertRejected(h.apply(new DispatchAdvance(0, 0, "nope", 9)), ErrorCode.NOT_FOUND);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(group(h, G).head()).isEqualTo(7);
    }

    // ---- eligibility, one target at a time ----------------------------------------------------

    /**
     * One target, randomness 1: is it selected? {@code touchedAgoMs < 0} means never released
     * (touched = 0, and then seen is 0).
     */
    record Eligibility(String name, long head, long seen, long touchedAgoMs, long intervalMs, long batchSize,
                       boolean disabled, boolean lockedByOther, boolean expectSelected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Eligibility> eligibilityCases() {
        return Stream.of(
                new Eligibility("never released, pending work", 5, 0, -1, 60_000, 3, false, false, true),
                new Eligibility("nothing pending (seen == head)", 20, 20, 120_000, 60_000, 3, false, false, false),
                new Eligibility("seen ahead of head", 20, 25, 120_000, 60_000, 3, false, false, false),
                new Eligibility("head 0, never released", 0, 0, -1, 60_000, 3, false, false, false),
                new Eligibility("rested longer than the interval", 20, 19, 60_001, 60_000, 3, false, false, true),
                new Eligibility("rested exactly the interval (strict <)", 20, 19, 60_000, 60_000, 3, false, false, false),
                new Eligibility("not rested, small lag", 20, 19, 59_999, 60_000, 3, false, false, false),
                new Eligibility("not rested, lag == batchSize (strict >)", 20, 17, 0, 60_000, 3, false, false, false),
                new Eligibility("not rested, lag > batchSize", 20, 16, 0, 60_000, 3, false, false, true),
                new Eligibility("batchSize 0: any lag is enough", 20, 19, 0, 60_000, 0, false, false, true),
                new Eligibility("interval 0, released in this very ms", 20, 19, 0, 0, 3, false, false, false),
                new Eligibility("interval 0, released 1 ms ago", 20, 19, 1, 0, 3, false, false, true),
                new Eligibility("disabled, otherwise eligible", 20, 0, 120_000, 60_000, 3, true, false, false),
                new Eligibility("disabled, never released", 20, 0, -1, 60_000, 3, true, false, false),
                new Eligibility("locked by another session", 20, 0, 120_000, 60_000, 3, false, true, false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("eligibilityCases")
    void eligibility(Eligibility c) {
        Harness h = new Harness();
        long setup = h.open(3_600_000);
        long selector = h.open(3_600_000);
        init(h, G, new DispatchSettings(c.intervalMs(), c.batchSize(), 1), "t");
        h.apply(new DispatchAdvance(0, 0, G, c.head()), DispatchReply.class);
        if (c.touchedAgoMs() >= 0) {
            lockAndRelease(h, setup, G, "t", c.seen());
            h.advance(c.touchedAgoMs());
        }
        if (c.disabled()) {
            h.apply(new DispatchSetDisabled(0, 0, G, "t", true), DispatchReply.class);
        }
        if (c.lockedByOther()) {
            assertThat(h.apply(new DispatchLock(setup, 0, G, "t"), DispatchReply.class).status())
                    .isEqualTo(DispatchStatus.LOCKED);
        }
        TargetView before = target(h, G, "t");

        DispatchReply r = h.apply(new DispatchSelect(selector, 0, G), DispatchReply.class);

        assertThat(r.value()).as("the reply carries the head").isEqualTo(c.head());
        if (c.expectSelected()) {
            assertThat(r.status()).isEqualTo(DispatchStatus.SELECTED);
            assertThat(r.target().id()).isEqualTo("t");
            assertThat(r.target().holder()).isEqualTo(selector);
            assertThat(target(h, G, "t").holder()).isEqualTo(selector);
        } else {
            assertThat(r.status()).isEqualTo(DispatchStatus.NONE);
            assertThat(r.target()).isNull();
            assertThat(target(h, G, "t")).as("NONE changes nothing").isEqualTo(before);
        }
    }

    // ---- the Wikibase SqlChangeDispatchCoordinatorTest fixture, in our own words --------------

    /** id, seen, released this long before the moment of selection. */
    private record Row(String id, long seen, long agoMs) {}

    /**
     * A repo whose newest change is 23, with wikis in every situation the selection distinguishes.
     * Returns the harness with the clock at the moment of selection; session ids are 1 (setup,
     * holds zhwiki) and 2 (the dispatcher).
     */
    private static Harness wikibaseFixture(DispatchSettings settings) {
        List<Row> rows = List.of(
                new Row("dewiki", 23, 200_000),  // up to date: nothing pending
                new Row("zhwiki", 2, 200_000),   // most lagged, but its lock is busy
                new Row("eswiki", 1, 200_000),   // lagging, but disabled
                new Row("frwiki", 20, 120_000),  // rested, lag 3: eligible, 4th most lagged
                new Row("itwiki", 18, 90_000),   // rested: eligible
                new Row("jawiki", 19, 30_000),   // not rested, lag 4 > batch 3: eligible
                new Row("enwiki", 22, 10_000),   // not rested, lag 1: not eligible
                new Row("nlwiki", 15, 5_000));   // not rested, lag 8 > 3: eligible, the most lagged eligible
        Harness h = new Harness();
        long setup = h.open(3_600_000);
        long dispatcher = h.open(3_600_000);
        assertThat(setup).isEqualTo(1);
        assertThat(dispatcher).isEqualTo(2);
        init(h, G, settings, rows.stream().map(Row::id).toArray(String[]::new));
        h.apply(new DispatchAdvance(0, 0, G, 23), DispatchReply.class);
        long selectAt = h.now() + 300_000;
        List<Row> byTime = new ArrayList<>(rows);
        byTime.sort(Comparator.comparingLong(Row::agoMs).reversed());
        for (Row r : byTime) {
            h.advance(selectAt - r.agoMs() - h.now());
            lockAndRelease(h, setup, G, r.id(), r.seen());
        }
        h.advance(selectAt - h.now());
        h.apply(new DispatchLock(setup, 0, G, "zhwiki"), DispatchReply.class);
        h.apply(new DispatchSetDisabled(0, 0, G, "eswiki", true), DispatchReply.class);
        assertThat(h.now()).isEqualTo(selectAt);
        return h;
    }

    @Test
    void wikibaseFixturePicksAmongTheThreeMostLaggedEligibleWikis() {
        Harness h = wikibaseFixture(WIKIBASE);
        // Wikibase's candidate list would be zhwiki, nlwiki, itwiki (zhwiki's lock then fails);
        // Baton skips the locked zhwiki up front, so the three are nlwiki, itwiki, jawiki.
        Set<String> expected = Set.of("nlwiki", "itwiki", "jawiki");

        List<String> picks = picksAtManyIndexes(h, 2, G, 120);

        assertThat(picks).doesNotContainNull();
        assertThat(new HashSet<>(picks)).isEqualTo(expected);
    }

    @Test
    void wikibaseFixtureWithRandomnessOneIsStrictlyMostLaggedFirst() {
        Harness h = wikibaseFixture(new DispatchSettings(60_000, 3, 1));
        assertThat(picksAtManyIndexes(h, 2, G, 60)).containsOnly("nlwiki");
    }

    @Test
    void wikibaseFixtureReleaseStoresCursorTouchesAndUnlocksOnlyThatRow() {
        Harness h = wikibaseFixture(WIKIBASE);
        DispatchReply sel = h.apply(new DispatchSelect(2, 0, G), DispatchReply.class);
        assertThat(sel.status()).isEqualTo(DispatchStatus.SELECTED);
        String picked = sel.target().id();
        View.Group before = group(h, G);

        h.advance(2_000);
        DispatchReply rel = h.apply(new DispatchRelease(2, 0, G, picked, sel.target().fence(), 23), DispatchReply.class);

        assertThat(rel.status()).isEqualTo(DispatchStatus.RELEASED);
        TargetView t = target(h, G, picked);
        assertThat(t.seen()).isEqualTo(23);
        assertThat(t.touched()).isEqualTo(h.now());
        assertThat(t.holder()).isZero();
        assertThat(t.fence()).isZero();
        assertThat(rel.target()).isEqualTo(t);
        for (TargetView other : before.targets()) {
            if (!other.id().equals(picked)) {
                assertThat(target(h, G, other.id())).as(other.id()).isEqualTo(other);
            }
        }
        // the released wiki is now up to date; frwiki moves into the three most lagged
        Set<String> expected = new HashSet<>(Set.of("nlwiki", "itwiki", "jawiki", "frwiki"));
        expected.remove(picked);
        assertThat(new HashSet<>(picksAtManyIndexes(h, 2, G, 120))).isEqualTo(expected);
    }

    @Test
    void wikibaseFixtureNothingPendingOrAllDisabledGivesNone() {
        Harness h = wikibaseFixture(WIKIBASE);
        // all disabled
        for (TargetView t : group(h, G).targets()) {
            h.apply(new DispatchSetDisabled(0, 0, G, t.id(), true), DispatchReply.class);
        }
        assertThat(picksAtManyIndexes(h, 2, G, 20)).containsOnlyNulls();

        // nothing pending: every wiki has seen the head
        Harness h2 = new Harness();
        long s = h2.open();
        init(h2, G, WIKIBASE, "a", "b");
        h2.apply(new DispatchAdvance(0, 0, G, 23), DispatchReply.class);
        lockAndRelease(h2, s, G, "a", 23);
        lockAndRelease(h2, s, G, "b", 30);
        h2.advance(600_000);
        assertThat(picksAtManyIndexes(h2, s, G, 20)).containsOnlyNulls();
        DispatchReply r = h2.apply(new DispatchSelect(s, 0, G), DispatchReply.class);
        assertThat(r.status()).isEqualTo(DispatchStatus.NONE);
        assertThat(r.target()).isNull();
    }

    @Test
    void emptyGroupGivesNoneAndUnknownGroupIsNotFound() {
        Harness h = new Harness();
        long s = h.open();
        h.apply(new DispatchInit(0, 0, G, Map.of(), null), DispatchReply.class);
        h.apply(new DispatchAdvance(0, 0, G, 10), DispatchReply.class);
        assertThat(h.apply(new DispatchSelect(s, 0, G), DispatchReply.class).status()).isEqualTo(DispatchStatus.NONE);
        assertRejected(h.apply(new DispatchSelect(s, 0, "nope")), ErrorCode.NOT_FOUND);
    }

    // ---- selection over many draws ------------------------------------------------------------

    /**
     * 24 targets with distinct cursors, all rested: the two most lagged are disabled and two are up
     * to date, so 20 are eligible. Every pick must be among the {@code randomness} most lagged of
     * those, and over enough draws (each at its own log index) every one of them must come up.
     */
    @ParameterizedTest(name = "randomness {0}")
    @ValueSource(ints = {1, 2, 3, 5, 15, 20, 25})
    void picksAreAlwaysAmongTheRandomnessMostLaggedAndAllOfThemComeUp(int randomness) {
        Harness h = new Harness();
        long setup = h.open(3_600_000);
        long dispatcher = h.open(3_600_000);
        long head = 1_000;
        List<Long> seens = new ArrayList<>();
        for (long v = 0; v < 22; v++) {
            seens.add(v * 37 + 11); // distinct, all below head
        }
        Collections.shuffle(seens, new Random(42));
        Map<String, Long> seen = new LinkedHashMap<>();
        for (int i = 0; i < 22; i++) {
            seen.put(String.format("t%02d", i), seens.get(i));
        }
        seen.put("done1", head);
        seen.put("done2", head);
        init(h, G, new DispatchSettings(60_000, 100_000, randomness), seen.keySet().toArray(String[]::new));
        h.apply(new DispatchAdvance(0, 0, G, head), DispatchReply.class);
        for (Map.Entry<String, Long> e : seen.entrySet()) {
            lockAndRelease(h, setup, G, e.getKey(), e.getValue());
        }
        List<String> byLag = seen.entrySet().stream().sorted(Map.Entry.comparingByValue())
                .map(Map.Entry::getKey).collect(Collectors.toList());
        h.apply(new DispatchSetDisabled(0, 0, G, byLag.get(0), true), DispatchReply.class);
        h.apply(new DispatchSetDisabled(0, 0, G, byLag.get(1), true), DispatchReply.class);
        h.advance(60_001);

        List<String> eligible = byLag.stream().filter(id -> seen.get(id) < head).skip(2).collect(Collectors.toList());
        assertThat(eligible).hasSize(20);
        Set<String> expected = new HashSet<>(eligible.subList(0, Math.min(randomness, eligible.size())));

        List<String> picks = picksAtManyIndexes(h, dispatcher, G, 400);

        assertThat(picks).doesNotContainNull();
        assertThat(expected).containsAll(picks);
        assertThat(new HashSet<>(picks)).as("every one of the %d most lagged is picked at some index",
                expected.size()).isEqualTo(expected);
    }

    @Test
    void theSameLogIndexAlwaysPicksTheSameTarget() {
        Harness h = wikibaseFixture(WIKIBASE);
        assertThat(picksAtManyIndexes(h, 2, G, 30)).isEqualTo(picksAtManyIndexes(h, 2, G, 30));
    }

    @Test
    void selectionLocksThePickWithAFreshFenceFromTheGrantingIndex() {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, new DispatchSettings(60_000, 0, 5), "a", "b", "c");
        h.apply(new DispatchAdvance(0, 0, G, 10), DispatchReply.class);
        long lastFence = 0;
        Set<String> picked = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            DispatchReply r = h.apply(new DispatchSelect(s, 0, G), DispatchReply.class);
            assertThat(r.status()).isEqualTo(DispatchStatus.SELECTED);
            TargetView t = r.target();
            assertThat(picked.add(t.id())).as("a locked target is not selected again").isTrue();
            assertThat(t.holder()).isEqualTo(s);
            assertThat(t.fence()).isGreaterThan(lastFence);
            assertThat(t.fence() >>> 16).as("the fence carries the granting log index").isEqualTo(h.lastIndex());
            assertThat(target(h, G, t.id())).isEqualTo(t);
            lastFence = t.fence();
        }
        assertThat(h.lookup(new Query.GetSession(s)).dispatchTargets())
                .containsExactlyInAnyOrder(G + "/a", G + "/b", G + "/c");
        assertThat(h.apply(new DispatchSelect(s, 0, G), DispatchReply.class).status()).isEqualTo(DispatchStatus.NONE);
    }

    @Test
    void concurrentSelectsInOneEntryNeverShareATarget() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        long s3 = h.open();
        init(h, G, new DispatchSettings(60_000, 0, 15), "a", "b");
        h.apply(new DispatchAdvance(0, 0, G, 10), DispatchReply.class);

        Applied a = h.entry(new DispatchSelect(s1, 0, G), new DispatchSelect(s2, 0, G), new DispatchSelect(s3, 0, G));

        DispatchReply r1 = (DispatchReply) a.results().get(0);
        DispatchReply r2 = (DispatchReply) a.results().get(1);
        DispatchReply r3 = (DispatchReply) a.results().get(2);
        assertThat(r1.status()).isEqualTo(DispatchStatus.SELECTED);
        assertThat(r2.status()).isEqualTo(DispatchStatus.SELECTED);
        assertThat(r1.target().id()).isNotEqualTo(r2.target().id());
        assertThat(r1.target().fence()).isNotEqualTo(r2.target().fence());
        assertThat(r3.status()).isEqualTo(DispatchStatus.NONE);
    }

    @Test
    void disabledTargetsAreNeverSelectedUntilEnabledAgain() {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, new DispatchSettings(60_000, 0, 15), "a", "b", "c");
        h.apply(new DispatchAdvance(0, 0, G, 10), DispatchReply.class);
        DispatchReply d = h.apply(new DispatchSetDisabled(0, 0, G, "b", true), DispatchReply.class);
        assertThat(d.status()).isEqualTo(DispatchStatus.UPDATED);
        assertThat(d.target().disabled()).isTrue();

        assertThat(new HashSet<>(picksAtManyIndexes(h, s, G, 150))).containsExactlyInAnyOrder("a", "c");

        h.apply(new DispatchSetDisabled(0, 0, G, "b", false), DispatchReply.class);
        assertThat(new HashSet<>(picksAtManyIndexes(h, s, G, 150))).containsExactlyInAnyOrder("a", "b", "c");
    }

    @Test
    void setDisabledKeepsTheLockAndUnknownTargetIsNotFound() {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, null, "a");
        DispatchReply l = h.apply(new DispatchLock(s, 0, G, "a"), DispatchReply.class);
        h.apply(new DispatchSetDisabled(0, 0, G, "a", true), DispatchReply.class);
        assertThat(target(h, G, "a").holder()).isEqualTo(s);
        assertThat(target(h, G, "a").fence()).isEqualTo(l.target().fence());
        assertRejected(h.apply(new DispatchSetDisabled(0, 0, G, "zz", true)), ErrorCode.NOT_FOUND);
        assertRejected(h.apply(new DispatchSetDisabled(0, 0, "nope", "a", true)), ErrorCode.NOT_FOUND);
    }

    // ---- lockClient ----------------------------------------------------------------------------

    @Test
    void lockGivesLockedThenBusyToOthersAndLockedAgainToTheHolder() {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        init(h, G, null, "a");

        DispatchReply first = h.apply(new DispatchLock(s1, 0, G, "a"), DispatchReply.class);
        assertThat(first.status()).isEqualTo(DispatchStatus.LOCKED);
        assertThat(first.target().holder()).isEqualTo(s1);
        assertThat(first.target().fence()).isPositive();

        byte[] before = h.essence();
        DispatchReply busy = h.apply(new DispatchLock(s2, 0, G, "a"), DispatchReply.class);
        assertThat(busy.status()).isEqualTo(DispatchStatus.BUSY);
        assertThat(busy.target().holder()).isEqualTo(s1);
        assertThat(h.essence()).as("BUSY changes nothing").isEqualTo(before);

        DispatchReply again = h.apply(new DispatchLock(s1, 0, G, "a"), DispatchReply.class);
        assertThat(again.status()).isEqualTo(DispatchStatus.LOCKED);
        assertThat(again.target().fence()).as("re-locking keeps the grant").isEqualTo(first.target().fence());
        assertThat(h.essence()).isEqualTo(before);
    }

    static Stream<Arguments> lockNotFound() {
        return Stream.of(Arguments.of("unknown group", "nope", "a"), Arguments.of("unknown target", G, "zz"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lockNotFound")
    void lockAndReleaseOfMissingThingsAreNotFound(String why, String group, String target) {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, null, "a");
        byte[] before = h.essence();
        assertRejected(h.apply(new DispatchLock(s, 0, group, target)), ErrorCode.NOT_FOUND);
        assertRejected(h.apply(new DispatchRelease(s, 0, group, target, 1, 5)), ErrorCode.NOT_FOUND);
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- releaseClient -------------------------------------------------------------------------

    @ParameterizedTest(name = "seen {0}, release with {1} -> {2}")
    @MethodSource("releaseSeen")
    void releaseTouchesUnlocksAndNeverMovesSeenBackwards(long seenBefore, long newSeen, long seenAfter) {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, null, "a", "b");
        h.apply(new DispatchAdvance(0, 0, G, 100), DispatchReply.class);
        lockAndRelease(h, s, G, "a", seenBefore);
        TargetView b = target(h, G, "b");
        h.advance(7_000);
        DispatchReply l = h.apply(new DispatchLock(s, 0, G, "a"), DispatchReply.class);
        h.advance(3_000);

        DispatchReply r = h.apply(new DispatchRelease(s, 0, G, "a", l.target().fence(), newSeen), DispatchReply.class);

        assertThat(r.status()).isEqualTo(DispatchStatus.RELEASED);
        TargetView a = target(h, G, "a");
        assertThat(a.seen()).isEqualTo(seenAfter);
        assertThat(a.touched()).isEqualTo(h.now());
        assertThat(a.holder()).isZero();
        assertThat(a.fence()).isZero();
        assertThat(target(h, G, "b")).isEqualTo(b);
        assertThat(h.lookup(new Query.GetSession(s)).dispatchTargets()).isEmpty();
    }

    static Stream<Arguments> releaseSeen() {
        return Stream.of(
                Arguments.of(10L, 15L, 15L),
                Arguments.of(10L, 10L, 10L),
                Arguments.of(10L, 3L, 10L),
                Arguments.of(10L, 0L, 10L),
                Arguments.of(0L, 100L, 100L),
                Arguments.of(50L, 150L, 150L)); // beyond the head is stored as sent
    }

    /** Who releases, with which fence, after what. */
    record StaleRelease(String name, boolean otherSession, boolean oldFence, boolean wrongFence, boolean unlocked) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<StaleRelease> staleReleases() {
        return Stream.of(
                new StaleRelease("wrong fence", false, false, true, false),
                new StaleRelease("another session, right fence", true, false, false, false),
                new StaleRelease("fence of an earlier grant", false, true, false, false),
                new StaleRelease("target not locked", false, false, false, true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("staleReleases")
    void releaseWithStaleFenceOrByAnotherSessionIsRejectedAndChangesNothing(StaleRelease c) {
        Harness h = new Harness();
        long s1 = h.open();
        long s2 = h.open();
        init(h, G, null, "a");
        h.apply(new DispatchAdvance(0, 0, G, 100), DispatchReply.class);
        DispatchReply first = h.apply(new DispatchLock(s1, 0, G, "a"), DispatchReply.class);
        long fence = first.target().fence();
        if (c.oldFence() || c.unlocked()) {
            h.apply(new DispatchRelease(s1, 0, G, "a", fence, 5), DispatchReply.class);
        }
        if (c.oldFence()) {
            DispatchReply second = h.apply(new DispatchLock(s1, 0, G, "a"), DispatchReply.class);
            assertThat(second.target().fence()).isGreaterThan(fence);
        }
        h.advance(1_000);
        long sender = c.otherSession() ? s2 : s1;
        long quoted = c.wrongFence() ? fence + 1 : fence;
        byte[] before = h.essence();
        TargetView a = target(h, G, "a");

        Result r = h.apply(new DispatchRelease(sender, 0, G, "a", quoted, 99));

        assertRejected(r, ErrorCode.STALE_FENCE);
        assertThat(target(h, G, "a")).isEqualTo(a);
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void releaseRejectsNegativeSeen() {
        Harness h = new Harness();
        long s = h.open();
        init(h, G, null, "a");
        DispatchReply l = h.apply(new DispatchLock(s, 0, G, "a"), DispatchReply.class);
        byte[] before = h.essence();
        assertRejected(h.apply(new DispatchRelease(s, 0, G, "a", l.target().fence(), -1)), ErrorCode.INVALID_ARGUMENT);
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- the holder's session ends -------------------------------------------------------------

    static Stream<Arguments> sessionEnders() {
        return Stream.of(
                Arguments.of("CloseSession", (java.util.function.LongFunction<Command>) s -> new CloseSession(s, 0)),
                Arguments.of("ExpireSessions",
                        (java.util.function.LongFunction<Command>) s -> new ExpireSessions(List.of(s))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sessionEnders")
    void sessionEndUnlocksItsTargetsWithoutMovingSeenOrTouched(String how,
                                                               java.util.function.LongFunction<Command> end) {
        Harness h = new Harness();
        long holder = h.open();
        long other = h.open();
        init(h, G, new DispatchSettings(60_000, 0, 15), "a", "b", "c");
        h.apply(new DispatchAdvance(0, 0, G, 40), DispatchReply.class);
        lockAndRelease(h, holder, G, "a", 12);
        lockAndRelease(h, holder, G, "b", 7);
        h.advance(30_000);
        DispatchReply sel = h.apply(new DispatchSelect(holder, 0, G), DispatchReply.class);
        String viaSelect = sel.target().id();
        String viaLock = viaSelect.equals("c") ? "a" : "c";
        h.apply(new DispatchLock(holder, 0, G, viaLock), DispatchReply.class);
        Map<String, TargetView> before = new TreeMap<>();
        group(h, G).targets().forEach(t -> before.put(t.id(), t));
        h.advance(5_000);

        h.apply(end.apply(holder));

        for (String id : List.of(viaSelect, viaLock)) {
            TargetView t = target(h, G, id);
            assertThat(t.holder()).as(id).isZero();
            assertThat(t.fence()).as(id).isZero();
            assertThat(t.seen()).as(id).isEqualTo(before.get(id).seen());
            assertThat(t.touched()).as(id).isEqualTo(before.get(id).touched());
        }
        assertThat(h.lookup(new Query.GetSession(holder))).isNull();
        // someone else can now lock them
        assertThat(h.apply(new DispatchLock(other, 0, G, viaLock), DispatchReply.class).status())
                .isEqualTo(DispatchStatus.LOCKED);
        // and the dead holder's late release is refused
        assertRejected(h.apply(new DispatchRelease(holder, 0, G, viaSelect, sel.target().fence(), 40)),
                ErrorCode.UNKNOWN_SESSION);
        assertThat(target(h, G, viaSelect).seen()).isEqualTo(before.get(viaSelect).seen());
    }

    @Test
    void selectAndLockNeedASession() {
        Harness h = new Harness();
        init(h, G, null, "a");
        h.apply(new DispatchAdvance(0, 0, G, 5), DispatchReply.class);
        byte[] before = h.essence();
        assertRejected(h.apply(new DispatchSelect(0, 0, G)), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new DispatchLock(0, 0, G, "a")), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new DispatchRelease(0, 0, G, "a", 0, 3)), ErrorCode.UNKNOWN_SESSION);
        assertRejected(h.apply(new DispatchSelect(77, 0, G)), ErrorCode.UNKNOWN_SESSION);
        assertThat(h.essence()).isEqualTo(before);
    }

    @Test
    void dispatchStateSurvivesASnapshot() {
        Harness h = wikibaseFixture(WIKIBASE);
        h.apply(new DispatchSelect(2, 0, G), DispatchReply.class);
        CoordinationStateMachine copy = h.recoverCopy();
        assertThat(copy.lookup(new Query.GetGroup(G))).isEqualTo(group(h, G));
        // the lag index is rebuilt: the copy selects what the original selects at the same index
        Entry next = Entry.of(h.lastIndex() + 1, h.now(), new DispatchSelect(2, 0, G));
        Applied a = h.sm().update(List.of(next)).get(0);
        Applied b = copy.update(List.of(next)).get(0);
        assertThat(b.results()).isEqualTo(a.results());
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static DispatchReply init(Harness h, String group, DispatchSettings settings, String... ids) {
        Map<String, String> targets = new LinkedHashMap<>();
        for (String id : ids) {
            targets.put(id, "db_" + id);
        }
        return h.apply(new DispatchInit(0, 0, group, targets, settings), DispatchReply.class);
    }

    /** Sets a target's cursor and touch time (= now) the only way there is: lock, then release. */
    private static void lockAndRelease(Harness h, long session, String group, String target, long seen) {
        DispatchReply l = h.apply(new DispatchLock(session, 0, group, target), DispatchReply.class);
        assertThat(l.status()).isEqualTo(DispatchStatus.LOCKED);
        DispatchReply r = h.apply(new DispatchRelease(session, 0, group, target, l.target().fence(), seen),
                DispatchReply.class);
        assertThat(r.status()).isEqualTo(DispatchStatus.RELEASED);
        assertThat(r.target().seen()).isEqualTo(Math.max(seen, l.target().seen()));
    }

    private static View.Group group(Harness h, String group) {
        View.Group g = h.lookup(new Query.GetGroup(group));
        assertThat(g).as("group " + group).isNotNull();
        return g;
    }

    private static TargetView target(Harness h, String group, String id) {
        return group(h, group).targets().stream().filter(t -> t.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no target " + id));
    }

    /**
     * Applies one DispatchSelect at each of {@code n} different log indexes, each time to a fresh
     * copy of the current state (so every draw sees the same candidates), at the harness's clock.
     * Returns the picked ids, null for NONE.
     */
    private static List<String> picksAtManyIndexes(Harness h, long session, String group, int n) {
        byte[] base = h.snapshot();
        long last = h.lastIndex();
        List<String> picks = new ArrayList<>(n);
        for (int k = 1; k <= n; k++) {
            CoordinationStateMachine copy = new CoordinationStateMachine();
            try {
                copy.recoverFromSnapshot(new ByteArrayInputStream(base));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            long index = last + k * 3L - (k % 2); // varied gaps: indexes need only increase
            Applied a = copy.update(List.of(Entry.of(index, h.now(), new DispatchSelect(session, 0, group)))).get(0);
            DispatchReply r = (DispatchReply) a.results().get(0);
            if (r.status() == DispatchStatus.SELECTED) {
                assertThat(r.target().holder()).isEqualTo(session);
                assertThat(r.target().fence() >>> 16).isEqualTo(index);
                picks.add(r.target().id());
            } else {
                assertThat(r.status()).isEqualTo(DispatchStatus.NONE);
                picks.add(null);
            }
        }
        return picks;
    }


}
