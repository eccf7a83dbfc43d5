package dev.baton.server.raft;

import dev.baton.core.command.Effect;
import dev.baton.core.sm.Applied;

import java.util.List;

/**
 * Receives the effects of applied entries (grants, DONE, timeouts, ended sessions, completed
 * events, claimable queues) so that the node holding the affected session's connection or stream
 * can deliver them. Every replica computes the same effects; each node delivers only those of the
 * sessions it holds.
 *
 * <p>Called on the Raft apply thread, in log order, once per entry that has effects, and before the
 * entry's proposal future completes. It must not block or do I/O inline: hand the effects to the
 * session's own queue or executor. An exception it throws is logged and otherwise ignored (the entry
 * is applied whatever the delivery does).
 *
 * <p>Effects are outputs, not state: when a node restarts, it replays the log after its snapshot and
 * the listener sees those entries' effects again (and none of the entries folded into the snapshot).
 * Delivery must therefore tolerate repeats and gaps: a client that reconnects asks for its session's
 * current state (the core remembers the final outcome of each request id) rather than relying on
 * having seen every effect.
 */
@FunctionalInterface
public interface EffectListener {

    /** Effects of the entry at {@code index}; never empty. */
    void onEffects(long index, List<Effect> effects);

    /**
     * This node became leader of {@code term} and has applied every entry of earlier terms (so the
     * core's state is complete: the moment to take over leader duties such as lease tracking).
     * Called on the apply thread; must not block.
     */
    default void onLeaderStart(long term) {}

    /** This node stopped being leader (deposed, shut down or failed). Called on the apply thread. */
    default void onLeaderStop() {}

    /**
     * Every applied data entry, effects or not, before its effects are delivered: for the metrics
     * (commands per entry, the core's {@link dev.baton.core.command.Observation observations}).
     * Called on the apply thread; must be cheap and must not block.
     */
    default void onApplied(Applied applied) {}

    /**
     * A snapshot was saved: {@code pauseNanos} is how long applying stopped while the state was
     * captured (on the apply thread), {@code durationNanos} how long capturing and writing took.
     */
    default void onSnapshotSaved(long index, long pauseNanos, long durationNanos) {}

    /** Drops every effect (a node without front doors, tests). */
    EffectListener NONE = (index, effects) -> {};
}
