package dev.baton.core.node;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.AnnounceNode;
import dev.baton.core.command.Command.CloseSession;
import dev.baton.core.command.Command.ExpireSessions;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.NodeAnnounced;
import dev.baton.core.command.View;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.sm.Applied;
import dev.baton.core.testing.Harness;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static dev.baton.core.testing.TestResults.assertRejected;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cluster's address book: {@link AnnounceNode} records, replaces or removes a node's API
 * endpoint under its Raft endpoint; every replica holds the same book, snapshots carry it.
 */
class NodeAddressBookTest {

    private static List<View.Node> nodes(Harness h) {
        return h.lookup(new Query.ListNodes());
    }

    private static NodeAnnounced announce(Harness h, String raft, String id, String api) {
        return h.apply(new AnnounceNode(raft, id, api), NodeAnnounced.class);
    }

    @Test
    void announcingAddsEntriesListedByRaftEndpoint() {
        Harness h = new Harness();
        assertThat(nodes(h)).isEmpty();

        assertThat(announce(h, "10.0.0.2:7000", "n2", "10.0.0.2:9000"))
                .isEqualTo(new NodeAnnounced("10.0.0.2:7000", false));
        long t2 = h.now();
        h.advance(100);
        assertThat(announce(h, "10.0.0.1:7000", "n1", "10.0.0.1:9000"))
                .isEqualTo(new NodeAnnounced("10.0.0.1:7000", false));
        long t1 = h.now();

        assertThat(nodes(h)).containsExactly(
                new View.Node("10.0.0.1:7000", "n1", "10.0.0.1:9000", t1),
                new View.Node("10.0.0.2:7000", "n2", "10.0.0.2:9000", t2));
        assertThat(h.lookup(new Query.GetSummary()).sessions()).as("no session involved").isZero();
    }

    @Test
    void announcingAgainWithANewAddressOrIdReplacesTheEntryAndMovesSince() {
        Harness h = new Harness();
        announce(h, "a:7000", "n1", "a:9000");
        h.advance(1_000);

        assertThat(announce(h, "a:7000", "n1", "a:9001")).isEqualTo(new NodeAnnounced("a:7000", false));
        assertThat(nodes(h)).containsExactly(new View.Node("a:7000", "n1", "a:9001", h.now()));

        h.advance(1_000);
        announce(h, "a:7000", "n1-renamed", "a:9001");
        assertThat(nodes(h)).containsExactly(new View.Node("a:7000", "n1-renamed", "a:9001", h.now()));
    }

    @Test
    void reAnnouncingTheSameThingChangesNothingAndKeepsSince() {
        Harness h = new Harness();
        announce(h, "a:7000", "n1", "a:9000");
        long since = h.now();
        h.advance(5_000);
        byte[] before = h.essence();

        assertThat(announce(h, "a:7000", "n1", "a:9000")).isEqualTo(new NodeAnnounced("a:7000", false));

        assertThat(h.essence()).isEqualTo(before);
        assertThat(nodes(h)).containsExactly(new View.Node("a:7000", "n1", "a:9000", since));
    }

    @Test
    void anEmptyApiEndpointRemovesTheEntryAndRemovingAnAbsentOneChangesNothing() {
        Harness h = new Harness();
        announce(h, "a:7000", "n1", "a:9000");
        announce(h, "b:7000", "n2", "b:9000");

        assertThat(announce(h, "a:7000", "n1", "")).isEqualTo(new NodeAnnounced("a:7000", true));
        assertThat(nodes(h)).extracting(View.Node::raftEndpoint).containsExactly("b:7000");

        byte[] before = h.essence();
        assertThat(announce(h, "a:7000", "", "")).isEqualTo(new NodeAnnounced("a:7000", true));
        assertThat(announce(h, "never:7000", "x", "")).isEqualTo(new NodeAnnounced("never:7000", true));
        assertThat(h.essence()).isEqualTo(before);

        // and the node may come back
        announce(h, "a:7000", "n1", "a:9000");
        assertThat(nodes(h)).extracting(View.Node::raftEndpoint).containsExactly("a:7000", "b:7000");
    }

