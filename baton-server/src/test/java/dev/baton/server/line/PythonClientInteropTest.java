package dev.baton.server.line;

import dev.baton.server.node.ApiServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The door driven by a program that is not Java: {@code php_style_client.py} (python3, standard
 * library only) speaks to it exactly as MediaWiki's PHP client and the STATS exporter do.
 */
class PythonClientInteropTest {

    private static boolean python3() {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void aPhpStyleClientWrittenInPythonWorksUnchanged(@TempDir Path dir) throws Exception {
        assumeTrue(python3(), "python3 is not installed: skipping the non-Java client test");
        Path script = dir.resolve("php_style_client.py");
        try (var in = getClass().getResourceAsStream("/poolcounter/php_style_client.py")) {
            Files.copy(in, script);
        }
        ApiServer server = LineProtocolTest.startServer(dir, LineDoor.Config.defaults("127.0.0.1", 10_000).withPort(0));
        try {
            Process p = new ProcessBuilder("python3", script.toString(), "127.0.0.1",
                    Integer.toString(server.lineDoor().port())).redirectErrorStream(true).start();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the script finished").isTrue();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            System.out.println(out);
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).contains("ok   waiter: DONE").contains("all checks passed");
        } finally {
            server.close();
        }
    }
}
