package dev.baton.core.command;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.baton.core.testing.FuzzSupport;
import dev.baton.core.util.BinaryReader.MalformedException;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes {@link CommandCodec#decodeBatch}, what every replica runs on every Raft entry's payload.
 * Properties: any bytes either decode or fail with {@link MalformedException} (the codec's
 * documented error, which the state machine turns into a MALFORMED result); decoding allocates at
 * most {@link FuzzSupport#allocationBudget} (linear in the input, whatever a length prefix says);
 * what decodes re-encodes within the codec's ceilings ({@link CommandCodec#encodeChecked} checks
 * {@code Limits.CODEC_MAX_*}) and decodes back to an equal batch.
 *
 * <p>Regression inputs: {@code src/test/resources/dev/baton/core/command/CommandBatchFuzzTestInputs/decodeBatch/}
 * (every crash found; see docs/fuzzing.md); seeds: {@link #seeds()}.
 */
class CommandBatchFuzzTest {

    @MethodSource("seeds")
    @FuzzTest
    void decodeBatch(byte[] data) {
        List<Command> decoded;
        try {
            decoded = FuzzSupport.withinBudget(data.length, () -> CommandCodec.decodeBatch(data));
        } catch (MalformedException documented) {
            return;
        }
        List<byte[]> reencoded = new ArrayList<>(decoded.size());
        for (Command c : decoded) {
            reencoded.add(CommandCodec.encodeChecked(c));
        }
        byte[] again = CommandCodec.batchOfEncoded(reencoded);
        assertThat(CommandCodec.decodeBatch(again)).isEqualTo(decoded);
    }

    static Stream<Arguments> seeds() {
        List<Command> all = FuzzSupport.sampleCommands();
        Stream<byte[]> one = all.stream().map(c -> CommandCodec.encodeBatch(List.of(c)));
        return Stream.concat(Stream.of(CommandCodec.encodeBatch(all), CommandCodec.encodeBatch(List.of())), one)
                .map(b -> Arguments.of((Object) b));
    }
}
