package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.AnnounceNode;
import dev.baton.core.command.Command.DispatchAdvance;
import dev.baton.core.command.Command.DispatchInit;
import dev.baton.core.command.Command.DispatchLock;
import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.OpenSession;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Command.QueueClaim;
import dev.baton.core.command.Command.QueueEnqueue;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result.DispatchReply;
import dev.baton.core.command.Result.DispatchStatus;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.NodeAnnounced;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.QueueReply;
import dev.baton.core.command.Result.SessionOpened;
import dev.baton.core.command.View;
import dev.baton.core.sm.Entry;
import dev.baton.core.testing.Harness;
import dev.baton.core.testing.RandomWorkload;
import dev.baton.core.testing.StrictJson;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Query.DumpJson}: the whole state as JSON, identical for identical states (replicas,
 * restarts), valid, and saying who holds what.
 */
class JsonDumpTest {

    private static String dump(CoordinationStateMachine sm) {
        return sm.lookup(new Query.DumpJson());
    }

    /** Follows a path of member names (String) and array positions (Integer) into a parsed dump. */
    private static Object at(Object json, Object... path) {
        Object cur = json;
        for (Object p : path) {
            if (p instanceof String name) {
                assertThat(cur).as("parent of %s", name).isInstanceOf(Map.class);
                assertThat(((Map<?, ?>) cur).containsKey(name)).as("member %s", name).isTrue();
                cur = ((Map<?, ?>) cur).get(name);
            } else {
                assertThat(cur).as("parent of [%s]", p).isInstanceOf(List.class);
                assertThat((List<?>) cur).as("element [%s]", p).hasSizeGreaterThan((Integer) p);
                cur = ((List<?>) cur).get((Integer) p);
            }
        }
        return cur;
    }

    private static List<?> list(Object json, Object... path) {
        return (List<?>) at(json, path);
    }

    /** The values of one member over the elements of an array. */
    private static List<Object> column(Object json, String member, Object... path) {
        List<Object> out = new ArrayList<>();
        for (Object o : list(json, path)) {
            out.add(((Map<?, ?>) o).get(member));
        }
        return out;
    }

    @Test
    void theDumpOfATinyStateIsExactlyThis() {
        CoordinationStateMachine sm = new CoordinationStateMachine(Limits.defaults().toBuilder().maxSessions(10).build());
        sm.update(List.of(Entry.of(1, 1_000, new OpenSession("t\"ok", 5_000)),
                Entry.of(2, 1_500, new PoolAcquire(1, 7, "k\n1", 1, 2, 0, false),
                        new AnnounceNode("a:7000", "né", "a:9000"),
                        new QueueEnqueue(0, 0, "q", "i", Bytes.wrap(new byte[] {0, 1, 2}), List.of("e")))));

        assertThat(dump(sm)).isEqualTo("""
                {
                  "summary": {
                    "lastIndex": 2,
                    "lastTime": 1500,
                    "lastFence": 131072,
                    "nextSessionId": 2,
                    "lastSeq": 1,
                    "sessions": 1,
                    "poolKeys": 1,
                    "locks": 0,
                    "groups": 0,
                    "events": 0,
                    "queues": 1,
                    "waits": 0,
                    "nodes": 1
                  },
                  "limits": {
                    "maxSessions": 10,
                    "minSessionTtlMs": 1000,
                    "maxSessionTtlMs": 3600000,
                    "maxNameBytes": 512,
                    "maxPoolKeys": 1000000,
                    "maxWaitersPerKey": 10000,
                    "maxSlotsPerSession": 4,
                    "maxLocks": 1000000,
                    "maxWaitMs": 86400000,
                    "maxDispatchGroups": 1000,
                    "maxTargetsPerGroup": 10000,
                    "maxEvents": 1000000,
                    "maxQueues": 10000,
                    "maxItemsPerQueue": 1000000,
                    "maxPayloadBytes": 65536,
                    "maxPrerequisites": 16,
                    "maxClaimBatch": 1000,
                    "maxRememberedRequests": 128,
                    "maxStateBytes": 268435456
                  },
                  "poolTotals": {
                    "keys": 1,
                    "processing": 1,
                    "waiting": 0,
                    "acquired": 1,
                    "released": 0,
                    "done": 0,
                    "timeouts": 0,
                    "queueFull": 0,
                    "lockHeld": 0,
                    "waitForResponse": 0,
                    "releaseMismatch": 0,
                    "holdMs": 0,
                    "waitMeMs": 0,
                    "waitAnyMs": 0,
                    "timeoutWaitMs": 0,
                    "doneWaitMs": 0,
                    "gainedMs": 0
                  },
                  "sessions": [
                    {
                      "id": 1,
                      "token": "t\\"ok",
                      "ttlMs": 5000,
                      "openedAt": 1000,
                      "slots": [
                        {
                          "key": "k\\u000a1",
                          "state": "HELD",
                          "id": 131072,
                          "requestId": 7,
                          "since": 1500
                        }
                      ],
                      "locksHeld": [],
                      "lockWaits": [],
                      "dispatchTargets": [],
                      "events": [],
                      "claimedItems": [],
                      "recentRequests": {
                        "floor": 0,
                        "count": 1,
                        "results": [
                          {
                            "requestId": 7,
                            "result": {
                              "type": "PoolReply",
                              "status": "LOCKED",
                              "key": "k\\u000a1",
                              "fence": 131072
                            }
                          }
                        ]
                      }
                    }
                  ],
                  "pools": [
                    {
                      "key": "k\\u000a1",
                      "processing": 1,
                      "waiting": 0,
                      "holders": [
                        {
                          "session": 1,
                          "fence": 131072,
                          "since": 1500,
                          "requestId": 7
                        }
                      ],
                      "waitMe": [],
                      "waitAny": []
                    }
                  ],
                  "locks": [],
                  "groups": [],
                  "events": [],
                  "queues": [
                    {
                      "name": "q",
                      "ready": 1,
                      "items": [
                        {
                          "id": "i",
                          "seq": 1,
                          "payload": "AAEC",
                          "prerequisites": [
                            "e"
                          ],
                          "pendingPrerequisites": 0,
                          "claimedBy": 0,
                          "fence": 0,
                          "attempts": 0,
                          "enqueuedAt": 1500
                        }
                      ]
                    }
                  ],
                  "nodes": [
                    {
                      "raftEndpoint": "a:7000",
                      "nodeId": "né",
                      "apiEndpoint": "a:9000",
                      "since": 1500
                    }
                  ]
                }""");
    }

