package dev.baton.core.command;

/**
 * Why a command was rejected. A rejected command changes nothing (except that a session's
 * request id is remembered with its rejection, so a retry gets the same answer).
 * The gRPC front door maps these onto status codes; the line protocol onto {@code ERROR ...}.
 */
public enum ErrorCode {
    /** Bad input: empty or over-long name, zero workers, negative timeout, ... (INVALID_ARGUMENT). */
    INVALID_ARGUMENT,
    /** A configured limit would be exceeded (RESOURCE_EXHAUSTED). */
    LIMIT_EXCEEDED,
    /** The session does not exist or has ended (FAILED_PRECONDITION). */
    UNKNOWN_SESSION,
    /** The quoted fence is not the current grant's fence (FAILED_PRECONDITION). */
    STALE_FENCE,
    /** The session's newest pool slot is still waiting (poolcounterd's ERROR WAIT_FOR_RESPONSE). */
    WAIT_FOR_RESPONSE,
    /** The named group, target or item does not exist (NOT_FOUND). */
    NOT_FOUND,
    /** The request id is older than the session's idempotency window (FAILED_PRECONDITION). */
    REQUEST_TOO_OLD,
    /** The entry or command could not be decoded: unknown version or tag, truncated, too large. */
    MALFORMED
}
