package dev.baton.client.internal;

import dev.baton.client.SessionState;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Sessions made with {@code BatonClient.newSession()} whose users closed them while they held
 * nothing, kept open for a moment so that the next {@code newSession()} takes one instead of opening
 * a session on the cluster. An application that uses a session per unit of work (a web request, a
 * job) then costs the cluster's log what one kept session costs, not two more commits per unit (the
 * open and the close); the PoolCounter port does the same for connections.
 *
 * <p>Only a session that holds and waits for nothing may be kept ({@link SessionSet#retireIfIdle}), so
 * its next user cannot tell it from a new one, except by its id and its request ids, which carry on.
 * At most {@link #MAX_KEPT} are kept, newest first; one unused for {@link #KEEP_NANOS} is closed, and
 * so is every kept session when the client closes.
 */
public final class IdleSessions {
    /** The most sessions kept; one more closed with nothing held is closed on the cluster. */
    public static final int MAX_KEPT = 64;
    /** How long a kept session waits for its next user before it is closed. */
    static final long KEEP_NANOS = TimeUnit.SECONDS.toNanos(2);

    private record Kept(ClientSession session, long sinceNanos) {}

    /** Newest last; guarded by this. */
    private final ArrayDeque<Kept> kept = new ArrayDeque<>();
    private final ClientCore core;
    /**
     * Closes the stale ones every 500 ms while any is kept; guarded by this. Started by the first
     * kept session and stopped when none is left, so a client that keeps nothing never wakes for it.
     */
    private ScheduledFuture<?> sweeper;
    private boolean closed;

    public IdleSessions(ClientCore core) {
        this.core = core;
    }

    /** The newest kept session that is still alive as far as the client knows, or null. */
    public ClientSession take() {
        List<ClientSession> dead = new ArrayList<>();
        ClientSession found = null;
        synchronized (this) {
            while (!kept.isEmpty()) {
                ClientSession s = kept.pollLast().session();
                if (s.lost() == null && s.state() == SessionState.ALIVE) {
                    found = s;
                    break;
                }
                dead.add(s);
            }
        }
        dead.forEach(IdleSessions::closeLater);
        return found;
    }

    /** Keeps a session that holds nothing for the next user, or closes it if no more may be kept. */
    public void offer(ClientSession s) {
        synchronized (this) {
            if (!closed && kept.size() < MAX_KEPT) {
                kept.addLast(new Kept(s, System.nanoTime()));
                if (sweeper == null) {
                    sweeper = core.scheduler().scheduleWithFixedDelay(this::closeStale, 500, 500, TimeUnit.MILLISECONDS);
                }
                return;
            }
        }
        closeLater(s);
    }

    /** How many sessions are kept now. */
    public synchronized int size() {
        return kept.size();
    }

    /** Closes every kept session (waiting for the closes, as closing a client does). */
    public void close() {
        List<ClientSession> all = new ArrayList<>();
        synchronized (this) {
            closed = true;
            kept.forEach(k -> all.add(k.session()));
            kept.clear();
            stopSweeping();
        }
        all.parallelStream().forEach(ClientSession::close);
    }

    private void closeStale() {
        List<ClientSession> stale = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
                Kept k = it.next(); // oldest first
                if (now - k.sinceNanos() < KEEP_NANOS) {
                    break;
                }
                it.remove();
                stale.add(k.session());
            }
            if (kept.isEmpty()) {
                stopSweeping(); // the next kept session starts it again
            }
        }
        stale.forEach(IdleSessions::closeLater);
    }

    /** Whether the sweep runs now (for tests). */
    synchronized boolean sweeping() {
        return sweeper != null;
    }

    private void stopSweeping() {
        assert Thread.holdsLock(this);
        if (sweeper != null) {
            sweeper.cancel(false);
            sweeper = null;
        }
    }

    /** Closing waits for the cluster's answer (up to about two seconds): never on the caller's thread. */
    private static void closeLater(ClientSession s) {
        ForkJoinPool.commonPool().execute(s::close);
    }
}
