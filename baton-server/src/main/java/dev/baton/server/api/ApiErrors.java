package dev.baton.server.api;

import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.server.raft.NotLeaderException;
import dev.baton.server.raft.RaftOperationException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * How refusals become gRPC statuses. Every error carries the trailer {@code baton-error} with
 * Baton's own code, so clients can tell a stale fence from an unknown session (both
 * FAILED_PRECONDITION); {@code baton-leader} carries the leader's API address when it is known.
 */
public final class ApiErrors {
    public static final Metadata.Key<String> ERROR_KEY =
            Metadata.Key.of("baton-error", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> LEADER_KEY =
            Metadata.Key.of("baton-leader", Metadata.ASCII_STRING_MARSHALLER);

    /** Baton's code for "no leader / outcome unknown: retry". */
    public static final String UNAVAILABLE = "UNAVAILABLE";

    private ApiErrors() {}

    /** The gRPC status for a core error code (see the table in baton.proto). */
    public static Status.Code code(ErrorCode c) {
        return switch (c) {
            case INVALID_ARGUMENT, MALFORMED -> Status.Code.INVALID_ARGUMENT;
            case LIMIT_EXCEEDED -> Status.Code.RESOURCE_EXHAUSTED;
            case UNKNOWN_SESSION, STALE_FENCE, WAIT_FOR_RESPONSE, REQUEST_TOO_OLD -> Status.Code.FAILED_PRECONDITION;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
        };
    }

    public static Metadata trailers(String batonCode, String leaderApi) {
        Metadata m = new Metadata();
        if (batonCode != null) {
            m.put(ERROR_KEY, batonCode);
        }
        if (leaderApi != null && !leaderApi.isEmpty()) {
            m.put(LEADER_KEY, leaderApi);
        }
        return m;
    }

    public static StatusRuntimeException rejected(Result.Rejected r) {
        return Status.fromCode(code(r.code())).withDescription(r.message())
                .asRuntimeException(trailers(r.code().name(), null));
    }

    public static StatusRuntimeException unavailable(String message, String leaderApi) {
        return Status.UNAVAILABLE.withDescription(message).asRuntimeException(trailers(UNAVAILABLE, leaderApi));
    }

    /**
     * The status for any failure of a write or read: engine refusals and unknown outcomes are
     * UNAVAILABLE (retry with the same request id), bad input INVALID_ARGUMENT, anything else INTERNAL.
     */
    public static StatusRuntimeException toStatus(Throwable t, String leaderApi) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof StatusRuntimeException s) {
            return s;
        }
        if (t instanceof StatusException s) {
            return s.getStatus().asRuntimeException(s.getTrailers());
        }
        if (t instanceof NotLeaderException n) {
            return unavailable("not the leader: " + n.getMessage(), leaderApi);
        }
        if (t instanceof RaftOperationException r) {
            return unavailable("raft: " + r.getMessage(), leaderApi);
        }
        if (t instanceof IllegalArgumentException i) {
            return Status.INVALID_ARGUMENT.withDescription(i.getMessage())
                    .asRuntimeException(trailers(ErrorCode.INVALID_ARGUMENT.name(), null));
        }
        return Status.INTERNAL.withDescription(String.valueOf(t)).withCause(t).asRuntimeException(trailers("INTERNAL", null));
    }
}
