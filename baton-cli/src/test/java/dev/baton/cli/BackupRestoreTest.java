package dev.baton.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.client.BatonClient;
import dev.baton.client.DispatchReply;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.core.command.Query;
import dev.baton.server.TestWaits;
import dev.baton.server.grpc.ClusterSecret;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.Restore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code baton admin backup} of a node holding every kind of state, and a new cluster started from the
 * file the way {@code baton server --restore} starts one ({@link Restore}): the restored node's dump is
 * the original's, and so is that of a member that joined it empty. Damaged files and used data
 * directories are refused by {@code baton server --restore} before anything is written.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackupRestoreTest {
    private static final ClusterSecret SECRET = ClusterSecret.of("backup-restore-test-secret");
    private Path tmp;
    private ApiServer original;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("baton-backup");
        original = node("a", false);
    }

    @AfterAll
    void stop() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    private ApiServer node(String name, boolean join) throws Exception {
        return node(name, join, null);
    }

    /** A node on free ports with its data in tmp/NAME; with {@code restore}, installed first as --restore does. */
    private ApiServer node(String name, boolean join, Restore.Checked restore) throws Exception {
        // A longer election timeout than the default 1 s: on a loaded machine a member installing a snapshot
        // may miss heartbeats, and a two-member cluster's leader would step down.
        BatonNode.Options o = BatonNode.Options.defaults(tmp.resolve(name).resolve("data")).withPort(TestWaits.freePort())
                .withElectionTimeoutMs(5_000);
        if (restore != null) {
            Restore.install(restore, o);
        }
        ApiServer s = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity(), join,
                null, null, SECRET, 5_000));
        toClose.add(s);
        s.start();
        if (!join) {
            assertThat(s.node().waitForLeader(Duration.ofSeconds(120))).isPresent();
        }
        return s;
    }

    private BatonClient client(ApiServer s) {
        BatonClient c = BatonClient.builder().endpoints(s.apiEndpoint()).sessionTtl(Duration.ofMinutes(2)).build();
        toClose.add(c);
        return c;
    }

    private static String dump(ApiServer s) throws Exception {
        return TestWaits.get(s.node().read(new Query.DumpJson()));
    }

    /** {@link #dump} for a condition polled until it holds: a failed read is "not yet". */
    private static String dumpOrEmpty(ApiServer s) {
        try {
            return dump(s);
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void aRestoredClusterHasTheBackedUpState() throws Exception {
        // Every kind of state: sessions, a pool with a holder and a waiter, a lock with a holder and a
        // waiter, a dispatch group with a cursor and a locked target, an event, a queue with a claimed item.
        BatonClient c1 = client(original);
        BatonClient c2 = client(original);
        PoolReply held = c1.pools().acquire("render", 1, 5, Duration.ZERO, false);
        assertThat(held.status()).isEqualTo(PoolStatus.LOCKED);
        CompletableFuture<PoolReply> poolWaiter = c2.pools().acquireAsync("render", 1, 5, Duration.ofMinutes(2), false);
        c1.locks().acquire("leader", Duration.ZERO);
        var lockWaiter = c2.locks().acquireAsync("leader", Duration.ofMinutes(2));
        c1.dispatch().init("feed", Map.of("enwiki", "enwiki_db", "dewiki", "dewiki_db"));
        c1.dispatch().advance("feed", 42);
        DispatchReply selected = c1.dispatch().select("feed");
        c1.dispatch().release("feed", selected.target().id(), selected.target().fence(), 40);
        c2.dispatch().lock("feed", "dewiki");
        c1.events().begin("robots");
        c1.queues().enqueue("jobs", "a", "payload a".getBytes(StandardCharsets.UTF_8), List.of());
        c1.queues().enqueue("jobs", "b", "payload b".getBytes(StandardCharsets.UTF_8), List.of("a"));
        c2.queues().claim("jobs", 1);
        TestWaits.await("the waiters", () -> {
            var pool = original.node().readLocal(new Query.GetPool("render"));
            var lock = original.node().readLocal(new Query.GetLock("leader"));
            return pool != null && pool.waiters().size() == 1 && lock != null && lock.waiters().size() == 1;
        });
        assertThat(poolWaiter).isNotDone();
        assertThat(lockWaiter).isNotDone();

        String before = dump(original);
        Path file = tmp.resolve("state.backup");
        Baton.Run backup = Baton.run("admin", "backup", file.toString(), "-e", original.apiEndpoint());
        assertThat(backup.code()).as(backup.err()).isZero();
        assertThat(backup.out()).startsWith("backup of applied index ").contains("written to " + file);
        assertThat(dump(original)).as("nothing was written meanwhile").isEqualTo(before);
        JsonObject originalState = JsonParser.parseString(before).getAsJsonObject();

        Baton.Run again = Baton.run("admin", "backup", file.toString(), "-e", original.apiEndpoint());
        assertThat(again.code()).isEqualTo(2);
        assertThat(again.err()).contains("exists").contains("--force");
        Baton.Run forced = Baton.run("admin", "backup", file.toString(), "--force", "-o", "json", "-e", original.apiEndpoint());
        assertThat(forced.code()).as(forced.err()).isZero();
        assertThat(JsonParser.parseString(forced.out()).getAsJsonObject().get("appliedIndex").getAsLong())
                .isEqualTo(originalState.getAsJsonObject("summary").get("lastIndex").getAsLong());
        assertThat(Files.list(tmp).map(p -> p.getFileName().toString())).as("no partial file left")
                .noneMatch(n -> n.endsWith(".partial"));

        // A new cluster from the file: one node restored, one joined empty.
        Restore.Checked checked = Restore.check(file);
        ApiServer restored = node("b", false, checked);
        assertThat(restored.node().lastLoadedSnapshotIndex()).isEqualTo(checked.index());
        TestWaits.await("the restored node announced", () -> dumpOrEmpty(restored).contains(restored.apiEndpoint()));
        JsonObject restoredState = JsonParser.parseString(dump(restored)).getAsJsonObject();
        assertThat(comparable(restoredState)).isEqualTo(comparable(originalState));
        JsonObject summary = restoredState.getAsJsonObject("summary");
        assertThat(summary.get("lastIndex").getAsLong()).as("the new log continues after the backup's")
                .isGreaterThan(checked.index());
        assertThat(summary.get("lastTime").getAsLong()).as("the cluster time does not go back")
                .isGreaterThanOrEqualTo(checked.stateTime());
        assertThat(restoredState.getAsJsonArray("nodes").toString()).contains(restored.apiEndpoint())
                .as("the old cluster's address book entries stay").contains(original.apiEndpoint());

        ApiServer joined = node("c", true);
        // As in the procedure (server.md): a failed add is retried (adding a member already there succeeds at
        // once); on a loaded machine the leader's first connection to a node that just started may time out.
        Baton.Run add = null;
        for (long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos(); System.nanoTime() < deadline; ) {
            add = Baton.run("admin", "add-member", joined.node().options().endpoint(), "-e", restored.apiEndpoint());
            if (add.code() == 0 || !(add.err().contains("ECATCHUP") || add.err().contains("UNAVAILABLE"))) {
                break;
            }
            Thread.sleep(500);
        }
        assertThat(add.code()).as(add.err()).isZero();
        TestWaits.await("the joined member has the restored state", () -> {
            String r = dumpOrEmpty(restored);
            return r.contains(joined.apiEndpoint()) && r.equals(joined.node().readLocal(new Query.DumpJson()));
        });
        assertThat(joined.node().lastLoadedSnapshotIndex()).as("it got the state by InstallSnapshot").isPositive();
    }

    /** A dump without what a new cluster changes: the log position and time, and the address book. */
    private static JsonObject comparable(JsonObject dump) {
        JsonObject d = dump.deepCopy();
        JsonObject summary = d.getAsJsonObject("summary");
        summary.remove("lastIndex");
        summary.remove("lastTime");
        summary.remove("nodes");
        d.remove("nodes");
        return d;
    }

    @Test
    void aDamagedBackupOrAUsedDataDirectoryIsRefusedAndNothingIsWritten() throws Exception {
        Path good = tmp.resolve("good.backup");
        assertThat(Baton.run("admin", "backup", good.toString(), "-e", original.apiEndpoint()).code()).isZero();
        byte[] bytes = Files.readAllBytes(good);

        byte[] flipped = bytes.clone();
        flipped[flipped.length / 2] ^= 1;
        assertRefused(write("flipped.backup", flipped), "damaged", "checksum");
        assertRefused(write("cut.backup", java.util.Arrays.copyOf(bytes, bytes.length - 100)), "damaged");
        assertRefused(write("other.backup", "not a backup at all".getBytes(StandardCharsets.UTF_8)), "not a Baton backup");
        byte[] newer = bytes.clone();
        newer[9] = 9; // the backup format version (u16 after the 8-byte magic)
        assertRefused(write("newer.backup", newer), "format version 9", "newer Baton");
        assertRefused(tmp.resolve("missing.backup"), "no such file");

        // A data directory that holds a log is never overwritten.
        Path used = original.node().options().dataDir();
        Baton.Run r = server(good, used);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--restore needs an empty data directory").contains("not empty");
        assertThat(Files.list(used.resolve("log"))).isNotEmpty();

        Path data = tmp.resolve("join").resolve("data");
        Baton.Run join = Baton.run("server", "--restore", good.toString(), "--data-dir", data.toString(), "--join",
                "--cluster-secret-file", write("secret", "backup-restore-test-secret".getBytes(StandardCharsets.UTF_8)).toString());
        assertThat(join.code()).isEqualTo(2);
        assertThat(join.err()).contains("--join");
        assertThat(tmp.resolve("join")).doesNotExist();
    }

    private Path write(String name, byte[] bytes) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private void assertRefused(Path backup, String... says) throws Exception {
        Path parent = tmp.resolve("refused-" + backup.getFileName());
        Baton.Run r = server(backup, parent.resolve("data"));
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("cannot restore").contains(says);
        assertThat(parent).as("a refused restore leaves no data directory").doesNotExist();
    }

    private static Baton.Run server(Path backup, Path data) {
        return Baton.run("server", "--restore", backup.toString(), "--data-dir", data.toString(),
                "--raft-port", Integer.toString(TestWaits.freePort()), "--api-port", Integer.toString(TestWaits.freePort()),
                "--line-port", Integer.toString(TestWaits.freePort()), "--http-port", Integer.toString(TestWaits.freePort()));
    }
}
