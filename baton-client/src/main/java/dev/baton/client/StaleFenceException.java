package dev.baton.client;

import io.grpc.Status;

/**
 * The fence quoted by the request is not the current grant's (gRPC {@code FAILED_PRECONDITION},
 * Baton error {@code STALE_FENCE}): the lock, slot, target or item was lost and granted again since.
 * Nothing changed; whatever the caller did under the old fence must be treated as unprotected.
 */
public class StaleFenceException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** See {@link BatonException#BatonException(Status.Code, String, String, Throwable)}. */
    public StaleFenceException(String errorCode, String message, Throwable cause) {
        super(Status.Code.FAILED_PRECONDITION, errorCode, message, cause);
    }
}
