package dev.baton.server.raft;

import java.util.Optional;

/** This node is not the leader (or stopped being it); {@link #leader()} names the leader if known. */
public final class NotLeaderException extends RaftOperationException {
    private static final long serialVersionUID = 1L;
    private final String leader;

    public NotLeaderException(Optional<String> leader, String message) {
        super("EPERM", message + leader.map(l -> "; the leader is " + l).orElse("; no leader is known"));
        this.leader = leader.orElse(null);
    }

    /** The leader's Raft endpoint ({@code host:port}), if this node knows it. */
    public Optional<String> leader() {
        return Optional.ofNullable(leader);
    }
}
