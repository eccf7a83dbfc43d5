package dev.baton.server.line;

/**
 * One parsed line of the PoolCounter protocol (docs/design.md, "poolcounterd"), before any state
 * is consulted.
 * The parser only decides what was asked; which reply an acquire gets depends on the connection's
 * slots first ({@code LOCK_HELD}, {@code WAIT_FOR_RESPONSE} come before {@code BAD_SYNTAX}), so a
 * malformed acquire is still an {@link Acquire}, with {@link Acquire#syntaxOk()} false.
 */
sealed interface LineRequest {

    /**
     * {@code ACQ4ME} / {@code ACQ4ANY}. Numbers follow poolcounterd's {@code atou}: decimal digits
     * only, anything else (sign, dot, letters, missing) is 0; values beyond {@code int} are capped
     * (poolcounterd wraps them). {@code key} is null when missing or not valid UTF-8.
     */
    record Acquire(boolean forAnyone, String key, int workers, int maxQueue, long timeoutSeconds) implements LineRequest {
        /** poolcounterd's rule: key present, workers and maxqueue non-zero. */
        boolean syntaxOk() {
            return key != null && workers > 0 && maxQueue > 0;
        }
    }

    /** {@code RELEASE} (anything after the seven letters is ignored, as the Python client sends the key). */
    record Release() implements LineRequest {}

    /** {@code STATS <type>}: the type as sent, compared case-insensitively. */
    record Stats(String type) implements LineRequest {}

    /** Anything else: {@code ERROR BAD_COMMAND}. */
    record BadCommand() implements LineRequest {}
}
