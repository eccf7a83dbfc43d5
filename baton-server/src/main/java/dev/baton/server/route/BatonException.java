package dev.baton.server.route;

import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Result;
import dev.baton.server.raft.NotLeaderException;
import dev.baton.server.raft.RaftOperationException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Why a request routed by this node failed, in Baton's own terms: every door turns it into its own
 * reply (a gRPC status with trailers, a PoolCounter error line, an HTTP status). The routing layer
 * and everything under it fail with this and nothing else.
 *
 * <p>{@link #code()} says what kind of failure it is (and so whether retrying can help);
 * {@link #batonCode()} is the finer name clients see (the {@code baton-error} trailer on gRPC), so
 * that a stale fence and an unknown session can be told apart although both are
 * {@link Code#FAILED_PRECONDITION}; {@link #leaderHint()} is the leader's API address when known.
 */
public final class BatonException extends RuntimeException {
    /** The kind of failure. The names follow the usual RPC status names, so that doors map them one to one. */
    public enum Code {
        /** No leader, the leader is unreachable or changed, the node is stopping: the outcome is unknown, retry with the same request id. */
        UNAVAILABLE,
        INVALID_ARGUMENT,
        FAILED_PRECONDITION,
        NOT_FOUND,
        /** A limit was reached (the core's, or one of this node's own bounds). */
        RESOURCE_EXHAUSTED,
        PERMISSION_DENIED,
        UNAUTHENTICATED,
        DEADLINE_EXCEEDED,
        CANCELLED,
        OUT_OF_RANGE,
        ALREADY_EXISTS,
        ABORTED,
        UNIMPLEMENTED,
        DATA_LOSS,
        UNKNOWN,
        INTERNAL
    }

    /** The Baton code of {@link Code#UNAVAILABLE} failures: no leader, or an unknown outcome. */
    public static final String UNAVAILABLE_CODE = "UNAVAILABLE";

    private final Code code;
    private final String batonCode;
    private final String leaderHint;

    public BatonException(Code code, String batonCode, String message, String leaderHint, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.batonCode = batonCode;
        this.leaderHint = leaderHint == null || leaderHint.isEmpty() ? null : leaderHint;
    }

    public BatonException(Code code, String batonCode, String message) {
        this(code, batonCode, message, null, null);
    }

    public Code code() {
        return code;
    }

    /** Baton's name for the failure ({@code UNKNOWN_SESSION}, {@code LIMIT_EXCEEDED}, ...), or null. */
    public String batonCode() {
        return batonCode;
    }

    /** The leader's API address, if known and worth telling the client; else null. */
    public String leaderHint() {
        return leaderHint;
    }

    /** No leader, or the outcome is unknown: retry (with the same request id). */
    public static BatonException unavailable(String message, String leaderHint) {
        return new BatonException(Code.UNAVAILABLE, UNAVAILABLE_CODE, message, leaderHint, null);
    }

    /** The caller may not do this. */
    public static BatonException permissionDenied(String message) {
        return new BatonException(Code.PERMISSION_DENIED, "PERMISSION_DENIED", message);
    }

    /** The session a request needs is gone (ended, expired, or never was). */
    public static BatonException unknownSession(String message) {
        return new BatonException(Code.FAILED_PRECONDITION, ErrorCode.UNKNOWN_SESSION.name(), message);
    }

    /** The failure kind of a core error code (see the table in baton.proto). */
    public static Code code(ErrorCode c) {
        return switch (c) {
            case INVALID_ARGUMENT, MALFORMED -> Code.INVALID_ARGUMENT;
            case LIMIT_EXCEEDED -> Code.RESOURCE_EXHAUSTED;
            case UNKNOWN_SESSION, STALE_FENCE, WAIT_FOR_RESPONSE, REQUEST_TOO_OLD -> Code.FAILED_PRECONDITION;
            case NOT_FOUND -> Code.NOT_FOUND;
        };
    }

    /** A refusal of the core as a failure. */
    public static BatonException rejected(Result.Rejected r) {
        return new BatonException(code(r.code()), r.code().name(), r.message());
    }

    /**
     * Any failure of a write or read as a Baton failure: engine refusals and unknown outcomes are
     * UNAVAILABLE (retry with the same request id), bad input INVALID_ARGUMENT, anything else INTERNAL.
     * A {@link BatonException} stays as it is.
     */
    public static BatonException of(Throwable t, String leaderHint) {
        t = unwrap(t);
        if (t instanceof BatonException b) {
            return b;
        }
        if (t instanceof NotLeaderException n) {
            return unavailable("not the leader: " + n.getMessage(), leaderHint);
        }
        if (t instanceof RaftOperationException r) {
            return unavailable("raft: " + r.getMessage(), leaderHint);
        }
        if (t instanceof IllegalArgumentException i) {
            return new BatonException(Code.INVALID_ARGUMENT, ErrorCode.INVALID_ARGUMENT.name(), i.getMessage());
        }
        return new BatonException(Code.INTERNAL, "INTERNAL", String.valueOf(t), null, t);
    }

    /** The failure inside the wrappers futures put around it. */
    public static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
