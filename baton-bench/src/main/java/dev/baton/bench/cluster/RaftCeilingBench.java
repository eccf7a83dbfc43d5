package dev.baton.bench.cluster;

import com.alipay.sofa.jraft.Iterator;
import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.RaftGroupService;
import com.alipay.sofa.jraft.conf.Configuration;
import com.alipay.sofa.jraft.core.StateMachineAdapter;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.entity.Task;
import com.alipay.sofa.jraft.option.NodeOptions;
import com.alipay.sofa.jraft.option.RaftOptions;
import com.alipay.sofa.jraft.rpc.RaftRpcServerFactory;
import com.alipay.sofa.jraft.rpc.RpcServer;
import com.alipay.sofa.jraft.rpc.impl.BoltRpcServer;
import dev.baton.core.command.Command;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.EffectListener;
import dev.baton.server.raft.ProposalBatcher;
import org.HdrHistogram.Histogram;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The replication ceiling on this machine: three Raft nodes in this JVM on loopback (bolt transport,
 * RocksDB log, fsync on, as the server), no gRPC, no client. A single load thread keeps
 * {@code inflight} writes outstanding (a semaphore) on the leader and counts completions in a
 * measurement window after a warm-up; the latency is from submission to completion on the leader.
 * <ul>
 *   <li>{@code raw}: plain SOFAJRaft, {@code Node.apply(Task)} of an empty ({@code --payload} bytes)
 *       entry, on a state machine that does nothing but run each task's closure. One task = one log
 *       entry.</li>
 *   <li>{@code propose}: three {@link BatonNode}s, {@code propose(ExpireWaits)}: one Raft entry per
 *       command through Baton's stamping and framing and the core's {@code update}.</li>
 *   <li>{@code submit}: the same nodes, {@code submit(ExpireWaits)} through the leader's batcher
 *       (many commands per entry); entries from {@code batcherStats()}.</li>
 * </ul>
 * {@code ExpireWaits} is the cheapest command: with no waits it changes nothing. {@code --no-sync}
 * turns fsync off (to measure what it costs); {@code --batcher-inflight} sets
 * the batcher's {@code maxInFlight} (default 2, as the server).
 */
public final class RaftCeilingBench {
    private RaftCeilingBench() {}

    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        List<String> modes = List.of(a.str("modes", "raw,propose,submit").split(","));
        List<Integer> inflights = a.ints("inflight", "1,64,1024");
        int warmup = a.integer("warmup", 10);
        int measure = a.integer("measure", 15);
        int payload = a.integer("payload", 0);
        boolean sync = !a.flag("no-sync");
        int batcherInflight = a.integer("batcher-inflight", ProposalBatcher.Config.DEFAULT_MAX_IN_FLIGHT);
        int prewarm = a.integer("prewarm", 15);
        a.checkNoneUnknown();
        ProposalBatcher.Config batching = ProposalBatcher.Config.defaults().withMaxInFlight(batcherInflight);
        System.out.println(Machine.header());
        System.out.println("# RaftCeilingBench modes=" + modes + " inflight=" + inflights + " warmup=" + warmup
                + "s measure=" + measure + "s payload=" + payload + "B (raw) fsync=" + sync + " batcher: max in flight "
                + batcherInflight + "; JVM " + jvmArgs());
        if (prewarm > 0) {
            // JIT-compile SOFAJRaft's and Baton's paths on a throw-away cluster first.
            Path dir = Files.createTempDirectory("baton-ceiling-warm-");
            try (Target t = new BatonTarget(dir, "propose", sync, batching)) {
                String r = run(t, "propose", 64, prewarm - 1, 1);
                System.out.println("# pre-warm " + prewarm + " s (propose, 64 in flight), last second: " + r);
            } finally {
                Machine.deleteTree(dir);
            }
        }
        System.out.println("| mode | in flight | writes/s | entries/s | cmds/entry | latency p50 ms | p99 ms | max ms "
                + "| failed | load (1 min) | CPU cores (this JVM) |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
        for (String mode : modes) {
            for (int inflight : inflights) {
                Path dir = Files.createTempDirectory("baton-ceiling-");
                try (Target t = mode.equals("raw") ? new RawTarget(dir, payload, sync)
                        : new BatonTarget(dir, mode, sync, batching)) {
                    System.out.println(run(t, mode, inflight, warmup, measure));
                } finally {
                    Machine.deleteTree(dir);
                }
            }
        }
        System.exit(0);
    }

