package dev.baton.core.event;

import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.EventStatus;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.queue.Queues;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;

/**
 * ManifoldCF's events (seed-systems.md §3): an event is pending (with one owner) or completed
 * (absent). Beginning fails if it is pending; completing is idempotent and unchecked. Pending
 * events hold back the queue items that name them as prerequisites.
 */
public final class Events {
    private Events() {}

    /** How pending events take part in session end (see {@link Participant}). */
    public static final Participant PARTICIPANT = new Participant() {
        @Override
        public void onSessionEnd(Tx tx, SessionState session) {
            Events.onSessionEnd(tx, session);
        }

        @Override
        public String toString() {
            return "events";
        }
    };

    public static Result begin(Tx tx, SessionState session, EventBegin c) {
        Result.Rejected bad = tx.checkName("event name", c.name());
        if (bad != null) {
            return bad;
        }
        if (tx.events.containsKey(c.name())) {
            return new EventReply(EventStatus.ALREADY_PENDING, c.name());
        }
        if (tx.events.size() >= tx.limits.maxEvents()) {
            return Tx.limit("pending events", tx.limits.maxEvents());
        }
        Result.Rejected full = tx.checkBudget("event " + c.name(), Footprint.event(c.name()));
        if (full != null) {
            return full;
        }
        tx.putEvent(new EventState(c.name(), session.id(), tx.now()));
        tx.putSession(session.withEvents(session.events().put(c.name())));
        Queues.onEventPending(tx, c.name());
        return new EventReply(EventStatus.BEGUN, c.name());
    }

    public static Result complete(Tx tx, EventComplete c) {
        Result.Rejected bad = tx.checkName("event name", c.name());
        if (bad != null) {
            return bad;
        }
        return complete(tx, c.name())
                ? new EventReply(EventStatus.COMPLETED, c.name())
                : new EventReply(EventStatus.NOT_PENDING, c.name());
    }

    /** Completes a pending event; false if it was not pending. */
    private static boolean complete(Tx tx, String name) {
        EventState e = tx.events.get(name);
        if (e == null) {
            return false;
        }
        tx.removeEvent(name);
        SessionState owner = tx.session(e.owner());
        if (owner != null) {
            tx.putSession(owner.withEvents(owner.events().without(name)));
        }
        tx.emit(new Effect.EventCompleted(name));
        Queues.onEventCompleted(tx, name);
        return true;
    }

    /** A dead owner's events are completed (ManifoldCF does this when a crawler process restarts). */
    private static void onSessionEnd(Tx tx, SessionState session) {
        for (String name : session.events()) {
            complete(tx, name);
        }
    }
}
