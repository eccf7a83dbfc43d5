package dev.baton.core.sm;

/** A point-in-time state captured by {@link ConcurrentStateMachine#prepareSnapshot()}. */
public interface SnapshotHandle {
    /** Index of the last entry applied to the captured state. */
    long index();

    /**
     * The time of the captured state: the leader stamp of its last entry, ms since the epoch (what
     * a backup records, so that a cluster restored from it never stamps earlier); 0 when the state
     * machine does not keep one.
     */
    default long time() {
        return 0;
    }
}