    /** Every invalid announcement, made against a book that already has an entry for {@code a:7000}. */
    static Stream<Arguments> invalidAnnouncements() {
        String nine = "123456789";     // 9 bytes > 8
        String fiveE = "ééééé";        // 5 chars, 10 bytes > 8
        return Stream.of(
                Arguments.of("empty raft endpoint", new AnnounceNode("", "n", "x:1"), "raft endpoint"),
                Arguments.of("empty raft endpoint, removal", new AnnounceNode("", "n", ""), "raft endpoint"),
                Arguments.of("null raft endpoint", new AnnounceNode(null, "n", "x:1"), "raft endpoint"),
                Arguments.of("null node id", new AnnounceNode("a:7000", null, "x:1"), "node id"),
                Arguments.of("null api endpoint", new AnnounceNode("a:7000", "n", null), "api endpoint"),
                Arguments.of("all null", new AnnounceNode(null, null, null), "raft endpoint"),
                Arguments.of("long raft endpoint", new AnnounceNode(nine, "n", "x:1"), "8"),
                Arguments.of("long raft endpoint (UTF-8 bytes)", new AnnounceNode(fiveE, "n", "x:1"), "8"),
                Arguments.of("long node id", new AnnounceNode("a:7000", nine, "x:1"), "8"),
                Arguments.of("long node id (UTF-8 bytes)", new AnnounceNode("a:7000", fiveE, "x:1"), "node id"),
                Arguments.of("long api endpoint", new AnnounceNode("a:7000", "n", nine), "api endpoint"),
                Arguments.of("long node id on a removal", new AnnounceNode("a:7000", nine, ""), "node id"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidAnnouncements")
    void invalidAnnouncementsAreRejectedAndChangeNothing(String why, AnnounceNode bad, String mentions) {
        Harness h = new Harness(Limits.defaults().toBuilder().maxNameBytes(8).build());
        announce(h, "a:7000", "n1", "a:9000");
        assertThat(announce(h, "b:7000", "éééé", "b:9000").removed()).as("exactly 8 bytes is fine").isFalse();
        h.advance(10);
        byte[] before = h.essence();
        List<View.Node> book = nodes(h);

        Result r = h.apply(bad); // through the codec and the log, nulls included: no exception

        assertRejected(r, ErrorCode.INVALID_ARGUMENT);
        assertThat(((Result.Rejected) r).message()).contains(mentions);
        assertThat(h.essence()).isEqualTo(before);
        assertThat(nodes(h)).isEqualTo(book);
    }

    @Test
    void theBookHoldsAtMost64Nodes() {
        assertThat(Nodes.MAX_NODES).isEqualTo(64);
        Harness h = new Harness();
        List<Command> fill = new ArrayList<>();
        for (int i = 0; i < Nodes.MAX_NODES; i++) {
            fill.add(new AnnounceNode(raft(i), "n" + i, api(i)));
        }
        Applied filled = h.entry(fill.toArray(new Command[0]));
        assertThat(filled.results()).allMatch(r -> r instanceof NodeAnnounced a && !a.removed());
        assertThat(nodes(h)).hasSize(64);
        h.advance(10);
        byte[] before = h.essence();

        Result over = h.apply(new AnnounceNode(raft(64), "n64", api(64)));

        assertRejected(over, ErrorCode.LIMIT_EXCEEDED);
        assertThat(((Result.Rejected) over).message()).contains("64");
        assertThat(h.essence()).isEqualTo(before);
        // a full book still takes re-announcements and replacements of its nodes, and removals
        assertThat(announce(h, raft(3), "n3", api(3)).removed()).isFalse();
        assertThat(h.essence()).isEqualTo(before);
        announce(h, raft(3), "n3", "moved:1");
        assertThat(nodes(h)).hasSize(64).contains(new View.Node(raft(3), "n3", "moved:1", h.now()));
        announce(h, raft(5), "n5", "");
        announce(h, raft(64), "n64", api(64));
        assertThat(nodes(h)).hasSize(64).extracting(View.Node::raftEndpoint).contains(raft(64)).doesNotContain(raft(5));
        assertRejected(h.apply(new AnnounceNode(raft(65), "n65", api(65))), ErrorCode.LIMIT_EXCEEDED);
    }

    private static String raft(int i) {
        return "10.0." + (i / 10) + "." + (i % 10) + ":7000";
    }

    private static String api(int i) {
        return "10.0." + (i / 10) + "." + (i % 10) + ":9000";
    }

    @Test
    void theBookOutlivesSessionsAndIsIndependentOfThem() {
        Harness h = new Harness();
        long s = h.open();
        announce(h, "a:7000", "n1", "a:9000");
        h.apply(new CloseSession(s, 0));
        h.apply(new ExpireSessions(List.of(1L, 2L)));
        assertThat(nodes(h)).extracting(View.Node::nodeId).containsExactly("n1");
        assertThat(h.lookup(new Query.GetSummary()).sessions()).isZero();
    }

    @Test
    void theBookSurvivesSnapshotAndRecovery() throws Exception {
        Harness h = new Harness();
        announce(h, "b:7000", "n2", "b:9000");
        h.advance(50);
        announce(h, "a:7000", "n-ü \"1\"", "a:9000");
        announce(h, "c:7000", "", "c:9000"); // an empty node id is allowed
        announce(h, "b:7000", "n2", "");
        List<View.Node> book = nodes(h);
        assertThat(book).hasSize(2);

        CoordinationStateMachine copy = h.recoverCopy();

        assertThat(copy.lookup(new Query.ListNodes())).isEqualTo(book);
        assertThat(Harness.snapshotOf(copy)).isEqualTo(h.snapshot());
        assertThat(copy.lookup(new Query.DumpJson())).isEqualTo(h.lookup(new Query.DumpJson()));
        // and the recovered replica goes on deciding the same way
        Applied next = copy.update(List.of(dev.baton.core.sm.Entry.of(h.lastIndex() + 1, h.now() + 10,
                new AnnounceNode("a:7000", "n-ü \"1\"", "a:9000"), new AnnounceNode("d:7000", "n4", "d:9000")))).get(0);
        assertThat(next.results()).containsExactly(new NodeAnnounced("a:7000", false), new NodeAnnounced("d:7000", false));
        assertThat(copy.lookup(new Query.ListNodes())).hasSize(3).contains(book.get(0));
    }

    @Test
    void snapshotFormatIsVersion4() {
        byte[] snap = new Harness().snapshot();
        assertThat(snap[7]).as("the version byte after the magic").isEqualTo((byte) SnapshotCodec.VERSION);
        assertThat(SnapshotCodec.VERSION).isEqualTo(4);
    }

    @Test
    void commandAndResultRoundTripThroughTheCodec() {
        List<Command> commands = List.of(
                new AnnounceNode("10.0.0.1:7000", "node-1", "10.0.0.1:9000"),
                new AnnounceNode("[::1]:7000", "ノード", ""),
                new AnnounceNode("h:1", "", ""),
                new AnnounceNode(null, "n", null),
                new AnnounceNode(null, null, null));
        assertThat(CommandCodec.decodeBatch(CommandCodec.encodeBatch(commands))).isEqualTo(commands);
        for (Command c : commands) {
            assertThat(CommandCodec.decodeBatch(CommandCodec.encodeBatch(List.of(c)))).containsExactly(c);
        }

        for (Result r : List.of(new NodeAnnounced("10.0.0.1:7000", false), new NodeAnnounced("ü:1", true),
                new NodeAnnounced(null, false))) {
            BinaryWriter w = new BinaryWriter();
            CommandCodec.encodeResult(w, r);
            BinaryReader rd = new BinaryReader(w.toByteArray());
            assertThat(CommandCodec.decodeResult(rd)).isEqualTo(r);
            rd.expectEnd();
        }
    }
}
