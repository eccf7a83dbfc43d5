package dev.baton.client;

import io.grpc.Status;

/**
 * A configured limit of the server would be exceeded (gRPC {@code RESOURCE_EXHAUSTED}, Baton error
 * {@code LIMIT_EXCEEDED}): too many keys, waiters, items, sessions, ... Nothing changed.
 */
public class LimitExceededException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** See {@link BatonException#BatonException(Status.Code, String, String, Throwable)}. */
    public LimitExceededException(String errorCode, String message, Throwable cause) {
        super(Status.Code.RESOURCE_EXHAUSTED, errorCode, message, cause);
    }
}
