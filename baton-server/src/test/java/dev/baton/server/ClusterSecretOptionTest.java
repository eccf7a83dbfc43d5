package dev.baton.server;

import dev.baton.server.grpc.ClusterSecret;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --cluster-secret-file} and {@code BATON_CLUSTER_SECRET}: a node of a cluster without a
 * secret, or with a short one, does not start, says which option to give, and leaves nothing on
 * disk; the file's contents are trimmed; the option wins over the environment.
 */
class ClusterSecretOptionTest {

    @Test
    void aClusterNodeWithoutASecretDoesNotStart(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("d");
        Result r = run(tmp, null, "--data-dir", data.toString(), "--node-id", "n1",
                "--peers", "n1=127.0.0.1:" + freePort() + ",n2=127.0.0.1:" + freePort());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.out).contains("needs the cluster secret").contains("--cluster-secret-file");
        assertThat(data).doesNotExist();
    }

    @Test
    void aJoiningNodeWithoutASecretDoesNotStart(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("d");
        Result r = run(tmp, null, "--data-dir", data.toString(), "--join");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.out).contains("--cluster-secret-file");
        assertThat(data).doesNotExist();
    }

    @Test
    void aShortOrMissingSecretFileIsRefused(@TempDir Path tmp) throws Exception {
        Path shortFile = tmp.resolve("short.secret");
        Files.writeString(shortFile, "  fifteen-bytes!  \n"); // 15 bytes once trimmed
        Result r = run(tmp, null, "--data-dir", tmp.resolve("d").toString(), "--cluster-secret-file", shortFile.toString());
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.out).contains(shortFile.toString()).contains("at least 16 bytes");

        Result missing = run(tmp, null, "--data-dir", tmp.resolve("d").toString(),
                "--cluster-secret-file", tmp.resolve("nope").toString());
        assertThat(missing.exit).isEqualTo(2);
        assertThat(missing.out).contains("cannot read the cluster secret file");

        Result shortEnv = run(tmp, "short", "--data-dir", tmp.resolve("d").toString());
        assertThat(shortEnv.exit).isEqualTo(2);
        assertThat(shortEnv.out).contains("BATON_CLUSTER_SECRET").contains("at least 16 bytes");
        assertThat(tmp.resolve("d")).doesNotExist();
    }

    @Test
    void theFileIsTrimmedAndWinsOverTheEnvironment(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("cluster.secret");
        Files.writeString(file, "\n  0123456789abcdef-secret \n\n");
        ServerCommand s = new ServerCommand();
        s.clusterSecretFile = file;
        ClusterSecret fromFile = s.clusterSecret("the-environment-secret-0123456789");
        assertThat(fromFile.generated()).isFalse();
        assertThat(accepts(fromFile, "0123456789abcdef-secret")).as("the trimmed text").isTrue();
        assertThat(accepts(fromFile, "\n  0123456789abcdef-secret \n\n")).isFalse();
        assertThat(accepts(fromFile, "the-environment-secret-0123456789")).as("the file wins").isFalse();

        s.clusterSecretFile = null;
        assertThat(accepts(s.clusterSecret("the-environment-secret-0123456789"), "the-environment-secret-0123456789"))
                .isTrue();
        assertThat(s.clusterSecret(null)).isNull();
        assertThat(s.clusterSecret("  ")).isNull();
        assertThatThrownBy(() -> s.clusterSecret("short")).hasMessageContaining("BATON_CLUSTER_SECRET");
    }

    /** True if a call carrying {@code text} (UTF-8) as its secret passes {@code b}'s real interceptor. */
    private static boolean accepts(ClusterSecret b, String text) {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(ClusterSecret.HEADER, text.getBytes(StandardCharsets.UTF_8));
        boolean[] started = {false};
        b.interceptor().interceptCall(new NoopCall(), headers, (call, h) -> {
            started[0] = true;
            return new io.grpc.ServerCall.Listener<>() {};
        });
        return started[0];
    }

    private static final class NoopCall extends io.grpc.ServerCall<Object, Object> {
        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(io.grpc.Metadata headers) {}

        @Override
        public void sendMessage(Object message) {}

        @Override
        public void close(io.grpc.Status status, io.grpc.Metadata trailers) {}

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public io.grpc.MethodDescriptor<Object, Object> getMethodDescriptor() {
            return null;
        }
    }

    private record Result(int exit, String out) {}

    private static Result run(Path tmp, String env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(NodeJvm.java());
        cmd.addAll(List.of(
                "-cp", System.getProperty("java.class.path"), ServerCommand.class.getName(),
                "--raft-port", Integer.toString(freePort()), "--api-port", Integer.toString(freePort()),
                "--line-port", Integer.toString(freePort()), "--http-port", Integer.toString(freePort())));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove(ClusterSecret.ENV);
        if (env != null) {
            pb.environment().put(ClusterSecret.ENV, env);
        }
        Files.createDirectories(tmp.resolve("jtmp"));
        pb.environment().put("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + tmp.resolve("jtmp"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("exited; output: %s", out).isTrue();
        return new Result(p.exitValue(), out);
    }

    private static int freePort() throws Exception {
        return dev.baton.server.TestPorts.free();
    }
}
