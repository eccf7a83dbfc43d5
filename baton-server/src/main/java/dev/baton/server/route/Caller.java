package dev.baton.server.route;

import dev.baton.server.security.AuthTokens;

import java.util.function.BooleanSupplier;

/**
 * Who a request is routed for, as far as routing cares: the token's principal whose limits apply
 * ({@link CallerAccess}; null for a door that asks for no tokens), the caller's own deadline (its
 * writes stop retrying a little before it) and whether it gave up.
 *
 * @param principal     the caller's principal, or null (no limits)
 * @param hasDeadline   whether the caller has a deadline
 * @param deadlineNanos the deadline ({@link System#nanoTime()} scale) if it has one
 * @param cancelled     true once the caller gave up
 */
public record Caller(AuthTokens.Principal principal, boolean hasDeadline, long deadlineNanos, BooleanSupplier cancelled) {
    /** The node itself, or a door that checks its callers before routing: no limits, no deadline. */
    public static final Caller TRUSTED = new Caller(null, false, 0, () -> false);

    public boolean isCancelled() {
        return cancelled.getAsBoolean();
    }

    /** Milliseconds left until the deadline (negative once past); only if {@link #hasDeadline}. */
    public long remainingMs() {
        return Math.floorDiv(deadlineNanos - System.nanoTime(), 1_000_000L);
    }
}