    @Test
    void aSmallScenarioShowsWhoHoldsWhatWithWhichFence() {
        Harness h = new Harness();
        long s1 = h.apply(new OpenSession("worker-1", 30_000), SessionOpened.class).session();
        long s2 = h.open();
        PoolReply held = h.apply(new PoolAcquire(s1, 1, "k", 1, 5, 0, false), PoolReply.class);
        assertThat(held.status()).isEqualTo(PoolStatus.LOCKED);
        h.advance(10);
        PoolReply queued = h.apply(new PoolAcquire(s2, 0, "k", 1, 5, 5_000, true), PoolReply.class);
        assertThat(queued.status()).isEqualTo(PoolStatus.QUEUED);
        long poolWaitFrom = h.now();
        LockReply lock = h.apply(new LockAcquire(s2, 2, "L", 0), LockReply.class);
        assertThat(lock.status()).isEqualTo(LockStatus.LOCKED);
        assertThat(h.apply(new LockAcquire(s1, 3, "L", 7_000), LockReply.class).status()).isEqualTo(LockStatus.QUEUED);
        h.apply(new DispatchInit(0, 0, "g", Map.of("a", "A", "b", "B"), new DispatchSettings(1_000, 5, 2)),
                DispatchReply.class);
        h.apply(new DispatchAdvance(0, 0, "g", 40), DispatchReply.class);
        DispatchReply target = h.apply(new DispatchLock(s2, 4, "g", "a"), DispatchReply.class);
        assertThat(target.status()).isEqualTo(DispatchStatus.LOCKED);
        h.apply(new EventBegin(s1, 5, "e"), EventReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "gated", Bytes.utf8("hi"), List.of("e")), QueueReply.class);
        h.apply(new QueueEnqueue(0, 0, "q", "free", Bytes.wrap(new byte[] {(byte) 0xFF}), List.of()), QueueReply.class);
        QueueReply claim = h.apply(new QueueClaim(s2, 6, "q", 5), QueueReply.class);
        assertThat(claim.items()).extracting(c -> c.item()).containsExactly("free");
        h.apply(new AnnounceNode("10.0.0.1:7000", "n1", "10.0.0.1:9000"), NodeAnnounced.class);
        long announcedAt = h.now();

        Object d = StrictJson.parse(dump(h.sm()));

        View.Summary sum = h.lookup(new Query.GetSummary());
        assertThat(at(d, "summary", "lastIndex")).isEqualTo(h.lastIndex());
        assertThat(at(d, "summary", "lastFence")).isEqualTo(sum.lastFence());
        assertThat(at(d, "summary", "sessions")).isEqualTo(2L);
        assertThat(at(d, "summary", "waits")).as("one pool wait, one lock wait").isEqualTo(2L);
        assertThat(at(d, "poolTotals", "acquired")).isEqualTo(1L);
        assertThat(at(d, "poolTotals", "waiting")).isEqualTo(1L);

