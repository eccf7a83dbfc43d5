package dev.baton.server.raft;

import com.alipay.remoting.config.BoltGenericOption;
import com.alipay.sofa.jraft.Closure;
import com.alipay.sofa.jraft.JRaftUtils;
import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.NodeManager;
import com.alipay.sofa.jraft.RaftGroupService;
import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.closure.ReadIndexClosure;
import com.alipay.sofa.jraft.conf.Configuration;
import com.alipay.sofa.jraft.core.NodeImpl;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.entity.Task;
import com.alipay.sofa.jraft.error.RaftError;
import com.alipay.sofa.jraft.option.NodeOptions;
import com.alipay.sofa.jraft.option.RaftOptions;
import com.alipay.sofa.jraft.rpc.RaftRpcServerFactory;
import com.alipay.sofa.jraft.rpc.RpcServer;
import com.alipay.sofa.jraft.storage.impl.RocksDBLogStorage;
import com.alipay.sofa.jraft.util.StorageOptionsFactory;
import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.SnapshotHandle;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;

/**
 * One Baton replica: a SOFAJRaft node hosting the coordination state machine, embeddable (the
 * {@code baton server} command, tests and benchmarks all start one of these).
 *
 * <h2>Storage</h2>
 * Under {@link Options#dataDir()}: {@code log/} (SOFAJRaft's RocksDB log; written with
 * {@code sync=true}, i.e. fsynced before an entry counts as appended, and the Raft meta with it),
 * {@code meta/} (term and vote), {@code snapshot/} (SOFAJRaft snapshot directories, each holding
 * {@value BatonStateMachine#SNAPSHOT_FILE}). A node started on an existing data dir loads the newest
 * snapshot and replays the log after it; the peer configuration then comes from the log, not from
 * {@link Options#peers()}. The RocksDB JNI library (13 MB) is extracted into {@code java.io.tmpdir}
 * (or {@code $ROCKSDB_SHAREDLIB_DIR}) at start, which must be writable and not {@code noexec}; it is
 * deleted at a normal JVM exit but left behind by {@code kill -9}.
 *
 * <h2>Network</h2>
 * The Raft RPC server (bolt, on Netty) binds to {@link Options#host()}:{@link Options#port()} only.
 * (SOFAJRaft's {@code RaftGroupService} would bind bolt to the wildcard address, so this class builds
 * the server itself.) A single-node cluster elects itself at once without any RPC; a node restarted
 * on an existing data dir must keep its host:port, which the log's configuration names.
 *
 * <h2>Writes</h2>
 * {@link #propose} is accepted only on the leader, and only once this node's state machine has
 * applied every entry of earlier terms (SOFAJRaft's {@code onLeaderStart}); elsewhere it fails fast
 * with {@link NotLeaderException}. Each command is encoded with {@link CommandCodec#encodeChecked}
 * (an unencodable one fails that proposal alone), the batch is framed by {@link RaftEntryCodec} with
 * a leader timestamp = max(cluster time, last stamp issued, last stamp applied), so stamps never go
 * backwards in the log, across leader changes and restarts included; the cluster time is a
 * {@link ClusterClock}: anchored when this node takes the lead, then advancing with the monotonic
 * clock, so a step of the wall clock neither freezes nor fast-forwards it. Stamping and
 * {@code Node.apply} happen under one lock so log order and stamp order agree. The task carries the
 * leader's term as its expected term: a proposal racing a leader change is refused rather than
 * appended in a later term. The future completes with the entry's {@link Applied} (one result per
 * command) once it is committed and applied here, or fails with a {@link RaftOperationException};
 * for an entry already appended, failure means "outcome unknown" (see there).
 *
 * <p>{@link #submit} is the batched path for single commands (client requests, leader timers): a
 * {@link ProposalBatcher} packs the commands submitted concurrently into one entry each (up to 256
 * commands and 1 MiB by default, with up to 16 entries in flight; whatever is queued is sealed as
 * soon as a slot is free, so nothing waits for a timer), stamped and appended exactly as above, and
 * completes each caller's future with its own command's {@link Result}. {@link #batcherStats()}
 * counts entries and commands. {@link #propose} still makes one entry per call.
 *
 * <h2>Membership</h2>
 * {@link #addPeer}, {@link #removePeer} and {@link #transferLeadership} run on the leader (SOFAJRaft's
 * single-peer configuration changes, with catch-up of a new peer first); a new node starts with
 * {@link #startJoining()} (an empty configuration) and waits for the leader to add it. {@link #peers()}
 * answers on every node from the newest configuration it knows; {@link #commitIndex()} and
 * {@link #lastAppliedIndex()} show how far it is.
 *
 * <h2>Reads</h2>
 * {@link #read} is linearizable: SOFAJRaft's ReadIndex (confirmed by a heartbeat round to a
 * majority, {@code ReadOnlySafe}) waits until this node has applied the leader's commit index, then
 * the core answers from its published state. It works on followers too (SOFAJRaft asks the leader
 * for the index). It never writes to the log. Right after an election the leader refuses reads
 * ({@code EAGAIN}) until it has committed an entry of its term, and a read that is not answered
 * within SOFAJRaft's read-index timeout (2 s, {@code -Djraft.read-index.timeout=ms}) fails with
 * {@code ETIMEDOUT}; callers retry (reads are side-effect free).
 *
 * <p>A proposal's future completes inside SOFAJRaft's apply callback, <em>before</em> SOFAJRaft
 * advances its own applied index: {@link #lastAppliedIndex()} and {@code Node.readCommittedUserLog}
 * may briefly lag a completed proposal. Linearizable reads are unaffected (they wait on that index).
 *
 * <h2>Threads</h2>
 * Futures of {@code propose} and {@code submit} complete on SOFAJRaft's apply thread (failures on
 * its closure pool; a {@code submit} refused before proposing, on the caller's thread, the thread
 * proposing for the batcher or the thread calling {@link #close()}); those of {@code read} on
 * whichever SOFAJRaft thread saw the read index applied; those of the membership operations on SOFAJRaft's closure pool
 * ({@code transferLeadership}: the JDK's common pool). Dependants must not block: use the
 * {@code *Async} stages or hand off. The batcher has no thread of its own.
 */
