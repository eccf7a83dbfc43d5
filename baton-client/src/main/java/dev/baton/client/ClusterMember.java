package dev.baton.client;

/**
 * A member of the cluster.
 *
 * @param raftAddress its Raft address
 * @param nodeId its node id
 * @param apiAddress its API address
 * @param leader whether it leads
 */
public record ClusterMember(String raftAddress, String nodeId, String apiAddress, boolean leader) {}
