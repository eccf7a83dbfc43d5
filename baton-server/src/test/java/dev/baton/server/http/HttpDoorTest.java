package dev.baton.server.http;

import dev.baton.server.metrics.BatonMetrics;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.client.BatonClient;
import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.PoolTotals;
import dev.baton.server.OpsFiles;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.line.LineClient;
import dev.baton.server.line.LineDoor;
import dev.baton.server.raft.BatonNode;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP port of one real node: a scripted scenario with known numbers of acquires, waits,
 * timeouts, DONEs, queue-full refusals, dispatch lag, events and queue items, then checks that
 * {@code /metrics}, the admin JSON, the PoolCounter door's {@code STATS FULL} and the Admin status (what
 * {@code baton status} prints) all report exactly those numbers. Plus health, errors and force-closing a session.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpDoorTest {
    private ApiServer server;
    private String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<LineClient> lines = new ArrayList<>();
    private final List<BatonClient> clients = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("baton-http-test");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        HttpDoor.Config h = new HttpDoor.Config("127.0.0.1", 0, 2, BatonMetrics.Limits.DEFAULTS, 100, 600);
        server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withLine(LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0)).withHttp(h)).start();
        assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
        base = "http://127.0.0.1:" + server.httpDoor().port();
        runScenario();
    }

    @AfterAll
    void stop() {
        lines.forEach(LineClient::close);
        clients.forEach(BatonClient::close);
        if (server != null) {
            server.close();
        }
    }

    private LineClient line() {
        LineClient c = new LineClient(server.lineDoor().port());
        lines.add(c);
        return c;
    }

    private BatonClient client() {
        BatonClient c = BatonClient.builder().endpoints(server.apiEndpoint()).build();
        clients.add(c);
        return c;
    }

    /**
     * Pool "page" (1 worker, queue 3): A holds; B gets TIMEOUT at once; C waits for itself, D for
     * anyone; E gets QUEUE_FULL; A releases: D is told DONE, C gets the slot; F waits 1 s and times
     * out; C releases. A Java client holds "wiki/Main Page+1" (a key with a slash, a space and a
     * plus). Totals: 3 acquired, 2 released, 1 done, 2 timeouts, 1 queue full; 1 key held.
     * Dispatch "feed" with head 100 and three targets, one seen up to 60: lag 40, 100, 100.
     * Event "robots" pending; queue "fetch" with 3 items: one claimed, one ready, one gated.
     */
    private void runScenario() throws Exception {
        LineClient a = line();
        LineClient b = line();
        LineClient c = line();
        LineClient d = line();
        LineClient e = line();
        LineClient f = line();
        assertThat(a.call("ACQ4ME page 1 3 10")).isEqualTo("LOCKED");
        assertThat(b.call("ACQ4ME page 1 3 0")).isEqualTo("TIMEOUT");
        c.send("ACQ4ME page 1 3 60");
        d.send("ACQ4ANY page 1 3 60");
        TestWaits.await("two waiters", () -> server.node().readLocal(new dev.baton.core.command.Query.GetPool("page"))
                .waiting() == 2);
        assertThat(e.call("ACQ4ME page 1 3 10")).isEqualTo("QUEUE_FULL");
        poolSnapshotWhileBusy = get("/api/pools/page");
        poolsWhileBusy = get("/api/pools?sort=waiters&limit=5");
        assertThat(a.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(d.read()).isEqualTo("DONE");
        assertThat(c.read()).isEqualTo("LOCKED");
        assertThat(f.call("ACQ4ME page 1 3 1")).isEqualTo("TIMEOUT"); // after waiting 1 s
        assertThat(c.call("RELEASE")).isEqualTo("RELEASED");
        assertThat(client().pools().acquire("wiki/Main Page+1", 1, 5, Duration.ZERO, false).status())
                .isEqualTo(dev.baton.client.PoolStatus.LOCKED);

        BatonClient dispatcher = client();
        dispatcher.dispatch().init("feed", Map.of("t1", "db1", "t2", "db2", "t3", "db3"));
        dispatcher.dispatch().advance("feed", 100);
        var locked = dispatcher.dispatch().lock("feed", "t1");
        dispatcher.dispatch().release("feed", "t1", locked.target().fence(), 60);

        BatonClient worker = client();
        worker.events().begin("robots");
        worker.queues().enqueue("fetch", "doc-1", new byte[] {1, 2, 3}, List.of());
        worker.queues().enqueue("fetch", "doc-2", new byte[0], List.of());
        worker.queues().enqueue("fetch", "doc-3", new byte[0], List.of("robots"));
        assertThat(worker.queues().claim("fetch", 1).items().size()).isEqualTo(1);
    }

    private JsonObject poolSnapshotWhileBusy;
    private JsonObject poolsWhileBusy;

    // ---- HTTP helpers ---------------------------------------------------------------------------

    private HttpResponse<String> request(String method, String path) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    /** A write as the dashboard sends it (the node refuses writes without this header or a JSON type). */
    private HttpResponse<String> post(String path) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20))
                .header("X-Baton-Request", "dashboard").POST(HttpRequest.BodyPublishers.noBody()).build();
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    private JsonObject get(String path) throws Exception {
        HttpResponse<String> r = request("GET", path);
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private String metrics() throws Exception {
        HttpResponse<String> r = request("GET", "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** The value of the one sample of {@code name} whose labels include all of {@code labels} (besides node). */
    static double sample(String text, String name, String... labels) {
        List<Double> found = new ArrayList<>();
        Pattern p = Pattern.compile("^" + Pattern.quote(name) + "(\\{([^}]*)\\})? (\\S+)$", Pattern.MULTILINE);
        Matcher m = p.matcher(text);
        while (m.find()) {
            String ls = m.group(2) == null ? "" : m.group(2);
            boolean all = true;
            for (String l : labels) {
                all &= ls.contains(l);
            }
            if (all) {
                found.add(Double.parseDouble(m.group(3)));
            }
        }
        assertThat(found).as("samples of %s with %s", name, List.of(labels)).hasSize(1);
        return found.get(0);
    }

    // ---- the numbers ----------------------------------------------------------------------------

    @Test
    void metricsReportTheScenarioExactly() throws Exception {
        String m = metrics();
        // Replicated totals (the numbers of STATS).
        assertThat(sample(m, "baton_pool_acquires_total", "result=\"locked\"")).isEqualTo(3);
        assertThat(sample(m, "baton_pool_acquires_total", "result=\"done\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_acquires_total", "result=\"timeout\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_acquires_total", "result=\"queue_full\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_releases_total")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_holders")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_keys")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_waiters")).isZero();
        // Outcomes and histograms from the applied entries.
        assertThat(sample(m, "baton_pool_acquire_outcomes_total", "outcome=\"locked\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_acquire_outcomes_total", "outcome=\"locked_after_wait\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_acquire_outcomes_total", "outcome=\"done\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_acquire_outcomes_total", "outcome=\"timeout\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_acquire_outcomes_total", "outcome=\"queue_full\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_wait_seconds_count", "outcome=\"timeout\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_wait_seconds_sum", "outcome=\"timeout\"")).as("F waited its 1 s")
                .isGreaterThanOrEqualTo(1.0);
        assertThat(sample(m, "baton_pool_wait_seconds_bucket", "outcome=\"timeout\"", "le=\"0.001\""))
                .as("B's timeout came at once").isEqualTo(1);
        assertThat(sample(m, "baton_pool_hold_seconds_count")).isEqualTo(2);
        // "page" is the busiest key: its own series.
        assertThat(sample(m, "baton_pool_key_acquires_total", "key=\"page\"", "outcome=\"timeout\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_key_acquires_total", "key=\"page\"", "outcome=\"locked\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_key_holders", "key=\"wiki/Main Page+1\"")).isEqualTo(1);
        assertThat(sample(m, "baton_pool_key_wait_seconds_count", "key=\"page\"")).isEqualTo(5);
        assertThat(sample(m, "baton_pool_key_hold_seconds_count", "key=\"page\"")).isEqualTo(2);
        assertThat(sample(m, "baton_pool_key_waiters", "key=\"page\"")).isZero();
        // Dispatch lag per target and per group.
        assertThat(sample(m, "baton_dispatch_lag", "group=\"feed\"", "target=\"t1\"")).isEqualTo(40);
        assertThat(sample(m, "baton_dispatch_lag", "group=\"feed\"", "target=\"t2\"")).isEqualTo(100);
        assertThat(sample(m, "baton_dispatch_group_max_lag", "group=\"feed\"")).isEqualTo(100);
        assertThat(sample(m, "baton_dispatch_group_total_lag", "group=\"feed\"")).isEqualTo(240);
        assertThat(sample(m, "baton_dispatch_head", "group=\"feed\"")).isEqualTo(100);
        assertThat(sample(m, "baton_dispatch_since_touched_seconds", "target=\"t1\"")).isGreaterThanOrEqualTo(0);
        // Events and queues.
        assertThat(sample(m, "baton_events_pending")).isEqualTo(1);
        assertThat(sample(m, "baton_queue_items", "queue=\"fetch\"")).isEqualTo(3);
        assertThat(sample(m, "baton_queue_ready", "queue=\"fetch\"")).isEqualTo(1);
        assertThat(sample(m, "baton_queue_claimed", "queue=\"fetch\"")).isEqualTo(1);
        assertThat(sample(m, "baton_queue_gated", "queue=\"fetch\"")).isEqualTo(1);
        assertThat(sample(m, "baton_queue_claim_latency_seconds_count")).isEqualTo(1);
        // Raft and sessions of this node.
        assertThat(sample(m, "baton_raft_leader")).isEqualTo(1);
        assertThat(sample(m, "baton_raft_applied_index")).isGreaterThan(10);
        assertThat(sample(m, "baton_raft_commands_applied_total")).isGreaterThanOrEqualTo(20);
        assertThat(sample(m, "baton_raft_log_size_bytes")).isPositive();
        assertThat(sample(m, "baton_sessions_opened_total")).isGreaterThanOrEqualTo(8);
        assertThat(m).contains("jvm_memory_used_bytes").contains("process_cpu_usage").contains("node=\"n1\"");
    }

    @Test
    void adminJsonReportsTheScenario() throws Exception {
        // While "page" was busy: its holder with its fence, and two waiters (one for anyone).
        assertThat(poolSnapshotWhileBusy.getAsJsonArray("holders")).hasSize(1);
        assertThat(poolSnapshotWhileBusy.getAsJsonArray("holders").get(0).getAsJsonObject().get("fence").getAsLong())
                .isPositive();
        JsonArray waiters = poolSnapshotWhileBusy.getAsJsonArray("waiters");
        assertThat(waiters).hasSize(2);
        assertThat(waiters.get(1).getAsJsonObject().get("forAnyone").getAsBoolean()).isTrue();
        JsonObject busy = poolsWhileBusy.getAsJsonArray("pools").get(0).getAsJsonObject();
        assertThat(busy.get("key").getAsString()).isEqualTo("page");
        assertThat(busy.get("holders").getAsInt()).isEqualTo(1);
        assertThat(busy.get("waiters").getAsInt()).isEqualTo(2);

        JsonObject totals = get("/api/pools").getAsJsonObject("totals");
        assertThat(totals.get("acquired").getAsLong()).isEqualTo(3);
        assertThat(totals.get("released").getAsLong()).isEqualTo(2);
        assertThat(totals.get("done").getAsLong()).isEqualTo(1);
        assertThat(totals.get("timeouts").getAsLong()).isEqualTo(2);
        assertThat(totals.get("queueFull").getAsLong()).isEqualTo(1);

        JsonObject groups = get("/api/dispatch").getAsJsonArray("groups").get(0).getAsJsonObject();
        assertThat(groups.get("name").getAsString()).isEqualTo("feed");
        assertThat(groups.get("maxLag").getAsLong()).isEqualTo(100);
        assertThat(groups.get("totalLag").getAsLong()).isEqualTo(240);
        assertThat(groups.get("targets").getAsInt()).isEqualTo(3);
        JsonArray targets = get("/api/dispatch/feed").getAsJsonArray("targets");
        Map<String, Long> lag = new LinkedHashMap<>();
        for (JsonElement t : targets) {
            lag.put(t.getAsJsonObject().get("id").getAsString(), t.getAsJsonObject().get("lag").getAsLong());
        }
        assertThat(lag).containsExactly(Map.entry("t2", 100L), Map.entry("t3", 100L), Map.entry("t1", 40L));
        JsonObject top = get("/api/dispatch/feed?limit=1");
        assertThat(top.get("count").getAsInt()).isEqualTo(3);
        assertThat(top.getAsJsonArray("targets")).hasSize(1);

        // The lag history fills as the node samples (every 100 ms here).
        TestWaits.await("a lag sample of feed", () -> {
            try {
                JsonArray gs = get("/api/dispatch-history").getAsJsonArray("groups");
                return gs.size() == 1 && lastOf(gs.get(0).getAsJsonObject().getAsJsonArray("maxLag")) == 100;
            } catch (Exception ex) {
                throw new IllegalStateException(ex);
            }
        });
        JsonObject hist = get("/api/dispatch-history").getAsJsonArray("groups").get(0).getAsJsonObject();
        assertThat(hist.getAsJsonArray("times").size()).isEqualTo(hist.getAsJsonArray("maxLag").size());
        assertThat(hist.getAsJsonArray("targets")).hasSize(3);

        JsonArray events = get("/api/events").getAsJsonArray("events");
        assertThat(events).hasSize(1);
        assertThat(events.get(0).getAsJsonObject().get("name").getAsString()).isEqualTo("robots");
        JsonObject q = get("/api/queues").getAsJsonArray("queues").get(0).getAsJsonObject();
        assertThat(q.get("items").getAsInt()).isEqualTo(3);
        assertThat(q.get("ready").getAsInt()).isEqualTo(1);
        assertThat(q.get("claimed").getAsInt()).isEqualTo(1);
        assertThat(q.get("gated").getAsInt()).isEqualTo(1);
        JsonArray items = get("/api/queues/fetch").getAsJsonArray("items");
        assertThat(items).hasSize(3);
        assertThat(items.get(0).getAsJsonObject().get("payloadBytes").getAsInt()).isEqualTo(3);

        JsonObject cluster = get("/api/cluster");
        assertThat(cluster.get("leaderNodeId").getAsString()).isEqualTo("n1");
        JsonObject member = cluster.getAsJsonArray("members").get(0).getAsJsonObject();
        assertThat(member.get("reachable").getAsBoolean()).isTrue();
        assertThat(member.get("leader").getAsBoolean()).isTrue();
        assertThat(member.get("appliedIndex").getAsLong()).isPositive();
        assertThat(cluster.getAsJsonObject("pools").get("acquired").getAsLong()).isEqualTo(3);
        assertThat(cluster.getAsJsonObject("summary").get("events").getAsInt()).isEqualTo(1);
    }

    private static long lastOf(JsonArray a) {
        return a.isEmpty() ? -1 : a.get(a.size() - 1).getAsLong();
    }

    @Test
    void statsAndAdminStatusReadTheSameNumbersAsMetrics() throws Exception {
        Map<String, String> stats = new LinkedHashMap<>();
        LineClient c = line();
        c.send("STATS FULL");
        for (String l = c.read(); !l.isEmpty(); l = c.read()) {
            int i = l.indexOf(": ");
            stats.put(l.substring(0, i), l.substring(i + 2));
        }
        String m = metrics();
        assertThat(Long.parseLong(stats.get("total_acquired"))).isEqualTo(3)
                .isEqualTo((long) sample(m, "baton_pool_acquires_total", "result=\"locked\""));
        assertThat(Long.parseLong(stats.get("total_releases"))).isEqualTo(2)
                .isEqualTo((long) sample(m, "baton_pool_releases_total"));
        assertThat(Long.parseLong(stats.get("full_queues"))).isEqualTo(1)
                .isEqualTo((long) sample(m, "baton_pool_acquires_total", "result=\"queue_full\""));

        // What `baton status` prints: the Admin status's pool counters.
        ManagedChannel ch = ManagedChannelBuilder.forTarget(server.apiEndpoint()).usePlaintext().build();
        try {
            PoolTotals p = AdminGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .status(StatusRequest.getDefaultInstance()).getPools();
            assertThat(List.of(p.getAcquired(), p.getReleased(), p.getDone(), p.getTimeouts(), p.getQueueFull()))
                    .containsExactly(3L, 2L, 1L, 2L, 1L);
            assertThat(List.of(p.getKeys(), p.getProcessing(), p.getWaiting())).containsExactly(1L, 1L, 0L);
        } finally {
            ch.shutdownNow();
        }
    }

    // ---- health, sessions, errors, static files -------------------------------------------------

    @Test
    void healthReportsLiveAndReady() throws Exception {
        assertThat(get("/health/live").get("status").getAsString()).isEqualTo("live");
        JsonObject ready = get("/health/ready");
        assertThat(ready.get("status").getAsString()).isEqualTo("ready");
        assertThat(ready.get("leader").getAsString()).isEqualTo(server.node().options().endpoint());
        // a single node leads: a balancer that follows /health/leader sends its clients here
        JsonObject leading = get("/health/leader");
        assertThat(leading.get("status").getAsString()).isEqualTo("leader");
        assertThat(leading.has("reason")).isFalse();
    }

    @Test
    void sessionsCanBeListedAndForceClosed() throws Exception {
        BatonClient victim = client();
        victim.locks().acquire("job", Duration.ZERO);
        JsonObject list = get("/api/sessions?limit=1000");
        JsonObject row = null;
        for (JsonElement s : list.getAsJsonArray("sessions")) {
            if (s.getAsJsonObject().get("id").getAsLong() == victim.sessionId()) {
                row = s.getAsJsonObject();
            }
        }
        assertThat(row).as("the victim's session is listed").isNotNull();
        assertThat(row.getAsJsonObject("locksHeld").has("job")).isTrue();
        assertThat(list.get("count").getAsInt()).isGreaterThanOrEqualTo(list.getAsJsonArray("sessions").size());

        HttpResponse<String> closed = post("/api/sessions/" + victim.sessionId() + "/close");
        assertThat(closed.statusCode()).as(closed.body()).isEqualTo(200);
        assertThat(JsonParser.parseString(closed.body()).getAsJsonObject().get("closed").getAsBoolean()).isTrue();
        assertThat(server.node().readLocal(new dev.baton.core.command.Query.GetLock("job"))).as("released").isNull();
        assertThat(post("/api/sessions/" + victim.sessionId() + "/close").statusCode()).isEqualTo(404);
        assertThat(post("/api/sessions/abc/close").statusCode()).isEqualTo(400);
    }

    @Test
    void badRequestsGetClearErrorsAndChangeNothing() throws Exception {
        long before = server.node().lastAppliedIndex();
        HttpResponse<String> sort = request("GET", "/api/pools?sort=biggest");
        assertThat(sort.statusCode()).isEqualTo(400);
        assertThat(sort.body()).contains("\"error\":\"BAD_REQUEST\"").contains("sort must be");
        assertThat(request("GET", "/api/pools?limit=-1").statusCode()).isEqualTo(400);
        assertThat(request("GET", "/api/pools?limit=99999999").statusCode()).isEqualTo(400);
        assertThat(request("GET", "/api/pools/no-such-key").statusCode()).isEqualTo(404);
        assertThat(request("GET", "/api/dispatch/no-such-group").statusCode()).isEqualTo(404);
        // "history" is a group name like any other (the lag history is /api/dispatch-history)
        HttpResponse<String> history = request("GET", "/api/dispatch/history");
        assertThat(history.statusCode()).isEqualTo(404);
        assertThat(history.body()).contains("no dispatch group 'history'");
        assertThat(request("GET", "/api/queues/no-such-queue").statusCode()).isEqualTo(404);
        assertThat(request("GET", "/api/nothing").statusCode()).isEqualTo(404);
        assertThat(request("GET", "/nothing").statusCode()).isEqualTo(404);
        assertThat(request("DELETE", "/api/pools").statusCode()).isEqualTo(405);
        assertThat(request("GET", "/dashboard/../../etc/passwd").statusCode()).isEqualTo(404);
        assertThat(request("GET", "/dashboard/%2e%2e/baton.properties").statusCode()).isEqualTo(404);
        assertThat(server.node().lastAppliedIndex()).as("no write happened").isLessThanOrEqualTo(before + 5);
    }

    @Test
    void keysWithSlashesSpacesAndPlusesAreAddressable() throws Exception {
        JsonObject p = get("/api/pools/wiki%2FMain%20Page+1");
        assertThat(p.get("key").getAsString()).isEqualTo("wiki/Main Page+1");
        assertThat(p.getAsJsonArray("holders")).hasSize(1);
        assertThat(get("/api/pools?sort=key").getAsJsonArray("pools").get(0).getAsJsonObject().get("key").getAsString())
                .isEqualTo("wiki/Main Page+1");
    }

    @Test
    void servesTheDashboard() throws Exception {
        HttpResponse<String> root = request("GET", "/");
        assertThat(root.statusCode()).isEqualTo(302);
        assertThat(root.headers().firstValue("Location")).hasValue("/dashboard/");
        HttpResponse<String> page = request("GET", "/dashboard/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        // Nothing from a CDN or the internet: every script and stylesheet is the node's own.
        assertThat(page.body()).contains("<html").doesNotContainPattern("(src|href)=[\"']?(https?:)?//");
    }

    @Test
    void locksListsHoldersFencesAndWaiters() throws Exception {
        BatonClient holder = client();
        BatonClient waiter = client();
        var held = holder.locks().acquire("deploy/site", Duration.ZERO);
        var queued = waiter.locks().acquireAsync("deploy/site", Duration.ofMinutes(1));
        TestWaits.await("a lock waiter", () -> server.node()
                .readLocal(new dev.baton.core.command.Query.GetLock("deploy/site")).waiters().size() == 1);
        JsonObject list = get("/api/locks?limit=1");
        assertThat(list.get("count").getAsInt()).isGreaterThanOrEqualTo(1);
        JsonArray locks = list.getAsJsonArray("locks");
        assertThat(locks).hasSize(1); // the one with most waiters first
        JsonObject lock = locks.get(0).getAsJsonObject();
        assertThat(lock.get("name").getAsString()).isEqualTo("deploy/site");
        assertThat(lock.get("holder").getAsLong()).isEqualTo(holder.sessionId());
        assertThat(lock.get("fence").getAsLong()).isEqualTo(held.fence());
        assertThat(lock.get("since").getAsLong()).isPositive();
        JsonObject w = lock.getAsJsonArray("waiters").get(0).getAsJsonObject();
        assertThat(w.get("session").getAsLong()).isEqualTo(waiter.sessionId());
        assertThat(w.get("deadline").getAsLong()).isGreaterThan(w.get("since").getAsLong());
        holder.locks().release("deploy/site", held.fence());
        var granted = TestWaits.get(queued);
        waiter.locks().release("deploy/site", granted.fence());
        assertThat(request("GET", "/api/locks?limit=-1").statusCode()).isEqualTo(400);
    }

    @Test
    void raftHealthMetrics() throws Exception {
        String m = metrics();
        // One node elected itself once; every write of the scenario went through its commit timer.
        assertThat(sample(m, "baton_raft_leader_changes_total")).isEqualTo(1);
        assertThat(sample(m, "baton_raft_commit_seconds_count")).isGreaterThanOrEqualTo(10);
        assertThat(sample(m, "baton_raft_commit_seconds_bucket", "le=\"+Inf\""))
                .isEqualTo(sample(m, "baton_raft_commit_seconds_count"));
        assertThat(sample(m, "baton_raft_log_size_bytes")).isPositive();
        assertThat(sample(m, "baton_raft_snapshot_size_bytes")).isGreaterThanOrEqualTo(0);
        assertThat(sample(m, "baton_raft_snapshot_age_seconds")).isGreaterThanOrEqualTo(-1);
        TestWaits.get(server.node().snapshotNow());
        BatonNode.SnapshotFiles files = server.node().snapshotFiles();
        assertThat(files.bytes()).isPositive();
        assertThat(files.newestModifiedMillis()).isGreaterThan(System.currentTimeMillis() - 600_000);
    }

    /**
     * The Grafana dashboard, the alert rules and the dashboard's own script use only metric names this
     * node exports (after the scenario, so the per-key series exist), and the dashboard has the shape
     * Grafana imports: a datasource variable, panels with a type, a place and queries.
     */
    @Test
    void monitoringFilesUseOnlyExportedMetrics() throws Exception {
        Set<String> exported = OpsFiles.sampleNames(metrics());
        JsonObject d = OpsFiles.dashboardJson();
        assertThat(d.get("title").getAsString()).isNotBlank();
        assertThat(d.get("uid").getAsString()).isNotBlank();
        List<String> vars = new ArrayList<>();
        d.getAsJsonObject("templating").getAsJsonArray("list")
                .forEach(v -> vars.add(v.getAsJsonObject().get("name").getAsString()));
        assertThat(vars).contains("datasource", "node");
        List<JsonObject> panels = OpsFiles.panels(d);
        Set<String> titles = new java.util.TreeSet<>();
        int queried = 0;
        for (JsonObject p : panels) {
            String title = p.get("title").getAsString();
            assertThat(p.get("type").getAsString()).as(title).isNotBlank();
            assertThat(p.getAsJsonObject("gridPos").get("w").getAsInt()).as(title).isBetween(1, 24);
            if (p.get("type").getAsString().equals("row")) {
                continue;
            }
            assertThat(titles.add(title)).as("one panel titled " + title).isTrue();
            assertThat(p.getAsJsonObject("datasource").get("uid").getAsString()).as(title).isEqualTo("${datasource}");
            JsonArray targets = p.getAsJsonArray("targets");
            assertThat(targets).as(title).isNotEmpty();
            for (JsonElement t : targets) {
                assertThat(t.getAsJsonObject().get("expr").getAsString()).as(title).isNotBlank();
            }
            queried++;
        }
        assertThat(queried).isGreaterThanOrEqualTo(20);
        assertThat(titles).contains("Wait p99 per hot key", "Hold p99 per hot key", "Leader changes",
                "Commit latency (leader)", "Applied behind commit", "Log and snapshot size", "Locks held");

        Set<String> used = new java.util.TreeSet<>();
        for (String e : OpsFiles.dashboardExprs(d)) {
            used.addAll(OpsFiles.metricNames(e));
        }
        used.addAll(OpsFiles.metricNames(Files.readString(OpsFiles.alerts())));
        String script = new String(getClass().getResourceAsStream("/dashboard/app.js").readAllBytes(),
                java.nio.charset.StandardCharsets.UTF_8);
        used.addAll(OpsFiles.metricNames(script));
        assertThat(used).hasSizeGreaterThan(30);
        assertThat(used.stream().filter(n -> !OpsFiles.exported(n, exported)).toList())
                .as("metric names used by ops/ or the dashboard but not exported by a node").isEmpty();
    }

    @Test
    void lagHistoryIsBounded() {
        LagHistory h = new LagHistory(server.node(), 1_000, 3);
        for (int i = 0; i < 10; i++) {
            h.sample(1_000L * i);
        }
        @SuppressWarnings("unchecked")
        var groups = (List<Map<String, Object>>) h.toJson().get("groups");
        assertThat(groups.get(0).get("times")).isEqualTo(List.of(7_000L, 8_000L, 9_000L));
        assertThat(((Number) h.toJson().get("intervalMs")).longValue()).isEqualTo(1_000);
    }
}
