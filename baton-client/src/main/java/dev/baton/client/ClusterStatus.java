package dev.baton.client;

import java.util.List;

/**
 * The cluster as one node sees it.
 *
 * @param nodeId the answering node
 * @param raftAddress its Raft address
 * @param apiAddress its API address
 * @param leaderRaftAddress the leader's Raft address, empty if unknown
 * @param leaderApiAddress the leader's API address, empty if unknown
 * @param term the Raft term
 * @param isLeader whether the answering node leads
 * @param commitIndex the commit index
 * @param appliedIndex the applied index
 * @param members the members
 * @param failure why the node failed, empty if it runs
 * @param lastSnapshotIndex the last snapshot's index
 * @param pools the pool totals
 */
public record ClusterStatus(String nodeId, String raftAddress, String apiAddress, String leaderRaftAddress, String leaderApiAddress, long term, boolean isLeader, long commitIndex, long appliedIndex, List<ClusterMember> members, String failure, long lastSnapshotIndex, PoolTotals pools) {}
