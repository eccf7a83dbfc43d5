package dev.baton.client.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.LongFunction;

/**
 * Hands out the session's request ids (1, 2, 3, ...) and keeps them close together: a write gets its
 * id only when that id is at most {@link #MAX_AHEAD} past the oldest id still unanswered; until then
 * it waits in FIFO order (without blocking its caller). The server remembers a bounded window of
 * answers per session, so an unanswered request whose id fell out of the window could no longer be
 * retried (it would be refused with {@code REQUEST_TOO_OLD}); this bound is what docs/api.md asks of
 * the Java client.
 */
public final class RequestWindow {
    /** How far the newest id may run ahead of the oldest unanswered one. */
    public static final long MAX_AHEAD = 48;

    private final long maxAhead;
    // all guarded by this
    private long nextId = 1;
    private final TreeSet<Long> unanswered = new TreeSet<>();
    private final ArrayDeque<Pending<?>> queue = new ArrayDeque<>();
    private Throwable closedWith;

    public RequestWindow() {
        this(MAX_AHEAD);
    }

    public RequestWindow(long maxAhead) {
        this.maxAhead = maxAhead;
    }

    private final class Pending<T> {
        final LongFunction<CompletableFuture<T>> start;
        final CompletableFuture<T> result = new CompletableFuture<>();
        volatile CompletableFuture<T> running;

        Pending(LongFunction<CompletableFuture<T>> start) {
            this.start = start;
            result.whenComplete((r, t) -> {
                CompletableFuture<T> f = running;
                if (t instanceof CancellationException && f != null) {
                    f.cancel(true);
                }
            });
        }

        void launch(long id) {
            CompletableFuture<T> f;
            try {
                f = start.apply(id);
            } catch (RuntimeException | Error e) {
                f = CompletableFuture.failedFuture(e);
            }
            running = f;
            f.whenComplete((r, t) -> {
                // The id leaves the window before the caller sees the answer, so that a caller that
                // got every answer finds the window quiet (a closed session is then handed on).
                answered(id);
                if (t != null) {
                    result.completeExceptionally(t instanceof CompletionException && t.getCause() != null ? t.getCause() : t);
                } else {
                    result.complete(r);
                }
            });
            if (result.isCancelled()) {
                f.cancel(true);
            }
        }
    }

    /**
     * Runs {@code start} with the next request id as soon as the window allows; the returned future
     * completes as {@code start}'s does. Cancelling it cancels the call, or drops it if not yet started.
     */
    public <T> CompletableFuture<T> submit(LongFunction<CompletableFuture<T>> start) {
        Pending<T> p = new Pending<>(start);
        long id;
        synchronized (this) {
            if (closedWith != null) {
                p.result.completeExceptionally(closedWith);
                return p.result;
            }
            if (!queue.isEmpty() || !admissible()) {
                queue.add(p);
                return p.result;
            }
            id = assign();
        }
        p.launch(id);
        return p.result;
    }

    /**
     * Makes {@code first} the next id handed out, when the server says so on opening the session
     * (0, from a server that does not say, changes nothing). Only before any id was handed out.
     */
    public synchronized void startAt(long first) {
        if (first <= 0) {
            return;
        }
        if (nextId != 1 || !unanswered.isEmpty()) {
            throw new IllegalStateException("request ids were handed out already");
        }
        nextId = first;
    }

    /** A request id outside the window, for the session's last call ({@code Close}). */
    public synchronized long takeUnbounded() {
        return nextId++;
    }

    /** Fails every write still waiting for an id; later submissions fail the same way. */
    public void close(Throwable failure) {
        List<Pending<?>> dropped;
        synchronized (this) {
            closedWith = failure;
            dropped = new ArrayList<>(queue);
            queue.clear();
        }
        for (Pending<?> p : dropped) {
            p.result.completeExceptionally(failure);
        }
    }

    /** Writes waiting for an id (for tests). */
    public synchronized int queued() {
        return queue.size();
    }

    /** Whether no write is waiting for an id or for its answer. */
    public synchronized boolean quiet() {
        return queue.isEmpty() && unanswered.isEmpty();
    }

    /** The id the next admitted write will get (for tests). */
    public synchronized long peekNextId() {
        return nextId;
    }

    private boolean admissible() {
        return unanswered.isEmpty() || nextId - unanswered.first() <= maxAhead;
    }

    private long assign() {
        long id = nextId++;
        unanswered.add(id);
        return id;
    }

    private void answered(long id) {
        List<Pending<?>> admitted = new ArrayList<>();
        List<Long> ids = new ArrayList<>();
        synchronized (this) {
            unanswered.remove(id);
            while (!queue.isEmpty() && admissible()) {
                Pending<?> p = queue.poll();
                if (p.result.isDone()) {
                    continue; // cancelled while waiting
                }
                admitted.add(p);
                ids.add(assign());
            }
        }
        for (int i = 0; i < admitted.size(); i++) {
            admitted.get(i).launch(ids.get(i));
        }
    }
}
