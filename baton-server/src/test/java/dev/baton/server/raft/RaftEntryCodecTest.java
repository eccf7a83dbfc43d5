package dev.baton.server.raft;

import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.sm.Entry;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RaftEntryCodecTest {

    private static final byte[] PAYLOAD = CommandCodec.encodeBatch(List.of(
            new Command.OpenSession("tok", 10_000), new Command.PoolAcquire(1, 1, "k", 1, 5, 0, false)));

    @Test
    void roundTrip() {
        ByteBuffer data = RaftEntryCodec.encode(1_700_000_000_123L, PAYLOAD);
        assertThat(data.remaining()).isEqualTo(RaftEntryCodec.HEADER_BYTES + PAYLOAD.length);
        assertThat(data.get(0)).isEqualTo((byte) RaftEntryCodec.VERSION);

        Entry e = RaftEntryCodec.decode(42, data);
        assertThat(e.index()).isEqualTo(42);
        assertThat(e.timestamp()).isEqualTo(1_700_000_000_123L);
        assertThat(e.payload()).isEqualTo(PAYLOAD);
        assertThat(CommandCodec.decodeBatch(e.payload())).hasSize(2);
        assertThat(data.position()).as("decode does not move the buffer").isZero();
        assertThat(RaftEntryCodec.timestamp(42, data)).isEqualTo(1_700_000_000_123L);
    }

    @Test
    void readsFromTheBufferPositionAndKeepsNegativeAndZeroStamps() {
        ByteBuffer framed = RaftEntryCodec.encode(0, PAYLOAD);
        ByteBuffer shifted = ByteBuffer.allocate(framed.remaining() + 3);
        shifted.put(new byte[] {9, 9, 9}).put(framed).flip().position(3);
        Entry e = RaftEntryCodec.decode(7, shifted.slice());
        assertThat(e.timestamp()).isZero();
        assertThat(e.payload()).isEqualTo(PAYLOAD);
        assertThat(RaftEntryCodec.decode(8, shifted).payload()).isEqualTo(PAYLOAD);
    }

    @Test
    void readsAnArrayBackedBufferInPlaceAndCopiesAReadOnlyOne() {
        ByteBuffer data = RaftEntryCodec.encode(77, PAYLOAD);
        Entry inPlace = RaftEntryCodec.decode(5, data);
        assertThat(inPlace.buffer()).as("the log's own array, no copy").isSameAs(data.array());
        assertThat(inPlace.payloadOffset()).isEqualTo(RaftEntryCodec.HEADER_BYTES);
        assertThat(inPlace.payloadLength()).isEqualTo(PAYLOAD.length);
        assertThat(CommandCodec.decodeBatch(inPlace.buffer(), inPlace.payloadOffset(), inPlace.payloadLength()))
                .isEqualTo(CommandCodec.decodeBatch(PAYLOAD));

        Entry copied = RaftEntryCodec.decode(6, data.asReadOnlyBuffer());
        assertThat(copied.buffer()).isNotSameAs(data.array()).isEqualTo(PAYLOAD);
        assertThat(copied.payloadOffset()).isZero();
        assertThat(copied.timestamp()).isEqualTo(77);
    }

    @Test
    void appliesAnEntryReadInPlaceLikeItsCopy() {
        ByteBuffer framed = RaftEntryCodec.encode(1_700_000_000_000L, PAYLOAD);
        ByteBuffer shifted = ByteBuffer.allocate(framed.remaining() + 5);
        shifted.put(new byte[] {1, 2, 3, 4, 5}).put(framed).flip().position(5);
        var inPlace = new dev.baton.core.machine.CoordinationStateMachine();
        var copied = new dev.baton.core.machine.CoordinationStateMachine();
        var a = inPlace.update(List.of(RaftEntryCodec.decode(1, shifted))).get(0);
        var b = copied.update(List.of(RaftEntryCodec.decode(1, shifted.asReadOnlyBuffer()))).get(0);
        assertThat(a.results()).hasSize(2).isEqualTo(b.results());
        assertThat(a.effects()).isEqualTo(b.effects());
    }

    @Test
    void emptyPayloadIsAHeaderOnlyEntry() {
        Entry e = RaftEntryCodec.decode(3, RaftEntryCodec.encode(5, new byte[0]));
        assertThat(e.payload()).isEmpty();
        assertThat(e.timestamp()).isEqualTo(5);
    }

    @Test
    void unknownVersionIsRefused() {
        ByteBuffer data = RaftEntryCodec.encode(1, PAYLOAD);
        data.put(0, (byte) 2);
        assertThatThrownBy(() -> RaftEntryCodec.decode(11, data))
                .isInstanceOf(RaftEntryCodec.UnreadableEntryException.class)
                .hasMessageContaining("entry 11")
                .hasMessageContaining("version 2")
                .satisfies(t -> assertThat(((RaftEntryCodec.UnreadableEntryException) t).index()).isEqualTo(11));
        assertThatThrownBy(() -> RaftEntryCodec.timestamp(11, data))
                .isInstanceOf(RaftEntryCodec.UnreadableEntryException.class);
    }

    @Test
    void truncatedHeaderIsRefused() {
        assertThatThrownBy(() -> RaftEntryCodec.decode(1, ByteBuffer.wrap(new byte[] {1, 0, 0})))
                .isInstanceOf(RaftEntryCodec.UnreadableEntryException.class)
                .hasMessageContaining("shorter");
        assertThatThrownBy(() -> RaftEntryCodec.decode(1, ByteBuffer.allocate(0)))
                .isInstanceOf(RaftEntryCodec.UnreadableEntryException.class);
        assertThatThrownBy(() -> RaftEntryCodec.decode(1, null))
                .isInstanceOf(RaftEntryCodec.UnreadableEntryException.class);
    }
}
