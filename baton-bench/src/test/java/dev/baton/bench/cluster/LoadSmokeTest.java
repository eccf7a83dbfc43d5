package dev.baton.bench.cluster;

import dev.baton.bench.load.BatonContender;
import dev.baton.bench.load.Contender;
import dev.baton.bench.load.Keys;
import dev.baton.bench.load.LineContender;
import dev.baton.bench.load.Load;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CI's smoke run of the comparison's load generator ({@link Load}): about 12 s of load against one
 * real {@code baton server} process, through the Java client and through the line port, with kept
 * connections and with one connection (or session) per acquire + release pair. It checks
 * that the generator and the contenders work, never a speed: no W violation, no error, no stuck
 * client, and some pairs done.
 */
@Timeout(240)
class LoadSmokeTest {
    private static ServerProcesses node;
    private static List<Long> pids;

    @BeforeAll
    static void startNode() throws Exception {
        node = new ServerProcesses(1, System.getProperty("java.class.path"), "-Xmx256m", "").withLinePorts();
        node.startAll();
        node.awaitServing();
        pids = new ArrayList<>();
        node.nodes().forEach(n -> pids.add(n.pid()));
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.close();
        }
    }

    private static Load.Result run(Contender c, Keys keys, int workers) throws InterruptedException {
        return run(c, keys, workers, Load.Connect.KEPT);
    }

    private static Load.Result run(Contender c, Keys keys, int workers, Load.Connect connect)
            throws InterruptedException {
        // 1 s of warm-up and a 2 s window: thousands of pairs, enough for every check below, which
        // are about soundness, never speed (a 4 s window added 8 s to every CI run for nothing more).
        Load.Result r = Load.run(c, new Load.Config("smoke " + c.name() + " " + connect.label(), 8, keys, workers, 1000,
                10, 1000, 1, 2, false, pids, connect));
        System.out.println(r.human());
        return r;
    }

    private static void assertSound(Load.Result r) {
        assertThat(r.violations()).as("times a key had more than W holders").isZero();
        assertThat(r.errors()).as("errors by kind").isEmpty();
        assertThat(r.stuck()).as("stuck clients").isZero();
        // Pairs done at any time in the run, not in the window: a stall of a loaded machine (seen on CI,
        // with other modules' tests beside) can leave a 2 s window empty; this checks the load works.
        assertThat(r.pairsInRun()).as("acquire + release pairs in the run").isPositive();
    }

    @Test
    void javaClientOverManyKeys() throws Exception {
        assertSound(run(new BatonContender("baton1-java", node.apiEndpoints()), Keys.uniform(100), 2));
    }

    @Test
    void javaClientWithASessionPerPair() throws Exception {
        Load.Result r = run(new BatonContender("baton1-java", node.apiEndpoints()), Keys.uniform(100), 2,
                Load.Connect.PER_PAIR);
        assertSound(r);
        // Of the pairs counted in the window, all but each thread's first were opened after that thread's
        // previous close, inside the window, so their opens were recorded there.
        assertThat(r.open().getTotalCount()).as("sessions opened in the window")
                .isGreaterThanOrEqualTo(r.pairs() - r.config().clients());
        assertThat(r.json(Map.of())).contains("\"connect\":\"per-pair\"", "\"open_p50_us\":");
    }

    @Test
    void oneJavaClientSharedByEveryThreadOnHotKeys() throws Exception {
        // Eight threads on one BatonClient, Zipf over 20 keys, W=1: the client puts acquires of a key
        // another thread of it holds on its sessions as it chooses, and each release must reach the
        // grant's session. Any mix-up shows as an error (LOCK_HELD, NOT_LOCKED) or two holders.
        try (BatonContender shared = BatonContender.shared("baton1-java-shared", node.apiEndpoints(), null, null)) {
            assertThat(shared.facts().get("client")).contains("one client shared by all client threads");
            assertSound(run(shared, Keys.zipf(20, 0.99), 1));
            assertSound(run(shared, Keys.uniform(100), 2, Load.Connect.PER_PAIR));
        }
    }

    @Test
    void linePortWithAConnectionPerPair() throws Exception {
        // Every pair: connect, ACQ4ME, RELEASE, close; the node opens and closes a session for each.
        Load.Result r = run(new LineContender("baton1-line", node.lineAddresses()), Keys.zipf(20, 0.99), 1,
                Load.Connect.PER_PAIR);
        assertSound(r);
        // Of the pairs counted in the window, all but each thread's first were opened after that thread's
        // previous close, inside the window, so their opens were recorded there.
        assertThat(r.open().getTotalCount()).as("connections opened in the window")
                .isGreaterThanOrEqualTo(r.pairs() - r.config().clients());
    }

    @Test
    void linePortOnHotKeys() throws Exception {
        // Zipf over 20 keys, W=1: most acquires queue behind a holder, so hand-overs are exercised.
        assertSound(run(new LineContender("baton1-line", node.lineAddresses()), Keys.zipf(20, 0.99), 1));
    }
}
