package dev.baton.server.grpc;

import dev.baton.server.route.Router;

import dev.baton.api.v1.AdminGrpc;
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
import dev.baton.server.raft.BatonNode;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

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
 * JSON dump of the whole state.
 */
public final class AdminService extends AdminGrpc.AdminImplBase {
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
        ApiServices.respond(completable(remote.apply(memberStub(api.get())
                .withDeadlineAfter(30, TimeUnit.SECONDS))), out);
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

    @Override
    public void dump(DumpRequest req, StreamObserver<DumpResponse> out) {
        ApiServices.respond(router.read(new Query.DumpJson(), GrpcCaller.current()).thenApply(json -> DumpResponse.newBuilder().setJson(json)
                .setAppliedIndex(router.node().lastAppliedIndex()).build()), out);
    }
}
