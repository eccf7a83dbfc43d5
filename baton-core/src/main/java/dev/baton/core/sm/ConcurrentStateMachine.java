package dev.baton.core.sm;

import dev.baton.core.command.Query;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/**
 * The contract between the Raft host and the coordination state, after dragonboat's
 * {@code IConcurrentStateMachine} (docs/design.md). The host guarantees the calling discipline below;
 * the implementation guarantees determinism and the stated concurrency.
 *
 * <h2>Calling discipline (the host's side)</h2>
 * <ul>
 *   <li>{@link #update}, {@link #prepareSnapshot}, {@link #recoverFromSnapshot} and {@link #close}
 *       are never called concurrently with one another (one apply thread).</li>
 *   <li>{@link #lookup} may be called from any thread at any time, concurrently with {@code update}.</li>
 *   <li>{@link #saveSnapshot} may run on another thread concurrently with later {@code update}s and
 *       lookups.</li>
 * </ul>
 *
 * <h2>Guarantees (the implementation's side)</h2>
 * <ul>
 *   <li><b>Deterministic update.</b> The entries are the only input: no clock, no random numbers,
 *       no I/O. Two instances fed the same entries from the same state return the same results and
 *       effects and reach byte-identical snapshots.</li>
 *   <li><b>Consistent lookups.</b> A lookup sees the state after some complete {@code update} call,
 *       never a partly applied one.</li>
 *   <li><b>Cheap prepare.</b> {@code prepareSnapshot} only captures an identifier of the current
 *       state (here: the immutable state root), in O(1) whatever the state's size.</li>
 *   <li><b>Point-in-time save.</b> {@code saveSnapshot} writes exactly the state that
 *       {@code prepareSnapshot} captured, however many updates happen meanwhile.</li>
 * </ul>
 * No method keeps a reference to its input entries or streams after returning.
 */
public interface ConcurrentStateMachine extends AutoCloseable {

    /**
     * Applies a batch of committed entries in order. Returns one {@link Applied} per entry, with
     * one result per command and the effects to deliver. A command that is invalid or exceeds a
     * limit is rejected in its result and changes nothing; it never fails the batch.
     *
     * @throws IllegalArgumentException if an entry's index is not greater than the last applied
     *                                  one (a host bug; nothing of the batch is applied)
     * @throws IllegalStateException    after {@link #close()}
     */
    List<Applied> update(List<Entry> entries);

    /** Answers a read-only query from the latest published state. Safe concurrently with update. */
    <R> R lookup(Query<R> query);

    /** Index of the last applied entry (0 before any). */
    long lastApplied();

    /** Captures the current state for {@link #saveSnapshot}; mutually exclusive with update, O(1). */
    SnapshotHandle prepareSnapshot();

    /**
     * Captures the latest published state, like {@link #prepareSnapshot} but callable from any
     * thread, concurrently with {@code update}: the state of some complete {@code update} call, as
     * a lookup sees it (for a backup taken while the node runs). O(1).
     *
     * @throws UnsupportedOperationException if this state machine cannot be captured off its apply thread
     */
    default SnapshotHandle capturePublished() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot be captured while it runs");
    }

    /** Writes the captured state; may run concurrently with later updates. Does not close the stream. */
    void saveSnapshot(SnapshotHandle snapshot, OutputStream out) throws IOException;

    /**
     * Replaces the whole state with one read from a snapshot. On a malformed snapshot it throws and
     * the state is left as it was.
     */
    void recoverFromSnapshot(InputStream in) throws IOException;

    /** Releases resources; later calls other than lookup fail. */
    @Override
    void close();
}
