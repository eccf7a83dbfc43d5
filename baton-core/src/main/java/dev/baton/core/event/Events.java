package dev.baton.core.event;

import dev.baton.core.command.Command.EventBegin;
import dev.baton.core.command.Command.EventComplete;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.EventReply;
import dev.baton.core.command.Result.EventStatus;
import dev.baton.core.machine.Footprint;
import dev.baton.core.machine.Tx;
import dev.baton.core.session.Participant;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.SessionTable;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;

/**
 * ManifoldCF's events (docs/design.md): an event is pending (with one owner) or completed
 * (absent). Beginning fails if it is pending; completing is idempotent and unchecked. Pending
 * events hold back the queue items that name them as prerequisites.
 *
 * <p>One instance per state machine; while a batch is applied it owns the pending events (see
 * docs/core.md, "Inside the core").
 */
public final class Events implements Participant {

    /**
     * What pending events hold back (the queues' items): told when an event becomes pending and
     * when it completes, right after, within the same step.
     */
    public interface Gate {
        void onEventPending(Tx tx, String event);

        void onEventCompleted(Tx tx, String event);
    }

    private final SessionTable sessions;
    private final Gate gate;
    private MutHashMap<String, EventState> events;

    public Events(SessionTable sessions, Gate gate) {
        this.sessions = sessions;
        this.gate = gate;
    }

    /** Starts a batch from the published state's pending events. */
    public void load(EventData d) {
        events = d.events().mutable();
    }

    /** The pending events as they are now, for the next published state (O(1)). */
    public EventData freeze() {
        return new EventData(events.immutable());
    }

    @Override
    public String name() {
        return "events";
    }

    /** Is the event pending now? */
    public boolean isPending(String name) {
        return events.containsKey(name);
    }

    public Result begin(Tx tx, SessionState session, EventBegin c) {
        Result.Rejected bad = tx.checkName("event name", c.name());
        if (bad != null) {
            return bad;
        }
        if (events.containsKey(c.name())) {
            return new EventReply(EventStatus.ALREADY_PENDING, c.name());
        }
        if (events.size() >= tx.limits().maxEvents()) {
            return Tx.limit("pending events", tx.limits().maxEvents());
        }
        Result.Rejected full = tx.checkBudget("event " + c.name(), Footprint.event(c.name()));
        if (full != null) {
            return full;
        }
        tx.charge(Footprint.event(c.name()));
        events = events.assoc(c.name(), new EventState(c.name(), session.id(), tx.now()));
        sessions.put(tx, session.withEvents(session.events().put(c.name())));
        gate.onEventPending(tx, c.name());
        return new EventReply(EventStatus.BEGUN, c.name());
    }

    public Result complete(Tx tx, EventComplete c) {
        Result.Rejected bad = tx.checkName("event name", c.name());
        if (bad != null) {
            return bad;
        }
        return complete(tx, c.name())
                ? new EventReply(EventStatus.COMPLETED, c.name())
                : new EventReply(EventStatus.NOT_PENDING, c.name());
    }

    /** Completes a pending event; false if it was not pending. */
    private boolean complete(Tx tx, String name) {
        EventState e = events.get(name);
        if (e == null) {
            return false;
        }
        tx.charge(-Footprint.event(name));
        events = events.without(name);
        SessionState owner = sessions.get(e.owner());
        if (owner != null) {
            sessions.put(tx, owner.withEvents(owner.events().without(name)));
        }
        tx.emit(new Effect.EventCompleted(name));
        gate.onEventCompleted(tx, name);
        return true;
    }

    /** A dead owner's events are completed (ManifoldCF does this when a crawler process restarts). */
    @Override
    public void onSessionEnd(Tx tx, SessionState session) {
        for (String name : session.events()) {
            complete(tx, name);
        }
    }
}
