package dev.baton.client;

/** The outcome of an event call. */
public enum EventStatus {
    /** The event is pending, owned by the session. */
    BEGUN,
    /** The event was already pending. */
    ALREADY_PENDING,
    /** The event completed. */
    COMPLETED,
    /** The event was not pending. */
    NOT_PENDING,
    /** A status this client does not know (a newer server). */
    UNKNOWN
}
