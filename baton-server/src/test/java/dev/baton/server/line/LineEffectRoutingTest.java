package dev.baton.server.line;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Which connection an applied effect goes to ({@link LineDoor#connectionOf}), on the apply thread. */
class LineEffectRoutingTest {
    private final Map<Long, String> bySession = new ConcurrentHashMap<>();
    private final Map<String, String> opening = new ConcurrentHashMap<>();

    @Test
    void aRegisteredSessionsConnection() {
        bySession.put(7L, "conn-1");
        assertThat(LineDoor.connectionOf(7L, bySession, opening, s -> { throw new AssertionError("no token needed"); }))
                .isEqualTo("conn-1");
    }

    @Test
    void aConnectionStillOpeningItsSessionIsFoundByToken() {
        opening.put("token-1", "conn-1");
        assertThat(LineDoor.connectionOf(7L, bySession, opening, s -> s == 7L ? "token-1" : null)).isEqualTo("conn-1");
    }

    /**
     * The connection's thread registers the session (into bySession, then out of opening) between the
     * apply thread's two lookups: the effect must still reach it. It was dropped before, and the
     * client of a first acquire that waited heard nothing until the wait was reconciled.
     */
    @Test
    void aSessionRegisteredBetweenTheTwoLookupsIsStillFound() {
        opening.put("token-1", "conn-1");
        AtomicInteger tokenReads = new AtomicInteger();
        String c = LineDoor.connectionOf(7L, bySession, opening, s -> {
            tokenReads.incrementAndGet();
            // what LineDoor.sessionOpened does on the event loop, right now
            bySession.put(7L, "conn-1");
            opening.remove("token-1", "conn-1");
            return "token-1";
        });
        assertThat(tokenReads).hasValue(1);
        assertThat(c).isEqualTo("conn-1");
    }

    @Test
    void aSessionOfNoConnectionHere() {
        assertThat(LineDoor.connectionOf(7L, bySession, opening, s -> { throw new AssertionError("nobody is opening"); }))
                .isNull();
        opening.put("token-2", "conn-2");
        assertThat(LineDoor.connectionOf(7L, bySession, opening, s -> "token-1")).isNull();
        assertThat(LineDoor.connectionOf(7L, bySession, opening, s -> null)).isNull(); // not a session any more
    }
}
