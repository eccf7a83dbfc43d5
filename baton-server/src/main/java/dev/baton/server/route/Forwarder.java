package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.Result;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * How this node reaches the leader's API port: the transport under {@link Router} (the node
 * assembly plugs in the gRPC one). Every future it returns fails with a {@link BatonException}.
 */
public interface Forwarder extends AutoCloseable {
    /**
     * Sends {@code c} to the leader at Raft endpoint {@code raft}, API address {@code api}.
     *
     * @param inApplyOrder   complete only once this node has applied the command's entry too
     * @param outcome        null, or what gets a waiting acquire's final outcome from the leader
     * @param deadlineNanos  when to give up waiting for the answer ({@link System#nanoTime()} scale)
     */
    CompletableFuture<Result> forward(String raft, String api, Command.ClientCommand c, boolean inApplyOrder,
                                      Consumer<Result> outcome, long deadlineNanos);

    /**
     * This node's idea of the leader is now {@code leaderRaft} (null: none): writes forwarded
     * elsewhere and not answered yet fail at once as UNAVAILABLE (their outcome is unknown).
     */
    void leaderChanged(String leaderRaft);

    /** Keep-alives of sessions streamed here, sent to the leader; completes with the sessions it does not know. */
    CompletableFuture<List<Long>> keepAlives(String api, List<Long> sessions);

    /** Tells the leader at {@code api} where this node's API listens (the leader writes the address-book entry). */
    CompletableFuture<Void> announce(String api, String raftEndpoint, String nodeId, String apiEndpoint);

    /** Frames sent to leaders (for metrics: commands per frame = commands / frames). */
    long framesForwarded();

    /** Commands sent in those frames. */
    long commandsForwarded();

    /** Forwarded writes failed at once because the leader changed away from their target. */
    long forwardsAbandoned();

    @Override
    void close();
}