public final class BatonNode implements AutoCloseable {

    /**
     * How to run a node.
     *
     * @param nodeId               a name for this node in logs and thread names
     * @param groupId              the Raft group; every peer must use the same
     * @param dataDir              where the log, Raft meta and snapshots live
     * @param host                 address the Raft RPC port binds to and peers reach this node at
     *                             (one address for both for now: not a wildcard)
     * @param port                 Raft RPC port (peers talk to it)
     * @param peers                the initial cluster, {@code host:port} each, this node included;
     *                             empty means a single-node cluster of this node. Used only on first
     *                             start: afterwards the configuration comes from the log. Ignored by
     *                             {@link BatonNode#startJoining()}.
     * @param electionTimeoutMs    follower election timeout (SOFAJRaft's default is 1000 ms)
     * @param snapshotIntervalSecs periodic snapshot interval (0 or less: only on demand)
     * @param sync                 fsync the log and Raft meta (keep true outside tests of throughput)
     * @param peerTls              mutual TLS on the Raft port ({@link PeerTls}); null: plaintext
     */
    public record Options(String nodeId, String groupId, Path dataDir, String host, int port, List<String> peers,
                          int electionTimeoutMs, int snapshotIntervalSecs, boolean sync, PeerTls.Config peerTls) {
        public static final int DEFAULT_PORT = 7533;

        public Options {
            Objects.requireNonNull(nodeId, "nodeId");
            Objects.requireNonNull(groupId, "groupId");
            Objects.requireNonNull(dataDir, "dataDir");
            Objects.requireNonNull(host, "host");
            peers = List.copyOf(peers);
            if (port <= 0 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " out of range");
            }
            if (electionTimeoutMs <= 0) {
                throw new IllegalArgumentException("electionTimeoutMs must be positive");
            }
        }

        /** Plaintext on the Raft port. */
        public Options(String nodeId, String groupId, Path dataDir, String host, int port, List<String> peers,
                       int electionTimeoutMs, int snapshotIntervalSecs, boolean sync) {
            this(nodeId, groupId, dataDir, host, port, peers, electionTimeoutMs, snapshotIntervalSecs, sync, null);
        }

        /** A single-node cluster on 127.0.0.1:7533 with its data in {@code dataDir}. */
        public static Options defaults(Path dataDir) {
            return new Options("n1", "baton", dataDir, "127.0.0.1", DEFAULT_PORT, List.of(), 1000, 3600, true);
        }

        public Options withPort(int newPort) {
            return new Options(nodeId, groupId, dataDir, host, newPort, peers, electionTimeoutMs, snapshotIntervalSecs,
                    sync, peerTls);
        }

        public Options withDataDir(Path newDataDir) {
            return new Options(nodeId, groupId, newDataDir, host, port, peers, electionTimeoutMs, snapshotIntervalSecs,
                    sync, peerTls);
        }

        public Options withPeers(List<String> newPeers) {
            return new Options(nodeId, groupId, dataDir, host, port, newPeers, electionTimeoutMs, snapshotIntervalSecs,
                    sync, peerTls);
        }

        public Options withElectionTimeoutMs(int ms) {
            return new Options(nodeId, groupId, dataDir, host, port, peers, ms, snapshotIntervalSecs, sync, peerTls);
        }

        public Options withSnapshotIntervalSecs(int secs) {
            return new Options(nodeId, groupId, dataDir, host, port, peers, electionTimeoutMs, secs, sync, peerTls);
        }

        public Options withPeerTls(PeerTls.Config tls) {
            return new Options(nodeId, groupId, dataDir, host, port, peers, electionTimeoutMs, snapshotIntervalSecs, sync, tls);
        }

