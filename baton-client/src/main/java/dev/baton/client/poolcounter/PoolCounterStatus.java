package dev.baton.client.poolcounter;

import java.util.Objects;

/**
 * The outcome of a {@link PoolCounter} call: one of MediaWiki's {@code PoolCounter} status codes
 * ({@link Code}, with its numeric value), plus a message for {@link Code#ERROR}.
 *
 * <p>MediaWiki returns {@code Status::newGood(code)} for every code but errors, and a fatal status for
 * errors; here {@link #isOK()} is false exactly for {@link Code#ERROR}. The constants
 * {@link #LOCKED}, {@link #RELEASED}, ... are the statuses without a message; compare
 * {@link #code()}s, not instances.
 *
 * @param code    the status code
 * @param message why, for people: set for {@link Code#ERROR} (and, as MediaWiki's message keys
 *                {@code pool-queuefull} and {@code pool-timeout}, for {@link Code#QUEUE_FULL} and
 *                {@link Code#TIMEOUT}); {@code null} otherwise
 */
public record PoolCounterStatus(Code code, String message) {

    /** MediaWiki's {@code PoolCounter} constants, with their numeric values. */
    public enum Code {
        /** The slot was acquired: do the work, then {@link PoolCounter#release()}. */
        LOCKED(1),
        /** The slot was released. */
        RELEASED(2),
        /** For-anyone: another worker did the work; read its result. Nothing is held. */
        DONE(3),
        /** The call failed (cluster unreachable, refused, misuse); see {@link #message()}. */
        ERROR(-1),
        /** {@link PoolCounter#release()} without a slot held. */
        NOT_LOCKED(-2),
        /** Already {@code maxqueue} holders and waiters on the key. Nothing is held. */
        QUEUE_FULL(-3),
        /** No slot came free within the timeout (or at once, with timeout 0). Nothing is held. */
        TIMEOUT(-4),
        /**
         * The session already holds as many slots as the server allows per session (poolcounterd's 4
         * per connection), or this {@link PoolCounter} already holds its slot.
         */
        LOCK_HELD(-5);

        private final int value;

        Code(int value) {
            this.value = value;
        }

        /** MediaWiki's numeric value ({@code PoolCounter::LOCKED} = 1, ...). */
        public int value() {
            return value;
        }

        /**
         * The code with MediaWiki's numeric value {@code value}.
         *
         * @throws IllegalArgumentException if no code has that value
         */
        public static Code ofValue(int value) {
            for (Code c : values()) {
                if (c.value == value) {
                    return c;
                }
            }
            throw new IllegalArgumentException("no PoolCounter status has the value " + value);
        }
    }

    /** {@link Code#LOCKED}. */
    public static final PoolCounterStatus LOCKED = new PoolCounterStatus(Code.LOCKED, null);
    /** {@link Code#RELEASED}. */
    public static final PoolCounterStatus RELEASED = new PoolCounterStatus(Code.RELEASED, null);
    /** {@link Code#DONE}. */
    public static final PoolCounterStatus DONE = new PoolCounterStatus(Code.DONE, null);
    /** {@link Code#NOT_LOCKED}. */
    public static final PoolCounterStatus NOT_LOCKED = new PoolCounterStatus(Code.NOT_LOCKED, null);
    /** {@link Code#QUEUE_FULL}, with MediaWiki's message key {@code pool-queuefull}. */
    public static final PoolCounterStatus QUEUE_FULL = new PoolCounterStatus(Code.QUEUE_FULL, "pool-queuefull");
    /** {@link Code#TIMEOUT}, with MediaWiki's message key {@code pool-timeout}. */
    public static final PoolCounterStatus TIMEOUT = new PoolCounterStatus(Code.TIMEOUT, "pool-timeout");
    /** {@link Code#LOCK_HELD}. */
    public static final PoolCounterStatus LOCK_HELD = new PoolCounterStatus(Code.LOCK_HELD, null);

    /** Checks that the code is given. */
    public PoolCounterStatus {
        Objects.requireNonNull(code, "code");
    }

    /** An {@link Code#ERROR} status with {@code message}. */
    public static PoolCounterStatus error(String message) {
        return new PoolCounterStatus(Code.ERROR, Objects.requireNonNull(message, "message"));
    }

    /** MediaWiki's numeric value of the code. */
    public int value() {
        return code.value();
    }

    /** False for {@link Code#ERROR} (MediaWiki's fatal status), true for every other code. */
    public boolean isOK() {
        return code != Code.ERROR;
    }

    @Override
    public String toString() {
        return message == null ? code.name() : code.name() + " (" + message + ")";
    }
}
