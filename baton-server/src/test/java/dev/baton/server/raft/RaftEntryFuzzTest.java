package dev.baton.server.raft;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.*;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;
import dev.baton.core.util.BinaryReader.MalformedException;
import dev.baton.server.raft.RaftEntryCodec.UnreadableEntryException;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Fuzzes what a replica does with the data of a committed Raft entry: {@link RaftEntryCodec#decode}
 * (the host's header), then the core's {@link CoordinationStateMachine#update} (the command batch).
 * Properties: the header either reads or fails with {@link UnreadableEntryException}, the codec's
 * documented error (the host then halts on that entry), and {@link RaftEntryCodec#timestamp} agrees
 * with it; a header that reads re-encodes to the same bytes; and applying the payload to a fresh
 * state machine never throws: a batch that does not decode is answered MALFORMED (and changes
 * nothing), one that does is applied command by command.
 *
 * <p>The batch is applied at a fixed leader time rather than the header's: the timestamp is the
 * leader's clock, never a client's bytes.
 */
class RaftEntryFuzzTest {
    private static final long NOW = 1_700_000_000_000L;

    @MethodSource("seeds")
    @FuzzTest
    void decodeAndApply(byte[] data) {
        Entry entry;
        try {
            entry = RaftEntryCodec.decode(7, ByteBuffer.wrap(data));
        } catch (UnreadableEntryException documented) {
            assertThatThrownBy(() -> RaftEntryCodec.timestamp(7, ByteBuffer.wrap(data)))
                    .isInstanceOf(UnreadableEntryException.class);
            return;
        }
        assertThat(entry.index()).isEqualTo(7);
        assertThat(RaftEntryCodec.timestamp(7, ByteBuffer.wrap(data))).isEqualTo(entry.timestamp());
        ByteBuffer again = RaftEntryCodec.encode(entry.timestamp(), entry.payload());
        byte[] againBytes = new byte[again.remaining()];
        again.get(againBytes);
        assertThat(againBytes).isEqualTo(data);

        boolean decodes;
        try {
            CommandCodec.decodeBatch(entry.payload());
            decodes = true;
        } catch (MalformedException e) {
            decodes = false;
        }
        CoordinationStateMachine sm = new CoordinationStateMachine();
        Applied applied = sm.update(List.of(new Entry(1, NOW, entry.payload()))).get(0);
        if (!decodes) {
            assertThat(applied.results()).singleElement()
                    .isInstanceOfSatisfying(Result.Rejected.class, r -> assertThat(r.code()).isEqualTo(ErrorCode.MALFORMED));
        }
        assertThat(sm.lastApplied()).isEqualTo(1);
    }

    static Stream<Arguments> seeds() {
        List<Command> setUp = List.of(
                new OpenSession("t", 10_000),
                new OpenSession(null, 5_000),
                new PoolAcquire(1, 1, "k", 1, 5, 0, false),
                new PoolAcquire(2, 1, "k", 1, 5, 30_000, false),
                new LockAcquire(1, 2, "l", 0),
                new LockAcquire(2, 2, "l", 10_000),
                new DispatchInit(1, 3, "g", Map.of("a", "A"), new DispatchSettings(10, 10, 1)),
                new DispatchSelect(1, 4, "g"),
                new EventBegin(1, 5, "e"),
                new QueueEnqueue(1, 6, "q", "i", Bytes.utf8("p"), List.of("e")),
                new QueueClaim(2, 3, "q", 5),
                new PoolRelease(1, 7, null, 0),
                new CloseSession(2, 4),
                new ExpireWaits());
        return Stream.concat(Stream.of(setUp), setUp.stream().map(List::of))
                .map(cs -> RaftEntryCodec.encode(NOW, CommandCodec.encodeBatch(cs)))
                .map(b -> {
                    byte[] out = new byte[b.remaining()];
                    b.get(out);
                    return Arguments.of((Object) out);
                });
    }
}
