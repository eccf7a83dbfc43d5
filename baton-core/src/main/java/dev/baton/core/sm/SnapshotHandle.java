package dev.baton.core.sm;

/** A point-in-time state captured by {@link ConcurrentStateMachine#prepareSnapshot()}. */
public interface SnapshotHandle {
    /** Index of the last entry applied to the captured state. */
    long index();
}
