package dev.baton.client.poolcounter;

import dev.baton.client.BatonClient;
import java.lang.ref.WeakReference;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;

/**
 * What {@link PoolCounter}s know about each {@link BatonClient} they share. A client plays the part of
 * what MediaWiki's rules think of as "the process" (PHP: one request, one poolcounterd
 * connection):
 * <ul>
 *   <li>the one {@code PoolCounter} that holds, or is acquiring, the client's single might-wait
 *       (non-{@code nowait:}) key ({@code PoolCounter::$acquiredMightWaitKey});</li>
 *   <li>the fences of the slots its {@code PoolCounter}s hold, per key, so that clearing up after an
 *       acquire of unknown outcome never releases a slot another {@code PoolCounter} holds;</li>
 *   <li>acquires in flight per key, and keys "in doubt": an acquire whose outcome is unknown is
 *       being cleared up in the background, and no new acquire of that key may start meanwhile.</li>
 * </ul>
 * Keyed weakly by client; nothing here refers to a client, so a client nobody uses any more is
 * forgotten. All methods are atomic (one lock; they are short and called once or twice per acquire).
 */
final class ClientRegistry {
    private static final Map<BatonClient, State> STATES = new WeakHashMap<>();

    private static final class State {
        /** Weak, so that a PoolCounter dropped without release() does not block its client forever. */
        WeakReference<Object> mightWaitOwner;
        final Map<String, Integer> inFlight = new HashMap<>();
        final Set<String> inDoubt = new HashSet<>();
        final Map<String, Set<Long>> held = new HashMap<>();
    }

    private ClientRegistry() {}

    private static State state(BatonClient client) {
        return STATES.computeIfAbsent(client, c -> new State());
    }

    /**
     * Makes {@code owner} the client's might-wait key holder; returns {@code null}, or why not (the
     * client already has one: MediaWiki's "You may only acquire a single non-nowait lock").
     */
    static synchronized String reserveMightWait(BatonClient client, Object owner) {
        State s = state(client);
        Object current = s.mightWaitOwner == null ? null : s.mightWaitOwner.get();
        if (current != null) {
            return "You may only acquire a single non-nowait lock: this BatonClient (session "
                    + Long.toUnsignedString(client.sessionId()) + ") already holds or is acquiring "
                    + current + " (use one BatonClient per concurrent worker)";
        }
        s.mightWaitOwner = new WeakReference<>(owner);
        return null;
    }

    /** {@code owner} no longer holds or acquires the client's might-wait key (no-op if it did not). */
    static synchronized void endMightWait(BatonClient client, Object owner) {
        State s = state(client);
        if (s.mightWaitOwner != null && s.mightWaitOwner.get() == owner) {
            s.mightWaitOwner = null;
        }
    }

    /** Counts an acquire of {@code key} in flight; false (and nothing counted) if the key is in doubt. */
    static synchronized boolean startAcquire(BatonClient client, String key) {
        State s = state(client);
        if (s.inDoubt.contains(key)) {
            return false;
        }
        s.inFlight.merge(key, 1, Integer::sum);
        return true;
    }

    /**
     * An acquire of {@code key} ended: granted with {@code fence} (0: not granted). With
     * {@code inDoubt}, its outcome is unknown and the key stays blocked until {@link #clearDoubt}.
     */
    static synchronized void endAcquire(BatonClient client, String key, long fence, boolean inDoubt) {
        State s = state(client);
        s.inFlight.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
        if (fence != 0) {
            s.held.computeIfAbsent(key, k -> new HashSet<>()).add(fence);
        }
        if (inDoubt) {
            s.inDoubt.add(key);
        }
    }

    /** True if no acquire of {@code key} is in flight on the client. */
    static synchronized boolean quiet(BatonClient client, String key) {
        return !state(client).inFlight.containsKey(key);
    }

    /** The fences of the slots on {@code key} that the client's {@code PoolCounter}s hold. */
    static synchronized Set<Long> heldFences(BatonClient client, String key) {
        return Set.copyOf(state(client).held.getOrDefault(key, Set.of()));
    }

    /** The slot granted with {@code fence} on {@code key} is no longer held. */
    static synchronized void released(BatonClient client, String key, long fence) {
        State s = state(client);
        Set<Long> fences = s.held.get(key);
        if (fences != null && fences.remove(fence) && fences.isEmpty()) {
            s.held.remove(key);
        }
    }

    /** The acquire of unknown outcome on {@code key} has been cleared up: the key may be acquired again. */
    static synchronized void clearDoubt(BatonClient client, String key) {
        state(client).inDoubt.remove(key);
    }

    /** True if an acquire of {@code key} on the client is being cleared up (for tests). */
    static synchronized boolean inDoubt(BatonClient client, String key) {
        return state(client).inDoubt.contains(key);
    }
}