        /** {@code host:port} of this node. */
        public String endpoint() {
            return host + ":" + port;
        }
    }

    private final Options options;
    private final BatonStateMachine fsm;
    private final ClusterClock clock;
    private final ClockSkewWatch clockSkew;
    private final Object proposeLock = new Object();
    private long lastStampIssued; // guarded by proposeLock
    private final ProposalBatcher batcher;

    private RaftGroupService service;
    private Executor raftRpcExecutor;
    private Executor cliRpcExecutor;
    private volatile Node node;
    private volatile boolean closed;

    /** A node hosting a fresh {@link CoordinationStateMachine}, dropping effects. */
    public BatonNode(Options options) {
        this(options, new CoordinationStateMachine(), EffectListener.NONE, System::currentTimeMillis);
    }

    /**
     * @param core    the state machine to host, empty (its state comes from snapshots and the log);
     *                the node owns it and closes it on {@link #close()}
     * @param effects receives every applied entry's effects (on the apply thread)
     * @param clock   the wall clock, ms since the epoch: anchors the {@link ClusterClock} the leader
     *                stamps with (which then follows {@code System.nanoTime})
     */
    public BatonNode(Options options, ConcurrentStateMachine core, EffectListener effects, LongSupplier clock) {
        this(options, core, effects, clock, ProposalBatcher.Config.defaults());
    }

    /**
     * As {@link #BatonNode(Options, ConcurrentStateMachine, EffectListener, LongSupplier)}, with the
     * {@link #submit} batcher configured.
     */
    public BatonNode(Options options, ConcurrentStateMachine core, EffectListener effects, LongSupplier clock,
                     ProposalBatcher.Config batching) {
        this.options = options;
        this.fsm = new BatonStateMachine(core, effects, options.nodeId());
        this.fsm.selfEndpoint = options.endpoint();
        this.clock = new ClusterClock(clock, System::nanoTime);
        this.fsm.observeStamps(this.clock::observeApplied);
        this.clockSkew = new ClockSkewWatch(this::clockSkewMillis);
        this.batcher = new ProposalBatcher(Objects.requireNonNull(batching, "batching"), options.nodeId(),
                fsm::leaderTerm, this::leader, this::appendBatch,
                (task, delayNanos) -> TIMER.schedule(task, delayNanos, TimeUnit.NANOSECONDS), System::nanoTime);
    }

    /**
     * Creates the data directories and starts the Raft node and its RPC server. A single-node
     * cluster elects itself at once; use {@link #waitForLeader} before proposing.
     *
     * @throws IllegalStateException if SOFAJRaft cannot start (data dir locked or corrupt, port in use)
     */
    public synchronized BatonNode start() {
        return start(false);
    }

    /**
     * Starts a node that is to <em>join</em> an existing cluster: like {@link #start()}, but with an
     * empty initial configuration ({@link Options#peers()} is ignored), so that the node never
     * elects itself or starts elections; it waits until the cluster's leader adds it
     * ({@link #addPeer} on the leader) and then receives the log, or a snapshot, from the leader. On
     * a data dir that already holds a log, the configuration comes from the log as with {@link #start()}.
     *
     * @throws IllegalStateException if SOFAJRaft cannot start (data dir locked or corrupt, port in use)
     */
    public synchronized BatonNode startJoining() {
        return start(true);
    }

    private BatonNode start(boolean join) {
        if (closed || service != null) {
            throw new IllegalStateException("a BatonNode starts once");
        }
        Path dir = options.dataDir();
        try {
            Files.createDirectories(dir.resolve("log"));
            Files.createDirectories(dir.resolve("meta"));
            Files.createDirectories(dir.resolve("snapshot"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create data directories under " + dir, e);
        }
        PeerId self = new PeerId(options.host(), options.port());
        Configuration conf = new Configuration();
        if (join) {
            // empty: SOFAJRaft's node then waits for a leader (no election timer until one contacts it)
        } else if (options.peers().isEmpty()) {
            conf.addPeer(self);
        } else {
            for (String p : options.peers()) {
                PeerId peer = new PeerId();
                if (!peer.parse(p)) {
                    throw new IllegalArgumentException("not a host:port peer: " + p);
                }
                conf.addPeer(peer);
            }
            if (!conf.contains(self)) {
                throw new IllegalArgumentException("peers " + options.peers() + " do not include this node "
                        + options.endpoint());
            }
        }

        useLeanLogColumnFamilies();
        RaftOptions raft = new RaftOptions();
        raft.setSync(options.sync()); // also fsyncs the Raft meta and snapshot meta (isSyncMeta = sync || syncMeta)
        // SOFAJRaft turns on RocksDB's statistics for the log by default: every write and read of the log
        // then updates RocksDB's tickers and histograms. Nothing reads them (they are only printed by
        // SOFAJRaft's describe), so they are pure cost on the write path.
        raft.setOpenStatistics(false);

        NodeOptions no = new NodeOptions();
        no.setFsm(fsm);
        no.setLogUri(dir.resolve("log").toString());
        no.setRaftMetaUri(dir.resolve("meta").toString());
        no.setSnapshotUri(dir.resolve("snapshot").toString());
        no.setInitialConf(conf);
        no.setElectionTimeoutMs(options.electionTimeoutMs());
        no.setSnapshotIntervalSecs(options.snapshotIntervalSecs());
        no.setRaftOptions(raft);
        runTimersOnSharedSchedulers(no);

        if (options.peerTls() != null) {
            peerTls = PeerTls.start(options.peerTls(), options.nodeId()); // first: a bad file fails before any thread starts
        }

        // SOFAJRaft's own RPC server factory binds bolt to the wildcard address whatever the peer's host
        // is; build the bolt server on the configured host instead (127.0.0.1 unless configured: the safe
        // defaults of docs/design.md), with the executors we own so that close() can stop their threads.
        raftRpcExecutor = JRaftUtils.createExecutor("baton-raft-rpc-" + options.nodeId() + "-",
                no.getRaftRpcThreadPoolSize());
        cliRpcExecutor = JRaftUtils.createExecutor("baton-cli-rpc-" + options.nodeId() + "-",
                no.getCliRpcThreadPoolSize());
        com.alipay.remoting.rpc.RpcServer bolt = new com.alipay.remoting.rpc.RpcServer(options.host(), options.port(), true);
        if (peerTls != null) {
            bolt.option(BoltGenericOption.EXTENDED_NETTY_CHANNEL_HANDLER, peerTls.serverHandlers());
            BatonBoltRpcFactory.register(no, peerTls.clientHandlers()); // SOFAJRaft builds the client from `no`
            nodeOptions = no;
        }
        RpcServer rpc = new BatonBoltRpcServer(bolt); // entries and heartbeats handled on the I/O thread
        RaftRpcServerFactory.addRaftRequestProcessors(rpc, raftRpcExecutor, cliRpcExecutor);

        RaftGroupService s = new RaftGroupService(options.groupId(), self, no, rpc);
        try {
            node = s.start();
        } catch (RuntimeException e) {
            // RaftGroupService starts the node before binding its RPC port and, when the bind fails,
            // neither stops the node nor counts itself started (so its shutdown() does nothing): undo
            // both by hand, or the node keeps running and keeps the RocksDB log locked.
            Node started = s.getRaftNode();
            if (started != null) {
                started.shutdown();
                try {
                    started.join();
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
            try {
                if (s.getRpcServer() != null) {
                    s.getRpcServer().shutdown();
                }
            } catch (RuntimeException ignored) {
                // best effort
            }
            NodeManager.getInstance().removeAddress(self.getEndpoint());
            stopExecutors();
            closed = true;
            batcher.close();
            fsm.onShutdown(); // idempotent; SOFAJRaft calls it too if the node got far enough
            throw new IllegalStateException("cannot start Raft node " + options.nodeId() + " at "
                    + options.endpoint() + " on " + dir + ": " + e.getMessage(), e);
        }
        service = s;
        batcher.start();
        watchPeers(node);
        electionNudge = ElectionNudge.start(node, options.electionTimeoutMs(), options.nodeId());
        return this;
    }

    private static final java.util.concurrent.atomic.AtomicBoolean LEAN_LOG_OPTIONS = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * SOFAJRaft's RocksDB log, with SOFAJRaft's column family options less the memtable prefix bloom
     * filter. SOFAJRaft asks for one of 1/8 of the write buffer (128 MB once its level-style tuning
     * applies): 16 MB per column family, two column families, allocated and zeroed at every open of
     * the log and at every memtable switch (about 0.1 s of CPU at each start on the small VMs, and
     * 32 MB of memory). The filter only lets a memtable lookup of an absent key skip the skip list;
     * the log is read by index, rarely (SOFAJRaft serves recent entries from its own memory), mostly
     * for entries that are there. The log's format, its sync and everything else stay as they were.
     * The options are SOFAJRaft's JVM-wide defaults for its RocksDB log, set once before the first
     * node of the JVM opens its log.
     */
    static void useLeanLogColumnFamilies() {
        if (LEAN_LOG_OPTIONS.compareAndSet(false, true)) {
            org.rocksdb.ColumnFamilyOptions lean = StorageOptionsFactory.getDefaultRocksDBColumnFamilyOptions();
            lean.setMemtablePrefixBloomSizeRatio(0);
            try {
                StorageOptionsFactory.registerRocksDBColumnFamilyOptions(RocksDBLogStorage.class, lean);
            } catch (IllegalStateException alreadyRegistered) {
                lean.close(); // someone else in this JVM chose the log's options first: theirs stay
            }
        }
    }

    /**
     * Runs the node's election, vote, step-down and snapshot timers on SOFAJRaft's JVM-wide shared
     * timers instead of one timer per node each. Why: a per-node timer is a hashed wheel that wakes its
     * thread every millisecond whether anything is due or not (four such threads per node; together
     * about 0.05 core per idle node on the 2-vCPU benchmark VM), while the shared ones are scheduled executors whose
     * threads sleep until the next timeout is due. The timeouts themselves (election timeout, its
     * random spread, vote and step-down periods, snapshot interval) are the same: only the thread that
     * fires them changes. The shared timers are reference-counted by SOFAJRaft: the last node of the
     * JVM to stop shuts them down, and the next node to start makes new ones.
     */
    static void runTimersOnSharedSchedulers(NodeOptions no) {
        no.setSharedElectionTimer(true);
        no.setSharedVoteTimer(true);
        no.setSharedStepDownTimer(true);
        no.setSharedSnapshotTimer(true);
    }

    // ---- peer health lines (quiet logs) ------------------------------------------------------------

    private volatile PeerWatch peerWatch;
    private volatile ElectionNudge electionNudge;
    private volatile PeerTls peerTls;
    private volatile NodeOptions nodeOptions; // registered with BatonBoltRpcFactory while running with TLS
    private volatile java.util.Map<String, String> peerNames = java.util.Map.of();

    /**
     * Names peers in this node's log lines: {@code host:port -> id} (e.g. from {@code --peers}); a
     * peer not named is shown by its address alone.
     */
    public void namePeers(java.util.Map<String, String> idsByEndpoint) {
        peerNames = java.util.Map.copyOf(idsByEndpoint);
    }

    /** Starts Baton's own one-line reports of peers becoming unreachable and reachable (see {@link PeerWatch}). */
    private void watchPeers(Node started) {
        peerWatch = new PeerWatch(started, new PeerId(options.host(), options.port()), options.electionTimeoutMs(),
                endpoint -> {
                    String id = peerNames.get(endpoint);
                    return id == null ? endpoint : id + " (" + endpoint + ")";
                }, options.nodeId()).start();
    }

    // ---- writes --------------------------------------------------------------------------------

    /** Proposes one command; see {@link #propose(List)}. */
    public CompletableFuture<Applied> propose(Command command) {
        return propose(List.of(command));
    }

    /**
     * Proposes the commands as one Raft entry, applied atomically in order. Completes with the
     * entry's {@link Applied} once committed and applied on this node; fails with
     * {@link NotLeaderException} if this node is not the leader, {@link IllegalArgumentException} if
     * a command (or the batch) exceeds the codec's ceilings, {@link RaftOperationException} otherwise.
     */
    public CompletableFuture<Applied> propose(List<? extends Command> commands) {
        Node n = node;
        long term = fsm.leaderTerm();
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        if (term <= 0) {
            return CompletableFuture.failedFuture(new NotLeaderException(leader(), "not the leader"));
        }
        byte[] payload;
        try {
            List<byte[]> encoded = new ArrayList<>(commands.size());
            for (Command c : commands) {
                encoded.add(CommandCodec.encodeChecked(c));
            }
            payload = CommandCodec.batchOfEncoded(encoded);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        ProposalClosure done = new ProposalClosure(this::leader);
        append(n, payload, term, done);
        return done.future();
    }

    /**
     * Submits one command through the leader-side batcher: it is encoded at once (an unencodable
     * command fails this future alone, with {@link IllegalArgumentException}), queued, and proposed
     * together with the commands submitted concurrently, in one Raft entry (see
     * {@link ProposalBatcher}). Completes with this command's own {@link Result} once the entry is
     * committed and applied on this node. Fails with {@link NotLeaderException} if this node is not
     * the leader or stops leading before the command is proposed (it is then never proposed by this
     * node), {@link RaftOperationException} otherwise: {@code ESTOP} once the node is closed,
     * {@code EBUSY} when too many commands already wait. A failure after the entry was appended
     * means "outcome unknown" (see {@link RaftOperationException}).
     */
    public CompletableFuture<Result> submit(Command command) {
        Objects.requireNonNull(command, "command");
        Node n = node;
        long term = fsm.leaderTerm();
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        if (term <= 0) {
            return CompletableFuture.failedFuture(new NotLeaderException(leader(), "not the leader"));
        }
        byte[] encoded;
        try {
            encoded = CommandCodec.encodeChecked(command);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        return batcher.submitAll(List.of(encoded), waitKeys(List.of(command)), term).get(0);
    }

    /** Each command's {@link ContendedKeys#waitKey}, or null if none of them is an acquire that may wait. */
    private static List<ContendedKeys.Key> waitKeys(List<? extends Command> commands) {
        List<ContendedKeys.Key> keys = null;
        for (int i = 0; i < commands.size(); i++) {
            ContendedKeys.Key k = ContendedKeys.waitKey(commands.get(i));
            if (k != null) {
                if (keys == null) {
                    keys = new ArrayList<>(Collections.nCopies(commands.size(), null));
                }
                keys.set(i, k);
            }
        }
        return keys;
    }

    /**
     * {@link #submit} for several commands at once, in this order: queued under one lock, so they
     * enter the log together and in this order (a door hands over everything it read in one turn of
     * its event loop; a follower's forwarded frame is proposed as it came). Each future is that of
     * {@code submit} for its command.
     */
    public List<CompletableFuture<Result>> submitAll(List<? extends Command> commands) {
        Node n = node;
        long term = fsm.leaderTerm();
        List<CompletableFuture<Result>> out = new ArrayList<>(commands.size());
        if (n == null || closed || term <= 0) {
            RuntimeException e = n == null || closed ? new RaftOperationException("ESTOP", "node is not running")
                    : new NotLeaderException(leader(), "not the leader");
            for (int i = 0; i < commands.size(); i++) {
                out.add(CompletableFuture.failedFuture(e));
            }
            return out;
        }
        List<byte[]> encoded = new ArrayList<>(commands.size());
        List<Command> accepted = new ArrayList<>(commands.size());
        int[] at = new int[commands.size()];
        for (int i = 0; i < commands.size(); i++) {
            try {
                encoded.add(CommandCodec.encodeChecked(Objects.requireNonNull(commands.get(i), "command")));
                accepted.add(commands.get(i));
                at[i] = encoded.size() - 1;
                out.add(null);
            } catch (IllegalArgumentException | NullPointerException e) {
                at[i] = -1;
                out.add(CompletableFuture.failedFuture(e));
            }
        }
        List<CompletableFuture<Result>> submitted = batcher.submitAll(encoded, waitKeys(accepted), term);
        for (int i = 0; i < at.length; i++) {
            if (at[i] >= 0) {
                out.set(i, submitted.get(at[i]));
            }
        }
        return out;
    }

    /** The batcher's counters (entries and commands proposed through {@link #submit}, queue, in flight). */
    public ProposalBatcher.Stats batcherStats() {
        return batcher.stats();
    }

    /** How the batcher packs entries (as configured at construction). */
    public ProposalBatcher.Config batching() {
        return batcher.config();
    }

    /** The batcher's sink: appends one sealed batch as an entry of {@code term}. */
    private void appendBatch(byte[] payload, long term, ProposalClosure done) {
        Node n = node;
        if (n == null || closed) {
            done.run(new Status(RaftError.ESTOP, "node is not running"));
            return;
        }
        append(n, payload, term, done);
    }

    /**
     * Stamps the entry with max(cluster time, last stamp issued, last stamp applied) and appends it,
     * under one lock so that log order and stamp order agree; the task expects {@code term}.
     */
    private void append(Node n, byte[] payload, long term, ProposalClosure done) {
        done.appended(System.nanoTime(), commitLatency);
        synchronized (proposeLock) {
            long applied = fsm.lastAppliedStamp();
            long stamp = Math.max(Math.max(clock.leaderNow(term, applied), lastStampIssued), applied);
            lastStampIssued = stamp;
            n.apply(new Task(RaftEntryCodec.encode(stamp, payload), done, term));
        }
    }

    // ---- reads ---------------------------------------------------------------------------------

    /** How long a linearizable read may wait for its read index (SOFAJRaft's default, 2 s). */
    static final long READ_INDEX_TIMEOUT_MS = 2_000;

    /**
     * The JVM's one timer for the nodes' reads that time out and for the batcher's held commands and
     * entries waiting to fill ({@link ProposalBatcher}); it sleeps until something is due.
     */
    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "baton-node-timer");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true); // answered reads leave nothing queued
        return e;
    }

    /** A linearizable read: answered from a state that includes every write committed before the call. */
    public <R> CompletableFuture<R> read(Query<R> query) {
        return afterReadBarrier(() -> fsm.core().lookup(query));
    }

    /**
     * Runs {@code answer} once this node has applied every write committed before the call (SOFAJRaft's
     * ReadIndex, as {@link #read}), on the SOFAJRaft thread that saw the read index applied.
     */
    private <R> CompletableFuture<R> afterReadBarrier(java.util.function.Supplier<R> answer) {
        Node n = node;
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        CompletableFuture<R> result = new CompletableFuture<>();
        // No timeout of SOFAJRaft's own (-1): its first use starts a static wheel that ticks every
        // millisecond for the rest of the JVM's life. Ours sleeps until a read is due to time out.
        ScheduledFuture<?> timeout = TIMER.schedule(() -> result.completeExceptionally(
                ProposalClosure.failure(new Status(RaftError.ETIMEDOUT, "read-index request timeout"), this::leader)),
                READ_INDEX_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        result.whenComplete((r, t) -> timeout.cancel(false));
        n.readIndex(new byte[0], new ReadIndexClosure(-1) {
            @Override
            public void run(Status status, long index, byte[] reqCtx) {
                if (!status.isOk()) {
                    result.completeExceptionally(ProposalClosure.failure(status, BatonNode.this::leader));
                    return;
                }
                try {
                    result.complete(answer.get());
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            }
        });
        return result;
    }

    /**
     * Answers from this node's latest applied state without any Raft round: may be stale (on a
     * follower, or on a deposed leader). For dashboards and metrics, never for decisions.
     */
    public <R> R readLocal(Query<R> query) {
        return fsm.core().lookup(query);
    }

    // ---- admin ---------------------------------------------------------------------------------

    /**
     * The replicated state captured for a backup ({@link BackupFile}): one applied state, immutable,
     * so its snapshot is consistent however many writes are applied while it is written.
     *
     * @param handle what {@link #writeSnapshot} writes
     * @param term   the Raft term this node knew when it captured the state
     */
    public record StateCapture(SnapshotHandle handle, long term) {
        /** The index of the last entry applied to the captured state. */
        public long index() {
            return handle.index();
        }

        /** The leader stamp of that entry, ms since the epoch. */
        public long time() {
            return handle.time();
        }
    }

    /**
     * Captures the state for a backup after a read barrier: it includes every write committed before
     * the call (on any node, as a linearizable {@link #read}). O(1): {@link #writeSnapshot} does the work.
     */
    public CompletableFuture<StateCapture> captureForBackup() {
        return afterReadBarrier(() -> new StateCapture(fsm.core().capturePublished(), fsm.knownTerm()));
    }

    /** Writes a captured state in the snapshot format (the bytes of {@link BatonStateMachine#SNAPSHOT_FILE}). */
    public void writeSnapshot(StateCapture capture, java.io.OutputStream out) throws IOException {
        fsm.core().saveSnapshot(capture.handle(), out);
    }

    /**
     * Takes a snapshot now (the log before it is then truncated). Completes when it is on disk;
     * completes at once if nothing was applied since the last one; fails with {@code EBUSY} if a
     * snapshot is already being saved or loaded.
     */
    public CompletableFuture<Void> snapshotNow() {
        Node n = node;
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        n.snapshot(status -> {
            if (status.isOk()) {
                result.complete(null);
            } else {
                result.completeExceptionally(ProposalClosure.failure(status, this::leader));
            }
        });
        return result;
    }

    // ---- membership -----------------------------------------------------------------------------

    /**
     * Adds a voting peer ({@code host:port}) to the cluster; on the leader only. SOFAJRaft first
     * lets the new peer catch up with the log (or a snapshot), then commits the new configuration;
     * the future completes once it is committed. Start the new node with {@link #startJoining()}
     * first. Idempotent: completes at once if the peer is already in this leader's configuration.
     * Fails with {@link NotLeaderException} elsewhere, {@link IllegalArgumentException} for a bad
     * address, {@link RaftOperationException} otherwise ({@code EBUSY} while another change or a
     * leadership transfer is under way, {@code ECATCHUP} if the new peer does not catch up in time;
     * after a failure, whether the change happened is unknown: look at {@link #peers()}).
     */
    public CompletableFuture<Void> addPeer(String hostPort) {
        return changePeers(hostPort, true);
    }

    /**
     * Removes a voting peer ({@code host:port}); on the leader only. Completes once the new
     * configuration is committed; the removed node then gets no more entries (stop it). Removing the
     * leader itself is allowed: it steps down once the change is committed. Idempotent: completes at
     * once if the peer is not in this leader's configuration. Fails as {@link #addPeer} does.
     */
    public CompletableFuture<Void> removePeer(String hostPort) {
        return changePeers(hostPort, false);
    }

    private CompletableFuture<Void> changePeers(String hostPort, boolean add) {
        Node n = node;
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        PeerId peer;
        try {
            peer = parsePeer(hostPort);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (!n.isLeader()) {
            return CompletableFuture.failedFuture(new NotLeaderException(leader(), "not the leader"));
        }
        Configuration conf = currentConf(n);
        if (conf != null && conf.contains(peer) == add) {
            return CompletableFuture.completedFuture(null); // already as asked
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        Closure done = status -> {
            if (status.isOk()) {
                result.complete(null);
            } else {
                result.completeExceptionally(ProposalClosure.failure(status, this::leader));
            }
        };
        try {
            if (add) {
                n.addPeer(peer, done);
            } else {
                n.removePeer(peer, done);
            }
        } catch (IllegalArgumentException e) {
            // SOFAJRaft's own checks (the configuration changed since we looked, or would be invalid)
            result.completeExceptionally(e);
        }
        return result;
    }

    /**
     * Transfers leadership to the named follower ({@code host:port}); on the leader only. This node
     * stops accepting proposals at once; the future completes when this node sees the target lead.
     * If the target does not take over within SOFAJRaft's election timeout, SOFAJRaft gives the
     * transfer up and this node leads again; the future then fails with {@code ETIMEDOUT} (after
     * about three election timeouts). Fails with {@link NotLeaderException} elsewhere,
     * {@link IllegalArgumentException} for a bad address, {@code EINVAL} for a target that is not a
     * peer, {@code EBUSY} during a configuration change.
     */
    public CompletableFuture<Void> transferLeadership(String hostPort) {
        Node n = node;
        if (n == null || closed) {
            return CompletableFuture.failedFuture(new RaftOperationException("ESTOP", "node is not running"));
        }
        PeerId target;
        try {
            target = parsePeer(hostPort);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        Status st = n.transferLeadershipTo(target);
        if (!st.isOk()) {
            return CompletableFuture.failedFuture(ProposalClosure.failure(st, this::leader));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        long waitMs = 3L * options.electionTimeoutMs() + 1000;
        awaitLeader(target.getEndpoint().toString(), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs),
                waitMs, result);
        return result;
    }

    /** Polls (every 10 ms, on the JDK's shared delayed executor) until {@code target} leads. */
    private void awaitLeader(String target, long deadline, long waitMs, CompletableFuture<Void> result) {
        if (closed) {
            result.completeExceptionally(new RaftOperationException("ESTOP", "node is not running"));
        } else if (leader().filter(target::equals).isPresent()) {
            result.complete(null);
        } else if (System.nanoTime() - deadline >= 0) {
            result.completeExceptionally(new RaftOperationException("ETIMEDOUT", "leadership did not move to "
                    + target + " within " + waitMs + " ms; the leader is " + leader().orElse("unknown")));
        } else {
            CompletableFuture.delayedExecutor(10, TimeUnit.MILLISECONDS)
                    .execute(() -> awaitLeader(target, deadline, waitMs, result));
        }
    }

    /**
     * The cluster's voting peers ({@code host:port} each) in the newest configuration this node
     * knows: on the leader the one it replicates, on a follower the newest one in its log (SOFAJRaft's
     * {@code NodeImpl.getCurrentConf()}), which may not be committed yet and may lag the leader's
     * by a replication round. Empty before start, after close, and on a joining node not yet added.
     */
    public List<String> peers() {
        Node n = node;
        if (n == null || closed) {
            return List.of();
        }
        Configuration conf = currentConf(n);
        if (conf == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (PeerId p : conf.getPeers()) {
            out.add(p.getEndpoint().toString());
        }
        return List.copyOf(out);
    }

    /** This node's current configuration, or null if unknown. */
    private static Configuration currentConf(Node n) {
        if (n instanceof NodeImpl impl) {
            return impl.getCurrentConf(); // a copy, taken under the node's lock
        }
        if (n.isLeader()) {
            try {
                return new Configuration(n.listPeers());
            } catch (IllegalStateException notLeaderAnyMore) {
                return null;
            }
        }
        return null;
    }

    private static PeerId parsePeer(String hostPort) {
        PeerId peer = new PeerId();
        if (hostPort == null || !peer.parse(hostPort) || peer.isEmpty()) {
            throw new IllegalArgumentException("not a host:port peer: " + hostPort);
        }
        return peer;
    }

    // ---- status ---------------------------------------------------------------------------------

    /** True if this node is the leader and accepts proposals. */
    public boolean isLeader() {
        return node != null && !closed && fsm.isLeader();
    }

    /**
     * Registers a listener told (on the apply thread: it must be quick) whenever this node's idea of
     * the leader changes: the new leader's Raft endpoint (this node's own when it starts leading), or
     * null when there is none. A follower hears null as soon as its election timeout passes without
     * a word from the leader, before any new leader is elected.
     */
    public void addLeaderChangeListener(java.util.function.Consumer<String> listener) {
        fsm.addLeaderChangeListener(listener);
    }

    /** The leader's Raft endpoint ({@code host:port}) as this node knows it. */
    public Optional<String> leader() {
        Node n = node;
        PeerId id = n == null ? null : n.getLeaderId();
        return id == null || id.isEmpty() ? Optional.empty() : Optional.of(id.getEndpoint().toString());
    }

    /** SOFAJRaft's last log index on this node (appended, maybe not committed yet); 0 before start. */
    public long lastLogIndex() {
        Node n = node;
        return n instanceof NodeImpl impl ? impl.getLastLogIndex() : 0;
    }

    private volatile LongConsumer commitLatency;

    /**
     * Tells {@code sink}, on the apply thread, for every entry this node proposes as leader, the
     * nanoseconds from handing it to Raft to applying it here: replication to a majority, the log's
     * fsync on each of them, and this node's apply. It must be quick.
     */
    public void onCommitLatency(LongConsumer sink) {
        commitLatency = sink;
    }

    /** What the snapshots on disk take and when the newest was written; see {@link #snapshotFiles()}. */
    public record SnapshotFiles(long bytes, long newestModifiedMillis) {
        static final SnapshotFiles NONE = new SnapshotFiles(0, -1);
    }

    /**
     * The snapshots this node keeps (the {@code snapshot_*} directories under {@code snapshot}, saved
     * here or installed from the leader): their bytes, and the time the newest file in them was
     * written (-1 with none). A directory walk: callers cache it.
     */
    public SnapshotFiles snapshotFiles() {
        Path dir = options.dataDir().resolve("snapshot");
        if (!Files.isDirectory(dir)) {
            return SnapshotFiles.NONE;
        }
        long bytes = 0;
        long newest = -1;
        try (var snapshots = Files.list(dir)) {
            for (Path s : snapshots.filter(p -> p.getFileName().toString().startsWith("snapshot_")).toList()) {
                try (var files = Files.walk(s)) {
                    for (Path f : files.filter(Files::isRegularFile).toList()) {
                        try {
                            bytes += Files.size(f);
                            newest = Math.max(newest, Files.getLastModifiedTime(f).toMillis());
                        } catch (IOException gone) {
                            // a snapshot replaced by a newer one while we walked
                        }
                    }
                } catch (IOException | UncheckedIOException gone) {
                    // likewise
                }
            }
        } catch (IOException | UncheckedIOException e) {
            return SnapshotFiles.NONE;
        }
        return new SnapshotFiles(bytes, newest);
    }

    /** Bytes the Raft log takes on disk (the {@code log} directory), or -1 if it cannot be read. */
    public long logBytes() {
        java.nio.file.Path dir = options.dataDir().resolve("log");
        try (var files = java.nio.file.Files.walk(dir)) {
            return files.filter(java.nio.file.Files::isRegularFile).mapToLong(f -> {
                try {
                    return java.nio.file.Files.size(f);
                } catch (java.io.IOException gone) {
                    return 0; // a segment removed while we walked
                }
            }).sum();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return -1;
        }
    }

    /** The latest term this node saw start (it led or followed a leader in it); 0 before any. */
    public long term() {
        return fsm.knownTerm();
    }

    /** SOFAJRaft's last applied log index (configuration entries included); 0 before start. */
    public long lastAppliedIndex() {
        Node n = node;
        return n == null ? 0 : n.getLastAppliedLogIndex();
    }

    /** The last data entry applied to the core on this node (what {@link #whenApplied} compares with). */
    public long appliedDataIndex() {
        return fsm.appliedIndex();
    }

    /**
     * Called on the apply thread while it applies a batch of entries (a proposer's callback): runs
     * {@code task} there once the batch is done, once however often the same instance is given, and
     * answers true. Any other caller gets false and nothing is queued. For work many commands of a
     * batch produce that is best done once per batch, on the thread already running.
     */
    public boolean runAfterApplyBatch(Runnable task) {
        return fsm.runAfterThisBatch(task);
    }

    /**
     * Completes once this node has applied the entry at {@code index}, on the apply thread right after
     * that entry's effects went to the {@link EffectListener} (at once if already applied). A front
     * door that learns a result from the leader waits for this before answering, so its client sees
     * the effects of earlier entries (a grant, a DONE) before the answer of a later one.
     */
    public CompletableFuture<Void> whenApplied(long index) {
        return fsm.whenApplied(index);
    }

    /**
     * SOFAJRaft's last committed log index as this node knows it (on a follower, as of the leader's
     * last message); 0 before start.
     */
    public long commitIndex() {
        Node n = node;
        return n == null ? 0 : n.getLastCommittedIndex();
    }

    /**
     * This node's view of the cluster time (ms since the epoch, the time entries are stamped with):
     * the leader's {@link ClusterClock} while leading, elsewhere the newest applied stamp plus the
     * monotonic time since this node saw it. For deciding when to propose time-driven commands
     * (wait expiry) on the leader and for ages shown to people; see {@link ClusterClock}.
     */
    public long clusterTime() {
        return clock.now(fsm.leaderTerm(), fsm.lastAppliedStamp());
    }

    /** {@link #clusterTime()} − this node's wall clock, ms (positive: the cluster time is ahead). */
    public long clockSkewMillis() {
        return clock.skewMillis(fsm.leaderTerm(), fsm.lastAppliedStamp());
    }

    /** The watch on {@link #clockSkewMillis()} (bound, warning state, gauge). */
    public ClockSkewWatch clockSkew() {
        return clockSkew;
    }

    /** The highest leader timestamp applied on this node. */
    public long lastAppliedStamp() {
        return fsm.lastAppliedStamp();
    }

    /** The core index restored from a snapshot when this node last loaded one, or -1. */
    public long lastLoadedSnapshotIndex() {
        return fsm.lastLoadedSnapshotIndex();
    }

    /**
     * Why this replica stopped applying entries (SOFAJRaft error: an unreadable entry, a state
     * machine bug, a storage failure), or empty while healthy. A stopped replica needs an operator:
     * fix and restart it, or wipe it and let it catch up from the others.
     */
    public Optional<String> failure() {
        var e = fsm.error();
        return e == null ? Optional.empty() : Optional.of(e.getType() + ": " + e.getStatus());
    }

    public Options options() {
        return options;
    }

    /**
     * Waits until a leader is known to this node and, if it is this node, until it accepts
     * proposals. Polls; for tests and startup.
     *
     * @return the leader's endpoint, or empty if none within the timeout
     */
    public Optional<String> waitForLeader(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<String> l = leader();
            if (l.isPresent() && (!l.get().equals(options.endpoint()) || isLeader())) {
                return l;
            }
            if (System.nanoTime() - deadline >= 0 || closed) {
                return Optional.empty();
            }
            Thread.sleep(10);
        }
    }

    /**
     * The commands of committed log entry {@code index}, as written (empty for a configuration entry
     * or one not committed); for tests and tools that check what the doors put in the log.
     */
    public List<Command> committedCommands(long index) {
        Node n = node;
        if (n == null || index > commitIndex()) {
            return List.of();
        }
        com.alipay.sofa.jraft.entity.UserLog log = n.readCommittedUserLog(index);
        if (log == null || log.getIndex() != index) {
            return List.of();
        }
        return CommandCodec.decodeBatch(RaftEntryCodec.decode(index, log.getData()).payload());
    }

    /** The SOFAJRaft node, for tests in this package. */
    Node raftNode() {
        return node;
    }

    /** Stops the node and waits until its log, snapshot and RPC server are closed. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        batcher.close(); // queued commands fail with ESTOP
        PeerWatch w = peerWatch;
        if (w != null) {
            w.close();
        }
        ElectionNudge en = electionNudge;
        if (en != null) {
            en.close();
        }
        RaftGroupService s = service;
        if (s == null) {
            fsm.onShutdown(); // never started: nothing else owns the state machine
            return;
        }
        s.shutdown();
        try {
            s.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        batcher.failInFlight(); // SOFAJRaft has run every closure by now; this is a safety net
        stopExecutors();
    }

    private void stopExecutors() {
        for (Executor e : new Executor[] {raftRpcExecutor, cliRpcExecutor}) {
            if (e instanceof ExecutorService es) {
                es.shutdown();
            }
        }
        NodeOptions no = nodeOptions;
        if (no != null) {
            BatonBoltRpcFactory.unregister(no);
        }
        PeerTls tls = peerTls;
        if (tls != null) {
            tls.close();
        }
    }
}
