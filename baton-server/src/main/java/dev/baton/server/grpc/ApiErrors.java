package dev.baton.server.grpc;

import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.server.route.BatonException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;


/**
 * How refusals become gRPC statuses, at the gRPC door's edge: the routing layer fails with
 * {@link BatonException}, which maps one to one onto a status and its trailers. Every error carries the trailer {@code baton-error} with
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
        return Status.Code.valueOf(BatonException.code(c).name());
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
     * UNAVAILABLE (retry with the same request id), bad input INVALID_ARGUMENT, anything else INTERNAL
     * (see {@link BatonException#of}); a status stays as it is.
     */
    public static StatusRuntimeException toStatus(Throwable t, String leaderApi) {
        t = BatonException.unwrap(t);
        if (t instanceof StatusRuntimeException s) {
            return s;
        }
        if (t instanceof StatusException s) {
            return s.getStatus().asRuntimeException(s.getTrailers());
        }
        BatonException b = BatonException.of(t, leaderApi);
        Status status = Status.fromCode(Status.Code.valueOf(b.code().name())).withDescription(b.getMessage());
        if (b.code() == BatonException.Code.INTERNAL && b.getCause() != null) {
            status = status.withCause(b.getCause());
        }
        return status.asRuntimeException(trailers(b.batonCode(), b.leaderHint()));
    }

    /** Any failure as the routing layer's: a status (from a peer, say) keeps its code, message and trailers. */
    public static BatonException toBaton(Throwable t, String leaderApi) {
        t = BatonException.unwrap(t);
        if (t instanceof StatusException s) {
            t = s.getStatus().asRuntimeException(s.getTrailers());
        }
        if (t instanceof StatusRuntimeException s) {
            Metadata m = s.getTrailers();
            return new BatonException(BatonException.Code.valueOf(s.getStatus().getCode().name()),
                    m == null ? null : m.get(ERROR_KEY), s.getStatus().getDescription(),
                    m == null ? null : m.get(LEADER_KEY), s);
        }
        return BatonException.of(t, leaderApi);
    }
}
