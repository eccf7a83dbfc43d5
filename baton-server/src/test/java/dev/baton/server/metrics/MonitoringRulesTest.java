package dev.baton.server.metrics;

import com.google.gson.JsonObject;
import dev.baton.server.OpsFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Prometheus alert rules and the Grafana dashboard's queries, checked by Prometheus' own
 * {@code promtool}: the rules parse ({@code check rules}), fire and stay quiet as their rule tests
 * expect ({@code test rules}: series in, alerts out), and every dashboard query is valid PromQL.
 * That every metric they name is exported by a node is {@code HttpDoorTest}'s part.
 *
 * <p>{@code ./test} installs the Debian package {@code prometheus} (which has {@code promtool}) when
 * it is missing; these tests are skipped, saying so, only if it is still not there.
 */
class MonitoringRulesTest {
    static final Path PROMTOOL = Path.of("/usr/bin/promtool");

    @TempDir
    Path tmp;

    @BeforeAll
    static void needsPromtool() {
        assumeTrue(Files.isExecutable(PROMTOOL), "SKIPPED: promtool is not installed (./test installs the Debian"
                + " package prometheus; apt-get install prometheus)");
    }

    @Test
    void alertRulesAreValid() throws Exception {
        String out = promtool("check", "rules", OpsFiles.alerts().toString());
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void alertRulesFireAsTheirTestsExpect() throws Exception {
        String out = promtool("test", "rules", OpsFiles.alertTests().toString());
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void everyDashboardQueryIsValidPromQl() throws Exception {
        JsonObject d = OpsFiles.dashboardJson();
        List<String> exprs = OpsFiles.dashboardExprs(d);
        assertThat(exprs).isNotEmpty();
        // Each query as a recording rule, Grafana's variables replaced by what they stand for.
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < exprs.size(); i++) {
            String e = exprs.get(i).replace("$__rate_interval", "1m").replace("$node", ".*");
            assertThat(e).as("a Grafana variable left in " + exprs.get(i)).doesNotContain("$");
            rules.append("      - record: dashboard:q").append(i).append("\n        expr: '")
                    .append(e.replace("'", "''")).append("'\n");
        }
        Path file = tmp.resolve("dashboard-queries.yml");
        Files.writeString(file, rules);
        String out = promtool("check", "rules", file.toString());
        assertThat(out).contains("SUCCESS: " + exprs.size() + " rules found");
    }

    /** Runs promtool; its output, asserting that it exits 0. */
    private String promtool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(PROMTOOL.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("promtool finished").isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + "\n" + out).isZero();
        return out;
    }
}
