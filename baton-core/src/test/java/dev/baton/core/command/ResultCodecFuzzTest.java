package dev.baton.core.command;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.baton.core.testing.FuzzSupport;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryReader.MalformedException;
import dev.baton.core.util.BinaryWriter;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes {@link CommandCodec#decodeResult}, the remembered answers inside a snapshot's sessions.
 * Same properties as {@link CommandBatchFuzzTest}: decodes or fails with {@link MalformedException},
 * allocates within the budget, and what decodes re-encodes to bytes that decode to an equal result.
 */
class ResultCodecFuzzTest {

    @MethodSource("seeds")
    @FuzzTest
    void decodeResult(byte[] data) {
        Result decoded;
        try {
            decoded = FuzzSupport.withinBudget(data.length, () -> {
                BinaryReader r = new BinaryReader(data);
                Result res = CommandCodec.decodeResult(r);
                r.expectEnd();
                return res;
            });
        } catch (MalformedException documented) {
            return;
        }
        BinaryWriter w = new BinaryWriter();
        CommandCodec.encodeResult(w, decoded);
        BinaryReader r = new BinaryReader(w.toByteArray());
        assertThat(CommandCodec.decodeResult(r)).isEqualTo(decoded);
        r.expectEnd();
    }

    static Stream<Arguments> seeds() {
        return FuzzSupport.sampleResults().stream().map(res -> {
            BinaryWriter w = new BinaryWriter();
            CommandCodec.encodeResult(w, res);
            return Arguments.of((Object) w.toByteArray());
        });
    }
}
