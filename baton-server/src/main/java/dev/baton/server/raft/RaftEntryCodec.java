package dev.baton.server.raft;

import dev.baton.core.command.CommandCodec;
import dev.baton.core.sm.Entry;

import java.nio.ByteBuffer;

/**
 * The bytes of one Baton entry in the Raft log:
 *
 * <pre>
 *   [u8 format version = 1][i64 big-endian leader timestamp, ms since the epoch][payload]
 * </pre>
 *
 * where the payload is a command batch as produced by {@link CommandCodec#batchOfEncoded} (it has
 * its own version byte, checked by the core). The header belongs to the host: the core never sees
 * it, it gets an {@link Entry} with the Raft index, the timestamp and the payload.
 *
 * <p>A header that cannot be read (too short, unknown version) throws {@link UnreadableEntryException}
 * and the host halts its state machine on that entry rather than skipping it: only this class writes
 * headers, so an unreadable one means a newer Baton wrote it (version skew during an upgrade) or the
 * log is corrupt. Skipping it, or answering MALFORMED, would let this replica silently diverge from
 * replicas that can read the entry; halting fails the one replica, visibly, and it resumes from the
 * same entry once upgraded or repaired.
 */
public final class RaftEntryCodec {
    private RaftEntryCodec() {}

    /** Format version written by this code. Append-only: a new layout gets a new number. */
    public static final int VERSION = 1;

    /** Bytes before the payload. */
    public static final int HEADER_BYTES = 1 + Long.BYTES;

    /** The entry data for {@code Task.setData}: header, then the payload (copied). */
    public static ByteBuffer encode(long timestamp, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + payload.length);
        b.put((byte) VERSION).putLong(timestamp).put(payload);
        return b.flip();
    }

    /**
     * Reads an entry's data (from its position to its limit; the buffer itself is not moved). When
     * the buffer is backed by an accessible array (the leader's own entries, entries read back from
     * the log) the entry refers to that array's payload bytes in place; otherwise (a read-only buffer,
     * as SOFAJRaft hands a follower the entries it just received) the payload is copied. The caller
     * must not change the buffer's bytes while the entry is in use.
     *
     * @throws UnreadableEntryException if the header is too short or of an unknown version
     */
    public static Entry decode(long index, ByteBuffer data) {
        if (data == null || data.remaining() < HEADER_BYTES) {
            throw new UnreadableEntryException(index, "entry of " + (data == null ? 0 : data.remaining())
                    + " bytes is shorter than the " + HEADER_BYTES + "-byte header");
        }
        ByteBuffer b = data.duplicate();
        int version = Byte.toUnsignedInt(b.get());
        if (version != VERSION) {
            throw new UnreadableEntryException(index, "unknown entry format version " + version
                    + " (this Baton reads version " + VERSION + ")");
        }
        long timestamp = b.getLong();
        if (b.hasArray()) {
            return new Entry(index, timestamp, b.array(), b.arrayOffset() + b.position(), b.remaining());
        }
        byte[] payload = new byte[b.remaining()];
        b.get(payload);
        return new Entry(index, timestamp, payload);
    }

    /** The leader timestamp of an entry's data, without copying the payload. */
    public static long timestamp(long index, ByteBuffer data) {
        if (data == null || data.remaining() < HEADER_BYTES) {
            throw new UnreadableEntryException(index, "entry shorter than its header");
        }
        int version = Byte.toUnsignedInt(data.get(data.position()));
        if (version != VERSION) {
            throw new UnreadableEntryException(index, "unknown entry format version " + version);
        }
        return data.getLong(data.position() + 1);
    }

    /** An entry whose header this Baton cannot read. */
    public static final class UnreadableEntryException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final long index;

        public UnreadableEntryException(long index, String message) {
            super("Raft entry " + index + ": " + message);
            this.index = index;
        }

        public long index() {
            return index;
        }
    }
}
