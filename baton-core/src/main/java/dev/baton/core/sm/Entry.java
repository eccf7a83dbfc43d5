package dev.baton.core.sm;

import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One committed log entry as the state machine sees it.
 *
 * <p>The payload is the {@code payloadLength} bytes of {@code buffer} from {@code payloadOffset}: a
 * host can hand over the log's own bytes (its header in front of the payload) without copying them.
 * The state machine only reads them; the host must not change them while the entry is applied.
 *
 * @param index         the Raft log index; strictly increasing from entry to entry (gaps allowed:
 *                      configuration entries never reach the state machine)
 * @param timestamp     the leader's clock when it proposed the entry (ms since the epoch); the state
 *                      machine never reads a clock of its own
 * @param buffer        holds the payload: a batch of commands encoded by {@link CommandCodec#encodeBatch},
 *                      versioned and size-limited. The leader packs concurrent client commands into one entry.
 * @param payloadOffset where the payload starts in {@code buffer}
 * @param payloadLength the payload's length
 */
public record Entry(long index, long timestamp, byte[] buffer, int payloadOffset, int payloadLength) {

    public Entry {
        Objects.requireNonNull(buffer, "buffer");
        Objects.checkFromIndexSize(payloadOffset, payloadLength, buffer.length);
    }

    /** An entry whose payload is the whole of {@code payload}. */
    public Entry(long index, long timestamp, byte[] payload) {
        this(index, timestamp, payload, 0, payload.length);
    }

    /** The payload's bytes: {@code buffer} itself when the payload fills it, else a copy. */
    public byte[] payload() {
        return payloadOffset == 0 && payloadLength == buffer.length
                ? buffer
                : Arrays.copyOfRange(buffer, payloadOffset, payloadOffset + payloadLength);
    }

    public static Entry of(long index, long timestamp, List<? extends Command> commands) {
        return new Entry(index, timestamp, CommandCodec.encodeBatch(commands));
    }

    public static Entry of(long index, long timestamp, Command... commands) {
        return of(index, timestamp, List.of(commands));
    }
}
