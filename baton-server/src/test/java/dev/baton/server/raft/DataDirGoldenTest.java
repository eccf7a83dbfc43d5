package dev.baton.server.raft;

import com.alipay.sofa.jraft.conf.ConfigurationManager;
import com.alipay.sofa.jraft.entity.EnumOutter;
import com.alipay.sofa.jraft.entity.LogEntry;
import com.alipay.sofa.jraft.entity.RaftOutter.SnapshotMeta;
import com.alipay.sofa.jraft.entity.codec.v2.LogEntryV2CodecFactory;
import com.alipay.sofa.jraft.option.LogStorageOptions;
import com.alipay.sofa.jraft.option.RaftOptions;
import com.alipay.sofa.jraft.storage.impl.RocksDBLogStorage;
import com.alipay.sofa.jraft.storage.snapshot.SnapshotReader;
import com.alipay.sofa.jraft.storage.snapshot.local.LocalSnapshotStorage;
import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.machine.CoordinationStateMachine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A whole data directory as this release leaves it (SOFAJRaft's RocksDB log and snapshot storage
 * holding Baton's snapshot and log entries) is read by the current code: a committed fixture,
 * {@code src/test/resources/dev/baton/server/raft/formats/datadir-v1.zip}, made once by {@link #main}
 * from a real node (a snapshot after the first entries of {@link FormatGoldenTest#sampleEntries},
 * the rest in the log after it). The test reads it the way a starting node does (newest snapshot,
 * then the log's data entries after it) without binding the node's recorded Raft port, and compares
 * the state with {@code datadir-state.json}. Never regenerated for a released format: a release
 * that changes the data directory's formats adds a fixture of its own next to this one. To make one,
 * run {@link #main} with baton-server's test class path (see {@link FormatGoldenTest}).
 */
class DataDirGoldenTest {
    private static final String DIR = "/dev/baton/server/raft/formats/";

    @Test
    void aDataDirectoryOfThisReleaseIsRead(@TempDir Path tmp) throws IOException {
        Path data = tmp.resolve("data");
        try (InputStream in = DataDirGoldenTest.class.getResourceAsStream(DIR + "datadir-v1.zip")) {
            assertThat(in).as("fixture datadir-v1.zip").isNotNull();
            unzip(in, data);
        }
        CoordinationStateMachine sm = new CoordinationStateMachine();
        RaftOptions raft = new RaftOptions();
        LocalSnapshotStorage snapshots = new LocalSnapshotStorage(data.resolve("snapshot").toString(), null, raft);
        assertThat(snapshots.init(null)).isTrue();
        long snapshotIndex;
        try (SnapshotReader reader = snapshots.open()) {
            assertThat(reader).as("the data directory holds a snapshot").isNotNull();
            SnapshotMeta meta = reader.load();
            snapshotIndex = meta.getLastIncludedIndex();
            try (InputStream in = Files.newInputStream(Path.of(reader.getPath(), BatonStateMachine.SNAPSHOT_FILE))) {
                sm.recoverFromSnapshot(in);
            }
        }
        RocksDBLogStorage log = new RocksDBLogStorage(data.resolve("log").toString(), raft);
        LogStorageOptions o = new LogStorageOptions();
        o.setConfigurationManager(new ConfigurationManager());
        o.setLogEntryCodecFactory(LogEntryV2CodecFactory.getInstance());
        assertThat(log.init(o)).isTrue();
        int applied = 0;
        try {
            for (long i = Math.max(snapshotIndex + 1, log.getFirstLogIndex()); i <= log.getLastLogIndex(); i++) {
                LogEntry e = log.getEntry(i);
                if (e.getType() == EnumOutter.EntryType.ENTRY_TYPE_DATA) {
                    sm.update(List.of(RaftEntryCodec.decode(i, e.getData())));
                    applied++;
                }
            }
        } finally {
            log.shutdown();
        }
        assertThat(applied).as("entries in the log after the snapshot").isPositive();
        assertThat(sm.lookup(new Query.DumpJson())).isEqualTo(new String(resource("datadir-state.json"), StandardCharsets.UTF_8));
    }

    /** Makes the fixture from a real node (run once; see the class comment). */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "baton-server/src/test/resources" + DIR);
        Path zip = dir.resolve("datadir-v1.zip");
        if (Files.exists(zip)) {
            System.err.println(zip + " exists: a released format's fixture is never written again");
            return;
        }
        Path data = Files.createTempDirectory("baton-datadir").resolve("data");
        int port = dev.baton.server.TestPorts.free();
        BatonNode node = new BatonNode(BatonNode.Options.defaults(data).withPort(port)).start();
        String json;
        try {
            node.waitForLeader(Duration.ofSeconds(60)).orElseThrow();
            List<List<Command>> entries = FormatGoldenTest.sampleEntries();
            for (int i = 0; i < entries.size(); i++) {
                node.propose(entries.get(i)).get();
                if (i == entries.size() / 2) {
                    node.snapshotNow().get();
                }
            }
            json = node.read(new Query.DumpJson()).get();
        } finally {
            node.close();
        }
        Files.createDirectories(dir);
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(zip)); Stream<Path> files = Files.walk(data)) {
            // RocksDB's own info log (log/LOG*) is text for people, not data
            for (Path p : files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("LOG"))
                    .sorted().toList()) {
                out.putNextEntry(new ZipEntry(data.relativize(p).toString()));
                Files.copy(p, out);
                out.closeEntry();
            }
        }
        Files.writeString(dir.resolve("datadir-state.json"), json);
    }

    private static void unzip(InputStream in, Path to) throws IOException {
        try (ZipInputStream z = new ZipInputStream(in)) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                Path p = to.resolve(e.getName()).normalize();
                assertThat(p.startsWith(to)).as("%s inside the data directory", e.getName()).isTrue();
                Files.createDirectories(p.getParent());
                try (OutputStream out = Files.newOutputStream(p)) {
                    z.transferTo(out);
                }
            }
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = DataDirGoldenTest.class.getResourceAsStream(DIR + name)) {
            assertThat(in).as("fixture %s", name).isNotNull();
            return in.readAllBytes();
        }
    }
}