        // the pool key: its holder with the fence it was granted, and the ACQ4ANY waiter with its deadline
        assertThat(list(d, "pools")).hasSize(1);
        assertThat(at(d, "pools", 0, "key")).isEqualTo("k");
        assertThat(at(d, "pools", 0, "holders", 0, "session")).isEqualTo(s1);
        assertThat(at(d, "pools", 0, "holders", 0, "fence")).isEqualTo(held.fence());
        assertThat(at(d, "pools", 0, "holders", 0, "requestId")).isEqualTo(1L);
        assertThat(list(d, "pools", 0, "waitMe")).isEmpty();
        assertThat(at(d, "pools", 0, "waitAny", 0, "session")).isEqualTo(s2);
        assertThat(at(d, "pools", 0, "waitAny", 0, "deadline")).isEqualTo(poolWaitFrom + 5_000);

        // the lock: holder and fence, and the waiting session
        assertThat(at(d, "locks", 0, "name")).isEqualTo("L");
        assertThat(at(d, "locks", 0, "holder")).isEqualTo(s2);
        assertThat(at(d, "locks", 0, "fence")).isEqualTo(lock.fence());
        assertThat(column(d, "session", "locks", 0, "waiters")).containsExactly(s1);

        // the same holdings seen from the sessions, in id order
        assertThat(column(d, "id", "sessions")).containsExactly(s1, s2);
        assertThat(at(d, "sessions", 0, "token")).isEqualTo("worker-1");
        assertThat(at(d, "sessions", 1, "token")).isNull();
        assertThat(at(d, "sessions", 0, "slots")).isEqualTo(List.of(Map.of("key", "k", "state", "HELD",
                "id", held.fence(), "requestId", 1L, "since", at(d, "pools", 0, "holders", 0, "since"))));
        assertThat(at(d, "sessions", 1, "slots", 0, "state")).isEqualTo("WAIT_ANY");
        assertThat(column(d, "name", "sessions", 0, "lockWaits")).containsExactly("L");
        assertThat(at(d, "sessions", 1, "locksHeld")).isEqualTo(List.of(Map.of("name", "L", "fence", lock.fence())));
        assertThat(at(d, "sessions", 1, "dispatchTargets")).isEqualTo(List.of(Map.of("group", "g", "target", "a")));
        assertThat(at(d, "sessions", 0, "events")).isEqualTo(List.of("e"));
        assertThat(at(d, "sessions", 1, "claimedItems")).isEqualTo(List.of(Map.of("queue", "q", "item", "free")));

        // remembered answers: s1's requests 1, 3 and 5, in id order
        assertThat(at(d, "sessions", 0, "recentRequests", "count")).isEqualTo(3L);
        assertThat(column(d, "requestId", "sessions", 0, "recentRequests", "results")).containsExactly(1L, 3L, 5L);
        assertThat(at(d, "sessions", 0, "recentRequests", "results", 0, "result")).isEqualTo(
                Map.of("type", "PoolReply", "status", "LOCKED", "key", "k", "fence", held.fence()));
        assertThat(at(d, "sessions", 0, "recentRequests", "results", 1, "result", "status")).isEqualTo("QUEUED");

        // dispatch: settings, head, and the locked target with its holder and fence
        assertThat(at(d, "groups", 0, "head")).isEqualTo(40L);
        assertThat(at(d, "groups", 0, "settings")).isEqualTo(Map.of("intervalMs", 1_000L, "batchSize", 5L,
                "randomness", 2L));
        assertThat(column(d, "id", "groups", 0, "targets")).containsExactly("a", "b");
        assertThat(at(d, "groups", 0, "targets", 0, "holder")).isEqualTo(s2);
        assertThat(at(d, "groups", 0, "targets", 0, "fence")).isEqualTo(target.target().fence());
        assertThat(at(d, "groups", 0, "targets", 1, "holder")).isEqualTo(0L);

