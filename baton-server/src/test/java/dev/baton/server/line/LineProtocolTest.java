package dev.baton.server.line;

import dev.baton.core.command.Command;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PoolCounter door of one real node (SOFAJRaft, on-disk log) over raw sockets: every row of
 * poolcounterd's reply table, its five verified transcripts, the scenarios of poolcounterd's own
 * test suite (single client, two clients, errors, stats) and its quirks, fixed (all described in
 * docs/design.md, "poolcounterd"). Keys are unique per test, so tests share the node.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LineProtocolTest {
    private Path dir;
    private ApiServer server;
    private int port;
    private final List<LineClient> clients = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("baton-line-test");
        server = startServer(dir, LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0));
        port = server.lineDoor().port();
    }

    static ApiServer startServer(Path dir, LineDoor.Config line) throws Exception {
        return startServer(dir, line, UnaryOperator.identity());
    }

    static ApiServer startServer(Path dir, LineDoor.Config line, UnaryOperator<Limits> limits) throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        ApiServer s = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, limits)
                .withLine(line)).start();
        assertThat(s.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        return s;
    }

    @AfterEach
    void closeClients() {
        clients.forEach(LineClient::close);
        clients.clear();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private LineClient client() {
        LineClient c = new LineClient(port);
        clients.add(c);
        return c;
    }

    // ---- a connection's session ----------------------------------------------------------------

    @Test
    void aConnectionsFirstAcquireOpensItsSessionInTheSameCommand() throws Exception {
        // Else it takes an idle session an earlier test's connection left on the shelf (LineSessionShelfTest).
        TestWaits.await("no shelved session to take", () -> server.lineDoor().shelvedSessions() == 0);
        long from = server.node().lastAppliedIndex() + 1;
        LineClient c = client();
        assertThat(c.call("ACQ4ME first-command 1 5 0")).isEqualTo("LOCKED");
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        long to = server.node().lastAppliedIndex();
        List<Command> written = new ArrayList<>();
        for (long i = from; i <= to; i++) {
            written.addAll(server.node().committedCommands(i));
        }
        // One command opened the session and acquired: nothing read after this line on another
        // connection can enter the log between the two, and the connection cost one proposal.
        assertThat(written).noneMatch(w -> w instanceof Command.OpenSession);
        assertThat(written).anySatisfy(w -> assertThat(w).isInstanceOfSatisfying(Command.OpenSessionThen.class,
                o -> assertThat(o.first()).isInstanceOfSatisfying(Command.PoolAcquire.class,
                        a -> assertThat(a.key()).isEqualTo("first-command"))));
    }

    @Test
    void aConnectionPerRequestLeavesNoSessionBehind() throws Exception {
        // Their sessions are handed on from one connection to the next, and the last one is closed
        // after the shelf's idle time.
        long before = server.node().readLocal(new Query.GetSummary()).sessions();
        for (int i = 0; i < 40; i++) {
            try (LineClient c = new LineClient(port)) {
                assertThat(c.call("ACQ4ME churn 1 5 1")).isEqualTo("LOCKED");
                assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
            }
        }
        TestWaits.await("every connection's session closed",
                () -> server.node().readLocal(new Query.GetSummary()).sessions() <= before);
    }

    // ---- poolcounterd's single-client tests ----------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"ACQ4ME", "ACQ4ANY"})
    void lockReleaseAndRelockCycles(String acq) {
        LineClient c = client();
        for (int i = 0; i < 3; i++) {
            assertThat(c.call(acq + " cycle-" + acq + " 1 1 1")).isEqualTo("LOCKED");
            assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        }
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
    }

    @Test
    void releaseWithoutALockIsNotLocked() {
        LineClient c = client();
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
        assertThat(c.call("ACQ4ME nl 1 1 0")).isEqualTo("LOCKED");
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
    }

    @Test
    void theFifthLockIsLockHeldAndSlotsAreReleasedNewestFirst() {
        LineClient c = client();
        for (int i = 1; i <= 4; i++) {
            assertThat(c.call("ACQ4ME held-" + i + " 1 5 0")).isEqualTo("LOCKED");
        }
        assertThat(c.call("ACQ4ME held-5 1 5 0")).isEqualTo("LOCK_HELD");
        // LOCK_HELD comes before the syntax check
        assertThat(c.call("ACQ4ME held-5")).isEqualTo("LOCK_HELD");
        LineClient other = client();
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED"); // held-4, the newest
        assertThat(other.call("ACQ4ME held-4 1 5 0")).isEqualTo("LOCKED");
        assertThat(other.call("ACQ4ME held-3 1 5 0")).isEqualTo("TIMEOUT");
        assertThat(c.call("ACQ4ME again 1 5 0")).isEqualTo("LOCKED"); // a slot is free again
    }

    @ParameterizedTest
    @ValueSource(strings = {"ACQ4ME free 1 1 0", "ACQ4ME free 1 1", "ACQ4ME free 1 1 soon", "ACQ4ME free 1 1 1.5",
            "ACQ4ANY free 1 1 -3", "ACQ4ME   free   1   1   7   extra tokens", "ACQ4ME free 1 1 1\r"})
    void aFreeKeyIsLockedWhateverTheTimeoutSays(String line) {
        LineClient c = client();
        assertThat(c.call(line)).isEqualTo("LOCKED");
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
    }

    @Test
    void theSameKeyTwiceTakesTwoWorkers() {
        LineClient c = client();
        assertThat(c.call("ACQ4ME twice 2 5 0")).isEqualTo("LOCKED");
        assertThat(c.call("ACQ4ME twice 2 5 0")).isEqualTo("LOCKED");
        assertThat(client().call("ACQ4ME twice 2 5 0")).isEqualTo("TIMEOUT");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void withOneWorkerTheSameKeyTwiceTimesOutOnItself(int timeout) {
        LineClient c = client();
        assertThat(c.call("ACQ4ME self-" + timeout + " 1 5 0")).isEqualTo("LOCKED");
        assertThat(c.call("ACQ4ME self-" + timeout + " 1 5 " + timeout)).isEqualTo("TIMEOUT");
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED"); // the TIMEOUT took no slot
    }

    @Test
    void timeoutQueueFullAndReleaseDoNotConsumeSlots() {
        LineClient holder = client();
        assertThat(holder.call("ACQ4ME busy 1 1 0")).isEqualTo("LOCKED");
        LineClient c = client();
        for (int i = 0; i < 7; i++) {
            assertThat(c.call("ACQ4ME busy 1 1 0")).isEqualTo("QUEUE_FULL");
            assertThat(c.call("ACQ4ME busy 1 2 0")).isEqualTo("TIMEOUT");
            assertThat(c.call("ACQ4ME free-" + i + " 1 1 0")).isEqualTo("LOCKED");
            assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        }
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
    }

    @Test
    void thePythonClientsReleaseWithAKeyIsAPlainRelease() {
        LineClient c = client();
        assertThat(c.call("ACQ4ME py 1 1000 1")).isEqualTo("LOCKED");
        assertThat(c.call("RELEASE py")).isEqualTo("RELEASED");
    }

    @Test
    void keysAreCaseSensitiveAndMayBeUtf8() {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME Page 1 1 0")).isEqualTo("LOCKED");
        assertThat(b.call("ACQ4ME page 1 1 0")).isEqualTo("LOCKED");
        assertThat(a.call("ACQ4ME Grüße:東京 1 1 0")).isEqualTo("LOCKED");
        assertThat(b.call("ACQ4ME Grüße:東京 1 2 0")).isEqualTo("TIMEOUT");
    }

    // ---- poolcounterd's error tests -------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"GARBAGE", "acq4me k 1 1 1", "ACQ4ME", "ACQ4MEk 1 1 1", "STATS", "release", ""})
    void unknownCommandsAreBadCommand(String line) {
        LineClient c = client();
        assertThat(c.call(line)).isEqualTo("ERROR BAD_COMMAND");
        assertThat(c.call("ACQ4ME after-bad-command 1 1 0")).isEqualTo("LOCKED"); // the connection is fine
    }

    @ParameterizedTest
    @ValueSource(strings = {"ACQ4ME bs", "ACQ4ME ", "ACQ4ANY bs 0 1 1", "ACQ4ME bs 1 0 1", "ACQ4ME bs x 1 1",
            "ACQ4ME bs 1.0 1 1", "ACQ4ME bs -1 1 1"})
    void badArgumentsAreBadSyntax(String line) {
        LineClient c = client();
        assertThat(c.call(line)).isEqualTo("ERROR BAD_SYNTAX");
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
    }

    @Test
    void aKeyThatIsNotUtf8OrTooLongIsBadSyntax() {
        LineClient c = client();
        byte[] bad = "ACQ4ME \u00c3( 1 1 0\n".getBytes(StandardCharsets.ISO_8859_1); // C3 28: not UTF-8
        assertThat(c.sendBytes(bad).read()).isEqualTo("ERROR BAD_SYNTAX");
        assertThat(c.call("ACQ4ME " + "k".repeat(600) + " 1 1 0")).isEqualTo("ERROR BAD_SYNTAX"); // > 512 bytes
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");
    }

    @Test
    void acquiringWhileWaitingIsWaitForResponseBeforeBadSyntax() {
        LineClient holder = client();
        assertThat(holder.call("ACQ4ME wfr 1 5 0")).isEqualTo("LOCKED");
        LineClient c = client();
        c.send("ACQ4ME wfr 1 5 30");
        c.assertNothingPending();
        assertThat(c.call("ACQ4ME other 1 5 0")).isEqualTo("ERROR WAIT_FOR_RESPONSE");
        assertThat(c.call("ACQ4ME other")).isEqualTo("ERROR WAIT_FOR_RESPONSE");
        assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c.read()).isEqualTo("LOCKED");
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
    }

    // ---- poolcounterd's two-client tests ----------------------------------------------------------

    @Test
    void aWaiterIsLockedWhenTheHolderReleases() {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME w1 1 5 30")).isEqualTo("LOCKED");
        b.send("ACQ4ME w1 1 5 30");
        b.assertNothingPending();
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(b.read()).isEqualTo("LOCKED");
        assertThat(b.call("RELEASE")).isEqualTo("RELEASED");
    }

    @Test
    void aSecondAcquireTimesOutThenSucceedsLater() {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME to 1 5 0")).isEqualTo("LOCKED");
        assertThat(b.call("ACQ4ME to 1 5 1")).isEqualTo("TIMEOUT"); // after waiting its second
        assertThat(b.call("ACQ4ME to 1 5 0")).isEqualTo("TIMEOUT");
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(b.call("ACQ4ME to 1 5 0")).isEqualTo("LOCKED");
    }

    @Test
    void anAnyoneWaiterGetsDoneWhichNeedsNoRelease() {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME done 1 5 30")).isEqualTo("LOCKED");
        b.send("ACQ4ANY done 1 5 30");
        b.assertNothingPending();
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(b.read()).isEqualTo("DONE");
        assertThat(b.call("RELEASE")).isEqualTo("NOT_LOCKED"); // DONE left nothing held
        assertThat(b.call("ACQ4ME done 1 1 0")).isEqualTo("LOCKED");
    }

    @Test
    void oneConnectionHoldingTwoSlotsFillsAQueueOfTwo() {
        LineClient a = client();
        assertThat(a.call("ACQ4ME two 2 2 0")).isEqualTo("LOCKED");
        assertThat(a.call("ACQ4ME two 2 2 0")).isEqualTo("LOCKED");
        assertThat(client().call("ACQ4ME two 3 2 10")).isEqualTo("QUEUE_FULL");
    }

    @Test
    void closingTheSocketReleases() throws Exception {
        LineClient a = client();
        assertThat(a.call("ACQ4ME closing 1 5 0")).isEqualTo("LOCKED");
        a.close();
        assertThat(client().call("ACQ4ME closing 1 5 30")).isEqualTo("LOCKED");
    }

    @Test
    void closeThenConnectNeverRaces() {
        // poolcounterd's T399257: the next client must already see the release of the previous one.
        for (int i = 0; i < 50; i++) {
            LineClient a = new LineClient(port);
            assertThat(a.call("ACQ4ME handover 1 5 0")).isEqualTo("LOCKED");
            a.close();
            try (LineClient b = new LineClient(port)) {
                assertThat(b.call("ACQ4ME handover 1 5 0")).as("round %d", i).isEqualTo("LOCKED");
                assertThat(b.call("RELEASE")).isEqualTo("RELEASED");
            }
        }
    }

    @Test
    void disconnectingWhileWaitingLeavesNothingBehind() throws Exception {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME dw 1 5 30")).isEqualTo("LOCKED");
        b.send("ACQ4ME dw 1 5 30");
        b.assertNothingPending();
        b.close();
        TestWaits.await("the waiter's session to close", () -> waiters("dw") == 0);
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(client().call("ACQ4ME dw 1 1 0")).isEqualTo("LOCKED");
    }

    @Test
    void noTimeoutAfterAWaitWasGranted() throws Exception {
        LineClient a = client();
        LineClient b = client();
        assertThat(a.call("ACQ4ME late 1 5 0")).isEqualTo("LOCKED");
        b.send("ACQ4ME late 1 5 3");
        b.assertNothingPending();
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(b.read()).isEqualTo("LOCKED");
        Thread.sleep(3_500); // past the wait's own deadline: nothing may arrive now
        b.assertNothingPending();
        assertThat(b.call("RELEASE")).isEqualTo("RELEASED");
    }

    // ---- the five verified transcripts -------------------------------------------------------------

    @Test
    void transcript1HolderClosesAndTheAnyoneWaiterIsLockedNotDone() {
        LineClient c1 = client();
        LineClient c2 = client();
        assertThat(c1.call("ACQ4ME t1 1 5 10")).isEqualTo("LOCKED");
        c2.send("ACQ4ANY t1 1 5 10");
        c2.assertNothingPending();
        c1.close();
        assertThat(c2.read()).isEqualTo("LOCKED");
        assertThat(c2.call("RELEASE")).isEqualTo("RELEASED");
    }

    @Test
    void transcript2ReleaseTellsAnyoneDoneAndHandsTheSlotToMe() {
        LineClient c1 = client();
        LineClient c2 = client();
        LineClient c3 = client();
        assertThat(c1.call("ACQ4ME t2 1 5 10")).isEqualTo("LOCKED");
        c3.send("ACQ4ANY t2 1 5 10");
        c3.assertNothingPending();
        c2.send("ACQ4ME t2 1 5 10");
        c2.assertNothingPending();
        assertThat(c1.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c3.read()).isEqualTo("DONE");
        assertThat(c2.read()).isEqualTo("LOCKED");
    }

    @Test
    void transcript3DoneAlthoughAnotherHolderStillWorks() {
        LineClient c1 = client();
        LineClient c2 = client();
        LineClient c3 = client();
        assertThat(c1.call("ACQ4ME t3 2 5 10")).isEqualTo("LOCKED");
        assertThat(c2.call("ACQ4ME t3 2 5 10")).isEqualTo("LOCKED");
        c3.send("ACQ4ANY t3 1 5 10");
        c3.assertNothingPending();
        assertThat(c1.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c3.read()).isEqualTo("DONE");
    }

    @Test
    void transcript4MaxqueueCountsHoldersAndWaiters() {
        LineClient c1 = client();
        LineClient c2 = client();
        assertThat(c1.call("ACQ4ME t4 1 2 10")).isEqualTo("LOCKED");
        c2.send("ACQ4ME t4 1 2 10");
        c2.assertNothingPending();
        assertThat(client().call("ACQ4ME t4 1 2 10")).isEqualTo("QUEUE_FULL");
    }

    @Test
    void transcript5EachRequestIsJudgedByItsOwnWorkers() {
        assertThat(client().call("ACQ4ME t5 1 5 0")).isEqualTo("LOCKED");
        assertThat(client().call("ACQ4ME t5 2 5 0")).isEqualTo("LOCKED");
    }

    // ---- poolcounterd's quirks, fixed --------------------------------------------------------------

    @Test
    void pipelinedCommandsAreAllAnsweredInOrder() {
        LineClient c = client();
        c.sendRaw("STATS UPTIME\nACQ4ME pipe 1 1 0\nACQ4ME pipe2 1 1 0\nRELEASE\nRELEASE\nRELEASE\nGARBAGE\n");
        assertThat(c.read()).startsWith("uptime: ");
        assertThat(List.of(c.read(), c.read(), c.read(), c.read(), c.read(), c.read()))
                .containsExactly("LOCKED", "LOCKED", "RELEASED", "RELEASED", "NOT_LOCKED", "ERROR BAD_COMMAND");
    }

    @Test
    void pipelinedCommandsAfterAWaitAreAnsweredBeforeItsOutcome() {
        LineClient holder = client();
        assertThat(holder.call("ACQ4ME pw 1 5 0")).isEqualTo("LOCKED");
        LineClient c = client();
        c.sendRaw("ACQ4ME pw 1 5 30\nACQ4ME x 1 1 0\nSTATS UPTIME\n");
        assertThat(c.read()).isEqualTo("ERROR WAIT_FOR_RESPONSE");
        assertThat(c.read()).startsWith("uptime: ");
        assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(c.read()).isEqualTo("LOCKED");
    }

    @Test
    void aCommandSplitAcrossPacketsIsAssembled() throws Exception {
        LineClient c = client();
        c.sendRaw("ACQ4ME fr");
        Thread.sleep(50); // make it a separate segment (not needed for correctness, only for the scenario)
        c.sendRaw("ag 1 1 1\n");
        assertThat(c.read()).isEqualTo("LOCKED");
        for (char ch : "RELEASE\n".toCharArray()) {
            c.sendRaw(String.valueOf(ch));
        }
        assertThat(c.read()).isEqualTo("RELEASED");
    }

    @Test
    void anOverlongLineIsAnErrorAndClosesTheConnectionReleasingItsSlots() {
        LineClient c = client();
        assertThat(c.call("ACQ4ME long 1 5 0")).isEqualTo("LOCKED");
        c.sendRaw("STATS UPTIME\n" + "ACQ4ME " + "x".repeat(2_000) + " 1 1 1\nRELEASE\n");
        assertThat(c.read()).startsWith("uptime: ");
        assertThat(c.read()).isEqualTo("ERROR LINE_TOO_LONG");
        assertThat(c.closedByServer()).isTrue();
        assertThat(client().call("ACQ4ME long 1 5 30")).isEqualTo("LOCKED");
    }

    @Test
    void releaseWhileWaitingCancelsTheWaitAndTellsNobodyDone() throws Exception {
        LineClient holder = client();
        LineClient anyone = client();
        LineClient me = client();
        assertThat(holder.call("ACQ4ME cancel 1 5 0")).isEqualTo("LOCKED");
        anyone.send("ACQ4ANY cancel 1 5 30");
        anyone.assertNothingPending();
        me.send("ACQ4ME cancel 1 5 30");
        me.assertNothingPending();
        assertThat(me.call("RELEASE")).isEqualTo("RELEASED");
        anyone.assertNothingPending(); // poolcounterd would have sent DONE here
        assertThat(waiters("cancel")).isEqualTo(1); // and its waiting_workers would have leaked one
        assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(anyone.read()).isEqualTo("DONE");
        me.assertNothingPending();
    }

    @Test
    void wrongStatEndsWithANewline() {
        LineClient c = client();
        assertThat(c.call("STATS nonsense")).isEqualTo("ERROR WRONG_STAT");
        assertThat(c.call("STATS FULL extra")).isEqualTo("ERROR WRONG_STAT");
        assertThat(c.call("STATS ")).isEqualTo("ERROR WRONG_STAT");
    }

    // ---- poolcounterd's stats tests -----------------------------------------------------------------

    @Test
    void statsFormats() {
        LineClient c = client();
        assertThat(c.call("STATS UPTIME")).matches("uptime: \\d+ days, \\d+h \\d+m \\d+s");
        assertThat(c.call("stats uptime")).isEqualTo("ERROR BAD_COMMAND"); // the command is case-sensitive
        assertThat(c.call("STATS uptime")).matches("uptime: \\d+ days, \\d+h \\d+m \\d+s"); // its argument is not
        assertThat(c.call("STATS WAITING_WORKERS")).matches("waiting_workers: \\d+");
        Map<String, String> full = full(c);
        String time = "(((\\d+ days )?\\d+h )?\\d+m )?\\d+\\.\\d{6}s";
        for (String k : List.of("total processing time", "average processing time", "gained time", "waiting time",
                "waiting time for me", "waiting time for anyone", "waiting time for good", "wasted timeout time")) {
            assertThat(full.get(k)).as(k).matches(time);
        }
        assertThat(full.keySet()).containsSubsequence("uptime", "total processing time", "wasted timeout time",
                "total_acquired", "total_releases", "hashtable_entries", "processing_workers", "waiting_workers",
                "connect_errors", "failed_sends", "full_queues", "lock_mismatch", "lock_while_waiting",
                "release_mismatch", "processed_count");
        for (String k : LineStats.COUNTERS) {
            assertThat(full.get(k)).as(k).matches("\\d+");
        }
    }

    @Test
    void statsCountAScriptedScenarioExactly() throws Exception {
        LineClient a = client();
        LineClient b = client();
        LineClient c = client();
        TestWaits.await("an idle node", () -> idle(a));
        Map<String, String> before = full(a);
        assertThat(a.call("ACQ4ME sc 1 2 0")).isEqualTo("LOCKED");          // acquired 1
        b.send("ACQ4ANY sc 1 2 30");                                          // waits
        b.assertNothingPending();
        assertThat(c.call("ACQ4ME sc 1 2 0")).isEqualTo("QUEUE_FULL");       // full_queues 1
        assertThat(c.call("ACQ4ME sc 1 3 0")).isEqualTo("TIMEOUT");
        assertThat(c.call("RELEASE")).isEqualTo("NOT_LOCKED");               // release_mismatch 1 (door)
        assertThat(b.call("ACQ4ME x 1 1 0")).isEqualTo("ERROR WAIT_FOR_RESPONSE"); // lock_while_waiting 1
        Map<String, String> during = full(a);
        assertThat(during.get("hashtable_entries")).isEqualTo("1");
        assertThat(during.get("processing_workers")).isEqualTo("1");
        assertThat(during.get("waiting_workers")).isEqualTo("1");
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");                  // releases 1, b DONE
        assertThat(b.read()).isEqualTo("DONE");
        for (int i = 1; i <= 4; i++) {
            assertThat(c.call("ACQ4ME sc-" + i + " 1 1 0")).isEqualTo("LOCKED"); // acquired 4
        }
        assertThat(c.call("ACQ4ME sc-5 1 1 0")).isEqualTo("LOCK_HELD");      // lock_mismatch 1
        c.close();                                                            // processed 4 more
        TestWaits.await("c's session to close", () -> idle(a));
        Map<String, String> after = full(a);
        assertThat(delta(before, after, "total_acquired")).isEqualTo(5);
        assertThat(delta(before, after, "total_releases")).isEqualTo(1);
        assertThat(delta(before, after, "full_queues")).isEqualTo(1);
        assertThat(delta(before, after, "lock_mismatch")).isEqualTo(1);
        assertThat(delta(before, after, "lock_while_waiting")).isEqualTo(1);
        assertThat(delta(before, after, "release_mismatch")).isEqualTo(1);
        assertThat(delta(before, after, "processed_count")).isEqualTo(5);
        assertThat(after.get("hashtable_entries")).isEqualTo("0");
        assertThat(after.get("waiting_workers")).isEqualTo("0");
        assertThat(after.get("processing_workers")).isEqualTo("0");
    }

    // ---- limits ------------------------------------------------------------------------------------

    @Test
    void connectionsOverTheLimitAreRefusedAndCounted() throws Exception {
        Path d = Files.createTempDirectory("baton-line-limit");
        ApiServer small = startServer(d, new LineDoor.Config("127.0.0.1", 0, 1024, 2, 10_000));
        try (LineClient a = new LineClient(small.lineDoor().port());
             LineClient b = new LineClient(small.lineDoor().port())) {
            assertThat(a.call("ACQ4ME lim 1 1 0")).isEqualTo("LOCKED");
            assertThat(b.call("STATS connect_errors")).isEqualTo("connect_errors: 0");
            try (LineClient c = new LineClient(small.lineDoor().port())) {
                assertThat(c.read()).isEqualTo("ERROR TOO_MANY_CONNECTIONS");
                assertThat(c.closedByServer()).isTrue();
            }
            assertThat(b.call("STATS connect_errors")).isEqualTo("connect_errors: 1");
            a.close();
            TestWaits.await("a's connection to be gone", () -> small.lineDoor().connections() < 2);
            try (LineClient c = new LineClient(small.lineDoor().port())) {
                assertThat(c.call("ACQ4ME lim 1 1 30")).isEqualTo("LOCKED"); // a's slot was released
            }
        } finally {
            small.close();
        }
    }

    @Test
    void waitersPerKeyAreBoundedClusterWideWithAClearError() throws Exception {
        Path d = Files.createTempDirectory("baton-line-waiters");
        ApiServer small = startServer(d, LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0),
                l -> l.toBuilder().maxWaitersPerKey(1).build());
        try {
            TestWaits.await("the configured limit to be replicated",
                    () -> small.node().readLocal(new Query.GetLimits()).maxWaitersPerKey() == 1);
            int p = small.lineDoor().port();
            try (LineClient holder = new LineClient(p); LineClient w1 = new LineClient(p); LineClient w2 = new LineClient(p)) {
                assertThat(holder.call("ACQ4ME wk 1 100 0")).isEqualTo("LOCKED");
                w1.send("ACQ4ME wk 1 100 30");
                w1.assertNothingPending();
                assertThat(w2.call("ACQ4ME wk 1 100 30")).isEqualTo("ERROR LIMIT_EXCEEDED");
                assertThat(w2.call("RELEASE")).isEqualTo("NOT_LOCKED"); // the refused wait took no slot
                assertThat(w2.call("STATS waiting_workers")).isEqualTo("waiting_workers: 1");
                assertThat(holder.call("RELEASE")).isEqualTo("RELEASED");
                assertThat(w1.read()).isEqualTo("LOCKED");
                w2.send("ACQ4ME wk 1 100 30"); // nobody waits now: w2 may
                w2.assertNothingPending();
                assertThat(w1.call("RELEASE")).isEqualTo("RELEASED");
                assertThat(w2.read()).isEqualTo("LOCKED");
            }
        } finally {
            small.close();
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private int waiters(String key) {
        var p = server.node().readLocal(new dev.baton.core.command.Query.GetPool(key));
        return p == null ? 0 : p.waiting();
    }

    private static boolean idle(LineClient c) {
        Map<String, String> f = full(c);
        return f.get("hashtable_entries").equals("0") && f.get("waiting_workers").equals("0");
    }

    /** STATS FULL parsed as the Prometheus exporter does: "name: value" lines up to the empty one. */
    static Map<String, String> full(LineClient c) {
        c.send("STATS FULL");
        Map<String, String> m = new LinkedHashMap<>();
        for (String line = c.read(); !line.isEmpty(); line = c.read()) {
            int i = line.indexOf(": ");
            assertThat(i).as("line \"%s\"", line).isPositive();
            m.put(line.substring(0, i), line.substring(i + 2));
        }
        return m;
    }

    private static long delta(Map<String, String> before, Map<String, String> after, String k) {
        return Long.parseLong(after.get(k)) - Long.parseLong(before.get(k));
    }
}
