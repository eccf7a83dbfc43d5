package dev.baton.server.raft;

import com.alipay.sofa.jraft.entity.RaftOutter.SnapshotMeta;
import com.alipay.sofa.jraft.option.RaftOptions;
import com.alipay.sofa.jraft.storage.snapshot.SnapshotWriter;
import com.alipay.sofa.jraft.storage.snapshot.local.LocalSnapshotStorage;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.machine.State;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code baton server --restore FILE}: makes an empty data directory hold a backup's state as the
 * node's only snapshot, before the Raft node starts, so that the node starts a new cluster whose
 * state is the backup's.
 *
 * <p>The snapshot is written with SOFAJRaft's own snapshot storage, as the node writes its periodic
 * ones: {@link BatonStateMachine#SNAPSHOT_FILE} and SOFAJRaft's meta. Its last included index is the
 * state's own last applied index, so the new log continues right after it (the state machine only
 * takes entries past its last one); its term is 1, the first term of the new cluster's log. Its
 * configuration is this node alone: SOFAJRaft takes the configuration from the snapshot, not from
 * {@code --peers}, so the node elects itself at once with the backup's state. The other members
 * start empty with {@code --join} and are added ({@code baton admin add-member}); the leader then
 * sends them the state with an InstallSnapshot. Had the snapshot named all of {@code --peers}, two
 * empty members could elect one of them before the restored node takes part, and the new cluster
 * would start from an empty state instead.
 *
 * <p>Nothing is written until the file was checked whole (magic, versions, checksum, and the
 * snapshot decoded), and nothing at all on a data directory that already holds a log, Raft meta or
 * a snapshot.
 */
public final class Restore {
    private Restore() {}

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Restore.class);

    /** The term of the installed snapshot: the new cluster's log starts over at term 1. */
    static final long TERM = 1;

    /** A backup checked and decoded, ready to install. */
    public record Checked(BackupFile.Header header, byte[] snapshot, long index, long stateTime) {}

    /**
     * Reads and checks a backup file: the file's framing and checksum, then the snapshot itself,
     * decoded as a node would load it.
     *
     * @throws IOException with a message for the operator if it cannot be restored
     */
    public static Checked check(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("--restore " + file + ": no such file");
        }
        BackupFile.Contents c = BackupFile.read(file);
        State state;
        try {
            state = SnapshotCodec.read(new ByteArrayInputStream(c.snapshot()));
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + " has a valid checksum but its snapshot cannot be read: " + e.getMessage(), e);
        }
        if (state.lastIndex() != c.header().appliedIndex()) {
            throw new IOException(file + " is inconsistent: its header says applied index "
                    + c.header().appliedIndex() + ", its snapshot " + state.lastIndex());
        }
        return new Checked(c.header(), c.snapshot(), state.lastIndex(), state.lastTime());
    }

    /**
     * What in {@code dataDir} shows it was used (a Raft log, Raft meta or a snapshot), or null if it
     * is empty or missing, so a restore may start there.
     */
    public static String usedBy(Path dataDir) throws IOException {
        for (String sub : List.of("log", "meta", "snapshot")) {
            Path p = dataDir.resolve(sub);
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    if (s.findAny().isPresent()) {
                        return p.toString();
                    }
                }
            } else if (Files.exists(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /**
     * Installs the checked backup as the only snapshot of the node described by {@code options},
     * whose data directory must be empty or missing ({@link #usedBy}).
     *
     * @throws IllegalStateException if the data directory holds a log, meta or snapshot
     * @throws IOException           if the snapshot cannot be written
     */
    public static void install(Checked backup, BatonNode.Options options) throws IOException {
        Path dir = options.dataDir();
        String used = usedBy(dir);
        if (used != null) {
            throw new IllegalStateException("--restore needs an empty data directory, and " + used
                    + " is not empty: restore into a new --data-dir (the state there would be lost)");
        }
        Path snapshots = dir.resolve("snapshot");
        Files.createDirectories(snapshots);
        RaftOptions raft = new RaftOptions();
        raft.setSync(options.sync());
        LocalSnapshotStorage storage = new LocalSnapshotStorage(snapshots.toString(), null, raft);
        if (!storage.init(null)) {
            throw new IOException("cannot open the snapshot directory " + snapshots);
        }
        SnapshotWriter writer = storage.create();
        if (writer == null) {
            throw new IOException("cannot create a snapshot in " + snapshots);
        }
        boolean done = false;
        try {
            Path file = Path.of(writer.getPath(), BatonStateMachine.SNAPSHOT_FILE);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(backup.snapshot());
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            if (!writer.addFile(BatonStateMachine.SNAPSHOT_FILE)) {
                throw new IOException("cannot add " + BatonStateMachine.SNAPSHOT_FILE + " to the snapshot in " + snapshots);
            }
            SnapshotMeta meta = SnapshotMeta.newBuilder().setLastIncludedIndex(Math.max(1, backup.index()))
                    .setLastIncludedTerm(TERM).addPeers(options.endpoint()).build();
            if (!writer.saveMeta(meta)) {
                throw new IOException("cannot write the snapshot meta in " + snapshots);
            }
            done = true;
        } finally {
            if (!done) {
                writer.setError(com.alipay.sofa.jraft.error.RaftError.EIO, "restore failed");
            }
            writer.close(); // renames the finished snapshot into place (a failed one is removed)
            storage.shutdown();
        }
    }

    /**
     * Removes what a restore, and the start that followed it, wrote into {@code dataDir} (its log,
     * meta and snapshot directories), after the start failed: the directory was empty before
     * ({@link #usedBy}), so nothing else is lost. Best effort.
     */
    public static void undo(Path dataDir) {
        for (String sub : List.of("log", "meta", "snapshot")) {
            Path p = dataDir.resolve(sub);
            if (!Files.exists(p)) {
                continue;
            }
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            } catch (IOException | RuntimeException e) {
                LOG.warn("could not remove {} after the failed start: {}", p, e.toString());
            }
        }
    }
}
