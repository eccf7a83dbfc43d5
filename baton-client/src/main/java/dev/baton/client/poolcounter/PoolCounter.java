package dev.baton.client.poolcounter;

import dev.baton.client.PoolReply;
import dev.baton.client.PoolSlot;
import dev.baton.client.SessionInfo;
import dev.baton.client.BatonClient;
import dev.baton.client.BatonException;
import dev.baton.client.BatonInterruptedException;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.StaleFenceException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * MediaWiki's {@code PoolCounter} over a {@link BatonClient}: a semaphore on one key of one pool type,
 * shared by every process that uses the same Baton cluster.
 *
 * <pre>{@code
 * PoolCounter pc = new PoolCounter(baton, "ArticleView", articleView, "enwiki:page:42");
 * PoolCounterStatus s = pc.acquireForMe();
 * if (s.code() == PoolCounterStatus.Code.LOCKED) {
 *     try { render(); } finally { pc.release(); }
 * }
 * }</pre>
 *
 * <h2>Semantics (MediaWiki's, see {@code docs/poolcounter-client.md})</h2>
 * <ul>
 *   <li>{@link #acquireForMe()} ({@code ACQ4ME}): "I want to do this task and I need to do it myself":
 *       {@code LOCKED}, {@code QUEUE_FULL}, {@code TIMEOUT}, {@code LOCK_HELD} or {@code ERROR}.</li>
 *   <li>{@link #acquireForAnyone()} ({@code ACQ4ANY}): "if anyone else does it instead, it's also fine
 *       for me": the same, or {@code DONE} when a holder released while this call waited (read its
 *       result; nothing is held).</li>
 *   <li>{@link #release()}: {@code RELEASED}, or {@code NOT_LOCKED} if this object holds nothing. It
 *       releases exactly the slot this object was granted (by its fence), even when several
 *       {@code PoolCounter}s share the client, and tells every for-anyone waiter
 *       {@code DONE}.</li>
 *   <li><b>One might-wait key per client.</b> A {@link BatonClient} is MediaWiki's
 *       "process": it may hold (or be acquiring) only one key that does not start with
 *       {@code nowait:}; a second gets {@code ERROR} "You may only acquire a single non-nowait
 *       lock". Keys starting with {@code nowait:} must be acquired with timeout 0, else {@code ERROR}
 *       "Locks starting in nowait: must have 0 timeout". (MediaWiki checks the type's configured
 *       timeout; Baton checks it and the call's.) With {@code slots}, the hashed key
 *       ({@code "type:N"}) is what counts, as in MediaWiki.</li>
 *   <li><b>Failures are statuses.</b> When the cluster cannot be reached, refuses the call or the
 *       session was lost, the result is {@code ERROR} with a message, never an exception, so that
 *       {@link PoolCounterWork} can fail open. Only misuse of arguments (null, negative timeout)
 *       throws.</li>
 *   <li><b>Unknown outcomes are cleared up.</b> If an acquire gets no answer (the cluster is
 *       unreachable for the client's {@code retryFor}, or the thread is interrupted), the session may
 *       have been granted the slot. The result is {@code ERROR}; in the background this object then
 *       reads the session's slots and releases, by fence, any slot on the key that no
 *       {@code PoolCounter} of the client knows, retrying until the cluster answers. Until then,
 *       acquires of that key on this client get {@code ERROR}, and the client's might-wait key stays
 *       taken. A release without an answer is retried in the background the same way.</li>
 * </ul>
 *
 * <p>A {@code PoolCounter} is meant for one task at a time (MediaWiki makes one per task); its methods
 * are synchronized, so a {@code release()} from another thread waits for an acquire in progress.
 * Acquires wait for up to their timeout; keep the client's {@code requestTimeout} above 3 s (see
 * {@code docs/client.md}). The session allows one waiting acquire at a time and a few held slots
 * (poolcounterd's 4 per connection): for many concurrent waiters use one {@link BatonClient} each.
 */
public final class PoolCounter {
    private static final System.Logger LOG = System.getLogger(PoolCounter.class.getName());
    /** Pause between background attempts to clear up an unknown outcome (each also retries for retryFor). */
    private static final Executor LATER = CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS);

    private final BatonClient client;
    private final String type;
    private final PoolType conf;
    private final String key;
    private final boolean mightWaitKey;
    /** The fence of the slot this object holds; 0 when it holds none. Guarded by {@code this}. */
    private long heldFence;

    /**
     * A pool counter for {@code key} in pool type {@code type} configured as {@code conf}. With
     * {@code conf.slots() > 0}, the key used is {@link #hashKeyIntoSlots hashKeyIntoSlots(type, key,
     * slots)}. Does not contact the cluster.
     */
    public PoolCounter(BatonClient client, String type, PoolType conf, String key) {
        this.client = Objects.requireNonNull(client, "client");
        this.type = Objects.requireNonNull(type, "type");
        this.conf = Objects.requireNonNull(conf, "conf");
        Objects.requireNonNull(key, "key");
        this.key = conf.slots() > 0 ? hashKeyIntoSlots(type, key, conf.slots()) : key;
        this.mightWaitKey = !this.key.startsWith("nowait:");
    }

    /** Same as {@link #PoolCounter(BatonClient, String, PoolType, String) the constructor}. */
    public static PoolCounter create(BatonClient client, String type, PoolType conf, String key) {
        return new PoolCounter(client, type, conf, key);
    }

    /**
     * MediaWiki's {@code hashKeyIntoSlots}: {@code type + ":" + (hexdec(substr(sha1(key), 0, 4)) % slots)},
     * the SHA-1 taken over the key's UTF-8 bytes. Every key of a type then falls into one of
     * {@code slots} buckets, which caps the type's total concurrency at {@code workers × slots}.
     *
     * @throws IllegalArgumentException unless {@code 1 <= slots <= 65536}
     */
    public static String hashKeyIntoSlots(String type, String key, int slots) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(key, "key");
        if (slots < 1 || slots > PoolType.MAX_SLOTS) {
            throw new IllegalArgumentException("slots must be between 1 and " + PoolType.MAX_SLOTS + ": " + slots);
        }
        byte[] sha1;
        try {
            sha1 = MessageDigest.getInstance("SHA-1").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-1", e);
        }
        // The first four hex digits are the first two bytes, read as an unsigned big-endian number.
        int firstFourHexDigits = ((sha1[0] & 0xff) << 8) | (sha1[1] & 0xff);
        return type + ":" + (firstFourHexDigits % slots);
    }

    /** The first four hex digits of the SHA-1 of {@code key} (for documentation and tests). */
    static String sha1Prefix(String key) {
        try {
            byte[] sha1 = MessageDigest.getInstance("SHA-1").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha1, 0, 2);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- acquire ------------------------------------------------------------------------------------

    /** {@code ACQ4ME} with the type's timeout. */
    public PoolCounterStatus acquireForMe() {
        return acquire(false, conf.timeout());
    }

    /**
     * {@code ACQ4ME} waiting up to {@code timeoutSeconds} (MediaWiki's {@code ?int $timeout}; {@code null}:
     * the type's timeout, 0: do not wait).
     */
    public PoolCounterStatus acquireForMe(Integer timeoutSeconds) {
        return acquire(false, seconds(timeoutSeconds));
    }

    /** {@code ACQ4ME} waiting up to {@code timeout} ({@code null}: the type's timeout). */
    public PoolCounterStatus acquireForMe(Duration timeout) {
        return acquire(false, timeout == null ? conf.timeout() : timeout);
    }

    /** {@code ACQ4ANY} with the type's timeout. */
    public PoolCounterStatus acquireForAnyone() {
        return acquire(true, conf.timeout());
    }

    /**
     * {@code ACQ4ANY} waiting up to {@code timeoutSeconds} ({@code null}: the type's timeout, 0: do not
     * wait).
     */
    public PoolCounterStatus acquireForAnyone(Integer timeoutSeconds) {
        return acquire(true, seconds(timeoutSeconds));
    }

    /** {@code ACQ4ANY} waiting up to {@code timeout} ({@code null}: the type's timeout). */
    public PoolCounterStatus acquireForAnyone(Duration timeout) {
        return acquire(true, timeout == null ? conf.timeout() : timeout);
    }

    private Duration seconds(Integer timeoutSeconds) {
        return timeoutSeconds == null ? conf.timeout() : Duration.ofSeconds(timeoutSeconds);
    }

    private synchronized PoolCounterStatus acquire(boolean forAnyone, Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative: " + timeout);
        }
        // precheckAcquire
        if (mightWaitKey) {
            String refused = ClientRegistry.reserveMightWait(client, this);
            if (refused != null) {
                return PoolCounterStatus.error(refused);
            }
        } else if (!conf.timeout().isZero() || !timeout.isZero()) {
            return PoolCounterStatus.error("Locks starting in nowait: must have 0 timeout (key " + key + ", timeout "
                    + (conf.timeout().isZero() ? timeout : conf.timeout()) + ")");
        }
        if (heldFence != 0) {
            // Only a nowait: key gets here (a might-wait one was refused above): PoolCounterRedis's answer.
            return PoolCounterStatus.LOCK_HELD;
        }
        if (!ClientRegistry.startAcquire(client, key)) {
            endMightWait();
            return PoolCounterStatus.error("an earlier acquire of " + key + " on this BatonClient has an unknown "
                    + "outcome and is being cleared up; try again later");
        }
        PoolReply reply;
        try {
            reply = client.session().pools().acquire(key, conf.workers(), conf.maxQueue(), timeout, forAnyone);
        } catch (BatonUnavailableException | BatonInterruptedException e) {
            // The session may hold the slot, or still wait for it: clear that up in the background.
            ClientRegistry.endAcquire(client, key, 0, true);
            clearUpUnknownAcquire();
            return PoolCounterStatus.error(describe(e) + "; the outcome is unknown and is being cleared up");
        } catch (BatonException e) {
            ClientRegistry.endAcquire(client, key, 0, false);
            endMightWait();
            return PoolCounterStatus.error(describe(e));
        }
        PoolCounterStatus status = toStatus(reply);
        if (status.code() == PoolCounterStatus.Code.LOCKED) {
            heldFence = reply.fence();
            ClientRegistry.endAcquire(client, key, heldFence, false);
        } else {
            ClientRegistry.endAcquire(client, key, 0, false);
            endMightWait();
        }
        return status;
    }

    /** The status for a reply of the server (an unexpected one is an {@code ERROR}). */
    static PoolCounterStatus toStatus(PoolReply reply) {
        return switch (reply.status()) {
            case LOCKED -> PoolCounterStatus.LOCKED;
            case DONE -> PoolCounterStatus.DONE;
            case QUEUE_FULL -> PoolCounterStatus.QUEUE_FULL;
            case TIMEOUT -> PoolCounterStatus.TIMEOUT;
            case LOCK_HELD -> PoolCounterStatus.LOCK_HELD;
            case RELEASED -> PoolCounterStatus.RELEASED;
            case NOT_LOCKED -> PoolCounterStatus.NOT_LOCKED;
            default -> PoolCounterStatus.error("unexpected reply from Baton: " + reply.status());
        };
    }

    private static String describe(BatonException e) {
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private void endMightWait() {
        if (mightWaitKey) {
            ClientRegistry.endMightWait(client, this);
        }
    }

    // ---- release ------------------------------------------------------------------------------------

    /**
     * Releases the slot this object holds ({@code RELEASED}): other workers may take it, and every
     * for-anyone waiter on the key gets {@code DONE}. {@code NOT_LOCKED} if this object holds nothing
     * (nothing is sent). {@code ERROR} if the session was lost (the server released the slot already)
     * or the cluster did not answer (the release is then retried in the background, by fence).
     */
    public synchronized PoolCounterStatus release() {
        if (heldFence == 0) {
            return PoolCounterStatus.NOT_LOCKED;
        }
        long fence = heldFence;
        heldFence = 0;
        try {
            // Uninterruptible: a release in a finally block of an interrupted thread must still happen.
            PoolReply reply = joinUninterruptibly(client.session().pools().releaseAsync(key, fence));
            releasedFence(fence);
            return toStatus(reply);
        } catch (StaleFenceException e) {
            // The slot is not held under this fence any more: nothing to release.
            releasedFence(fence);
            return PoolCounterStatus.NOT_LOCKED;
        } catch (BatonUnavailableException | BatonInterruptedException e) {
            releaseInBackground(fence);
            return PoolCounterStatus.error(describe(e) + "; the release is retried in the background");
        } catch (BatonException e) {
            releasedFence(fence);
            return PoolCounterStatus.error(describe(e));
        }
    }

    private static <T> T joinUninterruptibly(CompletableFuture<T> call) {
        try {
            return call.join(); // join() waits through interrupts and sets the flag again
        } catch (CompletionException e) {
            Throwable cause = unwrap(e);
            if (cause instanceof RuntimeException re) {
                re.fillInStackTrace();
                throw re;
            }
            throw e;
        }
    }

    private void releasedFence(long fence) {
        ClientRegistry.released(client, key, fence);
        endMightWait();
    }

    // ---- clearing up unknown outcomes (background) ---------------------------------------------------

    /** Retries releasing the slot granted with {@code fence} until the cluster answers. */
    private void releaseInBackground(long fence) {
        client.session().pools().releaseAsync(key, fence).whenComplete((reply, failure) -> {
            if (unwrap(failure) instanceof BatonUnavailableException) {
                LATER.execute(() -> releaseInBackground(fence));
                return;
            }
            if (failure != null && !(unwrap(failure) instanceof StaleFenceException)) {
                LOG.log(Level.DEBUG, "Releasing " + key + " (fence " + fence + ") in the background failed; the "
                        + "session no longer holds it", unwrap(failure));
            }
            releasedFence(fence);
        });
    }

    /**
     * After an acquire without an answer: once no other acquire of the key is in flight on this client,
     * reads the session's slots on the key and releases, by its fence, each held one that no
     * {@code PoolCounter} of the client holds. A waiting one is left to end (the client itself settles
     * that request, see {@code docs/client.md}): releasing "the newest slot of the key" instead could
     * hit another {@code PoolCounter}'s grant if the wait ended in between. Repeats until the cluster
     * answers and no slot of the key waits; then the key may be acquired again.
     */
    private void clearUpUnknownAcquire() {
        if (!ClientRegistry.quiet(client, key)) {
            LATER.execute(this::clearUpUnknownAcquire);
            return;
        }
        CompletableFuture<SessionInfo> read;
        try {
            read = client.session().sessions().getAsync();
        } catch (RuntimeException e) {
            read = CompletableFuture.failedFuture(e);
        }
        read.thenCompose(this::releaseUnknownSlots).whenComplete((settled, failure) -> {
            if (unwrap(failure) instanceof BatonUnavailableException || (failure == null && !settled)) {
                LATER.execute(this::clearUpUnknownAcquire);
                return;
            }
            if (failure != null) {
                // Lost session or closed client: the server has released (or will release) everything.
                LOG.log(Level.DEBUG, "Clearing up an acquire of " + key + " ended", unwrap(failure));
            }
            ClientRegistry.clearDoubt(client, key);
            endMightWait();
        });
    }

    /** Releases the unknown held slots of the key; completes true if no slot of the key still waits. */
    private CompletableFuture<Boolean> releaseUnknownSlots(SessionInfo session) {
        Set<Long> known = ClientRegistry.heldFences(client, key);
        List<CompletableFuture<PoolReply>> releases = new ArrayList<>();
        boolean waiting = false;
        for (PoolSlot slot : session.poolSlots()) {
            if (!slot.key().equals(key)) {
                continue;
            }
            if (!"HELD".equals(slot.state())) {
                waiting = true;
            } else if (!known.contains(slot.id())) {
                releases.add(client.session().pools().releaseAsync(key, slot.id())
                        .exceptionally(t -> {
                            if (unwrap(t) instanceof StaleFenceException) {
                                return null; // released meanwhile
                            }
                            throw t instanceof CompletionException ce ? ce : new CompletionException(t);
                        }));
            }
        }
        boolean settled = !waiting;
        return CompletableFuture.allOf(releases.toArray(CompletableFuture[]::new)).thenApply(v -> settled);
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    // ---- accessors ----------------------------------------------------------------------------------

    /** The key sent to Baton: the given key, or its bucket {@code "type:N"} when the type has slots. */
    public String key() {
        return key;
    }

    /** The pool type's name. */
    public String type() {
        return type;
    }

    /** The pool type's configuration. */
    public PoolType poolType() {
        return conf;
    }

    /** The client this counter uses. */
    public BatonClient client() {
        return client;
    }

    /** MediaWiki's {@code isFastStaleEnabled()}: the type's {@code fastStale}. */
    public boolean isFastStaleEnabled() {
        return conf.fastStale();
    }

    /** False for keys starting with {@code nowait:} (MediaWiki's {@code isMightWaitKey}). */
    public boolean isMightWaitKey() {
        return mightWaitKey;
    }

    /**
     * The fence of the slot this object holds (Baton's grant: a number larger than any fence granted
     * before), or 0 when it holds none.
     */
    public synchronized long fence() {
        return heldFence;
    }

    @Override
    public String toString() {
        return "PoolCounter[" + type + ", " + key + "]";
    }
}
