package dev.baton.server.line;

import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.route.BatonException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A connection's first acquire opens its session in the same command. When the client hangs up
 * while that command is in flight, and its answer is then lost with an outcome the node cannot know
 * (the link to the leader broke after the leader applied it), the door has no session to close: it
 * must see the open through and close what it answers, not leave the session, and the slot it took,
 * to a lease of ten minutes.
 */
class LineFirstAcquireLostAnswerTest {
    private static final long TEN_MINUTES_MS = 600_000;

    private ApiServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aClosedConnectionsFirstAcquireWhoseAnswerIsLostStillClosesItsSession() throws Exception {
        server = LineProtocolTest.startServer(Files.createTempDirectory("baton-line-lost-answer"),
                LineDoor.Config.defaults("127.0.0.1", TEN_MINUTES_MS).withPort(0));
        LineDoor door = server.lineDoor();
        CompletableFuture<Result> applied = new CompletableFuture<>();
        CompletableFuture<Result> lost = new CompletableFuture<>();
        AtomicBoolean first = new AtomicBoolean(true);
        door.interceptWrites((c, answer) -> {
            if (c instanceof Command.OpenSessionThen && first.compareAndSet(true, false)) {
                answer.whenComplete((r, t) -> {
                    if (t == null) {
                        applied.complete(r);
                    } else {
                        applied.completeExceptionally(t);
                    }
                });
                return lost; // the connection hears what the test says, when it says it
            }
            return answer;
        });

        LineClient gone = new LineClient(door.port());
        gone.send("ACQ4ME lost-answer 1 5 0");
        assertThat(applied.get(20, TimeUnit.SECONDS)).as("the open and the acquire applied")
                .isInstanceOfSatisfying(Result.SessionOpenedThen.class,
                        o -> assertThat(o.first()).isInstanceOf(Result.PoolReply.class));
        assertThat(sessions()).isEqualTo(1);
        gone.close();
        TestWaits.await("the door saw the client hang up", () -> door.connections() == 0);

        // What a broken forwarding link gives: UNAVAILABLE, the outcome unknown (it may have applied).
        lost.completeExceptionally(BatonException.unavailable("the link to the leader broke", null));

        TestWaits.await("the session of the closed connection closed", () -> sessions() == 0);
        try (LineClient next = new LineClient(door.port())) {
            assertThat(next.call("ACQ4ME lost-answer 1 5 0")).as("the slot is free again").isEqualTo("LOCKED");
            assertThat(next.call("RELEASE")).isEqualTo("RELEASED");
        }
    }

    private int sessions() {
        return server.node().readLocal(new Query.GetSummary()).sessions();
    }
}
