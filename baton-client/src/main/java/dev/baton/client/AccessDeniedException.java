package dev.baton.client;

import io.grpc.Status;

/**
 * The node refused the call for its token ({@link BatonClient.Builder#authToken(String)}): gRPC
 * {@code UNAUTHENTICATED} (no token, or one the node does not know) or {@code PERMISSION_DENIED}
 * (the token lacks the role the call needs). Never retried: another attempt would be refused alike.
 * Nothing changed.
 */
public class AccessDeniedException extends BatonException {
    private static final long serialVersionUID = 1L;

    /** See {@link BatonException#BatonException(Status.Code, String, String, Throwable)}. */
    public AccessDeniedException(Status.Code statusCode, String errorCode, String message, Throwable cause) {
        super(statusCode, errorCode, message, cause);
    }
}
