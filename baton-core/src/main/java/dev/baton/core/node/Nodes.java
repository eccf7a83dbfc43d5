package dev.baton.core.node;

import dev.baton.core.command.Command.AnnounceNode;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.core.machine.Tx;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;

/**
 * The cluster's address book (after etcd's member attributes): every node announces its Raft
 * endpoint, id and API endpoint through the log, so every node knows where every other node's API
 * listens (followers forward writes to the leader there). It belongs to no session and outlives
 * them all; only an announcement with an empty API endpoint removes an entry.
 *
 * <p>One instance per state machine; while a batch is applied it owns the address book (see
 * docs/core.md, "Inside the core").
 */
public final class Nodes {
    private MutHashMap<String, NodeState> nodes;

    /** Starts a batch from the published state's address book. */
    public void load(NodeData d) {
        nodes = d.nodes().mutable();
    }

    /** The address book as it is now, for the next published state (O(1)). */
    public NodeData freeze() {
        return new NodeData(nodes.immutable());
    }

    /**
     * Entries the address book holds. A fixed bound rather than a {@code Limits} field: it is far
     * above any real cluster's size and only guards against a runaway proposer.
     */
    public static final int MAX_NODES = 64;

    public Result announce(Tx tx, AnnounceNode c) {
        Result.Rejected bad = tx.checkName("raft endpoint", c.raftEndpoint());
        if (bad == null) {
            bad = tx.checkNameBytes("node id", c.nodeId());
        }
        if (bad == null) {
            bad = tx.checkNameBytes("api endpoint", c.apiEndpoint());
        }
        if (bad != null) {
            return bad;
        }
        String key = c.raftEndpoint();
        NodeState old = nodes.get(key);
        if (c.apiEndpoint().isEmpty()) {
            if (old != null) {
                nodes = nodes.without(key);
            }
            return new Result.NodeAnnounced(key, true);
        }
        if (old != null && old.nodeId().equals(c.nodeId()) && old.apiEndpoint().equals(c.apiEndpoint())) {
            return new Result.NodeAnnounced(key, false); // nodes re-announce on every start: keep since
        }
        if (old == null && nodes.size() >= MAX_NODES) {
            return new Result.Rejected(ErrorCode.LIMIT_EXCEEDED, "cluster nodes limit reached (" + MAX_NODES + ")");
        }
        nodes = nodes.assoc(key, new NodeState(key, c.nodeId(), c.apiEndpoint(), tx.now()));
        return new Result.NodeAnnounced(key, false);
    }
}
