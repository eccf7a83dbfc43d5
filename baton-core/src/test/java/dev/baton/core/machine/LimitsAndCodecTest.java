package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.AnnounceNode;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.DispatchRelease;
import dev.baton.core.command.Command.DispatchSelect;
import dev.baton.core.command.Command.DispatchSetDisabled;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.Command.ExpireWaits;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.LockRelease;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.OpenSessionThen;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.PoolRelease;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueDone;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.Command.QueueRetry;
import dev.baton.core.command.Command.SetLimits;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Effect;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.QueueStatus;
import dev.baton.core.command.Result.SessionOpened;
import dev.baton.core.command.View;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.organicdesign.fp.collections.PersistentHashMap;
import dev.baton.core.session.RecentResults;
import dev.baton.core.session.SessionData;
import dev.baton.core.session.SessionState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Limits (every bounded resource refuses cleanly and changes nothing), the command codec (every
 * command round-trips; malformed entries are refused whole) and snapshot integrity.
 */
class LimitsAndCodecTest {

    // ---- limits --------------------------------------------------------------------------------

    /**
     * One limit: {@code fill} brings the state up to the limit (asserting that each step up to it
     * succeeds) and returns the command that would go over it.
     */
    record LimitCase(String name, UnaryOperator<Limits.Builder> limit, Function<Harness, Command> fill,
                     ErrorCode code, String messageMentions, Query<?> relevant) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<LimitCase> limitCases() {
        return Stream.of(
                new LimitCase("sessions", b -> b.maxSessions(2), h -> {
                    h.open();
                    h.open();
                    return new OpenSession(null, 10_000);
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.ListSessionLeases()),
                new LimitCase("sessions, with a client token", b -> b.maxSessions(1), h -> {
                    h.open();
                    return new OpenSession("token", 10_000);
                }, ErrorCode.LIMIT_EXCEEDED, "1", new Query.ListSessionLeases()),
                new LimitCase("pool keys", b -> b.maxPoolKeys(2), h -> {
                    long s = h.open();
                    assertThat(acquire(h, s, "k1", 0).status()).isEqualTo(PoolStatus.LOCKED);
                    assertThat(acquire(h, h.open(), "k2", 0).status()).isEqualTo(PoolStatus.LOCKED);
                    return new PoolAcquire(h.open(), 0, "k3", 1, 5, 0, false);
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.GetPoolTotals()),
                new LimitCase("waiters per pool key", b -> b.maxWaitersPerKey(1), h -> {
                    assertThat(acquire(h, h.open(), "k", 0).status()).isEqualTo(PoolStatus.LOCKED);
                    assertThat(acquire(h, h.open(), "k", 5_000).status()).isEqualTo(PoolStatus.QUEUED);
                    return new PoolAcquire(h.open(), 0, "k", 1, 100, 5_000, true);
                }, ErrorCode.LIMIT_EXCEEDED, "1", new Query.GetPool("k")),
                new LimitCase("waiters per lock", b -> b.maxWaitersPerKey(1), h -> {
                    assertThat(h.apply(new LockAcquire(h.open(), 0, "L", 0), LockReply.class).status())
                            .isEqualTo(Result.LockStatus.LOCKED);
                    assertThat(h.apply(new LockAcquire(h.open(), 0, "L", 5_000), LockReply.class).status())
                            .isEqualTo(Result.LockStatus.QUEUED);
                    return new LockAcquire(h.open(), 0, "L", 5_000);
                }, ErrorCode.LIMIT_EXCEEDED, "1", new Query.GetLock("L")),
                new LimitCase("locks", b -> b.maxLocks(2), h -> {
                    long s = h.open();
                    h.apply(new LockAcquire(s, 0, "L1", 0), LockReply.class);
                    h.apply(new LockAcquire(s, 0, "L2", 0), LockReply.class);
                    return new LockAcquire(s, 0, "L3", 0);
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.GetLock("L3")),
                new LimitCase("pool wait ms", b -> b.maxWaitMs(5_000), h -> {
                    assertThat(acquire(h, h.open(), "k", 0).status()).isEqualTo(PoolStatus.LOCKED);
                    assertThat(acquire(h, h.open(), "k", 5_000).status()).isEqualTo(PoolStatus.QUEUED);
                    return new PoolAcquire(h.open(), 0, "k", 1, 100, 5_001, false);
                }, ErrorCode.INVALID_ARGUMENT, "5000", new Query.GetPool("k")),
                new LimitCase("pool wait ms, negative", b -> b, h -> {
                    acquire(h, h.open(), "k", 0);
                    return new PoolAcquire(h.open(), 0, "k", 1, 100, -1, false);
                }, ErrorCode.INVALID_ARGUMENT, "timeout", new Query.GetPool("k")),
                new LimitCase("lock wait ms", b -> b.maxWaitMs(5_000), h -> {
                    h.apply(new LockAcquire(h.open(), 0, "L", 0), LockReply.class);
                    assertThat(h.apply(new LockAcquire(h.open(), 0, "L", 5_000), LockReply.class).status())
                            .isEqualTo(Result.LockStatus.QUEUED);
                    return new LockAcquire(h.open(), 0, "L", 5_001);
                }, ErrorCode.INVALID_ARGUMENT, "5000", new Query.GetLock("L")),
                new LimitCase("dispatch groups", b -> b.maxDispatchGroups(2), h -> {
                    init(h, "g1", "a");
                    init(h, "g2", "a");
                    return new DispatchInit(0, 0, "g3", Map.of("a", "a"), null);
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.GetGroup("g3")),
                new LimitCase("targets per group, adding to a group", b -> b.maxTargetsPerGroup(3), h -> {
                    assertThat(init(h, "g", "a", "b").value()).isEqualTo(2);
                    // a is tracked already: 2 new + 2 tracked = 4 > 3, so none is added
                    return new DispatchInit(0, 0, "g", Map.of("a", "a", "c", "c", "d", "d"), null);
                }, ErrorCode.LIMIT_EXCEEDED, "3", new Query.GetGroup("g")),
                new LimitCase("targets per group, new group", b -> b.maxTargetsPerGroup(3), h ->
                        new DispatchInit(0, 0, "g", Map.of("a", "a", "b", "b", "c", "c", "d", "d"), null),
                        ErrorCode.LIMIT_EXCEEDED, "3", new Query.GetGroup("g")),
                new LimitCase("pending events", b -> b.maxEvents(2), h -> {
                    long s = h.open();
                    h.apply(new EventBegin(s, 0, "e1"), EventReply.class);
                    h.apply(new EventBegin(s, 0, "e2"), EventReply.class);
                    return new EventBegin(s, 0, "e3");
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.ListEvents()),
                new LimitCase("queues", b -> b.maxQueues(2), h -> {
                    enqueue(h, "q1", "a", 1);
                    enqueue(h, "q2", "a", 1);
                    return new QueueEnqueue(0, 0, "q3", "a", Bytes.EMPTY, List.of());
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.GetQueue("q3")),
                new LimitCase("items per queue", b -> b.maxItemsPerQueue(2), h -> {
                    enqueue(h, "q", "a", 1);
                    enqueue(h, "q", "b", 1);
                    assertThat(enqueue(h, "q", "a", 2).status()).as("replacing is not adding")
                            .isEqualTo(QueueStatus.REPLACED);
                    return new QueueEnqueue(0, 0, "q", "c", Bytes.EMPTY, List.of());
                }, ErrorCode.LIMIT_EXCEEDED, "2", new Query.GetQueue("q")),
                new LimitCase("payload bytes", b -> b.maxPayloadBytes(4), h -> {
                    enqueue(h, "q", "a", 4);
                    return new QueueEnqueue(0, 0, "q", "b", Bytes.wrap(new byte[5]), List.of());
                }, ErrorCode.INVALID_ARGUMENT, "4", new Query.GetQueue("q")),
                new LimitCase("payload bytes, replacing", b -> b.maxPayloadBytes(4), h -> {
                    enqueue(h, "q", "a", 4);
                    return new QueueEnqueue(0, 0, "q", "a", Bytes.wrap(new byte[5]), List.of());
                }, ErrorCode.INVALID_ARGUMENT, "4", new Query.GetQueue("q")),
                new LimitCase("prerequisites", b -> b.maxPrerequisites(2), h -> {
                    h.apply(new QueueEnqueue(0, 0, "q", "a", Bytes.EMPTY, List.of("e1", "e2", "e1")),
                            QueueReply.class);
                    return new QueueEnqueue(0, 0, "q", "b", Bytes.EMPTY, List.of("e1", "e2", "e3"));
                }, ErrorCode.INVALID_ARGUMENT, "2", new Query.GetQueue("q")),
                new LimitCase("claim batch", b -> b.maxClaimBatch(2), h -> {
                    for (String id : List.of("a", "b", "c", "d")) {
                        enqueue(h, "q", id, 1);
                    }
                    long s = h.open();
                    assertThat(h.apply(new QueueClaim(s, 0, "q", 2), QueueReply.class).items()).hasSize(2);
                    return new QueueClaim(s, 0, "q", 3);
                }, ErrorCode.INVALID_ARGUMENT, "2", new Query.GetQueue("q")),
                new LimitCase("claim batch, zero", b -> b, h -> {
                    enqueue(h, "q", "a", 1);
                    return new QueueClaim(h.open(), 0, "q", 0);
                }, ErrorCode.INVALID_ARGUMENT, "max", new Query.GetQueue("q")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("limitCases")
    void hittingALimitIsRefusedClearlyAndChangesNothing(LimitCase c) {
        Harness h = new Harness(c.limit().apply(Limits.defaults().toBuilder()).build());
        Command over = c.fill().apply(h);
        h.advance(10);
        h.takeEffects();
        byte[] before = h.essence();
        View.Summary summary = shape(h.lookup(new Query.GetSummary()));
        Object relevant = h.lookup(c.relevant());
        List<Object> derivedBefore = derived(h);

        Result r = h.apply(over);

        assertThat(r).isInstanceOf(Result.Rejected.class);
        Result.Rejected rej = (Result.Rejected) r;
        assertThat(rej.code()).isEqualTo(c.code());
        assertThat(rej.message()).contains(c.messageMentions());
        assertThat(h.takeEffects()).isEmpty();
        assertThat(shape(h.lookup(new Query.GetSummary()))).isEqualTo(summary);
        assertThat((Object) h.lookup(c.relevant())).isEqualTo(relevant);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(derived(h)).isEqualTo(derivedBefore);
    }

    @Test
    void slotsPerSessionAnswerPoolcounterdsLockHeldAndAddNoSlot() {
        Harness h = new Harness(Limits.defaults().toBuilder().maxSlotsPerSession(2).build());
        long s = h.open();
        acquire(h, s, "k1", 0);
        acquire(h, s, "k2", 0);
        View.Session before = h.lookup(new Query.GetSession(s));
        View.Summary summary = shape(h.lookup(new Query.GetSummary()));

        PoolReply r = h.apply(new PoolAcquire(s, 0, "k3", 1, 5, 0, false), PoolReply.class);

        assertThat(r.status()).isEqualTo(PoolStatus.LOCK_HELD);
        assertThat(h.lookup(new Query.GetSession(s))).isEqualTo(before);
        assertThat(h.lookup(new Query.GetPool("k3"))).isNull();
        assertThat(shape(h.lookup(new Query.GetSummary()))).isEqualTo(summary);
        assertThat(h.lookup(new Query.GetPoolTotals()).lockHeld()).isEqualTo(1);
    }

    /** Every name a command carries, checked against maxNameBytes (counted in UTF-8 bytes). */
    static Stream<Arguments> namedThings() {
        Map<String, Function<String, Command>> m = new LinkedHashMap<>();
        m.put("client token", n -> new OpenSession(n, 10_000));
        m.put("pool key", n -> new PoolAcquire(1, 0, n, 1, 5, 0, false));
        m.put("lock name", n -> new LockAcquire(1, 0, n, 0));
        m.put("lock name (release)", n -> new LockRelease(1, 0, n, 0));
        m.put("group", n -> new DispatchInit(0, 0, n, Map.of("t", "t"), null));
        m.put("target id", n -> new DispatchInit(0, 0, "g", Map.of(n, "t"), null));
        m.put("target name", n -> new DispatchInit(0, 0, "g", Map.of("t", n), null));
        m.put("event (begin)", n -> new EventBegin(1, 0, n));
        m.put("event (complete)", n -> new EventComplete(0, 0, n));
        m.put("queue", n -> new QueueEnqueue(0, 0, n, "i", Bytes.EMPTY, List.of()));
        m.put("item", n -> new QueueEnqueue(0, 0, "q", n, Bytes.EMPTY, List.of()));
        m.put("prerequisite", n -> new QueueEnqueue(0, 0, "q", "i", Bytes.EMPTY, List.of("ok", n)));
        m.put("queue (claim)", n -> new QueueClaim(1, 0, n, 1));
        m.put("queue (done)", n -> new QueueDone(1, 0, n, "i", 0));
        m.put("item (retry)", n -> new QueueRetry(1, 0, "q", n, 0));
        m.put("raft endpoint", n -> new AnnounceNode(n, "node", "h:1"));
        return m.entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("namedThings")
    void namesLongerThanMaxNameBytesAreInvalid(String what, Function<String, Command> cmd) {
        Harness h = new Harness(Limits.defaults().toBuilder().maxNameBytes(8).build());
        long s = h.open();
        assertThat(s).isEqualTo(1);
        // 8 bytes in 4 chars is fine; 10 bytes in 5 chars is not, though 5 chars < 8
        String fits = "éééé";
        String tooLong = "ééééé";
        for (String bad : List.of(tooLong, "123456789", "", "\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00")) {
            byte[] before = h.essence();
            Result r = h.apply(cmd.apply(bad));
            assertThat(r).as("%s = '%s'", what, bad).isInstanceOf(Result.Rejected.class);
            assertThat(((Result.Rejected) r).code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
            assertThat(((Result.Rejected) r).message()).isNotBlank();
            if (!bad.isEmpty()) {
                assertThat(((Result.Rejected) r).message()).contains("8");
            }
            assertThat(h.essence()).isEqualTo(before);
        }
        Result ok = h.apply(cmd.apply(fits));
        if (ok instanceof Result.Rejected rej) { // done/retry of an item that is not there
            assertThat(rej.code()).as("%s of exactly maxNameBytes", what).isEqualTo(ErrorCode.NOT_FOUND);
        }
    }

    @Test
    void setLimitsChangesThemIsReplicatedAndCarriedInSnapshots() {
        Harness h = new Harness();
        assertThat(h.lookup(new Query.GetLimits())).isEqualTo(Limits.defaults());
        long s1 = h.open();
        long s2 = h.open();
        Limits tight = Limits.defaults().toBuilder().maxSessions(1).maxEvents(1).maxNameBytes(16).build();

        Result r = h.apply(new SetLimits(tight));

        assertThat(r).isEqualTo(new Result.LimitsSet(tight));
        assertThat(h.lookup(new Query.GetLimits())).isEqualTo(tight);
        // lowering a limit below current use evicts nothing; it only refuses what would go further
        assertThat(h.lookup(new Query.ListSessionLeases())).hasSize(2);
        assertThat(((Result.Rejected) h.apply(new OpenSession(null, 10_000))).code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);

        // a replica recovered from a snapshot (even one started with other limits) enforces the same limits
        CoordinationStateMachine copy = new CoordinationStateMachine(Limits.defaults().toBuilder().maxSessions(5).build());
        try {
            copy.recoverFromSnapshot(new ByteArrayInputStream(h.snapshot()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertThat(copy.lookup(new Query.GetLimits())).isEqualTo(tight);
        Applied a = copy.update(List.of(Entry.of(h.lastIndex() + 1, h.now(), new OpenSession(null, 10_000),
                new EventBegin(s1, 0, "e1"), new EventBegin(s2, 0, "e2")))).get(0);
        assertThat(a.results().get(0)).isInstanceOf(Result.Rejected.class);
        assertThat(a.results().get(1)).isEqualTo(new EventReply(Result.EventStatus.BEGUN, "e1"));
        assertThat(((Result.Rejected) a.results().get(2)).code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);

        // and raising them again takes effect at once
        h.apply(new SetLimits(Limits.defaults()));
        assertThat(h.apply(new OpenSession(null, 10_000))).isInstanceOf(SessionOpened.class);
        assertThat(h.recoverCopy().lookup(new Query.GetLimits())).isEqualTo(Limits.defaults());
    }

    // ---- the command codec ---------------------------------------------------------------------

    /** At least one instance of every command type, with edge values. */
    static List<Command> everyCommand() {
        Map<String, String> hashOrder = new HashMap<>();
        hashOrder.put("zz", "last");
        hashOrder.put("a", "first");
        hashOrder.put("ü-ñ", "ユニコード");
        Limits odd = Limits.defaults().toBuilder().maxSessions(7).minSessionTtlMs(1).maxSessionTtlMs(Long.MAX_VALUE)
                .maxWaitMs(Long.MAX_VALUE).maxNameBytes(Limits.CODEC_MAX_NAME_BYTES)
                .maxPayloadBytes(Limits.CODEC_MAX_PAYLOAD_BYTES).maxRememberedRequests(Integer.MAX_VALUE).build();
        return List.of(
                new OpenSession(null, 10_000),
                new OpenSessionThen(new OpenSession("line-7", 10_000), new PoolAcquire(0, 1, "k", 1, 5, 1_000, true)),
                new OpenSession("token-ü", Long.MIN_VALUE),
                new CloseSession(Long.MAX_VALUE, 1),
                new ExpireSessions(List.of()),
                new ExpireSessions(List.of(1L, Long.MAX_VALUE, 0L, 42L)),
                new ExpireWaits(),
                new SetLimits(Limits.defaults()),
                new SetLimits(odd),
                new AnnounceNode("10.0.0.1:7000", "node-ü", "10.0.0.1:9000"),
                new AnnounceNode("h:1", "", ""),
                new AnnounceNode(null, null, null),
                new PoolAcquire(1, 2, "key with spaces", Integer.MAX_VALUE, Integer.MIN_VALUE, 15_000, true),
                new PoolAcquire(3, 0, "k", -1, 0, -7, false),
                new PoolRelease(1, 2, null, 0),
                new PoolRelease(1, 3, "k", Long.MAX_VALUE),
                new LockAcquire(1, 4, "lock", Long.MAX_VALUE),
                new LockAcquire(1, 5, "lock", Long.MIN_VALUE),
                new LockRelease(1, 6, "lock", 99),
                new DispatchInit(0, 0, "group", Map.of(), null),
                new DispatchInit(1, 7, "group", hashOrder, new DispatchSettings(60_000, 1_000, 15)),
                new DispatchInit(1, 8, "g", Map.of("0", "0"), new DispatchSettings(0, 0, 1)),
                new DispatchAdvance(0, 0, "g", Long.MIN_VALUE),
                new DispatchAdvance(1, 9, "g", Long.MAX_VALUE),
                new DispatchSelect(1, 10, "g"),
                new DispatchLock(1, 11, "g", "t"),
                new DispatchRelease(1, 12, "g", "t", 1L << 40, -5),
                new DispatchSetDisabled(0, 0, "g", "t", true),
                new DispatchSetDisabled(1, 13, "g", "t", false),
                new EventBegin(1, 14, ":webcrawler:robots:example.org:80"),
                new EventComplete(0, 0, "e"),
                new QueueEnqueue(0, 0, "q", "i", Bytes.EMPTY, List.of()),
                new QueueEnqueue(1, 15, "q", "i", Bytes.wrap(new byte[] {0, -1, 127, -128}), List.of("b", "a", "b")),
                new QueueClaim(1, 16, "q", Integer.MIN_VALUE),
                new QueueClaim(1, 17, "q", 1_000),
                new QueueDone(1, 18, "q", "i", 0),
                new QueueRetry(1, 19, "q", "i", Long.MAX_VALUE));
    }

    @Test
    void everyCommandTypeRoundTrips() {
        List<Command> all = everyCommand();

        List<Command> decoded = CommandCodec.decodeBatch(CommandCodec.encodeBatch(all));

        assertThat(decoded).isEqualTo(all);
        for (Command c : all) {
            assertThat(CommandCodec.decodeBatch(CommandCodec.encodeBatch(List.of(c)))).containsExactly(c);
        }
        assertThat(CommandCodec.decodeBatch(CommandCodec.encodeBatch(List.of()))).isEmpty();
        // the samples cover every command the language allows
        Set<Class<?>> covered = new HashSet<>();
        all.forEach(c -> covered.add(c.getClass()));
        assertThat(covered).containsExactlyInAnyOrderElementsOf(concreteCommandTypes(Command.class));
    }

    @Test
    void encodingDoesNotDependOnMapOrder() {
        Map<String, String> a = new LinkedHashMap<>();
        a.put("b", "2");
        a.put("a", "1");
        Map<String, String> b = new TreeMap<>(a);
        assertThat(CommandCodec.encodeBatch(List.of(new DispatchInit(0, 0, "g", a, null))))
                .isEqualTo(CommandCodec.encodeBatch(List.of(new DispatchInit(0, 0, "g", b, null))));
    }

    private static Set<Class<?>> concreteCommandTypes(Class<?> sealed) {
        Set<Class<?>> out = new HashSet<>();
        for (Class<?> c : sealed.getPermittedSubclasses()) {
            if (c.isSealed()) {
                out.addAll(concreteCommandTypes(c));
            } else {
                out.add(c);
            }
        }
        return out;
    }

    static Stream<Arguments> malformedPayloads() {
        byte[] valid = CommandCodec.encodeBatch(List.of(new OpenSession(null, 10_000), new EventBegin(1, 1, "e")));
        List<Arguments> out = new ArrayList<>();
        out.add(Arguments.of("empty", new byte[0]));
        out.add(Arguments.of("unknown version 0", withFirstByte(valid, 0)));
        out.add(Arguments.of("unknown version 2", withFirstByte(valid, 2)));
        out.add(Arguments.of("unknown version 255", withFirstByte(valid, 255)));
        out.add(Arguments.of("unknown tag 99", new BinaryWriter().u8(1).varint(1).u8(99).toByteArray()));
        out.add(Arguments.of("unknown tag 0", new BinaryWriter().u8(1).varint(1).u8(0).toByteArray()));
        out.add(Arguments.of("unused tag 6", new BinaryWriter().u8(1).varint(1).u8(6).toByteArray()));
        BinaryWriter goodThenBad = new BinaryWriter().u8(1).varint(2);
        CommandCodec.encode(goodThenBad, new OpenSession(null, 10_000));
        goodThenBad.u8(77);
        out.add(Arguments.of("a valid command, then an unknown tag", goodThenBad.toByteArray()));
        for (int len = 1; len < valid.length; len++) {
            out.add(Arguments.of("truncated to " + len + " of " + valid.length, Arrays.copyOf(valid, len)));
        }
        out.add(Arguments.of("one trailing byte", Arrays.copyOf(valid, valid.length + 1)));
        byte[] trailing = Arrays.copyOf(valid, valid.length + 3);
        trailing[valid.length] = 4; // looks like an ExpireWaits
        out.add(Arguments.of("a whole extra command beyond the count", trailing));
        out.add(Arguments.of("command count beyond the buffer",
                new BinaryWriter().u8(1).varint(5).u8(4).toByteArray()));
        out.add(Arguments.of("huge command count", new BinaryWriter().u8(1).varint(1L << 40).toByteArray()));
        out.add(Arguments.of("huge string length prefix",
                new BinaryWriter().u8(1).varint(1).u8(40).varint(1).varint(0).varint(0xFFFF_FFFFL).toByteArray()));
        out.add(Arguments.of("string length just over the codec ceiling",
                new BinaryWriter().u8(1).varint(1).u8(40).varint(1).varint(0)
                        .varint(Limits.CODEC_MAX_NAME_BYTES + 1).raw(new byte[Limits.CODEC_MAX_NAME_BYTES + 1], 0,
                                Limits.CODEC_MAX_NAME_BYTES + 1).toByteArray()));
        out.add(Arguments.of("string length within the ceiling but beyond the buffer",
                new BinaryWriter().u8(1).varint(1).u8(40).varint(1).varint(0).varint(4000).u8('x').toByteArray()));
        out.add(Arguments.of("huge payload length prefix",
                new BinaryWriter().u8(1).varint(1).u8(50).varint(0).varint(0).string("q").string("i")
                        .varint(Long.MAX_VALUE).toByteArray()));
        out.add(Arguments.of("huge prerequisite count",
                new BinaryWriter().u8(1).varint(1).u8(50).varint(0).varint(0).string("q").string("i")
                        .bytes(new byte[0]).varint(1L << 33).toByteArray()));
        out.add(Arguments.of("huge session list",
                new BinaryWriter().u8(1).varint(1).u8(3).varint(Integer.MAX_VALUE).toByteArray()));
        out.add(Arguments.of("varint longer than 10 bytes", new BinaryWriter().u8(1).varint(1).u8(2)
                .raw(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1}, 0, 12).varint(0).toByteArray()));
        out.add(Arguments.of("boolean 2", new BinaryWriter().u8(1).varint(1).u8(35).varint(0).varint(0).string("g")
                .string("t").u8(2).toByteArray()));
        out.add(Arguments.of("optional string flag 7", new BinaryWriter().u8(1).varint(1).u8(1).u8(7).svarint(1000)
                .toByteArray()));
        out.add(Arguments.of("workers beyond 32 bits", new BinaryWriter().u8(1).varint(1).u8(10).varint(1).varint(0)
                .string("k").svarint(1L << 40).svarint(1).svarint(0).bool(false).toByteArray()));
        out.add(Arguments.of("invalid dispatch settings (randomness 0)", new BinaryWriter().u8(1).varint(1).u8(30)
                .varint(0).varint(0).string("g").varint(0).bool(true).varint(1).varint(1).varint(0).toByteArray()));
        out.add(Arguments.of("invalid limits (maxSessions 0)", zeroFirstLimit()));
        return out.stream();
    }

    /** A SetLimits whose first field, maxSessions, is 0. */
    private static byte[] zeroFirstLimit() {
        BinaryWriter w = new BinaryWriter().u8(1).varint(1).u8(5).varint(0);
        Limits d = Limits.defaults();
        w.varint(d.minSessionTtlMs()).varint(d.maxSessionTtlMs()).varint(d.maxNameBytes()).varint(d.maxPoolKeys())
                .varint(d.maxWaitersPerKey()).varint(d.maxSlotsPerSession()).varint(d.maxLocks()).varint(d.maxWaitMs())
                .varint(d.maxDispatchGroups()).varint(d.maxTargetsPerGroup()).varint(d.maxEvents())
                .varint(d.maxQueues()).varint(d.maxItemsPerQueue()).varint(d.maxPayloadBytes())
                .varint(d.maxPrerequisites()).varint(d.maxClaimBatch()).varint(d.maxRememberedRequests());
        return w.toByteArray();
    }

    private static byte[] withFirstByte(byte[] b, int v) {
        byte[] c = b.clone();
        c[0] = (byte) v;
        return c;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedPayloads")
    void aMalformedEntryIsRefusedWholeAndChangesNothing(String why, byte[] payload) {
        Harness h = richHarness();
        h.takeEffects();
        byte[] before = h.essence();
        List<Object> derivedBefore = derived(h);
        long index = h.lastIndex() + 1;

        List<Applied> applied = h.sm().update(List.of(new Entry(index, h.now(), payload)));

        assertThat(applied).hasSize(1);
        Applied a = applied.get(0);
        assertThat(a.index()).isEqualTo(index);
        assertThat(a.results()).hasSize(1);
        assertThat(a.results().get(0)).isInstanceOf(Result.Rejected.class);
        Result.Rejected rej = (Result.Rejected) a.results().get(0);
        assertThat(rej.code()).isEqualTo(ErrorCode.MALFORMED);
        assertThat(rej.message()).isNotBlank();
        assertThat(a.effects()).isEmpty();
        assertThat(h.essence()).isEqualTo(before);
        assertThat(derived(h)).isEqualTo(derivedBefore);
        assertThat(h.sm().lastApplied()).as("the entry is consumed").isEqualTo(index);

        // and the machine goes on: a good entry in the same batch as a bad one is applied
        List<Applied> next = h.sm().update(List.of(new Entry(index + 1, h.now(), payload),
                Entry.of(index + 2, h.now(), new OpenSession(null, 10_000))));
        assertThat(next.get(0).results()).containsExactly(rej);
        assertThat(next.get(1).results().get(0)).isInstanceOf(SessionOpened.class);
    }

    @Test
    void anEntryOverTheCodecCeilingIsMalformed() {
        Harness h = new Harness();
        h.open();
        byte[] before = h.essence();
        byte[] huge = new byte[Limits.CODEC_MAX_ENTRY_BYTES + 1];
        huge[0] = 1;
        Applied a = h.sm().update(List.of(new Entry(h.lastIndex() + 1, h.now(), huge))).get(0);
        assertThat(((Result.Rejected) a.results().get(0)).code()).isEqualTo(ErrorCode.MALFORMED);
        assertThat(h.essence()).isEqualTo(before);
    }

    // ---- snapshots -----------------------------------------------------------------------------

    @Test
    void aSnapshotRecoversToTheSameState() {
        Harness h = richHarness();
        byte[] snap = h.snapshot();
        CoordinationStateMachine copy = h.recoverCopy();
        assertThat(Harness.snapshotOf(copy)).isEqualTo(snap);
        assertThat(copy.lastApplied()).isEqualTo(h.lastIndex());
        assertThat(copy.lookup(new Query.GetSummary())).isEqualTo(h.lookup(new Query.GetSummary()));
        assertThat(copy.lookup(new Query.NextDeadline())).isEqualTo(h.lookup(new Query.NextDeadline()));
    }

    @Test
    void everySingleByteCorruptionOfASnapshotIsDetectedAndLeavesTheStateAsItWas() {
        byte[] snap = richHarness().snapshot();
        Harness victim = new Harness();
        long s = victim.open();
        victim.apply(new LockAcquire(s, 0, "mine", 0), LockReply.class);
        State state = victim.sm().state();
        byte[] before = victim.essence();

        for (int i = 0; i < snap.length; i++) {
            for (int flip : new int[] {0x01, 0x80, 0xFF}) {
                byte[] bad = snap.clone();
                bad[i] ^= (byte) flip;
                int at = i;
                assertThatThrownBy(() -> victim.sm().recoverFromSnapshot(new ByteArrayInputStream(bad)))
                        .as("byte %d xor %02x", at, flip).isInstanceOf(IOException.class);
                assertThat(victim.sm().state()).isSameAs(state);
            }
        }
        assertThat(victim.essence()).isEqualTo(before);
        assertThat(victim.lookup(new Query.GetLock("mine")).holder()).isEqualTo(s);
    }

    @Test
    void aTruncatedOrExtendedSnapshotIsRejected() {
        byte[] snap = richHarness().snapshot();
        Harness victim = new Harness();
        victim.open();
        State state = victim.sm().state();
        List<byte[]> bad = new ArrayList<>();
        for (int len : new int[] {0, 1, 8, 15, 16, snap.length / 2, snap.length - 8, snap.length - 1}) {
            bad.add(Arrays.copyOf(snap, len));
        }
        bad.add(Arrays.copyOf(snap, snap.length + 1));
        for (byte[] b : bad) {
            assertThatThrownBy(() -> victim.sm().recoverFromSnapshot(new ByteArrayInputStream(b)))
                    .as("%d bytes", b.length).isInstanceOf(IOException.class);
            assertThat(victim.sm().state()).isSameAs(state);
        }
    }

    @Test
    void aSnapshotWithAValidChecksumButBadContentIsRejected() {
        byte[] snap = richHarness().snapshot();
        Harness victim = new Harness();
        victim.open();
        State state = victim.sm().state();
        byte[] badMagic = snap.clone();
        badMagic[0] ^= 1;
        List<byte[]> bad = new ArrayList<>(List.of(badMagic));
        for (int version : new int[] {0, 1, SnapshotCodec.VERSION + 1, 9}) { // 1: never deployed, not read
            byte[] badVersion = snap.clone();
            badVersion[7] = (byte) version;
            bad.add(badVersion);
        }
        byte[] trailing = Arrays.copyOf(snap, snap.length + 1); // one content byte more, checksum moved
        System.arraycopy(snap, snap.length - 8, trailing, snap.length - 7, 8);
        trailing[snap.length - 8] = 0;
        bad.add(trailing);
        for (byte[] b : bad) {
            byte[] fixed = withChecksum(b);
            assertThatThrownBy(() -> victim.sm().recoverFromSnapshot(new ByteArrayInputStream(fixed)))
                    .isInstanceOf(IOException.class);
            assertThat(victim.sm().state()).isSameAs(state);
        }
    }

    /**
     * Version 2 (12 pool counters) must still load: the v2 snapshot is made from a v3 one by
     * dropping the two newest counters and relabelling it, which is exactly how the formats differ.
     */
    @Test
    void aVersion2SnapshotLoadsWithTheNewCountersAtZeroAndIsWrittenBackAsVersion3() throws IOException {
        Harness h = richHarness();
        long holder = h.open();
        long waiter = h.open();
        // one DONE before the snapshot, so the v3 state has something in the two newer counters
        doneRound(h, holder, waiter, "d1", 700, 300);
        // and a DONE still to come: holder holds "d2" (since t), waiter waits on it (since t + 200)
        h.apply(new PoolAcquire(holder, 0, "d2", 1, 5, 0, false), PoolReply.class);
        h.advance(200);
        h.apply(new PoolAcquire(waiter, 0, "d2", 1, 5, 10_000, true), PoolReply.class);
        h.advance(50);
        State s = h.sm().state();
        assertThat(s.poolCounters().doneWaitMs()).isEqualTo(700);
        assertThat(s.poolCounters().gainedMs()).isEqualTo(1_000);

        byte[] v2 = asVersion2(snapshotBytes(s, 3));
        assertThat(v2[7]).isEqualTo((byte) 2);
        CoordinationStateMachine copy = new CoordinationStateMachine();
        copy.recoverFromSnapshot(new ByteArrayInputStream(v2));

        // everything but the two newer counters came through; they start at 0
        long[] c = s.poolCounters().toArray();
        long[] expected = c.clone();
        expected[Counter.DONE_WAIT_MS] = 0;
        expected[Counter.GAINED_MS] = 0;
        assertThat(copy.state().poolCounters()).isEqualTo(PoolCounters.fromArray(expected));
        assertThat(copy.state().poolCounters().waitAnyMs()).as("an older counter, carried over").isEqualTo(700);
        State same = new State(s.lastIndex(), s.lastTime(), s.lastFence(), s.nextSessionId(), s.lastSeq(), s.limits(),
                new SessionData(withoutFingerprints(s.sessions()), s.tokens(), s.deadlines()), s.poolData(),
                s.lockData(), s.dispatchData(), s.eventData(), s.queueData(), s.nodeData(),
                PoolCounters.fromArray(expected), s.stateBytes());
        byte[] rewritten = Harness.snapshotOf(copy);
        assertThat(rewritten[7]).as("written back in the current format").isEqualTo((byte) SnapshotCodec.VERSION);
        assertThat(rewritten).isEqualTo(snapshotBytes(same));
        // the indexes a snapshot does not carry are rebuilt from a v2 one as from a v3 one
        State cs = copy.state();
        assertThat(List.of(cs.tokens(), cs.deadlines(), cs.eventRefs()))
                .isEqualTo(List.of(s.tokens(), s.deadlines(), s.eventRefs()));
        for (Query<?> q : List.of(new Query.GetGroup("g"), new Query.GetQueue("q"), new Query.GetQueue("q2"),
                new Query.GetSummary(), new Query.NextDeadline())) {
            assertThat((Object) copy.lookup(q)).as("%s", q).isEqualTo(h.lookup(q));
        }

        // from there on the recovered replica counts like the others (it only lacks the older history)
        Entry release = Entry.of(h.lastIndex() + 1, h.now(), new PoolRelease(holder, 0, "d2", 0));
        List<Applied> onCopy = copy.update(List.of(release));
        assertThat(onCopy).containsExactly(h.entry(new PoolRelease(holder, 0, "d2", 0)));
        View.PoolTotals after = copy.lookup(new Query.GetPoolTotals());
        View.PoolTotals original = h.lookup(new Query.GetPoolTotals());
        assertThat(after.doneWaitMs()).isEqualTo(50);
        assertThat(after.gainedMs()).isEqualTo(250);
        assertThat(original.doneWaitMs()).isEqualTo(700 + 50);
        assertThat(original.gainedMs()).isEqualTo(1_000 + 250);
        assertThat(after.waitAnyMs()).isEqualTo(original.waitAnyMs());
    }

    /**
     * Random damage with the checksum recomputed (as a buggy writer would produce): recovery either
     * succeeds or throws IOException, never anything else, and a failed one leaves the state alone.
     */
    @Test
    void damagedContentWithAValidChecksumNeverEscapesAsAnotherException() {
        byte[] snap = richHarness().snapshot();
        Harness victim = new Harness();
        victim.open();
        Random rnd = new Random(7);
        for (int round = 0; round < 3_000; round++) {
            byte[] b = Arrays.copyOf(snap, snap.length);
            int edits = 1 + rnd.nextInt(3);
            for (int e = 0; e < edits; e++) {
                b[8 + rnd.nextInt(b.length - 16)] = (byte) rnd.nextInt(256);
            }
            byte[] fixed = withChecksum(b);
            State state = victim.sm().state();
            try {
                victim.sm().recoverFromSnapshot(new ByteArrayInputStream(fixed));
            } catch (IOException expected) {
                assertThat(victim.sm().state()).isSameAs(state);
            } catch (RuntimeException | Error other) {
                throw new AssertionError("round " + round + ": recovery threw " + other, other);
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** A state with something of everything: sessions, pool holders and waiters, locks, groups, events, queues. */
    private static Harness richHarness() {
        Harness h = new Harness();
        long s1 = h.apply(new OpenSession("tok", 30_000), SessionOpened.class).session();
        long s2 = h.open();
        long s3 = h.open();
        acquire(h, s1, "k", 0);
        h.apply(new PoolAcquire(s2, 3, "k", 1, 5, 20_000, true), PoolReply.class);
        h.apply(new LockAcquire(s1, 4, "L", 0), LockReply.class);
        h.apply(new LockAcquire(s3, 5, "L", 25_000), LockReply.class);
        h.apply(new DispatchInit(0, 0, "g", Map.of("a", "A", "b", "B", "c", "C"), new DispatchSettings(1_000, 5, 2)),
                DispatchReply.class);
        h.apply(new DispatchAdvance(0, 0, "g", 40), DispatchReply.class);
        DispatchReply sel = h.apply(new DispatchSelect(s2, 6, "g"), DispatchReply.class);
        h.apply(new DispatchRelease(s2, 7, "g", sel.target().id(), sel.target().fence(), 12), DispatchReply.class);
        h.apply(new DispatchLock(s3, 8, "g", "c"), DispatchReply.class);
        h.apply(new DispatchSetDisabled(0, 0, "g", "b", true), DispatchReply.class);
        h.apply(new EventBegin(s1, 9, "e1"), EventReply.class);
        h.apply(new EventBegin(s2, 10, "e2"), EventReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "i1", Bytes.utf8("one"), List.of("e1")), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "i2", Bytes.utf8("two"), List.of()), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "i3", Bytes.wrap(new byte[] {0, 1, 2}), List.of("e2", "never")),
                QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q2", "x", Bytes.EMPTY, List.of()), QueueReply.class);
        h.apply(new QueueClaim(s3, 11, "q", 1), QueueReply.class);
        h.apply(new DispatchAdvance(s1, 12, "g", 45), DispatchReply.class);
        h.advance(500);
        return h;
    }

    private static PoolReply acquire(Harness h, long s, String key, long timeoutMs) {
        return h.apply(new PoolAcquire(s, 0, key, 1, 100, timeoutMs, false), PoolReply.class);
    }

    private static DispatchReply init(Harness h, String group, String... ids) {
        Map<String, String> targets = new LinkedHashMap<>();
        for (String id : ids) {
            targets.put(id, id);
        }
        return h.apply(new DispatchInit(0, 0, group, targets, null), DispatchReply.class);
    }

    private static QueueReply enqueue(Harness h, String queue, String item, int payloadBytes) {
        return h.apply(new QueueEnqueue(0, 0, queue, item, Bytes.wrap(new byte[payloadBytes]), List.of()),
                QueueReply.class);
    }

    /** Acquires {@code key} for {@code holder}; {@code waiter} waits on it (ACQ4ANY) and gets DONE. */
    private static void doneRound(Harness h, long holder, long waiter, String key, long waitMs, long holdBeforeWaitMs) {
        h.takeEffects();
        h.apply(new PoolAcquire(holder, 0, key, 1, 5, 0, false), PoolReply.class);
        h.advance(holdBeforeWaitMs);
        assertThat(h.apply(new PoolAcquire(waiter, 0, key, 1, 5, 10_000, true), PoolReply.class).status())
                .isEqualTo(PoolStatus.QUEUED);
        h.advance(waitMs);
        h.apply(new PoolRelease(holder, 0, key, 0), PoolReply.class);
        assertThat(h.takeEffects()).containsExactly(new Effect.PoolWaitEnded(waiter, 0, key, PoolStatus.DONE, 0));
    }

    /**
     * The same snapshot in format version 2: version byte 2, without the two pool counters that
     * version 3 appended (the header is walked with the reader to find them), checksum redone.
     */
    /** The sessions as a snapshot older than version 4 restores them: commands of remembered answers unknown. */
    static PersistentHashMap<Long, SessionState> withoutFingerprints(PersistentHashMap<Long, SessionState> sessions) {
        PersistentHashMap<Long, SessionState> out = sessions;
        for (SessionState x : sessions.values()) {
            RecentResults r = x.recent();
            RecentResults.Chunk[] cs = new RecentResults.Chunk[r.chunkCount()];
            for (int k = 0; k < cs.length; k++) {
                cs[k] = new RecentResults.Chunk(r.chunk(k).ids(), r.chunk(k).results());
            }
            out = out.assoc(x.id(), x.withRecent(RecentResults.of(cs, r.floor())));
        }
        return out;
    }

    private static byte[] asVersion2(byte[] v3) {
        assertThat(v3[7]).isEqualTo((byte) 3);
        int content = v3.length - 8;
        BinaryReader r = new BinaryReader(v3, 0, content);
        r.fixed64();
        r.varint();  // lastIndex
        r.svarint(); // lastTime
        r.varint();  // lastFence
        r.varint();  // nextSessionId
        r.varint();  // lastSeq
        CommandCodec.decodeLimitsV1(r);
        for (int i = 0; i < 12; i++) {
            r.varint();
        }
        int cut = content - r.remaining();
        r.varint(); // doneWaitMs
        r.varint(); // gainedMs
        int resume = content - r.remaining();
        byte[] out = new byte[content - (resume - cut) + 8];
        System.arraycopy(v3, 0, out, 0, cut);
        System.arraycopy(v3, resume, out, cut, content - resume);
        out[7] = 2;
        return withChecksum(out);
    }

    private static byte[] snapshotBytes(State s) {
        return snapshotBytes(s, SnapshotCodec.VERSION);
    }

    static byte[] snapshotBytes(State s, int version) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            SnapshotCodec.writeVersion(s, out, version);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Replaces the trailing CRC32C with the right one for the content before it. */
    private static byte[] withChecksum(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 8);
        long v = crc.getValue();
        byte[] out = b.clone();
        for (int i = 0; i < 8; i++) {
            out[b.length - 8 + i] = (byte) (v >>> (56 - 8 * i));
        }
        return out;
    }

    private static View.Summary shape(View.Summary s) {
        return new View.Summary(0, 0, s.lastFence(), s.sessions(), s.poolKeys(), s.locks(), s.groups(), s.events(),
                s.queues(), s.waits());
    }

    /**
     * The indexes that snapshots do not carry (they are rebuilt on recovery), so {@link #essence}
     * cannot see them: client tokens, wait deadlines, event references, and the groups and queues
     * with their lag and ready indexes.
     */
    private static List<Object> derived(Harness h) {
        State s = h.sm().state();
        return List.of(s.tokens(), s.deadlines(), s.eventRefs(), s.groups(), s.queues());
    }

}
