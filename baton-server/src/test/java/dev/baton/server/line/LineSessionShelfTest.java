package dev.baton.server.line;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The door's shelf of idle sessions, on one real node: a connection per request (MediaWiki's
 * connect, ACQ4ME, RELEASE, close) hands its session on to the next connection instead of opening
 * and closing one each time; anything not provably idle is closed as before. Every test starts
 * with an empty shelf and no session, so they share the node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LineSessionShelfTest {
    private ApiServer server;
    private LineDoor door;
    private int port;

    @BeforeAll
    void start() throws Exception {
        server = LineProtocolTest.startServer(Files.createTempDirectory("baton-line-shelf"),
                LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0));
        door = server.lineDoor();
        port = door.port();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void emptyShelfAndNoSession() throws Exception {
        TestWaits.await("an empty shelf and no session", () -> door.shelvedSessions() == 0 && sessions() == 0);
    }

    @Test
    void churnedConnectionsReuseSessionsInsteadOfOpeningAndClosingEach() throws Exception {
        long reusedBefore = door.sessionsReused();
        long from = server.node().lastAppliedIndex() + 1;
        for (int i = 0; i < 50; i++) {
            try (LineClient c = new LineClient(port)) {
                assertThat(c.call("ACQ4ME churned 1 5 1")).as("acquire %d", i).isEqualTo("LOCKED");
                assertThat(c.call("RELEASE")).as("release %d", i).isEqualTo("RELEASED");
            }
        }
        TestWaits.await("the last connection's session shelved", () -> door.shelvedSessions() >= 1);
        // Every release was answered, so every release is applied; but the applied index the node
        // reports is updated after the answers are handed on, so it may still be short of the last.
        TestWaits.await("the 50 releases within the reported applied index", () -> committedFrom(from).stream()
                .filter(c -> c instanceof Command.PoolRelease).count() >= 50);
        List<Command> log = committedFrom(from);
        long opens = log.stream().filter(c -> c instanceof Command.OpenSession || c instanceof Command.OpenSessionThen).count();
        long closes = log.stream().filter(c -> c instanceof Command.CloseSession).count();
        long plainAcquires = log.stream().filter(c -> c instanceof Command.PoolAcquire a && a.key().equals("churned")).count();
        // The door may see a new connection's acquire before the previous connection's close (both
        // arrive in one turn of its event loop): that one opens a session of its own. Far fewer, though.
        assertThat(opens).as("sessions opened for 50 connections").isLessThanOrEqualTo(10);
        assertThat(closes).as("sessions closed by 50 connections").isLessThanOrEqualTo(10);
        assertThat(plainAcquires).isGreaterThanOrEqualTo(40);
        assertThat(door.sessionsReused() - reusedBefore).isGreaterThanOrEqualTo(40);
        assertThat(log.stream().filter(c -> c instanceof Command.PoolRelease).count()).isEqualTo(50);
    }

    @Test
    void aConnectionClosedWhileHoldingASlotClosesItsSessionAndTheSlotPassesOn() throws Exception {
        long from = server.node().lastAppliedIndex() + 1;
        LineClient holder = new LineClient(port);
        assertThat(holder.call("ACQ4ME held-at-close 1 5 0")).isEqualTo("LOCKED");
        holder.close();
        try (LineClient next = new LineClient(port)) {
            // Timeout 0: the slot must already be free when this acquire runs.
            assertThat(next.call("ACQ4ME held-at-close 1 5 0")).isEqualTo("LOCKED");
            assertThat(next.call("RELEASE")).isEqualTo("RELEASED");
        }
        assertThat(committedFrom(from)).anyMatch(c -> c instanceof Command.CloseSession);
        // Only the second connection's (idle) session is left, on the shelf.
        TestWaits.await("only the shelved session left", () -> door.shelvedSessions() == 1 && sessions() == 1);
    }

    @Test
    void aConnectionClosedWhileWaitingClosesItsSession() throws Exception {
        try (LineClient holder = new LineClient(port)) {
            assertThat(holder.call("ACQ4ME waited-at-close 1 5 0")).isEqualTo("LOCKED");
            LineClient waiter = new LineClient(port);
            waiter.send("ACQ4ME waited-at-close 1 5 30");
            waiter.assertNothingPending();
            waiter.close();
            TestWaits.await("the waiter's session closed", () -> sessions() == 1);
            assertThat(door.shelvedSessions()).isZero();
            assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
        }
    }

    @Test
    void shelvedSessionsUnusedForTheIdleTimeAreClosed() throws Exception {
        // Three connections at once: three sessions, shelved together when they close.
        try (LineClient a = new LineClient(port); LineClient b = new LineClient(port); LineClient c = new LineClient(port)) {
            for (LineClient x : List.of(a, b, c)) {
                assertThat(x.call("ACQ4ANY idle-shelf 3 5 0")).isEqualTo("LOCKED");
            }
            for (LineClient x : List.of(a, b, c)) {
                assertThat(x.call("RELEASE")).isEqualTo("RELEASED");
            }
        }
        TestWaits.await("the sessions shelved", () -> door.shelvedSessions() == 3);
        List<Long> shelved = door.shelvedSessionIds();
        assertThat(sessions()).isEqualTo(3);
        TestWaits.await("the shelved sessions closed", () -> door.shelvedSessions() == 0 && sessions() == 0);
        for (long s : shelved) {
            assertThat(server.node().readLocal(new Query.GetSessionToken(s))).isNull();
        }
    }

    @Test
    void aShelvedSessionThatEndsIsNotHandedOn() throws Exception {
        try (LineClient c = new LineClient(port)) {
            assertThat(c.call("ACQ4ME ended-shelf 1 5 0")).isEqualTo("LOCKED");
            assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        }
        TestWaits.await("the session shelved", () -> door.shelvedSessions() == 1);
        long shelved = door.shelvedSessionIds().get(0);
        // Ended under the shelf, as by an admin's force-close or an expiry.
        Command.CloseSession forceClose = new Command.CloseSession(shelved, 1_000_000);
        assertThat(TestWaits.get(server.node().submit(forceClose))).isInstanceOf(Result.SessionClosed.class);
        TestWaits.await("the ended session off the shelf", () -> door.shelvedSessions() == 0);
        // The applied index the node reports may still be short of the close (it is updated after the
        // effects are handed on), so the close itself may be in the log read below: it is not the door's.
        long from = server.node().lastAppliedIndex() + 1;
        try (LineClient c = new LineClient(port)) {
            assertThat(c.call("ACQ4ME ended-shelf 1 5 0")).isEqualTo("LOCKED");
            assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        }
        List<Command> log = committedFrom(from);
        assertThat(log).anyMatch(c -> c instanceof Command.OpenSessionThen);
        assertThat(log).noneMatch(c -> c instanceof Command.SessionRequest r && r.session() == shelved
                && !c.equals(forceClose));
    }

    @Test
    void aConnectionThatTakesASessionThatHadEndedOpensItsOwn() throws Exception {
        // A session that ended without the door hearing of it (its end folded into a snapshot this
        // node installed): put on the shelf by hand.
        Result opened = TestWaits.get(server.node().submit(new Command.OpenSession("shelf-test-ended", 10_000)));
        long dead = ((Result.SessionOpened) opened).session();
        TestWaits.get(server.node().submit(new Command.CloseSession(dead, 1)));
        assertThat(door.onEventLoop(() -> door.shelve(dead, 2))).isTrue();
        long from = server.node().lastAppliedIndex() + 1;
        try (LineClient c = new LineClient(port)) {
            assertThat(c.call("ACQ4ME ended-unseen 1 5 0")).isEqualTo("LOCKED");
            assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        }
        assertThat(committedFrom(from)).anyMatch(c -> c instanceof Command.OpenSessionThen);
    }

    private int sessions() {
        return server.node().readLocal(new Query.GetSummary()).sessions();
    }

    private List<Command> committedFrom(long from) {
        List<Command> out = new ArrayList<>();
        for (long i = from; i <= server.node().lastAppliedIndex(); i++) {
            out.addAll(server.node().committedCommands(i));
        }
        return out;
    }
}
