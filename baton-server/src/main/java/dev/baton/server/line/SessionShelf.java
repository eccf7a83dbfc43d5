package dev.baton.server.line;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * The idle sessions of connections that closed cleanly, kept open for the next connections of the
 * same door. MediaWiki connects, acquires, releases and closes once per web request; opening and
 * closing a Baton session each time costs two more replicated commands per pair than a kept
 * connection. A later connection takes a shelved session instead and its first acquire is a plain
 * acquire on it.
 *
 * <p>Newest first: the connection that comes next takes the session shelved last, so under steady
 * churn the same few sessions go round and the ones at the bottom, no longer needed, age past
 * {@link #idleNanos} and are closed. The shelf thus shrinks to what the churn needs on its own.
 *
 * <p>Confined to the door's event loop, except {@link #holds} and {@link #size}, which the apply
 * thread and the metrics read.
 */
final class SessionShelf {
    /** A shelved session and what its next user needs: request ids keep increasing per session (idempotency window). */
    record Shelved(long session, long nextRequestId, long sinceNanos) {}

    private final ArrayDeque<Shelved> stack = new ArrayDeque<>(); // newest at the head
    private final Set<Long> ids = ConcurrentHashMap.newKeySet();
    private final int max;
    private final long idleNanos;
    private final AtomicLong reused = new AtomicLong();

    SessionShelf(int max, long idleNanos) {
        this.max = max;
        this.idleNanos = idleNanos;
    }

    /** Shelves {@code session}; false (the caller closes it) when the shelf is full. */
    boolean put(long session, long nextRequestId, long nowNanos) {
        if (stack.size() >= max || ids.contains(session)) {
            return false;
        }
        stack.push(new Shelved(session, nextRequestId, nowNanos));
        ids.add(session);
        return true;
    }

    /** The newest shelved session, taken off the shelf; null if there is none. */
    Shelved take() {
        Shelved s = stack.poll();
        if (s != null) {
            ids.remove(s.session());
            reused.incrementAndGet();
        }
        return s;
    }

    /** Forgets {@code session} (it ended); true if it was here. */
    boolean drop(long session) {
        if (!ids.remove(session)) {
            return false;
        }
        for (Iterator<Shelved> it = stack.iterator(); it.hasNext(); ) {
            if (it.next().session() == session) {
                it.remove();
                break;
            }
        }
        return true;
    }

    /** Takes off the shelf the sessions that have been on it for the idle time or longer (to be closed). */
    List<Shelved> takeIdle(long nowNanos) {
        List<Shelved> due = new ArrayList<>();
        while (!stack.isEmpty() && nowNanos - stack.peekLast().sinceNanos() >= idleNanos) {
            Shelved s = stack.pollLast();
            ids.remove(s.session());
            due.add(s);
        }
        return due;
    }

    /** Empties the shelf (the door stops): every session, to be closed. */
    List<Shelved> takeAll() {
        List<Shelved> all = new ArrayList<>(stack);
        stack.clear();
        ids.clear();
        return all;
    }

    void forEachSession(LongConsumer c) {
        for (Shelved s : stack) {
            c.accept(s.session());
        }
    }

    /** Any thread. */
    boolean holds(long session) {
        return ids.contains(session);
    }

    /** Sessions on the shelf now; any thread (approximate off the event loop). */
    int size() {
        return ids.size();
    }

    /** Sessions taken off the shelf by a new connection since the door started; any thread. */
    long reused() {
        return reused.get();
    }
}
