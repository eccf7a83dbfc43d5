package dev.baton.server.raft;

import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.error.RaftError;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.sm.Applied;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The leader-side batcher behind {@link BatonNode#submit}: packs commands submitted concurrently
 * into one Raft entry each, and completes every caller's future with its own command's
 * {@link Result} (its slice of the entry's {@link Applied#results()}).
 *
 * <h2>Group commit</h2>
 * At most {@link Config#maxInFlight()} entries are <em>in flight</em> (handed to {@code Node.apply}
 * and not yet applied here, or failed): two by default, a pipeline of one entry being replicated and
 * one behind it. The second slot is only used behind small entries, of at most
 * {@link Config#maxCommandsToPipeline()} commands each (two by default): a log of small entries is
 * lightly loaded and the pipeline saves a command the wait for the entry before it (one hot key's
 * hand-overs: a release proposed at once rather than after the entry in flight). Behind a big entry
 * the log is busy, and a second entry would only split in two what would have left as one: each
 * entry costs the same work (an append and an {@code fdatasync} on every node, the messages between
 * them, a wake-up of each thread on the way) however few commands it carries, and a node's log writes
 * one entry at a time anyway.
 * While no slot is free, submitted commands accumulate in the queue; the moment an entry completes,
 * the thread that completes it seals everything queued (up to {@link Config#maxCommands()} commands
 * and {@link Config#maxBytes()} bytes of entry data) into the next entry and proposes it, unless it
 * waits to fill (below). The busier the log, the bigger the entries: a lone client's command is
 * proposed at once by the thread that submits it, because a slot is free. Commands keep their submission
 * order (one queue; entries are sealed and proposed by one thread at a time, in sealing order). {@link #submitAll} queues several commands under one lock, so
 * a door that read many lines in one turn of its event loop hands them over at once.
 *
 * <h2>Filling entries</h2>
 * When an entry of at least {@value #FILL_MIN_COMMANDS} commands completes (a busy log) and fewer
 * commands than it carried are queued, the next entry waits, for at most {@link Config#fillMicros()}
 * after that completion, until as many are queued; the submitter that brings the queue there seals
 * and proposes it, and the node's timer lets a short entry go when the time is over. Why: each entry
 * costs every node the same append, {@code fdatasync}, messages and thread wake-ups whatever it
 * carries, and with clients that each wait for their last answer before they send again, the commands
 * queued when an entry completes are only those that came back during its round; the callers of the
 * entry just completed come back a moment later and would make an entry of their own. Waiting for
 * them makes fewer, bigger entries. Under a lighter load (entries of fewer commands, one client, one hot key
 * whose entries carry one hand-over each) nothing waits. What it costs: at most the fill time more
 * before an entry leaves, only while the log is busy; what it saves is CPU on every node, which on a
 * CPU-bound machine shortened the answers more than the wait lengthened them (docs/server.md).
 *
 * <h2>Acquires that will wait</h2>
 * An acquire on a pool or lock whose last acquire had to wait ({@link ContendedKeys}, learned from
 * this leader's own answers) will most likely wait too: nobody hears back from its entry before some
 * release lets it through. While only such commands are queued, the batcher holds them for up to
 * {@link Config#holdWaitingMicros()} instead of proposing them at once; the first other command
 * (a release, say) seals them and itself into one entry, in submission order, and after the hold
 * time they leave alone. Why: on one hot key every entry used to carry a single command, the
 * previous holder's next acquire reaching the leader during the new holder's short hold, so the new
 * holder's release found that entry's {@code fdatasync} under way on every node and waited for it
 * and then for its own; sharing the entry, the release waits for one sync. What is held changes when
 * an entry leaves, never what it carries or in which order, and the hold is bounded: a wrong guess
 * costs that acquire at most the hold time, and its answer corrects the hint.
 *
 * <h2>Threads</h2>
 * No thread of its own (held commands are let go by a shared timer thread, {@link Later}):
 * whichever thread finds a free slot and queued commands (a submitter, or
 * the thread completing an entry's {@link ProposalClosure}: SOFAJRaft's apply thread when applied,
 * its closure pool on failure) becomes the <em>proposer</em> for as long as there is something to
 * seal and a slot to seal it into; the others only enqueue. Sealing is cheap (the commands were
 * encoded by their submitters; the entry is their concatenation), and {@code Node.apply} only
 * publishes to SOFAJRaft's queue. Stamping and {@code Node.apply} run under the node's propose lock,
 * which {@link BatonNode#propose} shares, so log order and stamp order agree. An earlier design had a
 * flusher thread that every submit woke and that sealed whenever one of 16 slots was free: it cost a
 * thread wake-up per command and made entries of about two commands under load.
 *
 * <h2>Leadership</h2>
 * Every queued command remembers the leader term it was submitted in, and the entry carries the
 * term as its expected term: a command is only ever proposed in the term it was accepted in. When
 * the proposer finds this node no longer leading that term, it fails the command with
 * {@link NotLeaderException} (leader hint included); SOFAJRaft fails entries refused or dropped by a
 * deposed leader the same way. Nothing queued is silently dropped: every future completes. After an
 * entry was appended, a failure means "outcome unknown" (see {@link RaftOperationException}).
 */
public final class ProposalBatcher {
    private static final Logger LOG = LoggerFactory.getLogger(ProposalBatcher.class);

    /**
     * Upper bound of what {@link CommandCodec#batchOfEncoded} adds around the commands (it checks
     * {@code 16 + sum of command bytes} against {@link Limits#CODEC_MAX_ENTRY_BYTES}).
     */
    static final int BATCH_OVERHEAD = 16;

    /** Entry data besides the commands themselves: the Raft entry header and the batch header. */
    static final int ENTRY_OVERHEAD = RaftEntryCodec.HEADER_BYTES + BATCH_OVERHEAD;

    /** An entry of at least this many commands means a busy log: the next one may wait to fill. */
    static final int FILL_MIN_COMMANDS = 8;

    /**
     * How the batcher packs entries.
     *
     * @param maxCommands  commands per entry, at most (1 .. {@link Limits#CODEC_MAX_LIST})
     * @param maxBytes     bytes of Raft entry data per entry (header included), at most; a single
     *                     command bigger than this still goes out alone. Below
     *                     {@link Limits#CODEC_MAX_ENTRY_BYTES}.
     * @param maxInFlight  entries appended but not yet applied, at most (1 or more)
     * @param maxQueued    commands waiting for a slot, at most; beyond, submits fail with
     *                     {@code EBUSY} (backpressure rather than unbounded memory)
     * @param maxCommandsToPipeline  an entry is proposed while others are in flight only if none of
     *                     them carries more commands than this (0: never, one entry at a time)
     * @param holdWaitingMicros  how long acquires that will wait may be held for company while
     *                     nothing else is queued (0: never held); see "Acquires that will wait"
     * @param fillMicros   how long, after a big entry completed, the next may wait for as many
     *                     commands (0: never); see "Filling entries"
     */
    public record Config(int maxCommands, int maxBytes, int maxInFlight, int maxQueued, int maxCommandsToPipeline,
                         long holdWaitingMicros, long fillMicros) {
        public static final int DEFAULT_MAX_COMMANDS = 256;
        public static final int DEFAULT_MAX_BYTES = 1 << 20;
        public static final int DEFAULT_MAX_IN_FLIGHT = 2;
        public static final int DEFAULT_MAX_QUEUED = 1 << 16;
        /**
         * Chosen by measurement (docs/benchmark-history.md, thirteenth session): a second entry behind
         * entries of any size gave 64 clients on 1 000 keys, 3 nodes, 0.75x the pairs/s of one entry
         * at a time (entries of 6.7 pairs instead of 11.5, 40 % more server CPU per pair); one entry at
         * a time cost one hot key, whose entries carry a single command, 15 % of its hand-overs.
         */
        public static final int DEFAULT_MAX_COMMANDS_TO_PIPELINE = 2;
        /** The longest hold of acquires that will wait (the class comment); chosen by measurement. */
        public static final long DEFAULT_HOLD_WAITING_MICROS = 2_000;
        /** Holds longer than this are refused: a held acquire's timeout keeps running meanwhile. */
        public static final long MAX_HOLD_WAITING_MICROS = 100_000;
        /**
         * How long the next entry may wait to fill after a big one ("Filling entries"). Chosen by
         * measurement (docs/benchmark-history.md, twenty-third session): 3 nodes, 64 clients on 1 000
         * keys, 1 ms gave entries of 14 pairs instead of 8.6 and 1.25-1.3x the pairs/s; 0.5 ms too
         * little to matter (the callers of an entry take longer than that to come back under load);
         * 2 ms about what 1 ms gave, with up to twice the wait.
         */
        public static final long DEFAULT_FILL_MICROS = 1_000;
        /** Fill waits longer than this are refused: every command in the queue waits that long. */
        public static final long MAX_FILL_MICROS = 10_000;

        public Config {
            if (maxCommands < 1 || maxCommands > Limits.CODEC_MAX_LIST) {
                throw new IllegalArgumentException("maxCommands must be in 1.." + Limits.CODEC_MAX_LIST);
            }
            if (maxBytes <= ENTRY_OVERHEAD || maxBytes > Limits.CODEC_MAX_ENTRY_BYTES) {
                throw new IllegalArgumentException("maxBytes must be in " + (ENTRY_OVERHEAD + 1) + ".."
                        + Limits.CODEC_MAX_ENTRY_BYTES);
            }
            if (maxInFlight < 1) {
                throw new IllegalArgumentException("maxInFlight must be positive");
            }
            if (maxQueued < 1) {
                throw new IllegalArgumentException("maxQueued must be positive");
            }
            if (maxCommandsToPipeline < 0) {
                throw new IllegalArgumentException("maxCommandsToPipeline must not be negative");
            }
            if (holdWaitingMicros < 0 || holdWaitingMicros > MAX_HOLD_WAITING_MICROS) {
                throw new IllegalArgumentException("holdWaitingMicros must be in 0.." + MAX_HOLD_WAITING_MICROS);
            }
            if (fillMicros < 0 || fillMicros > MAX_FILL_MICROS) {
                throw new IllegalArgumentException("fillMicros must be in 0.." + MAX_FILL_MICROS);
            }
        }

        /**
         * 256 commands, 1 MiB, 2 entries in flight (the second only behind entries of at most 2 commands),
         * 65536 queued, acquires that will wait held up to 2 ms, entries waiting to fill up to 1 ms.
         */
        public static Config defaults() {
            return new Config(DEFAULT_MAX_COMMANDS, DEFAULT_MAX_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_QUEUED,
                    DEFAULT_MAX_COMMANDS_TO_PIPELINE, DEFAULT_HOLD_WAITING_MICROS, DEFAULT_FILL_MICROS);
        }

        public Config withMaxCommands(int n) {
            return new Config(n, maxBytes, maxInFlight, maxQueued, maxCommandsToPipeline, holdWaitingMicros, fillMicros);
        }

        public Config withMaxBytes(int n) {
            return new Config(maxCommands, n, maxInFlight, maxQueued, maxCommandsToPipeline, holdWaitingMicros, fillMicros);
        }

        public Config withMaxInFlight(int n) {
            return new Config(maxCommands, maxBytes, n, maxQueued, maxCommandsToPipeline, holdWaitingMicros, fillMicros);
        }

        public Config withMaxQueued(int n) {
            return new Config(maxCommands, maxBytes, maxInFlight, n, maxCommandsToPipeline, holdWaitingMicros, fillMicros);
        }

        public Config withMaxCommandsToPipeline(int n) {
            return new Config(maxCommands, maxBytes, maxInFlight, maxQueued, n, holdWaitingMicros, fillMicros);
        }

        public Config withHoldWaitingMicros(long micros) {
            return new Config(maxCommands, maxBytes, maxInFlight, maxQueued, maxCommandsToPipeline, micros, fillMicros);
        }

        public Config withFillMicros(long micros) {
            return new Config(maxCommands, maxBytes, maxInFlight, maxQueued, maxCommandsToPipeline, holdWaitingMicros,
                    micros);
        }
    }

    /**
     * Counters since start (for metrics: commands per entry = {@code commandsProposed / entriesProposed}).
     *
     * @param entriesProposed  entries the batcher handed to {@code Node.apply}
     * @param commandsProposed commands in those entries
     * @param queued           commands waiting for a slot now
     * @param inFlight         entries in flight now
     * @param entriesHeld      entries whose first command was held for company ("Acquires that will wait")
     * @param entriesFilled    entries that waited to fill after a big one ("Filling entries")
     */
    public record Stats(long entriesProposed, long commandsProposed, int queued, int inFlight, long entriesHeld,
                        long entriesFilled) {
        /** Average commands per proposed entry (0 before any). */
        public double commandsPerEntry() {
            return entriesProposed == 0 ? 0 : (double) commandsProposed / entriesProposed;
        }
    }

    /** Stamps an entry and appends it (under the node's propose lock); runs {@code done} on any failure. */
    @FunctionalInterface
    interface EntrySink {
        void append(byte[] payload, long term, ProposalClosure done);
    }

    /** Runs a task once after a delay (the timer that lets held commands go). */
    @FunctionalInterface
    interface Later {
        void run(Runnable task, long delayNanos);
    }

    /**
     * A queued command. {@code waitKey}: the pool or lock it would wait for (null if none), whose
     * mark its answer updates; {@code holdable}: that key was marked contended when it was submitted.
     */
    private record Pending(byte[] encoded, long term, CompletableFuture<Result> future, ContendedKeys.Key waitKey,
                           boolean holdable, long queuedAtNanos) {}

    /** One sealed entry's commands, in order. Identity matters (tracked in a set while in flight). */
    private static final class Batch {
        final List<Pending> items;

        Batch(List<Pending> items) {
            this.items = items;
        }
    }

    private final Config config;
    private final String name;
    private final LongSupplier leaderTerm;
    private final Supplier<Optional<String>> leaderHint;
    private final EntrySink sink;
    private final Later later;
    private final LongSupplier nanoTime;
    private final ContendedKeys contended = new ContendedKeys();

    private final ReentrantLock lock = new ReentrantLock();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>(); // guarded by lock
    private final Set<Batch> inFlight = Collections.newSetFromMap(new IdentityHashMap<>()); // guarded by lock
    private boolean closed; // guarded by lock
    /** Some thread is sealing and proposing entries; the others only enqueue. Guarded by lock. */
    private boolean proposing;
    /** Queued commands that are not {@code holdable}: while there are any, nothing is held. Guarded by lock. */
    private int urgentQueued;
    /** The timer is set to look at the queue again at {@link #timerDueNanos}. Guarded by lock. */
    private boolean timerSet;
    private long timerDueNanos; // guarded by lock
    /**
     * Commands the next entry waits for while a slot is free (the size of the big entry that just
     * completed; 0: none), and since when. Guarded by lock.
     */
    private int fillTarget;
    private long fillSinceNanos; // guarded by lock
    /** The next entry has waited to fill. Guarded by lock. */
    private boolean fillWaited;
    /** The head of the queue was held for company. Guarded by lock. */
    private boolean headHeld;

    private final LongAdder entriesProposed = new LongAdder();
    private final LongAdder commandsProposed = new LongAdder();
    private final LongAdder entriesHeld = new LongAdder();
    private final LongAdder entriesFilled = new LongAdder();

    /**
     * @param name       this node's name, for log messages
     * @param leaderTerm the term this node leads and accepts proposals in, or 0/-1 if it does not
     * @param leaderHint the leader's endpoint as this node knows it, for {@link NotLeaderException}
     * @param sink       stamps and appends one entry
     * @param later      the timer that lets held commands go
     * @param nanoTime   the clock of holds ({@code System::nanoTime})
     */
    ProposalBatcher(Config config, String name, LongSupplier leaderTerm, Supplier<Optional<String>> leaderHint,
                    EntrySink sink, Later later, LongSupplier nanoTime) {
        this.config = config;
        this.name = name;
        this.leaderTerm = leaderTerm;
        this.leaderHint = leaderHint;
        this.sink = sink;
        this.later = later;
        this.nanoTime = nanoTime;
    }

    Config config() {
        return config;
    }

    /** Nothing to start: entries are proposed by the threads that submit and complete them. */
    void start() {
    }

    /**
     * Queues one command encoded by {@link CommandCodec#encodeChecked}, accepted while leading
     * {@code term}, and proposes it at once if a slot is free. Never blocks on the log.
     */
    CompletableFuture<Result> submit(byte[] encoded, long term) {
        return submitAll(List.of(encoded), term).get(0);
    }

    /** {@link #submitAll(List, List, long)} of commands none of which waits for a pool or lock. */
    List<CompletableFuture<Result>> submitAll(List<byte[]> encoded, long term) {
        return submitAll(encoded, null, term);
    }

    /**
     * Queues several commands in this order, under one lock, so that they are proposed together
     * (and in no other order relative to other submitters). Each future fails alone if its own
     * command is too big for an entry; all fail with {@code EBUSY} if there is no room for them all.
     * {@code waitKeys} (null: none) gives each command's {@link ContendedKeys#waitKey}.
     */
    List<CompletableFuture<Result>> submitAll(List<byte[]> encoded, List<ContendedKeys.Key> waitKeys, long term) {
        List<CompletableFuture<Result>> out = new ArrayList<>(encoded.size());
        List<Pending> accepted = new ArrayList<>(encoded.size());
        boolean holding = config.holdWaitingMicros() > 0;
        long now = holding ? nanoTime.getAsLong() : 0;
        int urgent = 0;
        for (int i = 0; i < encoded.size(); i++) {
            byte[] e = encoded.get(i);
            ContendedKeys.Key key = waitKeys == null ? null : waitKeys.get(i);
            if ((long) e.length + BATCH_OVERHEAD > Limits.CODEC_MAX_ENTRY_BYTES) {
                out.add(CompletableFuture.failedFuture(new IllegalArgumentException("command of " + e.length
                        + " bytes does not fit in an entry of " + Limits.CODEC_MAX_ENTRY_BYTES + " bytes")));
            } else {
                Pending p = new Pending(e, term, new CompletableFuture<>(), key, holding && contended.contended(key), now);
                accepted.add(p);
                out.add(p.future());
                if (!p.holdable()) {
                    urgent++;
                }
            }
        }
        if (accepted.isEmpty()) {
            return out;
        }
        RaftOperationException refused = null;
        lock.lock();
        try {
            if (closed) {
                refused = stopped();
            } else if (queue.size() + accepted.size() > config.maxQueued()) {
                refused = new RaftOperationException("EBUSY",
                        queue.size() + " commands already wait for the log; retry later");
            } else {
                queue.addAll(accepted);
                urgentQueued += urgent;
            }
        } finally {
            lock.unlock();
        }
        if (refused != null) {
            for (Pending p : accepted) {
                p.future().completeExceptionally(refused);
            }
            return out;
        }
        proposeWhatIsQueued();
        return out;
    }

    Stats stats() {
        lock.lock();
        try {
            return new Stats(entriesProposed.sum(), commandsProposed.sum(), queue.size(), inFlight.size(),
                    entriesHeld.sum(), entriesFilled.sum());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops accepting commands and fails the queued ones with {@code ESTOP}. Entries in flight are
     * left to the engine; see {@link #failInFlight}.
     */
    void close() {
        List<Pending> dropped;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            dropped = new ArrayList<>(queue);
            queue.clear();
            urgentQueued = 0;
        } finally {
            lock.unlock();
        }
        RaftOperationException e = stopped();
        for (Pending p : dropped) {
            p.future().completeExceptionally(e);
        }
    }

    /**
     * Fails the futures of entries still in flight with {@code ESTOP} (outcome unknown): a safety net
     * for after the Raft node has shut down, should any closure not have run.
     */
    void failInFlight() {
        List<Batch> left;
        lock.lock();
        try {
            left = new ArrayList<>(inFlight);
            inFlight.clear();
        } finally {
            lock.unlock();
        }
        RaftOperationException e = new RaftOperationException("ESTOP",
                "node stopped with the entry in flight; its outcome is unknown");
        for (Batch b : left) {
            for (Pending p : b.items) {
                p.future().completeExceptionally(e);
            }
        }
    }

    private static RaftOperationException stopped() {
        return new RaftOperationException("ESTOP", "node is not running");
    }

    // ---- sealing and proposing ---------------------------------------------------------------------

    /**
     * Seals and proposes entries while commands are queued and a slot is free, unless another thread
     * is already doing so (it will see what was queued meanwhile: it checks again before it stops).
     */
    private void proposeWhatIsQueued() {
        while (true) {
            Batch batch;
            long term;
            List<Pending> stale = null;
            lock.lock();
            try {
                if (proposing || closed || queue.isEmpty() || !slotFree() || holdForCompany() || waitToFill()) {
                    return;
                }
                proposing = true;
                term = leaderTerm.getAsLong();
                stale = new ArrayList<>(0);
                batch = drain(term, stale);
                if (batch != null) {
                    inFlight.add(batch);
                }
            } finally {
                lock.unlock();
            }
            try {
                if (!stale.isEmpty()) {
                    NotLeaderException e = new NotLeaderException(leaderHint.get(),
                            "leadership was lost before the command was proposed");
                    for (Pending p : stale) {
                        p.future().completeExceptionally(e);
                    }
                }
                if (batch != null) {
                    try {
                        propose(batch, term);
                    } catch (Throwable t) {
                        LOG.error("Batcher of {} failed to propose an entry of {} commands", name, batch.items.size(), t);
                        finish(batch, null, t);
                    }
                }
            } finally {
                lock.lock();
                try {
                    proposing = false;
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * Whether the queued commands are all acquires that will wait and the oldest has been held less
     * than the hold time: then they stay queued, and the timer is set to let them go when it ends.
     * Holds the lock.
     */
    private boolean holdForCompany() {
        if (urgentQueued > 0 || config.holdWaitingMicros() == 0) {
            return false;
        }
        long left = config.holdWaitingMicros() * 1_000 - (nanoTime.getAsLong() - queue.peekFirst().queuedAtNanos());
        if (left <= 0) {
            return false;
        }
        if (!lookAgainIn(left)) {
            return false;
        }
        headHeld = true;
        return true;
    }

    /**
     * Whether the next entry waits for more commands: the entry that just completed was big (the log
     * is busy), fewer commands than it carried are queued, and the wait has lasted less than
     * {@link Config#fillMicros()}. Holds the lock.
     */
    private boolean waitToFill() {
        if (fillTarget == 0 || queue.size() >= fillTarget) {
            return false;
        }
        long left = config.fillMicros() * 1_000 - (nanoTime.getAsLong() - fillSinceNanos);
        if (left <= 0 || !lookAgainIn(left)) {
            return false;
        }
        fillWaited = true;
        return true;
    }

    /**
     * Sets the timer to look at the queue again in {@code delayNanos}, unless it is set to look
     * earlier; false if there is no timer (shutting down: then nothing waits). Holds the lock.
     */
    private boolean lookAgainIn(long delayNanos) {
        long due = nanoTime.getAsLong() + delayNanos;
        if (timerSet && timerDueNanos - due <= 0) {
            return true;
        }
        try {
            later.run(() -> timerRang(due), delayNanos);
        } catch (RuntimeException e) {
            LOG.warn("Batcher of {} cannot hold commands: {}", name, e.toString());
            return false;
        }
        timerSet = true;
        timerDueNanos = due;
        return true;
    }

    private void timerRang(long due) {
        lock.lock();
        try {
            if (timerSet && timerDueNanos == due) {
                timerSet = false;
            }
        } finally {
            lock.unlock();
        }
        proposeWhatIsQueued();
    }

    /**
     * Whether an entry may be proposed now: a slot is free, and every entry in flight is small (see
     * the class comment). Holds the lock; at most {@code maxInFlight} entries to look at.
     */
    private boolean slotFree() {
        if (inFlight.size() >= config.maxInFlight()) {
            return false;
        }
        for (Batch b : inFlight) {
            if (b.items.size() > config.maxCommandsToPipeline()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Takes the next entry's commands off the queue (FIFO), within maxCommands and maxBytes; moves
     * commands of another term (or all, if this node leads none) to {@code stale}. Holds the lock.
     *
     * @return the batch, or null if nothing proposable was queued
     */
    private Batch drain(long term, List<Pending> stale) {
        List<Pending> items = new ArrayList<>(Math.min(queue.size(), config.maxCommands()));
        long size = ENTRY_OVERHEAD;
        while (!queue.isEmpty()) {
            Pending p = queue.peekFirst();
            if (term <= 0 || p.term() != term) {
                queue.pollFirst();
                stale.add(p);
                continue;
            }
            if (items.size() >= config.maxCommands()
                    || (!items.isEmpty() && size + p.encoded().length > config.maxBytes())) {
                break;
            }
            queue.pollFirst();
            items.add(p);
            size += p.encoded().length;
        }
        for (Pending p : items) {
            if (!p.holdable()) {
                urgentQueued--;
            }
        }
        for (Pending p : stale) {
            if (!p.holdable()) {
                urgentQueued--;
            }
        }
        if (headHeld && !items.isEmpty()) {
            entriesHeld.increment();
        }
        headHeld = false;
        if (fillTarget > 0 && !items.isEmpty()) {
            if (fillWaited) {
                entriesFilled.increment();
            }
            fillTarget = 0;
            fillWaited = false;
        }
        return items.isEmpty() ? null : new Batch(items);
    }

    private void propose(Batch batch, long term) {
        List<byte[]> encoded = new ArrayList<>(batch.items.size());
        for (Pending p : batch.items) {
            encoded.add(p.encoded());
        }
        byte[] payload = CommandCodec.batchOfEncoded(encoded); // within the codec's ceilings by construction
        ProposalClosure done = new ProposalClosure(leaderHint);
        done.future().whenComplete((applied, error) -> finish(batch, applied, error));
        entriesProposed.increment();
        commandsProposed.add(batch.items.size());
        try {
            sink.append(payload, term, done);
        } catch (IllegalStateException e) {
            // SOFAJRaft throws after failing the closure itself when the node is shutting down.
            done.run(new Status(RaftError.ESTOP, "%s", e.getMessage()));
        } catch (RuntimeException e) {
            LOG.error("Appending an entry of {} commands failed", batch.items.size(), e);
            done.run(new Status(RaftError.EINTERNAL, "append failed: %s", e));
        }
    }

    /** The entry finished (applied, or failed): free its slot, then complete each command's future. */
    private void finish(Batch batch, Applied applied, Throwable error) {
        boolean freed;
        lock.lock();
        try {
            freed = inFlight.remove(batch);
            if (freed && error == null && config.fillMicros() > 0 && batch.items.size() >= FILL_MIN_COMMANDS) {
                fillTarget = batch.items.size();
                fillSinceNanos = nanoTime.getAsLong();
            }
        } finally {
            lock.unlock();
        }
        if (freed) {
            // The next entry leaves before this one's callers hear back: the log is never idle
            // while commands wait, and what they wait behind is one entry, not the callbacks.
            proposeWhatIsQueued();
        }
        List<Pending> items = batch.items;
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            for (Pending p : items) {
                p.future().completeExceptionally(cause);
            }
            return;
        }
        List<Result> results = applied.results();
        if (results.size() == items.size()) {
            for (int i = 0; i < items.size(); i++) {
                contended.learn(items.get(i).waitKey(), results.get(i));
                items.get(i).future().complete(results.get(i));
            }
        } else if (results.size() == 1 && results.get(0) instanceof Result.Rejected rejected) {
            // The core refused the whole payload (MALFORMED): nothing of it changed any state.
            for (Pending p : items) {
                p.future().complete(rejected);
            }
        } else {
            IllegalStateException e = new IllegalStateException("entry " + applied.index() + " applied with "
                    + results.size() + " results for " + items.size() + " commands");
            for (Pending p : items) {
                p.future().completeExceptionally(e);
            }
        }
    }
}