        // the event and the queue it gates, items in FIFO order, payloads in base64
        assertThat(at(d, "events", 0)).isEqualTo(Map.of("name", "e", "owner", s1,
                "since", at(d, "events", 0, "since")));
        assertThat(at(d, "queues", 0, "ready")).isEqualTo(0L);
        assertThat(column(d, "id", "queues", 0, "items")).containsExactly("gated", "free");
        assertThat(at(d, "queues", 0, "items", 0, "payload")).isEqualTo("aGk=");
        assertThat(at(d, "queues", 0, "items", 0, "prerequisites")).isEqualTo(List.of("e"));
        assertThat(at(d, "queues", 0, "items", 0, "pendingPrerequisites")).isEqualTo(1L);
        assertThat(at(d, "queues", 0, "items", 1, "payload")).isEqualTo("/w==");
        assertThat(at(d, "queues", 0, "items", 1, "claimedBy")).isEqualTo(s2);
        assertThat(at(d, "queues", 0, "items", 1, "fence")).isEqualTo(claim.items().get(0).fence());
        assertThat(at(d, "queues", 0, "items", 1, "attempts")).isEqualTo(1L);

        assertThat(at(d, "nodes")).isEqualTo(List.of(Map.of("raftEndpoint", "10.0.0.1:7000", "nodeId", "n1",
                "apiEndpoint", "10.0.0.1:9000", "since", announcedAt)));
    }

    @Test
    void namesWithQuotesNewlinesAndUnicodeAreEscapedAndReadBackExactly() {
        String key = "pool \"key\"\n\t\\ é ユ \uD83D\uDE00 \u0001";
        String token = "tok\r\n\u2028\u007f";
        String event = "ev/\"\\\"/";
        Harness h = new Harness();
        long s = h.apply(new OpenSession(token, 10_000), SessionOpened.class).session();
        h.apply(new PoolAcquire(s, 1, key, 1, 5, 0, false), PoolReply.class);
        h.apply(new EventBegin(s, 2, event), EventReply.class);
        h.apply(new AnnounceNode("[::1]:7000", "node \"one\"\n", "[::1]:9000"), NodeAnnounced.class);

        String text = dump(h.sm());
        Object d = StrictJson.parse(text);

        assertThat(at(d, "pools", 0, "key")).isEqualTo(key);
        assertThat(at(d, "sessions", 0, "slots", 0, "key")).isEqualTo(key);
        assertThat(at(d, "sessions", 0, "token")).isEqualTo(token);
        assertThat(at(d, "events", 0, "name")).isEqualTo(event);
        assertThat(at(d, "sessions", 0, "events")).isEqualTo(List.of(event));
        assertThat(at(d, "nodes", 0, "nodeId")).isEqualTo("node \"one\"\n");
        assertThat(text).contains("\"key\": \"pool \\\"key\\\"\\u000a\\u0009\\\\ é ユ \uD83D\uDE00 \\u0001\"");
        assertThat(text).contains("\"token\": \"tok\\u000d\\u000a\\u2028\u007f\"");
        assertThat(text.chars().filter(c -> c < 0x20 && c != '\n')).as("no raw control character").isEmpty();
    }

    @Test
    void replicasFedTheSameEntriesInDifferentBatchesGiveIdenticalValidDumps() {
        List<Entry> entries = new RandomWorkload(11).entries(4_000, 5);
        CoordinationStateMachine a = new CoordinationStateMachine();
        CoordinationStateMachine b = new CoordinationStateMachine();
        a.update(entries);
        Random r = new Random(3);
        for (int i = 0; i < entries.size(); ) {
            int n = Math.min(entries.size() - i, 1 + r.nextInt(40));
            b.update(entries.subList(i, i + n));
            i += n;
        }

        String da = dump(a);
        assertThat(dump(b)).isEqualTo(da);
        assertThat(dump(a)).as("asking twice gives the same text").isEqualTo(da);

        Object d = StrictJson.parse(da);
        assertThat(at(d, "summary", "lastIndex")).isEqualTo(4_000L);
        // the workload exercised the machine, and every listing is in its documented order
        List<Object> ids = column(d, "id", "sessions");
        assertThat(ids).isNotEmpty().hasSize(a.state().sessions().size());
        assertThat(ids).isSortedAccordingTo((x, y) -> Long.compare((Long) x, (Long) y));
        assertSortedStrings(column(d, "key", "pools"));
        assertSortedStrings(column(d, "name", "locks"));
        assertSortedStrings(column(d, "name", "events"));
        assertSortedStrings(column(d, "name", "queues"));
        assertSortedStrings(column(d, "raftEndpoint", "nodes"));
        assertThat(list(d, "nodes")).as("the workload announces nodes").isNotEmpty();
        assertThat(list(d, "groups")).isNotEmpty();
        long remembered = 0;
        for (Object s : list(d, "sessions")) {
            remembered += (Long) at(s, "recentRequests", "count");
            assertThat(list(s, "recentRequests", "results")).hasSize(((Long) at(s, "recentRequests", "count")).intValue());
        }
        assertThat(remembered).isGreaterThan(0);
    }

    private static void assertSortedStrings(List<Object> values) {
        List<String> s = new ArrayList<>();
        values.forEach(v -> s.add((String) v));
        List<String> sorted = new ArrayList<>(s);
        Collections.sort(sorted);
        assertThat(s).isEqualTo(sorted).doesNotHaveDuplicates();
    }

    @Test
    void theOrderThingsWereAddedInDoesNotShowInTheDump() {
        List<Command> forward = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            forward.add(new AnnounceNode("10.0." + i + ".1:7000", "n" + i, "10.0." + i + ".1:9000"));
            forward.add(new QueueEnqueue(0, 0, "queue" + i, "item", Bytes.EMPTY, List.of()));
        }
        List<Command> backward = new ArrayList<>(forward);
        Collections.reverse(backward);
        CoordinationStateMachine a = new CoordinationStateMachine();
        CoordinationStateMachine b = new CoordinationStateMachine();
        a.update(List.of(Entry.of(1, 1_000, new DispatchInit(0, 0, "g", Map.of("x", "X", "y", "Y"), null))));
        b.update(List.of(Entry.of(1, 1_000, new DispatchInit(0, 0, "g", Map.of("y", "Y", "x", "X"), null))));

        a.update(List.of(Entry.of(2, 2_000, forward)));
        b.update(List.of(Entry.of(2, 2_000, backward)));

        // (queue positions differ: each queue's one item got another seq; that is real state)
        String da = dump(a).replaceAll("\"seq\": \\d+", "\"seq\": _").replaceAll("\"lastSeq\": \\d+", "\"lastSeq\": _");
        String db = dump(b).replaceAll("\"seq\": \\d+", "\"seq\": _").replaceAll("\"lastSeq\": \\d+", "\"lastSeq\": _");
        assertThat(db).isEqualTo(da);
        assertThat(b.lookup(new Query.ListNodes())).isEqualTo(a.lookup(new Query.ListNodes()));
    }

    @Test
    void saveAndRecoverGivesAnIdenticalDump() throws Exception {
        CoordinationStateMachine original = new CoordinationStateMachine();
        original.update(new RandomWorkload(5).entries(3_000, 4));
        CoordinationStateMachine recovered = new CoordinationStateMachine(Limits.defaults().toBuilder().maxSessions(3).build());

        recovered.recoverFromSnapshot(new ByteArrayInputStream(Harness.snapshotOf(original)));

        assertThat(dump(recovered)).isEqualTo(dump(original));
        // a restart of every node: snapshot, recover, then the same further entries
        List<Entry> more = new RandomWorkload(6, 3_000, original.state().lastTime())
                .assumeOpened(original.state().nextSessionId() - 1).entries(500, 4);
        original.update(more);
        recovered.update(more);
        assertThat(dump(recovered)).isEqualTo(dump(original));
    }

    /**
     * A lookup may run while the apply thread updates: every dump taken meanwhile is valid and is
     * exactly the dump of a replica replayed to the index it reports.
     */
    @Test
    void dumpsTakenDuringUpdatesAreEachOnePublishedState() throws Exception {
        List<Entry> entries = new RandomWorkload(99).entries(3_000, 4);
        CoordinationStateMachine sm = new CoordinationStateMachine();
        AtomicBoolean done = new AtomicBoolean();
        Map<Long, String> seen = Collections.synchronizedMap(new TreeMap<>());
        ExecutorService pool = Executors.newSingleThreadExecutor();
        Future<Integer> reader = pool.submit(() -> {
            long last = -1;
            int dumps = 0;
            while (!done.get() || dumps == 0) {
                String text = sm.lookup(new Query.DumpJson());
                long index = (Long) at(StrictJson.parse(text), "summary", "lastIndex");
                assertThat(index).isGreaterThanOrEqualTo(last);
                last = index;
                if (seen.size() < 12) {
                    seen.putIfAbsent(index, text);
                }
                dumps++;
            }
            return dumps;
        });
        for (int i = 0; i < entries.size(); i += 25) {
            sm.update(entries.subList(i, Math.min(entries.size(), i + 25)));
        }
        done.set(true);
        assertThat(reader.get(60, TimeUnit.SECONDS)).isPositive();
        pool.shutdown();

        assertThat(seen).isNotEmpty();
        CoordinationStateMachine replica = new CoordinationStateMachine();
        int next = 0;
        for (Map.Entry<Long, String> e : new TreeMap<>(seen).entrySet()) {
            while (replica.lastApplied() < e.getKey()) {
                replica.update(List.of(entries.get(next++)));
            }
            assertThat(dump(replica)).as("dump at index %d", e.getKey()).isEqualTo(e.getValue());
        }
    }
}
