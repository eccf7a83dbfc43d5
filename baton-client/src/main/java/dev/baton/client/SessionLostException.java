package dev.baton.client;

import io.grpc.Status;

/**
 * The client's session has ended: its lease ran out, it was closed, or the server no longer knows it
 * (gRPC {@code FAILED_PRECONDITION}, Baton error {@code UNKNOWN_SESSION}). Everything the session
 * held (pool slots, locks, dispatch targets, claimed items, pending events) has been released by the
 * server and everything it waited for cancelled.
 *
 * <p>Once a client has seen this, every later call made on behalf of the session fails with it at
 * once, without contacting the server. The client does not open a new session by itself: the
 * application decides what to redo, then builds a new {@link BatonClient}.
 */
public class SessionLostException extends BatonException {
    private static final long serialVersionUID = 1L;

    private final long sessionId;

    /**
     * @param sessionId the session that was lost
     * @param message   why, for people
     * @param cause     the underlying failure, or {@code null}
     */
    public SessionLostException(long sessionId, String message, Throwable cause) {
        super(Status.Code.FAILED_PRECONDITION, "UNKNOWN_SESSION", message, cause);
        this.sessionId = sessionId;
    }

    /** The id of the session that was lost. */
    public long sessionId() {
        return sessionId;
    }
}
