package dev.baton.server.raft;

import dev.baton.core.machine.SnapshotCodec;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * A backup of the replicated state ({@code baton admin backup}, {@code baton server --restore}): the
 * state machine's snapshot of one applied state, as the node writes it to its own snapshot
 * directory ({@link BatonStateMachine#SNAPSHOT_FILE}), framed with what it is and a checksum.
 *
 * <pre>
 *   8 bytes  "BATONBAK"
 *   u16      backup format version ({@value #VERSION})
 *   u16      snapshot format version of the bytes below ({@link SnapshotCodec#VERSION} of the writer)
 *   u64      applied index: the last log entry in the state
 *   u64      Raft term the node knew when it captured the state
 *   i64      state time: the leader stamp of that entry, ms since the epoch
 *   i64      creation time, this node's wall clock, ms since the epoch
 *   u16      length of the node id, then its UTF-8 bytes
 *   ...      the snapshot bytes, to the checksum
 *   32 bytes SHA-256 of everything before it
 * </pre>
 *
 * Integers are big-endian. The snapshot has its own magic, version and CRC32C inside; the SHA-256
 * covers the whole file, so a file cut short or changed in transit is refused before any of it is
 * used. The header's versions let a reader say "written by a newer Baton" without decoding the
 * snapshot. The format only grows by new version numbers: a reader keeps reading every version it
 * read before.
 */
public final class BackupFile {
    private BackupFile() {}

    private static final byte[] MAGIC = "BATONBAK".getBytes(StandardCharsets.US_ASCII);
    /** The backup format version this code writes, and the newest it reads. */
    public static final int VERSION = 1;
    private static final int DIGEST_BYTES = 32;
    private static final int MAX_NODE_ID_BYTES = 1024;

    /** What a backup file says about itself. */
    public record Header(int version, int snapshotVersion, long appliedIndex, long term, long stateTime,
                         long createdMillis, String nodeId) {
        /** A header of this code's formats. */
        public static Header of(long appliedIndex, long term, long stateTime, long createdMillis, String nodeId) {
            return new Header(VERSION, SnapshotCodec.VERSION, appliedIndex, term, stateTime, createdMillis, nodeId);
        }
    }

    /** A checked backup: its header and the snapshot bytes. */
    public record Contents(Header header, byte[] snapshot) {}

    /** Writes the snapshot bytes of a backup. */
    @FunctionalInterface
    public interface SnapshotBytes {
        void writeTo(OutputStream out) throws IOException;
    }

    /** A file that is not a backup this Baton can read, with why in words for the operator. */
    public static final class UnreadableBackupException extends IOException {
        private static final long serialVersionUID = 1L;

        UnreadableBackupException(String message) {
            super(message);
        }
    }

    /** Writes a whole backup to {@code out} (not closed): header, snapshot, checksum. */
    public static void write(OutputStream out, Header header, SnapshotBytes snapshot) throws IOException {
        MessageDigest sha = sha256();
        DigestOutputStream digested = new DigestOutputStream(out, sha);
        DataOutputStream d = new DataOutputStream(digested);
        byte[] node = header.nodeId().getBytes(StandardCharsets.UTF_8);
        if (node.length > MAX_NODE_ID_BYTES) {
            throw new IllegalArgumentException("node id longer than " + MAX_NODE_ID_BYTES + " bytes");
        }
        d.write(MAGIC);
        d.writeShort(header.version());
        d.writeShort(header.snapshotVersion());
        d.writeLong(header.appliedIndex());
        d.writeLong(header.term());
        d.writeLong(header.stateTime());
        d.writeLong(header.createdMillis());
        d.writeShort(node.length);
        d.write(node);
        d.flush();
        snapshot.writeTo(digested);
        digested.flush();
        out.write(sha.digest());
        out.flush();
    }

    /**
     * Checks a backup file without keeping it in memory: its header, versions and checksum.
     *
     * @throws UnreadableBackupException if it is not a backup this Baton reads, or is damaged
     */
    public static Header verify(Path file) throws IOException {
        return read(file, OutputStream.nullOutputStream());
    }

    /**
     * Reads a backup file whole, after checking it as {@link #verify} does.
     *
     * @throws UnreadableBackupException if it is not a backup this Baton reads, or is damaged
     */
    public static Contents read(Path file) throws IOException {
        ByteArrayOutputStream snapshot = new ByteArrayOutputStream((int) Math.min(Files.size(file), 1 << 20));
        Header h = read(file, snapshot);
        return new Contents(h, snapshot.toByteArray());
    }

    private static Header read(Path file, OutputStream snapshot) throws IOException {
        long size = Files.size(file);
        MessageDigest sha = sha256();
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CountingDigestStream counted = new CountingDigestStream(raw, sha);
            DataInputStream d = new DataInputStream(counted);
            Header h;
            try {
                byte[] magic = new byte[MAGIC.length];
                d.readFully(magic);
                if (!Arrays.equals(magic, MAGIC)) {
                    throw new UnreadableBackupException(file + " is not a Baton backup (it does not start with "
                            + new String(MAGIC, StandardCharsets.US_ASCII) + ")");
                }
                int version = d.readUnsignedShort();
                if (version < 1 || version > VERSION) {
                    throw new UnreadableBackupException(file + " is a backup of format version " + version
                            + "; this Baton reads versions 1 to " + VERSION + " (a newer Baton wrote it: restore it"
                            + " with that release or a later one)");
                }
                int snapshotVersion = d.readUnsignedShort();
                if (snapshotVersion > SnapshotCodec.VERSION) {
                    throw new UnreadableBackupException(file + " holds a snapshot of format version " + snapshotVersion
                            + "; this Baton reads snapshots up to version " + SnapshotCodec.VERSION
                            + " (a newer Baton wrote it: restore it with that release or a later one)");
                }
                long index = d.readLong();
                long term = d.readLong();
                long stateTime = d.readLong();
                long created = d.readLong();
                int nodeLength = d.readUnsignedShort();
                if (nodeLength > MAX_NODE_ID_BYTES) {
                    throw new UnreadableBackupException(file + " is damaged: its header names a node id of "
                            + nodeLength + " bytes");
                }
                byte[] node = new byte[nodeLength];
                d.readFully(node);
                h = new Header(version, snapshotVersion, index, term, stateTime, created,
                        new String(node, StandardCharsets.UTF_8));
            } catch (EOFException e) {
                throw new UnreadableBackupException(file + " is not a Baton backup, or is cut short (" + size
                        + " bytes, shorter than a backup's header)");
            }
            long snapshotBytes = size - counted.count - DIGEST_BYTES;
            if (snapshotBytes <= 0) {
                throw new UnreadableBackupException(file + " is cut short (" + size + " bytes: no snapshot after"
                        + " its header)");
            }
            byte[] buf = new byte[1 << 16];
            for (long left = snapshotBytes; left > 0; ) {
                int n = counted.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    throw new UnreadableBackupException(file + " changed while it was read");
                }
                snapshot.write(buf, 0, n);
                left -= n;
            }
            byte[] expected = sha.digest();
            byte[] stored = raw.readNBytes(DIGEST_BYTES);
            if (!MessageDigest.isEqual(expected, stored)) {
                throw new UnreadableBackupException(file + " is damaged: its SHA-256 checksum does not match its"
                        + " contents (cut short or changed since it was written)");
            }
            return h;
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** Digests and counts what is read through it. */
    private static final class CountingDigestStream extends DigestInputStream {
        long count;

        CountingDigestStream(InputStream in, MessageDigest digest) {
            super(in, digest);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }
}
