package dev.baton.client;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.DumpRequest;
import dev.baton.api.v1.MemberRequest;
import dev.baton.api.v1.SnapshotRequest;
import dev.baton.api.v1.StatusRequest;
import dev.baton.client.internal.ClientCore;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The cluster's status and administration (not tied to a session). Get it with
 * {@link BatonClient#cluster()}. Membership calls carry no request id: a retry after an unknown outcome
 * runs again.
 */
public final class Cluster {
    private final ClientCore core;

    Cluster(ClientCore core) {
        this.core = core;
    }

    /** Members, leader, term and indexes as the answering node (the current endpoint) sees them. */
    public CompletableFuture<ClusterStatus> statusAsync() {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getStatusMethod(), StatusRequest.getDefaultInstance(),
                core.policy("Admin.Status", null)), Wire::status));
    }

    /** Blocking {@link #statusAsync}. */
    public ClusterStatus status() {
        return ClientCore.await(() -> statusAsync());
    }

    /** Adds the member with Raft address {@code raftAddress} ({@code host:port}); run on the leader. */
    public CompletableFuture<ClusterStatus> addMemberAsync(String raftAddress) {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getAddMemberMethod(), member(raftAddress),
                core.policy("Admin.AddMember", null)), Wire::status));
    }

    /** Blocking {@link #addMemberAsync}. */
    public ClusterStatus addMember(String raftAddress) {
        return ClientCore.await(() -> addMemberAsync(raftAddress));
    }

    /** Removes the member with Raft address {@code raftAddress}. */
    public CompletableFuture<ClusterStatus> removeMemberAsync(String raftAddress) {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getRemoveMemberMethod(), member(raftAddress),
                core.policy("Admin.RemoveMember", null)), Wire::status));
    }

    /** Blocking {@link #removeMemberAsync}. */
    public ClusterStatus removeMember(String raftAddress) {
        return ClientCore.await(() -> removeMemberAsync(raftAddress));
    }

    /** Makes the member with Raft address {@code raftAddress} the leader. */
    public CompletableFuture<ClusterStatus> transferLeaderAsync(String raftAddress) {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getTransferLeaderMethod(), member(raftAddress),
                core.policy("Admin.TransferLeader", null)), Wire::status));
    }

    /** Blocking {@link #transferLeaderAsync}. */
    public ClusterStatus transferLeader(String raftAddress) {
        return ClientCore.await(() -> transferLeaderAsync(raftAddress));
    }

    /** Takes a snapshot now on the answering node (the current endpoint). */
    public CompletableFuture<SnapshotTaken> snapshotAsync() {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getSnapshotMethod(),
                SnapshotRequest.getDefaultInstance(), core.policy("Admin.Snapshot", null)),
                r -> new SnapshotTaken(r.getAppliedIndex())));
    }

    /** Blocking {@link #snapshotAsync}. */
    public SnapshotTaken snapshot() {
        return ClientCore.await(() -> snapshotAsync());
    }

    /** The whole coordination state as deterministic JSON, with the applied index it reflects. */
    public CompletableFuture<StateDump> dumpAsync() {
        return core.forCaller(ClientCore.map(core.run(AdminGrpc.getDumpMethod(), DumpRequest.getDefaultInstance(),
                core.policy("Admin.Dump", null)), r -> new StateDump(r.getJson(), r.getAppliedIndex())));
    }

    /** Blocking {@link #dumpAsync}. */
    public StateDump dump() {
        return ClientCore.await(() -> dumpAsync());
    }

    private static MemberRequest member(String raftAddress) {
        Objects.requireNonNull(raftAddress, "raftAddress");
        return MemberRequest.newBuilder().setRaftAddress(raftAddress).build();
    }
}
