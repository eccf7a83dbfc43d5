package dev.baton.client.dispatch;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonInterruptedException;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.SessionLostException;
import dev.baton.client.StaleFenceException;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The dispatch driver, Wikibase's {@code dispatchChanges.php}: runs passes until its time or pass
 * budget is used up or {@link #stop()} is called. Each pass
 * <ol>
 *   <li>reads the feed's head from the {@link ChangeSource} and, when it grew, raises the group's
 *       head ({@link ChangeDispatchCoordinator#advanceHead(long)});</li>
 *   <li>selects and locks a target ({@link ChangeDispatchCoordinator#selectClient()}); if none is
 *       eligible the pass is idle and the driver sleeps the idle delay;</li>
 *   <li>reads up to batch-size changes after the target's cursor and hands them to the
 *       {@link ChangeSink} (nothing is delivered when there are none);</li>
 *   <li>releases the target with the cursor after the last change read
 *       ({@link ChangeDispatchCoordinator#releaseClient(DispatchState)}).</li>
 * </ol>
 * A pass that fails (the source, the sink or a Baton call throws) releases the target with its cursor
 * unchanged, so its changes go out again later (at-least-once), and is followed by the idle delay.
 * After a call whose outcome is unknown ({@link BatonUnavailableException}) the next pass first
 * unlocks any target the session still holds in the group. {@link SessionLostException} and
 * {@link BatonClosedException} end the run: nothing can be dispatched without a session.
 *
 * <p>Give each dispatcher its own {@link BatonClient} (each process or thread its own session, as
 * each Wikibase dispatcher had its own database connection): the recovery above releases every target
 * the session holds in the group. Run several dispatchers, on as many machines as you like, to
 * dispatch faster; Baton keeps them off each other's targets.
 *
 * <pre>{@code
 * Dispatcher<MyChange> d = Dispatcher.builder(baton, "wikidata", changes, (target, batch) -> notify(target.db(), batch))
 *         .clients(Map.of("enwiki", "enwiki", "dewiki", "dewiki"))
 *         .maxTime(Duration.ofMinutes(2))
 *         .build();
 * DispatchSummary s = d.run();
 * }</pre>
 *
 * @param <C> the type of change
 */
public final class Dispatcher<C extends Change> {
    private static final System.Logger LOG = System.getLogger(Dispatcher.class.getName());

    /** Time and sleeping, replaceable so tests need not sleep for real. */
    public interface Clock {
        /** A monotonic time in nanoseconds, as {@link System#nanoTime()}. */
        long nanoTime();

        /** Sleeps about {@code d}; may return early. */
        void sleep(Duration d) throws InterruptedException;
    }

    /** What one pass did. */
    private enum Outcome { DELIVERED, EMPTY, IDLE, FAILED }

    private final Coordinator coordinator;
    private final ChangeSource<C> source;
    private final ChangeSink<C> sink;
    private final Map<String, String> clients;
    private final long maxTimeNanos;
    private final long maxPasses;
    private final Duration idleDelay;
    private final int batchSize;
    private final Clock clock;

    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean stopRequested;
    private final AtomicLong passes = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong empty = new AtomicLong();
    private final AtomicLong idle = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    // touched by the running thread only
    private long knownHead;
    private boolean recover;

    private Dispatcher(Builder<C> b, Coordinator coordinator) {
        this.coordinator = coordinator;
        this.source = b.source;
        this.sink = b.sink;
        this.clients = Map.copyOf(b.clients);
        this.maxTimeNanos = saturatedNanos(b.maxTime);
        this.maxPasses = b.maxPasses;
        this.idleDelay = b.idleDelay;
        this.batchSize = b.batchSize;
        this.clock = b.clock != null ? b.clock : new Clock() {
            @Override
            public long nanoTime() {
                return System.nanoTime();
            }

            @Override
            public void sleep(Duration d) throws InterruptedException {
                // waits on the stop signal, so stop() cuts an idle delay short
                stopSignal.await(saturatedNanos(d), TimeUnit.NANOSECONDS);
            }
        };
    }

    /**
     * A builder of a dispatcher for {@code group}, reading changes from {@code source} and delivering
     * them with {@code sink}. Its coordinator is a {@link ChangeDispatchCoordinator} over
     * {@code client} with the builder's dispatch interval, batch size and randomness.
     */
    public static <C extends Change> Builder<C> builder(BatonClient client, String group, ChangeSource<C> source,
            ChangeSink<C> sink) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(group, "group");
        return new Builder<>(client, group, null, source, sink);
    }

    /** A builder over any coordinator, for tests of the loop. */
    static <C extends Change> Builder<C> builder(Coordinator coordinator, ChangeSource<C> source, ChangeSink<C> sink) {
        return new Builder<>(null, null, Objects.requireNonNull(coordinator, "coordinator"), source, sink);
    }

    /**
     * Runs passes on the calling thread until max-time has passed, max-passes were made, or
     * {@link #stop()} was called; first applies {@code initState} with the configured clients and
     * settings. A dispatcher runs once.
     *
     * @return what the run did
     * @throws SessionLostException  if the client's session was lost (build a new client)
     * @throws BatonClosedException  if the client was closed
     * @throws IllegalStateException if the dispatcher already ran
     */
    public DispatchSummary run() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("a Dispatcher runs once");
        }
        long start = clock.nanoTime();
        coordinator.initState(clients);
        while (!stopRequested && passes.get() < maxPasses && clock.nanoTime() - start < maxTimeNanos) {
            Outcome o = pass();
            if (o == Outcome.IDLE || o == Outcome.FAILED) {
                long left = maxTimeNanos - (clock.nanoTime() - start);
                boolean last = stopRequested || passes.get() >= maxPasses || left <= 0;
                if (!last) {
                    try {
                        clock.sleep(Duration.ofNanos(Math.min(saturatedNanos(idleDelay), left)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        stopRequested = true;
                    }
                }
            }
        }
        DispatchSummary s = progress();
        LOG.log(Level.DEBUG, "Dispatcher run ended: {0}", s);
        return s;
    }

    /**
     * Asks the run to end after the current pass (its target is released first); cuts an idle delay
     * short. Any thread; idempotent.
     */
    public void stop() {
        stopRequested = true;
        stopSignal.countDown();
    }

    /** What the run has done so far (any thread). */
    public DispatchSummary progress() {
        return new DispatchSummary(passes.get(), batches.get(), changes.get(), empty.get(), idle.get(), failed.get());
    }

    private Outcome pass() {
        passes.incrementAndGet();
        DispatchState held = null;
        try {
            if (recover) {
                int n = coordinator.releaseHeld();
                recover = false;
                if (n > 0) {
                    LOG.log(Level.INFO, "Dispatcher released {0} target(s) left locked by an unknown outcome", n);
                }
            }
            long head = source.head();
            if (head > knownHead) {
                coordinator.advanceHead(head);
                knownHead = head;
            }
            held = coordinator.selectClient();
            if (held == null) {
                idle.incrementAndGet();
                return Outcome.IDLE;
            }
            List<C> batch = source.after(held.seen(), batchSize);
            long newSeen = nextCursor(held, batch, head);
            if (!batch.isEmpty()) {
                sink.deliver(held, List.copyOf(batch));
                changes.addAndGet(batch.size());
            }
            DispatchState release = held.withSeen(newSeen);
            held = null; // from here on a failure must not release again with the old cursor
            coordinator.releaseClient(release);
            (batch.isEmpty() ? empty : batches).incrementAndGet();
            return batch.isEmpty() ? Outcome.EMPTY : Outcome.DELIVERED;
        } catch (SessionLostException | BatonClosedException e) {
            failed.incrementAndGet();
            throw e;
        } catch (Exception e) {
            failed.incrementAndGet();
            boolean interrupted = e instanceof InterruptedException || e instanceof BatonInterruptedException
                    || Thread.interrupted();
            if (interrupted) {
                stopRequested = true;
                Thread.interrupted(); // clear it for the release below, set again after
            }
            if (e instanceof BatonUnavailableException || e instanceof BatonInterruptedException) {
                recover = true; // the outcome is unknown: the session may hold a target
            }
            LOG.log(interrupted ? Level.DEBUG : Level.WARNING,
                    "Dispatch pass failed" + (held != null ? " for " + held.site() : "") + ": " + e, e);
            if (held != null) {
                releaseUnchanged(held);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return Outcome.FAILED;
        }
    }

    /**
     * The cursor after {@code batch}: its last id, or, when the source returned less than a full
     * batch (so nothing else exists up to {@code head}), the head read before.
     */
    private long nextCursor(DispatchState held, List<C> batch, long head) {
        if (batch.size() > batchSize) {
            throw new IllegalStateException("the change source returned " + batch.size() + " changes, more than "
                    + batchSize);
        }
        long last = held.seen();
        for (C c : batch) {
            if (c.id() <= last) {
                throw new IllegalStateException("the change source returned change " + c.id() + " after " + last
                        + ": ids must increase and lie above the cursor " + held.seen());
            }
            last = c.id();
        }
        return batch.size() < batchSize ? Math.max(last, head) : last;
    }

    /** Wikibase's error path: release with the cursor unchanged, so the changes go out again later. */
    private void releaseUnchanged(DispatchState held) {
        try {
            coordinator.releaseClient(held);
        } catch (StaleFenceException e) {
            // the lock was lost already: nothing of ours to release
        } catch (SessionLostException | BatonClosedException e) {
            throw e;
        } catch (RuntimeException e) {
            recover = true;
            LOG.log(Level.WARNING, "Releasing " + held.site() + " after a failed pass failed: " + e, e);
        }
    }

    private static long saturatedNanos(Duration d) {
        return d.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : d.toNanos();
    }

    /**
     * Options of a {@link Dispatcher}, named after {@code dispatchChanges.php}'s. Defaults are
     * Wikibase's: max-time 1 h, max-passes unlimited, idle-delay 10 s, dispatch-interval 60 s,
     * randomness 15, batch-size 1000.
     *
     * @param <C> the type of change
     */
    public static final class Builder<C extends Change> {
        private final BatonClient client;
        private final String group;
        private final Coordinator coordinator;
        private final ChangeSource<C> source;
        private final ChangeSink<C> sink;
        private Map<String, String> clients = Map.of();
        private Duration maxTime = Duration.ofHours(1);
        private long maxPasses = Long.MAX_VALUE;
        private Duration idleDelay = Duration.ofSeconds(10);
        private Duration dispatchInterval = CoordinatorSettings.DEFAULTS.dispatchInterval();
        private int randomness = CoordinatorSettings.DEFAULTS.randomness();
        private int batchSize = CoordinatorSettings.DEFAULTS.batchSize();
        private Clock clock;

        private Builder(BatonClient client, String group, Coordinator coordinator, ChangeSource<C> source,
                ChangeSink<C> sink) {
            this.client = client;
            this.group = group;
            this.coordinator = coordinator;
            this.source = Objects.requireNonNull(source, "source");
            this.sink = Objects.requireNonNull(sink, "sink");
        }

        /**
         * The targets to track, id to name (Wikibase's {@code localClientDatabases}, filtered by
         * {@code --client}); added by {@code initState} when the run starts, never removed. Default:
         * none (the group's targets were set up elsewhere).
         */
        public Builder<C> clients(Map<String, String> clientWikiDbs) {
            this.clients = Map.copyOf(Objects.requireNonNull(clientWikiDbs, "clientWikiDbs"));
            return this;
        }

        /** {@code --max-time}: stop starting passes after this long; zero makes no pass. Default 1 h. */
        public Builder<C> maxTime(Duration d) {
            this.maxTime = nonNegative(d, "maxTime");
            return this;
        }

        /**
         * {@code --max-passes}: stop after this many passes, idle and failed ones included. Default
         * unlimited ({@code Long.MAX_VALUE}); Wikibase made one pass when no max-time was given.
         */
        public Builder<C> maxPasses(long n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxPasses must not be negative: " + n);
            }
            this.maxPasses = n;
            return this;
        }

        /** {@code --idle-delay}: sleep after a pass that found nothing to do or failed. Default 10 s. */
        public Builder<C> idleDelay(Duration d) {
            this.idleDelay = nonNegative(d, "idleDelay");
            return this;
        }

        /**
         * {@code --dispatch-interval}: how long a target rests after a release unless it lags by more
         * than the batch size. A setting of the group, applied when the run starts. Default 60 s.
         */
        public Builder<C> dispatchInterval(Duration d) {
            this.dispatchInterval = nonNegative(d, "dispatchInterval");
            return this;
        }

        /**
         * {@code --randomness}: pick among this many most-lagged eligible targets. A setting of the
         * group, applied when the run starts. Default 15.
         */
        public Builder<C> randomness(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("randomness must be at least 1: " + n);
            }
            this.randomness = n;
            return this;
        }

        /**
         * {@code --batch-size}: at most this many changes per delivery, and the lag above which a target
         * skips its rest (a setting of the group, applied when the run starts). Default 1000.
         */
        public Builder<C> batchSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("batchSize must be at least 1: " + n);
            }
            this.batchSize = n;
            return this;
        }

        /** The clock and sleep to use (tests); default the system's, with sleeps cut short by stop(). */
        public Builder<C> clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** The dispatcher; nothing is sent to Baton until {@link Dispatcher#run()}. */
        public Dispatcher<C> build() {
            Coordinator c = coordinator != null ? coordinator : new ChangeDispatchCoordinator(client, group,
                    new CoordinatorSettings(dispatchInterval, batchSize, randomness));
            return new Dispatcher<>(this, c);
        }

        private static Duration nonNegative(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative()) {
                throw new IllegalArgumentException(what + " must not be negative: " + d);
            }
            return d;
        }
    }
}
