package dev.baton.server.grpc;

import dev.baton.server.route.Router;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.BackupChunk;
import dev.baton.api.v1.BackupRequest;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.DumpResponse;
import dev.baton.api.v1.Member;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.SnapshotResponse;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.raft.BackupFile;
import dev.baton.server.raft.BatonNode;
import com.google.protobuf.ByteString;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Cluster administration: status (members, leader, term, indexes), membership changes and
 * leadership transfer (run on the leader; a follower forwards them there), snapshot now, and the
 * JSON dump of the whole state, and backups of it.
 */
public final class AdminService extends AdminGrpc.AdminImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(AdminService.class);
    /** Bytes of a backup per message: well under gRPC's default 4 MiB message limit. */
    static final int BACKUP_CHUNK_BYTES = 1 << 20;
    private static final String BACKUP_PREFIX = "backup-";
    private static final String BACKUP_SUFFIX = ".partial";

    private final AtomicBoolean backingUp = new AtomicBoolean();
    private final Router router;
    private final PeerForwarding peers;
    private final String nodeId;
    private final java.util.function.Supplier<String> apiEndpoint;
    private final ClusterSecret clusterSecret;

    /**
     * @param clusterSecret sent on this node's own Admin calls to the other members (a change passed
     *                      on to the leader, their status): with tokens on the API port, it is how they
     *                      know the call comes from a member ({@link TokenAuth#MEMBER})
     */
    public AdminService(Router router, PeerForwarding peers, String nodeId, java.util.function.Supplier<String> apiEndpoint,
                 ClusterSecret clusterSecret) {
        this.router = router;
        this.peers = peers;
        this.nodeId = nodeId;
        this.apiEndpoint = apiEndpoint;
        this.clusterSecret = clusterSecret;
    }

    private AdminGrpc.AdminFutureStub memberStub(String api) {
        return AdminGrpc.newFutureStub(peers.channel(api)).withInterceptors(clusterSecret.clientInterceptor());
    }

    /** This node's view of the cluster. */
    public StatusResponse status() {
        BatonNode node = router.node();
        String self = node.options().endpoint();
        Optional<String> leader = node.leader();
        Map<String, View.Node> book = new LinkedHashMap<>();
        for (View.Node n : node.readLocal(new Query.ListNodes())) {
            book.put(n.raftEndpoint(), n);
        }
        StatusResponse.Builder b = StatusResponse.newBuilder().setNodeId(nodeId).setRaftAddress(self)
                .setApiAddress(apiEndpoint.get()).setTerm(node.term()).setIsLeader(node.isLeader())
                .setCommitIndex(node.commitIndex()).setAppliedIndex(node.lastAppliedIndex())
                .setFailure(node.failure().orElse(""))
                .setLastSnapshotIndex(Math.max(0, node.lastLoadedSnapshotIndex()))
                .setPools(Convert.info(node.readLocal(new Query.GetPoolTotals())));
        leader.ifPresent(l -> {
            b.setLeaderRaftAddress(l);
            View.Node n = book.get(l);
            if (n != null) {
                b.setLeaderApiAddress(n.apiEndpoint());
            }
        });
        List<String> peers = node.peers();
        for (String p : peers) {
            View.Node n = book.get(p);
            b.addMembers(Member.newBuilder().setRaftAddress(p).setNodeId(n == null ? "" : n.nodeId())
                    .setApiAddress(n == null ? "" : n.apiEndpoint()).setLeader(leader.map(p::equals).orElse(false)));
        }
        return b.build();
    }

    @Override
    public void status(StatusRequest req, StreamObserver<StatusResponse> out) {
        try {
            out.onNext(status());
            out.onCompleted();
        } catch (RuntimeException e) {
            out.onError(ApiErrors.toStatus(e, null));
        }
    }

    private void onLeader(MemberRequest req, StreamObserver<StatusResponse> out,
                          Function<String, CompletableFuture<?>> local,
                          Function<AdminGrpc.AdminFutureStub, com.google.common.util.concurrent.ListenableFuture<StatusResponse>> remote) {
        String target = req.getRaftAddress();
        if (target.isEmpty() || target.lastIndexOf(':') <= 0) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("raft_address must be host:port, got '" + target + "'")
                    .asRuntimeException(ApiErrors.trailers("INVALID_ARGUMENT", null)));
            return;
        }
        BatonNode node = router.node();
        if (node.isLeader()) {
            ApiServices.respond(local.apply(target).thenApply(x -> status()), out);
            return;
        }
        Optional<String> api = router.leaderApi();
        if (api.isEmpty() || api.get().equals(apiEndpoint.get())) {
            out.onError(ApiErrors.unavailable("no leader to run the change on", null));
            return;
        }
        String leaderApi = api.get();
        ApiServices.respond(completable(remote.apply(memberStub(leaderApi)
                .withDeadlineAfter(30, TimeUnit.SECONDS))).handle((r, t) -> {
                    if (t == null) {
                        return r;
                    }
                    StatusRuntimeException s = ApiErrors.toStatus(t, null);
                    Metadata trailers = s.getTrailers();
                    if (s.getStatus().getCode() == Status.Code.UNAVAILABLE
                            && (trailers == null || trailers.get(ApiErrors.ERROR_KEY) == null)) {
                        // not the leader's answer but a failure to reach it: say so, as ours (the
                        // change is safe to ask again; it completes at once if it was made)
                        throw ApiErrors.unavailable("the leader at " + leaderApi + " could not be reached: "
                                + s.getStatus().getDescription(), null);
                    }
                    throw s;
                }), out);
    }

    /** Another node's status, asked over gRPC with a deadline. */
    public CompletableFuture<StatusResponse> statusOf(String api, long deadlineMs) {
        return completable(memberStub(api).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                .status(StatusRequest.getDefaultInstance()));
    }

    private static <T> CompletableFuture<T> completable(com.google.common.util.concurrent.ListenableFuture<T> call) {
        CompletableFuture<T> f = new CompletableFuture<>();
        call.addListener(() -> {
            try {
                f.complete(call.get());
            } catch (Exception e) {
                f.completeExceptionally(e.getCause() != null ? e.getCause() : e);
            }
        }, Runnable::run);
        return f;
    }

    @Override
    public void addMember(MemberRequest req, StreamObserver<StatusResponse> out) {
        onLeader(req, out, t -> router.node().addPeer(t), s -> s.addMember(req));
    }

    @Override
    public void removeMember(MemberRequest req, StreamObserver<StatusResponse> out) {
        onLeader(req, out, t -> router.node().removePeer(t), s -> s.removeMember(req));
    }

    @Override
    public void transferLeader(MemberRequest req, StreamObserver<StatusResponse> out) {
        onLeader(req, out, t -> router.node().transferLeadership(t), s -> s.transferLeader(req));
    }

    @Override
    public void snapshot(SnapshotRequest req, StreamObserver<SnapshotResponse> out) {
        ApiServices.respond(router.node().snapshotNow().handle((v, t) -> {
            if (t != null) {
                throw ApiErrors.toStatus(t, null);
            }
            return SnapshotResponse.newBuilder().setAppliedIndex(router.node().lastAppliedIndex()).build();
        }), out);
    }

    /**
     * A backup file of this node's state ({@link BackupFile}), as of a read barrier: the state
     * includes every write committed before the call, wherever it was made, so any member can take
     * it and the leader does not pay for it. The file is first written to the data directory
     * (the node holds no second copy of a large state in memory), then sent in chunks as fast as
     * the client takes them, and deleted. One backup at a time per node.
     */
    @Override
    public void backup(BackupRequest req, StreamObserver<BackupChunk> out) {
        ServerCallStreamObserver<BackupChunk> call = (ServerCallStreamObserver<BackupChunk>) out;
        if (!backingUp.compareAndSet(false, true)) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription("this node is already sending a backup; try"
                    + " again when it is done, or ask another node").asRuntimeException());
            return;
        }
        BackupSender sender = new BackupSender(call);
        call.setOnCancelHandler(sender::cancel);
        call.setOnReadyHandler(sender::pumpLater);
        BatonNode node = router.node();
        node.captureForBackup().whenComplete((capture, t) -> {
            if (t != null) {
                sender.fail(ApiErrors.toStatus(t, null));
            } else {
                sender.prepare(node, capture);
            }
        });
    }

    /** One backup: written to a file in the data directory, then streamed from it. */
    private final class BackupSender {
        private final ServerCallStreamObserver<BackupChunk> call;
        private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "baton-backup");
            t.setDaemon(true);
            return t;
        });
        private Path file; // on the backup thread only, from here on
        private FileChannel channel;
        private long size;
        private boolean first = true;
        private long appliedIndex;
        private volatile boolean finished;

        BackupSender(ServerCallStreamObserver<BackupChunk> call) {
            this.call = call;
        }

        void prepare(BatonNode node, BatonNode.StateCapture capture) {
            run(() -> {
                if (finished) {
                    return;
                }
                Path dir = node.options().dataDir();
                removeLeftovers(dir);
                file = Files.createTempFile(dir, BACKUP_PREFIX, BACKUP_SUFFIX);
                try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
                    BackupFile.write(o, BackupFile.Header.of(capture.index(), capture.term(), capture.time(),
                            System.currentTimeMillis(), nodeId), bytes -> node.writeSnapshot(capture, bytes));
                }
                channel = FileChannel.open(file, StandardOpenOption.READ);
                size = channel.size();
                appliedIndex = capture.index();
                pump();
            });
        }

        void pumpLater() {
            run(this::pump);
        }

        /** Sends chunks while the client takes them; the rest when it is ready again. */
        private void pump() throws IOException {
            if (finished || channel == null) {
                return;
            }
            while (call.isReady() && !finished) {
                ByteBuffer b = ByteBuffer.allocate((int) Math.min(BACKUP_CHUNK_BYTES, Math.max(0, size - channel.position())));
                while (b.hasRemaining() && channel.read(b) >= 0) {
                    // read the chunk whole
                }
                b.flip();
                BackupChunk.Builder chunk = BackupChunk.newBuilder().setData(ByteString.copyFrom(b));
                if (first) {
                    chunk.setAppliedIndex(appliedIndex).setTotalBytes(size);
                    first = false;
                }
                call.onNext(chunk.build());
                if (channel.position() >= size) {
                    call.onCompleted();
                    finish();
                    return;
                }
            }
        }

        void fail(RuntimeException status) {
            run(() -> {
                if (!finished) {
                    call.onError(status);
                    finish();
                }
            });
        }

        void cancel() {
            run(this::finish);
        }

        private void finish() {
            if (finished) {
                return;
            }
            finished = true;
            try {
                if (channel != null) {
                    channel.close();
                }
                if (file != null) {
                    Files.deleteIfExists(file);
                }
            } catch (IOException e) {
                LOG.warn("could not remove the backup file {}: {}", file, e.toString());
            }
            backingUp.set(false);
            thread.shutdown();
        }

        private interface Step {
            void run() throws Exception;
        }

        private void run(Step step) {
            try {
                thread.execute(() -> {
                    try {
                        step.run();
                    } catch (Throwable t) {
                        LOG.warn("backup failed", t);
                        if (!finished) {
                            try {
                                call.onError(Status.INTERNAL.withDescription("backup failed: " + t).asRuntimeException());
                            } catch (RuntimeException alreadyClosed) {
                                // the call ended meanwhile
                            }
                            finish();
                        }
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException done) {
                // finished: nothing more to send
            }
        }
    }

    /** Removes backup files a node stopped in the middle of a backup left behind. */
    private static void removeLeftovers(Path dir) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, BACKUP_PREFIX + "*" + BACKUP_SUFFIX)) {
            for (Path p : s) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warn("could not remove old backup files in {}: {}", dir, e.toString());
        }
    }

    @Override
    public void dump(DumpRequest req, StreamObserver<DumpResponse> out) {
        ApiServices.respond(router.read(new Query.DumpJson(), GrpcCaller.current()).thenApply(json -> DumpResponse.newBuilder().setJson(json)
                .setAppliedIndex(router.node().lastAppliedIndex()).build()), out);
    }
}
