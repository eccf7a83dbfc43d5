package dev.baton.server.raft;

import dev.baton.core.command.Command;
import dev.baton.core.command.Command.LockAcquire;
import dev.baton.core.command.Command.OpenSessionThen;
import dev.baton.core.command.Command.PoolAcquire;
import dev.baton.core.command.Result;
import dev.baton.core.command.Result.LockReply;
import dev.baton.core.command.Result.LockStatus;
import dev.baton.core.command.Result.PoolReply;
import dev.baton.core.command.Result.PoolStatus;
import dev.baton.core.command.Result.SessionOpenedThen;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The pools and locks on which the last acquire this leader proposed had to wait: the batcher's hint
 * that another acquire on them will wait too, so that its entry need not leave before the next
 * command that someone is waiting for (see {@link ProposalBatcher}, "Acquires that will wait").
 *
 * <p>Learned from the answers of the leader's own entries: an acquire answered {@code QUEUED} (or a
 * pool's {@code QUEUE_FULL}) marks its key, one granted at once unmarks it. It is only a hint: it
 * decides when an entry leaves, never what the entry holds or in which order, so a stale mark costs
 * the next acquire on that key at most the batcher's hold time, and that acquire's answer unmarks
 * it. Bounded: past {@link #MAX_KEYS} marks the set starts again from empty.
 */
final class ContendedKeys {
    /** Marks kept at most; beyond, all are forgotten (a hint loses nothing by forgetting). */
    static final int MAX_KEYS = 4_096;

    /** A pool's key or a lock's name. */
    record Key(boolean lock, String name) {}

    private final Set<Key> marked = ConcurrentHashMap.newKeySet();

    /**
     * The pool or lock {@code command} asks to wait for, or null if it is no acquire that may wait
     * (any other command, a tryLock, an acquire with {@code timeoutMs == 0}). A session opened in the
     * same entry as its first command counts as that command.
     */
    static Key waitKey(Command command) {
        Command c = command instanceof OpenSessionThen then ? then.first() : command;
        if (c instanceof PoolAcquire a && a.timeoutMs() > 0) {
            return new Key(false, a.key());
        }
        if (c instanceof LockAcquire l && l.timeoutMs() > 0) {
            return new Key(true, l.name());
        }
        return null;
    }

    /** Whether the last answer to an acquire on {@code key} was to wait. */
    boolean contended(Key key) {
        return key != null && marked.contains(key);
    }

    /** Learns from the answer to an acquire on {@code key} (null: nothing to learn). */
    void learn(Key key, Result result) {
        if (key == null) {
            return;
        }
        Result r = result instanceof SessionOpenedThen then ? then.first() : result;
        boolean waits;
        if (r instanceof PoolReply p) {
            if (p.status() == PoolStatus.QUEUED || p.status() == PoolStatus.QUEUE_FULL) {
                waits = true;
            } else if (p.status() == PoolStatus.LOCKED) {
                waits = false;
            } else {
                return;
            }
        } else if (r instanceof LockReply l) {
            if (l.status() == LockStatus.QUEUED) {
                waits = true;
            } else if (l.status() == LockStatus.LOCKED) {
                waits = false;
            } else {
                return;
            }
        } else {
            return;
        }
        if (!waits) {
            marked.remove(key);
        } else if (!marked.contains(key)) {
            if (marked.size() >= MAX_KEYS) {
                marked.clear();
            }
            marked.add(key);
        }
    }

    /** Keys marked now (for tests and metrics). */
    int size() {
        return marked.size();
    }
}
