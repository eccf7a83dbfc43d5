package dev.baton.client.poolcounter;

import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * MediaWiki's {@code PoolCounterWork}: runs an expensive task under a {@link PoolCounter}, so that at
 * most {@code workers} processes do it at once for a key, and the others wait for their result,
 * serve a stale one, or give up.
 *
 * <p>Subclass it and implement {@link #doWork()}; override {@link #getCachedWork()} to make the work
 * cacheable (waiters then accept anyone's result), {@link #fallback(boolean)} to serve something
 * when the pool is busy, and {@link #error(PoolCounterStatus)} for when all else fails. Or build one
 * from lambdas with {@link #builder(PoolCounter, Supplier)} ({@code PoolCounterWorkViaCallback}). As in
 * PHP, {@code null} stands for {@code false}: "no result".
 *
 * <h2>{@link #execute(boolean)}, exactly as MediaWiki's</h2>
 * <ol>
 *   <li>Not cacheable, or {@code skipCache}: {@code acquireForMe()}. Cacheable with fast-stale
 *       ({@link PoolType#fastStale()}): {@code acquireForAnyone(0)}; on {@code TIMEOUT},
 *       {@code fallback(true)}, and if that is {@code null}, {@code acquireForAnyone()} with the type's
 *       timeout. Cacheable otherwise: {@code acquireForAnyone()}.</li>
 *   <li>{@code ERROR} (cluster unreachable, refused, misuse): logged, then {@code doWork()} anyway when
 *       {@link FailMode#OPEN fail-open} (the default; MediaWiki's "respond gracefully to complete server
 *       breakage"), or {@code error(status)} when {@link FailMode#CLOSED fail-closed}. Also
 *       {@code error(status)} if the thread was interrupted (a Java addition: an interrupted caller
 *       asked to stop, not to work unprotected).</li>
 *   <li>{@code LOCKED} or {@code LOCK_HELD}: {@code doWork()}, then {@code release()} in a
 *       {@code finally} ("better to ignore nesting pool counter limits than to fail").</li>
 *   <li>{@code DONE}: {@code getCachedWork()}; if {@code null}, {@code execute(true)}. {@code DONE}
 *       after {@code acquireForMe()} is impossible: {@link IllegalStateException} (PHP's
 *       {@code LogicException}).</li>
 *   <li>{@code QUEUE_FULL} or {@code TIMEOUT}: {@code fallback(false)}; if {@code null},
 *       {@code error(status)} with that status (message {@code pool-queuefull} or {@code pool-timeout}).
 *       Anything else: {@code error()} with an {@code ERROR} status "pool-errorunknown".</li>
 * </ol>
 * Exceptions thrown by the callbacks propagate (after the release, for {@code doWork()}).
 *
 * <p>A work object runs one task; {@link #execute()} is not meant to run on several threads at once
 * (they would share the one {@link PoolCounter}; make a work object per call).
 *
 * @param <T> the result of the work
 */
public abstract class PoolCounterWork<T> {
    private static final System.Logger LOG = System.getLogger(PoolCounterWork.class.getName());

    /** What {@link #execute()} does when the pool counter itself fails ({@code ERROR}). */
    public enum FailMode {
        /** Do the work anyway, unprotected (MediaWiki's behaviour; the default). */
        OPEN,
        /** Call {@link #error(PoolCounterStatus)} and do not do the work. */
        CLOSED
    }

    private final PoolCounter poolCounter;
    private final FailMode failMode;

    /** A fail-open work under {@code poolCounter}. */
    protected PoolCounterWork(PoolCounter poolCounter) {
        this(poolCounter, FailMode.OPEN);
    }

    /** A work under {@code poolCounter} that fails open or closed. */
    protected PoolCounterWork(PoolCounter poolCounter, FailMode failMode) {
        this.poolCounter = Objects.requireNonNull(poolCounter, "poolCounter");
        this.failMode = Objects.requireNonNull(failMode, "failMode");
    }

    /** Does the actual work; its result is what {@link #execute()} returns. */
    protected abstract T doWork();

    /**
     * The result another worker produced (read from a cache), or {@code null} if there is none. Only
     * called if {@link #isCacheable()}.
     */
    protected T getCachedWork() {
        return null;
    }

    /**
     * Something to return when the work cannot be done now, or {@code null}. {@code fast} is true in
     * fast-stale mode, when the key is busy and nothing was waited for yet: return a stale result, or
     * {@code null} to wait for the key.
     */
    protected T fallback(boolean fast) {
        return null;
    }

    /**
     * What {@link #execute()} returns when the work was neither done nor replaced by a cached or
     * fallback result (default {@code null}). {@code status} is {@code QUEUE_FULL}, {@code TIMEOUT}
     * or {@code ERROR} (with its message).
     */
    protected T error(PoolCounterStatus status) {
        return null;
    }

    /**
     * True if waiters may use another worker's result ({@link #getCachedWork()}), so that the pool is
     * acquired for anyone. By default true exactly when a subclass overrides {@link #getCachedWork()}
     * (MediaWiki: {@code $cacheable}, or {@code doCachedWork} given to the callback variant).
     */
    protected boolean isCacheable() {
        for (Class<?> c = getClass(); c != PoolCounterWork.class; c = c.getSuperclass()) {
            try {
                c.getDeclaredMethod("getCachedWork");
                return true;
            } catch (NoSuchMethodException e) {
                // not declared here; look further up
            }
        }
        return false;
    }

    /** The pool counter this work runs under. */
    public final PoolCounter poolCounter() {
        return poolCounter;
    }

    /** Whether a failing pool counter lets the work run ({@link FailMode#OPEN}) or not. */
    public final FailMode failMode() {
        return failMode;
    }

    /** {@link #execute(boolean) execute(false)}. */
    public final T execute() {
        return execute(false);
    }

    /**
     * Gets the result: does the work under the pool counter, or takes a cached, fallback or error
     * result (see the class comment for the exact steps).
     *
     * @param skipCache acquire for me, never taking another worker's result
     * @throws IllegalStateException if the pool answered {@code DONE} to an acquire for me
     */
    public T execute(boolean skipCache) {
        PoolCounterStatus status;
        if (!isCacheable() || skipCache) {
            status = poolCounter.acquireForMe();
            skipCache = true;
        } else if (poolCounter.isFastStaleEnabled()) {
            status = poolCounter.acquireForAnyone(0);
            if (status.code() == PoolCounterStatus.Code.TIMEOUT) {
                T stale = fallback(true);
                if (stale != null) {
                    return stale;
                }
                status = poolCounter.acquireForAnyone();
            }
        } else {
            status = poolCounter.acquireForAnyone();
        }

        if (!status.isOK()) {
            logError(status, Level.WARNING);
            if (failMode == FailMode.OPEN && !Thread.currentThread().isInterrupted()) {
                return doWork();
            }
            return error(status);
        }

        switch (status.code()) {
            case LOCK_HELD:
            case LOCKED:
                try {
                    return doWork();
                } finally {
                    poolCounter.release();
                }
            case DONE: {
                T cached = getCachedWork();
                if (cached == null) {
                    if (skipCache) {
                        throw new IllegalStateException("Result of '" + poolCounter.type()
                                + "' was DONE despite skipping the cache");
                    }
                    // That someone else's work did not serve us: do it ourselves.
                    return execute(true);
                }
                return cached;
            }
            case QUEUE_FULL:
            case TIMEOUT: {
                T result = fallback(false);
                if (result != null) {
                    return result;
                }
                logError(status, Level.DEBUG);
                return error(status);
            }
            default: {
                PoolCounterStatus unknown = PoolCounterStatus.error("pool-errorunknown: " + status);
                logError(unknown, Level.WARNING);
                return error(unknown);
            }
        }
    }

    private void logError(PoolCounterStatus status, Level level) {
        LOG.log(level, "PoolCounter " + poolCounter.type() + " " + poolCounter.key() + ": " + status);
    }

    // ---- PoolCounterWorkViaCallback ---------------------------------------------------------------

    /**
     * A builder of a work from lambdas (MediaWiki's {@code PoolCounterWorkViaCallback}): {@code doWork}
     * is required; the work is cacheable exactly when {@link Builder#cachedWork} is given.
     */
    public static <T> Builder<T> builder(PoolCounter poolCounter, Supplier<T> doWork) {
        return new Builder<>(poolCounter, doWork);
    }

    /**
     * Builds a {@link PoolCounterWork} from callbacks. Not thread-safe.
     *
     * @param <T> the result of the work
     */
    public static final class Builder<T> {
        private final PoolCounter poolCounter;
        private final Supplier<T> doWork;
        private Supplier<T> cachedWork;
        private Function<Boolean, T> fallback = fast -> null;
        private Function<PoolCounterStatus, T> error = status -> null;
        private FailMode failMode = FailMode.OPEN;

        private Builder(PoolCounter poolCounter, Supplier<T> doWork) {
            this.poolCounter = Objects.requireNonNull(poolCounter, "poolCounter");
            this.doWork = Objects.requireNonNull(doWork, "doWork");
        }

        /** {@code doCachedWork}: another worker's result, or {@code null}; makes the work cacheable. */
        public Builder<T> cachedWork(Supplier<T> cachedWork) {
            this.cachedWork = Objects.requireNonNull(cachedWork, "cachedWork");
            return this;
        }

        /** {@code fallback($fast)}: a substitute result, or {@code null}. */
        public Builder<T> fallback(Function<Boolean, T> fallback) {
            this.fallback = Objects.requireNonNull(fallback, "fallback");
            return this;
        }

        /** {@code error($status)}: the result when nothing else worked (default {@code null}). */
        public Builder<T> error(Function<PoolCounterStatus, T> error) {
            this.error = Objects.requireNonNull(error, "error");
            return this;
        }

        /** Fail open (default) or closed when the pool counter itself fails. */
        public Builder<T> failMode(FailMode failMode) {
            this.failMode = Objects.requireNonNull(failMode, "failMode");
            return this;
        }

        /** The work. */
        public PoolCounterWork<T> build() {
            Supplier<T> doWork = this.doWork;
            Supplier<T> cachedWork = this.cachedWork;
            Function<Boolean, T> fallback = this.fallback;
            Function<PoolCounterStatus, T> error = this.error;
            return new PoolCounterWork<>(poolCounter, failMode) {
                @Override
                protected T doWork() {
                    return doWork.get();
                }

                @Override
                protected T getCachedWork() {
                    return cachedWork == null ? null : cachedWork.get();
                }

                @Override
                protected T fallback(boolean fast) {
                    return fallback.apply(fast);
                }

                @Override
                protected T error(PoolCounterStatus status) {
                    return error.apply(status);
                }

                @Override
                protected boolean isCacheable() {
                    return cachedWork != null;
                }
            };
        }
    }
}
