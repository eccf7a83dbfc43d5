package dev.baton.cli;

import com.google.gson.JsonParser;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The client commands of {@code baton} against one real node, run in this JVM: what they print (text
 * and JSON) and their exit codes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClientCliTest {
    private ApiServer server;
    private String ep;

    record Run(int code, String out, String err) {}

    @BeforeAll
    void start() throws Exception {
        BatonNode.Options o = BatonNode.Options.defaults(Files.createTempDirectory("baton-cli").resolve("data"))
                .withPort(TestWaits.freePort());
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        ep = server.apiEndpoint();
    }

    @AfterAll
    void stop() {
        server.close();
    }

    /** Runs {@code baton <args> -e <node>}, capturing what it prints. Not thread-safe (System.out). */
    private synchronized Run baton(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "-e";
        all[args.length + 1] = ep;
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = Baton.exec(all);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void statusAndSnapshot() {
        Run s = baton("status");
        assertThat(s.code()).isZero();
        assertThat(s.out()).contains("(leader)").contains("term");
        Run j = baton("status", "--output", "json");
        assertThat(JsonParser.parseString(j.out()).getAsJsonObject().get("isLeader").getAsBoolean()).isTrue();
        assertThat(baton("snapshot").out()).startsWith("snapshot taken at applied index ");
    }

    @Test
    void poolAcquireHoldGetCloseAndStats() throws Exception {
        Run free = baton("pool", "acquire", "page");
        assertThat(free.code()).isZero();
        assertThat(free.out()).startsWith("LOCKED fence ");
        // A holder that keeps its slot for a while, in the background (its own session).
        CompletableFuture<Integer> holder = CompletableFuture.supplyAsync(() -> Baton.exec(
                "pool", "acquire", "page", "--hold", "PT60S", "-e", ep));
        TestWaits.await("the holder", () -> server.node().readLocal(new dev.baton.core.command.Query.GetPool("page")) != null);
        Run busy = baton("pool", "acquire", "page");
        assertThat(busy.code()).isEqualTo(3);
        assertThat(busy.out()).contains("TIMEOUT  (session "); // (the holder in the background prints here too)
        Run get = baton("pool", "get", "page");
        assertThat(get.out()).startsWith("page: 1 holding, 0 waiting").contains("holder  session ");
        com.google.gson.JsonObject holderJson = JsonParser.parseString(baton("pool", "get", "page", "-o", "json").out())
                .getAsJsonObject().getAsJsonArray("holders").get(0).getAsJsonObject();
        assertThat(holderJson.getAsJsonPrimitive("session").isNumber()).as("numbers are JSON numbers").isTrue();
        assertThat(holderJson.getAsJsonPrimitive("fence").isNumber()).isTrue();
        long session = holderJson.get("session").getAsLong();
        assertThat(baton("pool", "list").out()).contains("page").contains("holders 1");
        Run closed = baton("sessions", "close", Long.toString(session));
        assertThat(closed.code()).isZero();
        assertThat(baton("pool", "acquire", "page").code()).isZero();
        assertThat(baton("pool", "stats").out()).contains("acquired ");
        holder.cancel(true);
    }

    @Test
    void dispatchInitAdvanceSelectAndShowLag() {
        assertThat(baton("dispatch", "init", "feed", "enwiki=enwiki_db", "dewiki=dewiki_db").out()).contains("2 target(s)");
        assertThat(baton("dispatch", "advance", "feed", "42").out()).contains("head 42");
        Run sel = baton("dispatch", "select", "feed");
        assertThat(sel.code()).isZero();
        assertThat(sel.out()).contains("fence ");
        Run show = baton("dispatch", "show", "feed");
        assertThat(show.out()).contains("feed: head 42, 2 targets").contains("enwiki").contains("42");
        assertThat(baton("dispatch", "show", "nope").code()).isEqualTo(1);
    }

    @Test
    void eventsAndQueues() {
        Run begun = baton("events", "begin", "robots");
        assertThat(begun.code()).isZero();
        // The event ended with the command's session, so it can begin again.
        assertThat(baton("events", "begin", "robots").code()).isZero();
        assertThat(baton("queue", "put", "docs", "d1", "--payload", "http://x/")).extracting(Run::code).isEqualTo(0);
        Run claim = baton("queue", "claim", "docs", "--max", "5");
        assertThat(claim.code()).isZero();
        assertThat(claim.out()).contains("d1  fence ").contains("payload http://x/");
        assertThat(baton("queue", "list", "docs").out()).contains("docs: 1 items, 1 claimable"); // the claim ended
        assertThat(baton("queue", "claim", "empty-queue").code()).isEqualTo(3);
        assertThat(baton("events", "list").out()).isNotBlank();
    }

    @Test
    void badUsageAndUnreachableClusters() {
        assertThat(baton("pool", "acquire").code()).isEqualTo(2);
        assertThat(baton("pool").code()).isEqualTo(2);
        assertThat(Baton.exec("status", "-e", "127.0.0.1:" + TestWaits.freePort(), "--timeout-ms", "500"))
                .isEqualTo(1);
        assertThat(baton("pool", "stats", "-o", "yaml").code()).isEqualTo(2);
    }
}
