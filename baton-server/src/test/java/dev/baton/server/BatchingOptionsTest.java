package dev.baton.server;

import dev.baton.server.ServerCommandAccess.Run;
import dev.baton.server.node.ApiServer;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.ProposalBatcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --batch-fill-wait} and {@code --batch-hold-wait} of {@code baton server}: the leader's
 * batcher gets what they say (on the command line, in a {@code --config} file, from the environment),
 * the defaults are the batcher's own, and a value out of range stops the start with exit code 2,
 * naming the option, before anything is written.
 */
class BatchingOptionsTest {
    @TempDir
    Path dir;

    private static Run server(String... args) {
        return ServerCommandAccess.refusedStart(args);
    }

    /** The batcher configuration {@code baton server <args>} would start with (env: the environment). */
    private static ProposalBatcher.Config batching(Map<String, String> env, String... args) {
        ServerCommand command = new ServerCommand();
        ServerCommand.withConfigFile(new CommandLine(command), args, env).parseArgs(args);
        return command.batching();
    }

    @Test
    void withoutTheOptionsTheBatcherKeepsItsDefaults() {
        assertThat(batching(Map.of())).isEqualTo(ProposalBatcher.Config.defaults());
    }

    @Test
    void theOptionsSetTheFillAndHoldWaitsAndNothingElse() throws Exception {
        ProposalBatcher.Config off = batching(Map.of(), "--batch-fill-wait", "0", "--batch-hold-wait", "0ms");
        assertThat(off).isEqualTo(ProposalBatcher.Config.defaults().withFillMicros(0).withHoldWaitingMicros(0));

        ProposalBatcher.Config fine = batching(Map.of(), "--batch-fill-wait", "0.5ms", "--batch-hold-wait", "5");
        assertThat(fine.fillMicros()).isEqualTo(500);
        assertThat(fine.holdWaitingMicros()).isEqualTo(5_000);

        Path config = Files.writeString(dir.resolve("baton.properties"), "batch-fill-wait=3ms\nbatch-hold-wait=10ms\n");
        ProposalBatcher.Config fromFile = batching(Map.of(), "--config", config.toString());
        assertThat(fromFile.fillMicros()).isEqualTo(3_000);
        assertThat(fromFile.holdWaitingMicros()).isEqualTo(10_000);

        ProposalBatcher.Config fromEnv = batching(Map.of("BATON_BATCH_FILL_WAIT", "2ms"), "--options-from-env",
                "--config", config.toString());
        assertThat(fromEnv.fillMicros()).as("the environment wins over the file").isEqualTo(2_000);
        assertThat(fromEnv.holdWaitingMicros()).isEqualTo(10_000);
    }

    @Test
    void aValueOutOfRangeStopsTheStartNamingTheOption() throws Exception {
        Path data = dir.resolve("never-created");
        Run tooLong = server("--data-dir", data.toString(), "--batch-fill-wait", "20ms");
        assertThat(tooLong.code()).isEqualTo(2);
        assertThat(tooLong.err()).contains("baton server: --batch-fill-wait must be between 0 and 10ms, got 20ms");

        Run negative = server("--data-dir", data.toString(), "--batch-hold-wait", "-1");
        assertThat(negative.code()).isEqualTo(2);
        assertThat(negative.err()).contains("--batch-hold-wait must be between 0 and 100ms, got a negative duration");

        Path config = Files.writeString(dir.resolve("bad.properties"), "batch-hold-wait=101ms\ndata-dir=" + data + "\n");
        Run viaConfig = server("--config", config.toString());
        assertThat(viaConfig.code()).isEqualTo(2);
        assertThat(viaConfig.err()).contains("--batch-hold-wait must be between 0 and 100ms, got 101ms");

        Run notADuration = server("--data-dir", data.toString(), "--batch-fill-wait", "soon");
        assertThat(notADuration.code()).isEqualTo(2);
        assertThat(notADuration.err()).contains("--batch-fill-wait").contains("is not a duration");
        assertThat(data).doesNotExist();
    }

    @Test
    void theNodeBuiltFromTheConfigBatchesAsConfigured() {
        BatonNode.Options node = new BatonNode.Options("n1", "baton", dir.resolve("data"), "127.0.0.1",
                TestPorts.free(), List.of(), 1000, 3600, true);
        ProposalBatcher.Config wanted = ProposalBatcher.Config.defaults().withFillMicros(0).withHoldWaitingMicros(750);
        ApiServer server = new ApiServer(new ApiServer.Config(node, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withBatching(wanted));
        try {
            assertThat(server.node().batching()).isEqualTo(wanted);
        } finally {
            server.close();
        }
        ApiServer plain = new ApiServer(new ApiServer.Config(node, "127.0.0.1", 0, 10_000, UnaryOperator.identity()));
        try {
            assertThat(plain.node().batching()).isEqualTo(ProposalBatcher.Config.defaults());
        } finally {
            plain.close();
        }
    }
}
