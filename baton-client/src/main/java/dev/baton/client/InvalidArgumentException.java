package dev.baton.client;

import io.grpc.Status;

/**
 * The server refused the request as malformed (gRPC {@code INVALID_ARGUMENT}): an empty or
 * over-long name, zero workers, and so on. Nothing changed; retrying the same call cannot succeed.
 */
public class InvalidArgumentException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** See {@link BatonException#BatonException(Status.Code, String, String, Throwable)}. */
    public InvalidArgumentException(String errorCode, String message, Throwable cause) {
        super(Status.Code.INVALID_ARGUMENT, errorCode, message, cause);
    }
}
