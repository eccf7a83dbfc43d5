package dev.baton.client;

import io.grpc.Status;

/**
 * The named dispatch group, target or queue item does not exist (gRPC {@code NOT_FOUND}).
 * Nothing changed.
 */
public class NotFoundException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** See {@link BatonException#BatonException(Status.Code, String, String, Throwable)}. */
    public NotFoundException(String errorCode, String message, Throwable cause) {
        super(Status.Code.NOT_FOUND, errorCode, message, cause);
    }
}
