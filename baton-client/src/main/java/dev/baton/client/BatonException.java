package dev.baton.client;

import io.grpc.Status;

/**
 * Root of the client's unchecked exceptions. Each carries the gRPC status code of the failure and,
 * when the server sent one, Baton's own error code from the {@code baton-error} trailer
 * ({@code STALE_FENCE}, {@code UNKNOWN_SESSION}, {@code LIMIT_EXCEEDED}, {@code INVALID_ARGUMENT},
 * {@code NOT_FOUND}, {@code REQUEST_TOO_OLD}, {@code WAIT_FOR_RESPONSE}, {@code MALFORMED}, ...).
 *
 * <p>A refusal by the server (every subclass except {@link BatonUnavailableException},
 * {@link BatonInterruptedException} and {@link BatonClosedException}, and this class itself for
 * codes without a subclass) changed nothing on the server: a rejected write has no effect, and the
 * server remembers the rejection under the call's request id, so a retry would get the same answer.
 *
 * <p>The cause is the {@link io.grpc.StatusRuntimeException} the call ended with, when there was one.
 * Blocking calls rethrow the exception with the calling thread's stack trace.
 */
public class BatonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code statusCode;
    private final String errorCode;

    /**
     * @param statusCode the gRPC status code of the failure
     * @param errorCode  Baton's error code from the {@code baton-error} trailer, or {@code null}
     * @param message    a description for people
     * @param cause      the underlying failure, or {@code null}
     */
    public BatonException(Status.Code statusCode, String errorCode, String message, Throwable cause) {
        super(message, cause);
        this.statusCode = statusCode == null ? Status.Code.UNKNOWN : statusCode;
        this.errorCode = errorCode == null || errorCode.isEmpty() ? null : errorCode;
    }

    /** The gRPC status code the call failed with (never {@code null}). */
    public Status.Code statusCode() {
        return statusCode;
    }

    /**
     * Baton's error code, from the {@code baton-error} trailer ({@code STALE_FENCE},
     * {@code UNKNOWN_SESSION}, ...), or {@code null} if the failure did not carry one.
     */
    public String errorCode() {
        return errorCode;
    }
}
