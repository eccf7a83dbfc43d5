package dev.baton.core.node;

/**
 * One node of the cluster's address book.
 *
 * @param raftEndpoint {@code host:port} of its Raft port (the key)
 * @param nodeId       the name it gives itself
 * @param apiEndpoint  {@code host:port} of its gRPC API, never empty (an empty one removes the entry)
 * @param since        entry time of the announcement that last changed the entry
 */
public record NodeState(String raftEndpoint, String nodeId, String apiEndpoint, long since) {}
