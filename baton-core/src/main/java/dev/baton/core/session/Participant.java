package dev.baton.core.session;

import dev.baton.core.machine.Tx;

/**
 * A primitive that holds or waits for things on behalf of sessions (pool slots, locks, dispatch
 * targets, queue claims, pending events). {@link Sessions} knows the primitives only through this
 * interface: they are registered once, in a fixed order, where the state machine is built.
 *
 * <p>The order is part of the machine's behaviour: ending a session asks every participant in
 * turn, and what one releases can wake a waiter or free an item before the next is asked, so the
 * effects of an entry depend on it. A new primitive is appended to the list rather than inserted,
 * so that the primitives already there keep reacting as they did.
 */
public interface Participant {

    /**
     * A short stable name ("pools", "locks"): the deadline index names the owner of each wait by it
     * ({@link WaitRef#owner()}), and it is unique among the registered participants.
     */
    String name();

    /**
     * The session ended (closed or expired): give back everything it holds or waits for here. The
     * session is still in the state while this runs, and is forgotten after every participant ran.
     */
    void onSessionEnd(Tx tx, SessionState session);

    /**
     * A wait this participant put in the deadline index ({@link SessionTable#addDeadline}, with its
     * {@link #name()} as the {@link WaitRef#owner()}) reached its deadline; the index entry is
     * already removed. Only
     * participants whose requests wait are ever called here.
     */
    default void onTimeOut(Tx tx, long session, String key, long waitId) {
        throw new IllegalStateException(name() + " registers no waits, yet wait " + waitId + " of " + key + " timed out");
    }
}
