package dev.baton.client;

/** The outcome of a dispatch call. */
public enum DispatchStatus {
    /** The group exists; {@link DispatchReply#value()} is the number of targets added. */
    INITIALIZED,
    /** The head was raised (or already higher); {@link DispatchReply#value()} is the head. */
    ADVANCED,
    /** A target was selected and locked for the session. */
    SELECTED,
    /** No target is stale. */
    NONE,
    /** The target was locked for the session. */
    LOCKED,
    /** Another session has the target locked. */
    BUSY,
    /** The target's cursor was stored and it was unlocked. */
    RELEASED,
    /** The target was updated. */
    UPDATED,
    /** A status this client does not know (a newer server). */
    UNKNOWN
}
