package dev.baton.client;

import io.grpc.Status;

/**
 * No node gave an answer in time: every attempt failed with {@code UNAVAILABLE} or a transport
 * failure (or, for calls that do not wait, {@code DEADLINE_EXCEEDED}) until the client's
 * {@code retryFor} ran out; or a call that waits (a blocking acquire) got no answer within its wait
 * timeout plus {@code requestTimeout}.
 *
 * <p><b>The outcome of a write is unknown</b>: it may have been applied. Every attempt carried the
 * same request id, so it was applied at most once. For an acquire, the session may hold the slot or
 * lock; releasing by key or name (fence 0) makes sure it does not.
 */
public class BatonUnavailableException extends BatonException {
    private static final long serialVersionUID = 1L;

    private final int attempts;

    /**
     * @param statusCode the status of the last attempt ({@code UNAVAILABLE} or {@code DEADLINE_EXCEEDED}, usually)
     * @param errorCode  Baton's error code of the last attempt, or {@code null}
     * @param attempts   how many attempts were made
     * @param message    a description for people
     * @param cause      the last attempt's failure, or {@code null}
     */
    public BatonUnavailableException(Status.Code statusCode, String errorCode, int attempts, String message,
            Throwable cause) {
        super(statusCode, errorCode, message, cause);
        this.attempts = attempts;
    }

    /** How many attempts the call made before giving up. */
    public int attempts() {
        return attempts;
    }
}
