package dev.baton.core.machine;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command.*;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.testing.FuzzSupport;
import dev.baton.core.testing.Harness;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes {@link CoordinationStateMachine#recoverFromSnapshot} (that is, {@link SnapshotCodec#read}).
 * The fuzzer's bytes are the snapshot's body and the test appends their correct CRC32C, so that the
 * fuzzer explores the decoder instead of the checksum. Properties: any body either recovers or fails
 * with {@link IOException} (the documented error); recovery allocates within
 * {@link FuzzSupport#allocationBudget}; a recovered state writes a snapshot that recovers to a state
 * writing the same bytes (the format is canonical after one round).
 */
class SnapshotRecoveryFuzzTest {

    @MethodSource("seeds")
    @FuzzTest
    void recover(byte[] body) throws IOException {
        byte[] snapshot = withChecksum(body);
        CoordinationStateMachine sm = new CoordinationStateMachine();
        try {
            FuzzSupport.withinBudget(snapshot.length, () -> {
                sm.recoverFromSnapshot(new ByteArrayInputStream(snapshot));
                return null;
            });
        } catch (IOException documented) {
            return;
        }
        byte[] once = Harness.snapshotOf(sm);
        CoordinationStateMachine again = new CoordinationStateMachine();
        again.recoverFromSnapshot(new ByteArrayInputStream(once));
        assertThat(Harness.snapshotOf(again)).isEqualTo(once);
    }

    static byte[] withChecksum(byte[] body) {
        CRC32C crc = new CRC32C();
        crc.update(body);
        byte[] out = Arrays.copyOf(body, body.length + 8);
        long v = crc.getValue();
        for (int i = 0; i < 8; i++) {
            out[body.length + i] = (byte) (v >>> (56 - 8 * i));
        }
        return out;
    }

    /** Snapshot bodies (without their checksum) of an empty state and of one with something of everything. */
    static Stream<Arguments> seeds() {
        Harness h = new Harness();
        byte[] empty = h.snapshot();
        long a = h.apply(new OpenSession("token-a", 10_000), dev.baton.core.command.Result.SessionOpened.class).session();
        long b = h.open();
        h.apply(new PoolAcquire(a, 1, "pool", 1, 5, 0, false));
        h.apply(new PoolAcquire(b, 1, "pool", 1, 5, 30_000, false));
        h.apply(new PoolAcquire(b, 2, "any", 2, 5, 0, true));
        h.apply(new LockAcquire(a, 2, "lock", 0));
        h.apply(new LockAcquire(b, 3, "lock", 20_000));
        h.apply(new DispatchInit(a, 3, "group", Map.of("x", "X", "y", "Y"), new DispatchSettings(100, 10, 2)));
        h.apply(new DispatchSelect(a, 4, "group"));
        h.apply(new EventBegin(a, 5, "ev"));
        h.apply(new QueueEnqueue(a, 6, "q", "i1", Bytes.utf8("payload"), List.of("ev")));
        h.apply(new QueueEnqueue(a, 7, "q", "i2", Bytes.EMPTY, List.of()));
        h.apply(new QueueClaim(b, 4, "q", 1));
        h.apply(new AnnounceNode("127.0.0.1:8101", "n1", "127.0.0.1:7530"));
        byte[] full = h.snapshot();
        return Stream.of(empty, full).map(s -> Arguments.of((Object) Arrays.copyOf(s, s.length - 8)));
    }
}
