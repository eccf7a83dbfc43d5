package dev.baton.client.internal;

import dev.baton.client.AccessDeniedException;
import dev.baton.client.BatonException;
import dev.baton.client.InvalidArgumentException;
import dev.baton.client.LimitExceededException;
import dev.baton.client.NotFoundException;
import dev.baton.client.SessionLostException;
import dev.baton.client.StaleFenceException;
import dev.baton.client.TransportFailures;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** The trailers Baton's server sends and the mapping of failures onto {@link BatonException}s. */
public final class Errors {
    /** Baton's own error code (ASCII), e.g. {@code STALE_FENCE}. */
    public static final Metadata.Key<String> BATON_ERROR = Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);
    /** The leader's API address {@code host:port} (ASCII), when the answering node knows it. */
    public static final Metadata.Key<String> BATON_LEADER = Metadata.Key.of("baton-leader", Metadata.ASCII_STRING_MARSHALLER);

    public static final String STALE_FENCE = "STALE_FENCE";
    public static final String UNKNOWN_SESSION = "UNKNOWN_SESSION";
    public static final String REQUEST_TOO_OLD = "REQUEST_TOO_OLD";

    private Errors() {}

    public static String errorCode(Metadata trailers) {
        if (trailers == null) {
            return null;
        }
        String code = trailers.get(BATON_ERROR);
        return code == null || code.isBlank() ? null : code.trim();
    }

    public static String leader(Metadata md) {
        if (md == null) {
            return null;
        }
        String leader = md.get(BATON_LEADER);
        return leader == null || leader.isBlank() ? null : leader.trim();
    }

    /**
     * What to add to the message of a call that failed with {@code status} on the transport: the
     * TLS failure, or a hint for a plaintext client refused by a TLS port ({@link TransportFailures}).
     *
     * @param plaintext whether the client connects with its own plaintext channels
     */
    public static String transportHint(Status status, boolean plaintext) {
        String why = TransportFailures.explain(status, plaintext);
        return why == null ? "" : " (" + why + ")";
    }

    /**
     * The exception for a call that failed with {@code status}, not to be retried.
     *
     * @param session the client's session id, for {@link SessionLostException}
     */
    public static BatonException toException(Status status, Metadata trailers, long session, String what) {
        String code = errorCode(trailers);
        StatusRuntimeException cause = status.asRuntimeException(trailers);
        String message = what + " failed: " + status.getCode()
                + (code != null ? " [" + code + "]" : "")
                + (status.getDescription() != null ? ": " + status.getDescription() : "");
        switch (status.getCode()) {
            case INVALID_ARGUMENT:
                return new InvalidArgumentException(code, message, cause);
            case RESOURCE_EXHAUSTED:
                return new LimitExceededException(code, message, cause);
            case NOT_FOUND:
                return new NotFoundException(code, message, cause);
            case UNAUTHENTICATED:
            case PERMISSION_DENIED:
                return new AccessDeniedException(status.getCode(), code, message, cause);
            case FAILED_PRECONDITION:
                if (STALE_FENCE.equals(code)) {
                    return new StaleFenceException(code, message, cause);
                }
                if (UNKNOWN_SESSION.equals(code)) {
                    return new SessionLostException(session, message, cause);
                }
                return new BatonException(status.getCode(), code, message, cause);
            default:
                return new BatonException(status.getCode(), code, message, cause);
        }
    }
}
