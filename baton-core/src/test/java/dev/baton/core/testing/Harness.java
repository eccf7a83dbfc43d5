package dev.baton.core.testing;

import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.machine.CoordinationStateMachine;
import dev.baton.core.machine.SnapshotCodec;
import dev.baton.core.machine.State;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.Entry;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives a {@link CoordinationStateMachine} the way the Raft host will: every call is one committed
 * entry with the next log index and the harness's clock as the leader timestamp. Keeps every entry
 * it applied, so a test can replay them into another instance.
 */
public final class Harness {
    private final CoordinationStateMachine sm;
    private long index;
    private long now = 1_000_000;
    private final List<Entry> log = new ArrayList<>();
    private final List<Effect> effects = new ArrayList<>();

    public Harness() {
        this(Limits.defaults());
    }

    public Harness(Limits limits) {
        this.sm = new CoordinationStateMachine(limits);
    }

    public CoordinationStateMachine sm() {
        return sm;
    }

    public long now() {
        return now;
    }

    /** Moves the leader clock forward (nothing is applied until the next entry). */
    public Harness advance(long ms) {
        now += ms;
        return this;
    }

    /** Applies one entry holding the given commands. */
    public Applied entry(Command... commands) {
        Entry e = Entry.of(++index, now, commands);
        log.add(e);
        Applied a = sm.update(List.of(e)).get(0);
        effects.addAll(a.effects());
        return a;
    }

    /** Applies a single command in its own entry and returns its result. */
    public Result apply(Command c) {
        return entry(c).results().get(0);
    }

    /** Applies a single command and casts its result. */
    public <T extends Result> T apply(Command c, Class<T> type) {
        Result r = apply(c);
        if (!type.isInstance(r)) {
            throw new AssertionError("expected " + type.getSimpleName() + " but got " + r);
        }
        return type.cast(r);
    }

    /** Opens a session with a 10 s lease and returns its id. */
    public long open() {
        return open(10_000);
    }

    public long open(long ttlMs) {
        return apply(new Command.OpenSession(null, ttlMs), Result.SessionOpened.class).session();
    }

    /** An entry with only ExpireWaits, as the leader's timer would propose. */
    public Applied tick() {
        return entry(new Command.ExpireWaits());
    }

    /** Effects produced since the last call, then forgotten. */
    public List<Effect> takeEffects() {
        List<Effect> out = List.copyOf(effects);
        effects.clear();
        return out;
    }

    public <R> R lookup(Query<R> q) {
        return sm.lookup(q);
    }

    public List<Entry> log() {
        return List.copyOf(log);
    }

    public long lastIndex() {
        return index;
    }

    /** The snapshot bytes of the current state. */
    public byte[] snapshot() {
        return snapshotOf(sm);
    }

    public static byte[] snapshotOf(CoordinationStateMachine m) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            m.saveSnapshot(m.prepareSnapshot(), out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * The whole state as snapshot bytes, minus the entry index and time (which every entry moves):
     * equal before and after a command means the command changed nothing.
     */
    public byte[] essence() {
        State s = sm.state();
        State n = new State(0, 0, s.lastFence(), s.nextSessionId(), s.lastSeq(), s.limits(), s.sessionData(),
                s.poolData(), s.lockData(), s.dispatchData(), s.eventData(), s.queueData(), s.nodeData(),
                s.poolCounters(), s.stateBytes());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            SnapshotCodec.write(n, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** A new state machine recovered from this one's snapshot. */
    public CoordinationStateMachine recoverCopy() {
        CoordinationStateMachine copy = new CoordinationStateMachine();
        try {
            copy.recoverFromSnapshot(new ByteArrayInputStream(snapshot()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return copy;
    }
}