    private static String jvmArgs() {
        return String.join(" ", java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    }

    /** Something that takes writes on a leader. */
    private interface Target extends AutoCloseable {
        /** Submits one write; the future completes when it is applied on the leader. */
        CompletableFuture<?> write();

        /** Entries proposed so far (batcher), or -1 when every write is one entry. */
        long entries();

        @Override
        void close();
    }

    static String run(Target t, String mode, int inflight, int warmupS, int measureS) throws Exception {
        Semaphore permits = new Semaphore(inflight);
        Histogram lat = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
        AtomicLong done = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long start = System.nanoTime();
        long mStart = start + TimeUnit.SECONDS.toNanos(warmupS);
        long mEnd = mStart + TimeUnit.SECONDS.toNanos(measureS);
        long e0 = -1;
        long c0 = 0;
        long cpu0 = 0;
        boolean sampled = false;
        double load0 = 0;
        long now;
        while ((now = System.nanoTime()) - mEnd < 0) {
            if (!sampled && now - mStart >= 0) {
                sampled = true;
                e0 = t.entries();
                c0 = done.get();
                cpu0 = Machine.cpuMillis(ProcessHandle.current().pid());
                load0 = Machine.load1();
            }
            if (!permits.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                continue;
            }
            long t0 = System.nanoTime();
            CompletableFuture<?> f;
            try {
                f = t.write();
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((r, err) -> {
                long t1 = System.nanoTime();
                if (err != null) {
                    failed.incrementAndGet();
                } else {
                    done.incrementAndGet();
                    if (t1 - mStart >= 0 && t1 - mEnd < 0) {
                        synchronized (lat) {
                            lat.recordValue(Math.min((t1 - t0) / 1000, lat.getHighestTrackableValue()));
                        }
                    }
                }
                permits.release();
            });
        }
        long c1 = done.get();
        long e1 = t.entries();
        long cpu1 = Machine.cpuMillis(ProcessHandle.current().pid());
        double load1 = Machine.load1();
        permits.tryAcquire(inflight, 30, TimeUnit.SECONDS); // drain
        double writes = (c1 - c0) / (double) measureS;
        double entries = e0 < 0 ? writes : (e1 - e0) / (double) measureS;
        synchronized (lat) {
            return String.format("| %s | %d | %,.0f | %,.0f | %.1f | %.2f | %.2f | %.2f | %d | %.1f–%.1f | %.2f |", mode,
                    inflight, writes, entries, entries == 0 ? 0 : writes / entries, lat.getValueAtPercentile(50) / 1000.0,
                    lat.getValueAtPercentile(99) / 1000.0, lat.getMaxValue() / 1000.0, failed.get(), load0, load1,
                    (cpu1 - cpu0) / (measureS * 1000.0));
        }
    }

    private static List<String> peers(int n) {
        List<String> peers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            peers.add("127.0.0.1:" + Machine.freePort());
        }
        return peers;
    }

    /** Three {@link BatonNode}s; writes go to the leader by propose or submit. */
    private static final class BatonTarget implements Target {
        private final List<BatonNode> nodes = new ArrayList<>();
        private final boolean submit;
        private final BatonNode leader;

        BatonTarget(Path dir, String mode, boolean sync, ProposalBatcher.Config batching) throws InterruptedException {
            if (!mode.equals("propose") && !mode.equals("submit")) {
                throw new IllegalArgumentException("unknown mode " + mode);
            }
            this.submit = mode.equals("submit");
            List<String> peers = peers(3);
            for (int i = 0; i < 3; i++) {
                int port = Integer.parseInt(peers.get(i).substring(peers.get(i).lastIndexOf(':') + 1));
                BatonNode.Options o = new BatonNode.Options("n" + (i + 1), "baton", dir.resolve("n" + (i + 1)),
                        "127.0.0.1", port, peers, 1000, 0, sync);
                nodes.add(new BatonNode(o, new CoordinationStateMachine(), EffectListener.NONE,
                        System::currentTimeMillis, batching).start());
            }
            BatonNode l = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (l == null && System.nanoTime() < deadline) {
                for (BatonNode n : nodes) {
                    if (n.isLeader()) {
                        l = n;
                    }
                }
                Thread.sleep(10);
            }
            if (l == null) {
                throw new IllegalStateException("no leader");
            }
            this.leader = l;
        }

        @Override
        public CompletableFuture<?> write() {
            return submit ? leader.submit(new Command.ExpireWaits()) : leader.propose(new Command.ExpireWaits());
        }

        @Override
        public long entries() {
            return submit ? leader.batcherStats().entriesProposed() : -1;
        }

        @Override
        public void close() {
            nodes.forEach(BatonNode::close);
        }
    }

    /** Plain SOFAJRaft with a state machine that only completes each task. */
    private static final class RawTarget implements Target {
        private final List<RaftGroupService> services = new ArrayList<>();
        private final Node leader;
        private final byte[] payload;

        RawTarget(Path dir, int payloadBytes, boolean sync) throws Exception {
            this.payload = new byte[payloadBytes];
            List<String> peers = peers(3);
            Configuration conf = new Configuration();
            for (String p : peers) {
                PeerId id = new PeerId();
                id.parse(p);
                conf.addPeer(id);
            }
            List<Node> nodes = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                PeerId self = new PeerId();
                self.parse(peers.get(i));
                Path d = dir.resolve("n" + (i + 1));
                Files.createDirectories(d.resolve("log"));
                Files.createDirectories(d.resolve("meta"));
                RaftOptions ro = new RaftOptions();
                ro.setSync(sync);
                NodeOptions no = new NodeOptions();
                no.setFsm(new NoopFsm());
                no.setLogUri(d.resolve("log").toString());
                no.setRaftMetaUri(d.resolve("meta").toString());
                no.setSnapshotUri(d.resolve("snapshot").toString());
                no.setSnapshotIntervalSecs(0);
                no.setInitialConf(conf.copy());
                no.setElectionTimeoutMs(1000);
                no.setRaftOptions(ro);
                RpcServer rpc = new BoltRpcServer(new com.alipay.remoting.rpc.RpcServer(self.getIp(), self.getPort(), true));
                RaftRpcServerFactory.addRaftRequestProcessors(rpc);
                RaftGroupService s = new RaftGroupService("ceiling", self, no, rpc);
                nodes.add(s.start());
                services.add(s);
            }
            Node l = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (l == null && System.nanoTime() < deadline) {
                for (Node n : nodes) {
                    if (n.isLeader()) {
                        l = n;
                    }
                }
                Thread.sleep(10);
            }
            if (l == null) {
                throw new IllegalStateException("no leader");
            }
            this.leader = l;
            Thread.sleep(500); // the leader's first (configuration) entry
        }

        @Override
        public CompletableFuture<?> write() {
            CompletableFuture<Void> f = new CompletableFuture<>();
            leader.apply(new Task(ByteBuffer.wrap(payload), status -> {
                if (status.isOk()) {
                    f.complete(null);
                } else {
                    f.completeExceptionally(new IllegalStateException(status.toString()));
                }
            }));
            return f;
        }

        @Override
        public long entries() {
            return -1;
        }

        @Override
        public void close() {
            for (RaftGroupService s : services) {
                s.shutdown();
            }
            for (RaftGroupService s : services) {
                try {
                    s.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static final class NoopFsm extends StateMachineAdapter {
        @Override
        public void onApply(Iterator it) {
            while (it.hasNext()) {
                if (it.done() != null) {
                    it.done().run(com.alipay.sofa.jraft.Status.OK());
                }
                it.next();
            }
        }
    }
}
