package dev.baton.client;

import java.time.Duration;
import java.util.Objects;

/** Argument checks the client makes before sending anything. */
final class Args {
    private Args() {}

    static long millis(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative()) {
            throw new IllegalArgumentException(what + " must not be negative: " + d);
        }
        try {
            return d.toMillis();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 4;
        }
    }

    static int unsigned(int v, String what) {
        if (v < 0) {
            throw new IllegalArgumentException(what + " must not be negative: " + v);
        }
        return v;
    }

    static long nonNegative(long v, String what) {
        if (v < 0) {
            throw new IllegalArgumentException(what + " must not be negative: " + v);
        }
        return v;
    }
}
