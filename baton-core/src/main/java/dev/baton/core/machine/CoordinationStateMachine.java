package dev.baton.core.machine;

import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.dispatch.Dispatch;
import dev.baton.core.event.Events;
import dev.baton.core.lock.Locks;
import dev.baton.core.pool.Pools;
import dev.baton.core.queue.Queues;
import dev.baton.core.node.Nodes;
import dev.baton.core.session.SessionTable;
import dev.baton.core.session.Sessions;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import dev.baton.core.util.BinaryReader.MalformedException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Baton's coordination state machine: sessions, pools, fenced locks, dispatch, events and gated
 * queues, on the {@link ConcurrentStateMachine} contract.
 *
 * <p>How the contract's concurrency is met: the whole state is one immutable {@link State} held in
 * a volatile field. {@code update} edits a transient working copy and publishes the next State once
 * per batch; lookups read whichever State is published; {@code prepareSnapshot} keeps a reference
 * to it (O(1)) and {@code saveSnapshot} serialises that reference while updates go on.
 *
 * <p>An exception escaping {@code update} other than the documented IllegalArgumentException is a
 * bug; nothing of the batch is published, and the host must stop rather than skip the entries.
 */
public final class CoordinationStateMachine implements ConcurrentStateMachine {
    private volatile State state;
    private volatile boolean closed;
    // The primitives, each owning its part of the state while a batch is applied (loaded from the
    // published State when the batch starts, gathered into the next one when it ends). Wired once,
    // here; only the apply thread touches them.
    private final SessionTable sessionTable = new SessionTable();
    private final Pools pools = new Pools(sessionTable);
    private final Locks locks = new Locks(sessionTable);
    private final Dispatch dispatch = new Dispatch(sessionTable);
    private final Queues queues = new Queues(sessionTable);
    private final Events events = new Events(sessionTable, queues);
    private final Nodes nodes = new Nodes();
    /**
     * The order in which the primitives react to a session's end: pool slots, locks, dispatch
     * targets, queue claims, pending events. The order decides the effects of an entry (which
     * waiter is woken, which item becomes claimable, in what order), so it never changes; a new
     * primitive goes at the end.
     */
    private final Sessions sessions = new Sessions(sessionTable, List.of(pools, locks, dispatch, queues, events));
    private final Applier applier = new Applier(sessionTable, sessions, pools, locks, dispatch, events, queues, nodes);

    public CoordinationStateMachine() {
        this(Limits.defaults());
    }

    /** Starts empty with the given limits; every replica must start with the same ones. */
    public CoordinationStateMachine(Limits initialLimits) {
        this.state = State.initial(initialLimits);
    }

    @Override
    public List<Applied> update(List<Entry> entries) {
        checkOpen();
        State current = state;
        long last = current.lastIndex();
        for (Entry e : entries) {
            if (e.index() <= last) {
                throw new IllegalArgumentException("entry index " + e.index() + " is not after " + last);
            }
            last = e.index();
        }
        Tx tx = new Tx(current);
        load(current);
        List<Applied> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            tx.beginEntry(e.index(), e.timestamp());
            int expired = sessions.expireWaits(tx);
            List<Command> commands;
            try {
                commands = CommandCodec.decodeBatch(e.buffer(), e.payloadOffset(), e.payloadLength());
            } catch (MalformedException bad) {
                out.add(new Applied(e.index(),
                        List.of(new Result.Rejected(ErrorCode.MALFORMED, bad.getMessage())), tx.takeEffects(), tx.takeObservations()));
                continue;
            }
            List<Result> results = new ArrayList<>(commands.size());
            for (Command c : commands) {
                results.add(applier.apply(tx, c, expired));
            }
            out.add(new Applied(e.index(), results, tx.takeEffects(), tx.takeObservations()));
        }
        state = commit(tx);
        return out;
    }

    /** Hands each primitive its part of {@code s} to work on (the hash maps become transients). */
    private void load(State s) {
        sessionTable.load(s.sessionData());
        pools.load(s.poolData());
        locks.load(s.lockData());
        dispatch.load(s.dispatchData());
        events.load(s.eventData());
        queues.load(s.queueData());
        nodes.load(s.nodeData());
    }

    /** The next State: the entry context's counters and each primitive's part, frozen in O(1). */
    private State commit(Tx tx) {
        return new State(tx.lastIndex(), tx.lastTime(), tx.lastFence(), tx.nextSessionId(), tx.lastSeq(),
                tx.limits(), sessionTable.freeze(), pools.freeze(), locks.freeze(), dispatch.freeze(),
                events.freeze(), queues.freeze(), nodes.freeze(), tx.poolCounters(), tx.stateBytes());
    }

    @Override
    public <R> R lookup(Query<R> query) {
        return Queries.answer(state, query);
    }

    @Override
    public long lastApplied() {
        return state.lastIndex();
    }

    /** The published state (immutable); for tests, benchmarks and admin dumps. */
    public State state() {
        return state;
    }

    @Override
    public SnapshotHandle prepareSnapshot() {
        checkOpen();
        return new Snapshot(state);
    }

    /** The published state is an immutable root in a volatile field: any thread may take it. */
    @Override
    public SnapshotHandle capturePublished() {
        checkOpen();
        return new Snapshot(state);
    }

    @Override
    public void saveSnapshot(SnapshotHandle snapshot, OutputStream out) throws IOException {
        if (!(snapshot instanceof Snapshot s)) {
            throw new IllegalArgumentException("not a snapshot of this state machine: " + snapshot);
        }
        SnapshotCodec.write(s.state(), out);
    }

    @Override
    public void recoverFromSnapshot(InputStream in) throws IOException {
        checkOpen();
        state = SnapshotCodec.read(in);
    }

    @Override
    public void close() {
        closed = true;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("state machine closed");
        }
    }

    /** The captured state root. */
    record Snapshot(State state) implements SnapshotHandle {
        @Override
        public long index() {
            return state.lastIndex();
        }

        @Override
        public long time() {
            return state.lastTime();
        }
    }
}
