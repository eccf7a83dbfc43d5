package dev.baton.server.raft;

import com.alipay.sofa.jraft.Closure;
import com.alipay.sofa.jraft.Iterator;
import com.alipay.sofa.jraft.Status;
import com.alipay.sofa.jraft.core.StateMachineAdapter;
import com.alipay.sofa.jraft.entity.LeaderChangeContext;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.error.RaftError;
import com.alipay.sofa.jraft.error.RaftException;
import com.alipay.sofa.jraft.storage.snapshot.SnapshotReader;
import com.alipay.sofa.jraft.storage.snapshot.SnapshotWriter;
import dev.baton.core.command.Query;
import dev.baton.core.sm.Applied;
import dev.baton.core.sm.ConcurrentStateMachine;
import dev.baton.core.sm.Entry;
import dev.baton.core.sm.SnapshotHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * The host adapter: SOFAJRaft's {@link com.alipay.sofa.jraft.StateMachine} on top of the core's
 * {@link ConcurrentStateMachine} contract. It is the only class that touches both.
 *
 * <h2>Applying</h2>
 * SOFAJRaft calls {@link #onApply} on its single FSM thread with an {@link Iterator} over a run of
 * committed data entries (a configuration entry ends the run; SOFAJRaft handles it between calls, so
 * indexes may skip). Each call collects <em>all</em> entries of the run, decodes their
 * {@link RaftEntryCodec headers} into core {@link Entry entries} and makes <b>one</b>
 * {@code update} call, so the core publishes one new state per run rather than per entry. Then, per
 * entry in log order, the {@link EffectListener} gets the entry's effects and then the proposing
 * leader's {@link ProposalClosure} gets its {@link Applied} (other nodes, and log replay, have no
 * closure); so whoever sees a proposal complete knows its effects were already handed over. Nothing
 * here waits (docs/design.md, "Never park an apply"): update is pure computation.
 *
 * <h2>Failing stop, never skipping</h2>
 * An entry is never skipped. If {@code update} throws (a bug: the core rejects bad commands in its
 * results, it does not throw), or a header cannot be read (see {@link RaftEntryCodec}), the adapter
 * calls {@link Iterator#setErrorAndRollback} so the first entry not applied to the core is where
 * SOFAJRaft stops: it marks the node's state machine as failed (no more applies, the node leaves
 * leadership) and fails the closures of the rolled-back entries itself. A restart replays from the
 * last snapshot and hits the same entry again until the code is fixed; other replicas are unaffected
 * unless they run the same code.
 *
 * <p>In the {@code baton server} process ({@link #haltProcessOnApplyFailure}) that is not where it
 * ends: a replica that stopped applying would stay up half-alive, answering health checks and
 * holding its ports. So the process logs one ERROR line naming the entry and the cause and halts
 * with exit status {@value #EXIT_APPLY_FAILED} ({@code Runtime.halt}: shutdown hooks could hang on
 * the broken node), for a supervisor to restart it. The same happens when the Raft node reports an
 * error ({@link #onError}) and when a listener on the apply thread throws a
 * {@link VirtualMachineError} (out of memory: the JVM is also started with
 * {@code -XX:+ExitOnOutOfMemoryError}). Embedded nodes (tests, benchmarks) keep the roll-back only.
 *
 * <h2>Time</h2>
 * {@link #lastAppliedStamp()} is the highest leader timestamp applied (restored from the core's
 * state on snapshot load). A new leader stamps entries with at least this value, so time never goes
 * backwards across leader changes and restarts; {@link #onLeaderStart} runs on the FSM thread after
 * every entry of earlier terms is applied, so the value is complete when {@link #isLeader()} turns true.
 *
 * <h2>Snapshots</h2>
 * {@link #onSnapshotSave} runs on the FSM thread: it only calls {@code prepareSnapshot()} (O(1): a
 * reference to the immutable state), then writes {@value #SNAPSHOT_FILE} in the writer's directory
 * on a dedicated thread, fsyncs it, registers it with the writer and runs the closure; applies go on
 * meanwhile. SOFAJRaft then writes its meta, renames the directory into place and truncates the log
 * before the snapshot index. {@link #onSnapshotLoad} (on start, or when a leader installs a snapshot
 * on a lagging follower) replaces the core's state with the file.
 *
 * <h2>Threads</h2>
 * Proposal futures are completed and effects delivered on SOFAJRaft's FSM thread: their dependants
 * must not block (use the {@code *Async} stages or hand off).
 */
public final class BatonStateMachine extends StateMachineAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(BatonStateMachine.class);

    /** The one file of a Baton snapshot, inside SOFAJRaft's snapshot directory. */
    public static final String SNAPSHOT_FILE = "baton.snapshot";

    private final ConcurrentStateMachine sm;
    private final EffectListener effects;
    private final List<Consumer<String>> leaderChangeListeners = new CopyOnWriteArrayList<>();
    /** This node's Raft endpoint, what leader-change listeners hear when this node starts leading. */
    volatile String selfEndpoint;
    private final ExecutorService snapshotSaver;

    private volatile long leaderTerm = -1;
    private volatile long knownTerm;
    private volatile long lastAppliedStamp;
    /** Told each new highest applied stamp, on the apply thread (the node's {@link ClusterClock}). */
    private volatile java.util.function.LongConsumer stampObserver = stamp -> {};
    private volatile long lastLoadedSnapshotIndex = -1;
    private volatile RaftException error;
    /** The core's last applied data entry, advanced after the entry's effects and closure ran. */
    private volatile long appliedIndex;
    /** Futures waiting for {@link #appliedIndex} to reach their key; guarded by itself. */
    private final TreeMap<Long, List<CompletableFuture<Void>>> appliedWatchers = new TreeMap<>();
    /**
     * The thread inside {@link #onApply} now, null between batches. Only ever compared with the
     * reader's own thread, which sees its own writes: no other visibility needed.
     */
    private Thread applying;
    /** Tasks to run when the batch being applied is done ({@link #runAfterThisBatch}); apply thread only. */
    private final ArrayList<Runnable> afterBatch = new ArrayList<>();

    /** Exit status of a {@code baton server} whose replica cannot apply an entry (sysexits' EX_SOFTWARE). */
    public static final int EXIT_APPLY_FAILED = 70;

    private static volatile boolean haltOnApplyFailure;
    /** How the process ends; tests replace it to see that it would. */
    private static volatile IntConsumer halter = status -> Runtime.getRuntime().halt(status);

    /**
     * Makes an apply failure stop the whole process ({@code baton server} turns this on); off, the
     * replica only stops applying, as an embedded node in a test should.
     */
    public static void haltProcessOnApplyFailure(boolean on) {
        haltOnApplyFailure = on;
    }

    /** For tests: records the halt instead of ending the JVM; null restores {@code Runtime.halt}. */
    static void halter(IntConsumer h) {
        halter = h != null ? h : status -> Runtime.getRuntime().halt(status);
    }

    /** In a {@code baton server}: logs one line and halts the process. Elsewhere returns. */
    private static void haltIfServer(String what, Throwable cause) {
        if (!haltOnApplyFailure) {
            return;
        }
        try {
            LOG.error("{}: {}; this replica cannot go on, stopping the process with exit status {} (a supervisor"
                    + " restarts it; it replays the log from its last snapshot)", what, cause, EXIT_APPLY_FAILED, cause);
        } finally {
            halter.accept(EXIT_APPLY_FAILED);
        }
    }

    public BatonStateMachine(ConcurrentStateMachine sm, EffectListener effects, String name) {
        this.sm = sm;
        this.effects = effects;
        this.snapshotSaver = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "baton-snapshot-" + name);
            t.setDaemon(true);
            return t;
        });
        this.lastAppliedStamp = sm.lookup(new Query.GetSummary()).lastTime();
        this.appliedIndex = sm.lastApplied();
    }

    // ---- applying ------------------------------------------------------------------------------

    /**
     * Runs {@code task} on the apply thread once the batch of entries it is applying is done (every
     * entry's closure ran, so every proposer's future completed), once however often it is asked for
     * in the batch (the same instance). Only the apply thread inside a batch can ask (a proposer's
     * callback, say): it gets true; any other thread, or the apply thread between batches, gets false
     * and nothing is queued. What it is for: work that many commands of a batch produce, done once per
     * batch on the thread that already runs, instead of a hand-over to another thread per command.
     * A task that throws an exception is logged and the others still run.
     */
    boolean runAfterThisBatch(Runnable task) {
        if (applying != Thread.currentThread()) {
            return false;
        }
        for (Runnable r : afterBatch) {
            if (r == task) {
                return true;
            }
        }
        afterBatch.add(task);
        return true;
    }

    @Override
    public void onApply(Iterator it) {
        applying = Thread.currentThread();
        try {
            applyBatch(it);
        } finally {
            applying = null;
            runAfterBatch();
        }
    }

    private void runAfterBatch() {
        if (afterBatch.isEmpty()) {
            return;
        }
        Runnable[] tasks = afterBatch.toArray(new Runnable[0]);
        afterBatch.clear();
        for (Runnable task : tasks) {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.warn("a task after an applied batch failed", e);
            }
        }
    }

    private void applyBatch(Iterator it) {
        List<Entry> entries = new ArrayList<>();
        List<Closure> closures = new ArrayList<>();
        RaftEntryCodec.UnreadableEntryException unreadable = null;
        while (it.hasNext()) {
            try {
                entries.add(RaftEntryCodec.decode(it.getIndex(), it.getData()));
            } catch (RaftEntryCodec.UnreadableEntryException e) {
                unreadable = e; // stop on it: the iterator stays on this entry
                break;
            }
            closures.add(it.done());
            it.next();
        }
        // Entries iterated past but not applied, plus the unreadable one we stopped on.
        int notApplied = entries.size() + (unreadable != null ? 1 : 0);
        if (!entries.isEmpty()) {
            List<Applied> applied;
            try {
                applied = sm.update(entries);
                if (applied.size() != entries.size()) {
                    throw new IllegalStateException("update returned " + applied.size() + " results for "
                            + entries.size() + " entries");
                }
            } catch (Throwable t) {
                haltIfServer("Cannot apply Raft entries " + entries.get(0).index() + ".."
                        + entries.get(entries.size() - 1).index(), t);
                LOG.error("State machine update failed at entries {}..{}; halting this replica",
                        entries.get(0).index(), entries.get(entries.size() - 1).index(), t);
                it.setErrorAndRollback(notApplied, new Status(RaftError.ESTATEMACHINE, "update failed: %s", t));
                return;
            }
            notApplied -= entries.size();
            long stamp = lastAppliedStamp;
            for (int i = 0; i < entries.size(); i++) {
                Applied a = applied.get(i);
                stamp = Math.max(stamp, entries.get(i).timestamp());
                try {
                    effects.onApplied(a);
                } catch (Throwable t) {
                    if (t instanceof VirtualMachineError) {
                        haltIfServer("Apply listener failed on Raft entry " + a.index(), t);
                    }
                    LOG.error("Apply listener failed on entry {}", a.index(), t);
                }
                if (!a.effects().isEmpty()) {
                    try {
                        effects.onEffects(a.index(), a.effects());
                    } catch (Throwable t) {
                        if (t instanceof VirtualMachineError) {
                            haltIfServer("Effect listener failed on Raft entry " + a.index(), t);
                        }
                        LOG.error("Effect listener failed on entry {}", a.index(), t);
                    }
                }
                // Watchers first: a proposer woken by its closure must find the index applied.
                advanceApplied(a.index());
                Closure done = closures.get(i);
                if (done instanceof ProposalClosure p) {
                    p.applied(a);
                } else if (done != null) {
                    done.run(Status.OK());
                }
            }
            if (stamp > lastAppliedStamp) {
                lastAppliedStamp = stamp;
                stampObserver.accept(stamp);
            }
        }
        if (unreadable != null) {
            haltIfServer("Cannot read Raft entry " + unreadable.index(), unreadable);
            LOG.error("Cannot read Raft entry {}; halting this replica", unreadable.index(), unreadable);
            it.setErrorAndRollback(notApplied, new Status(RaftError.ESTATEMACHINE, "%s", unreadable.getMessage()));
        }
    }

    // ---- snapshots -----------------------------------------------------------------------------

    @Override
    public void onSnapshotSave(SnapshotWriter writer, Closure done) {
        SnapshotHandle handle;
        long started = System.nanoTime();
        try {
            handle = sm.prepareSnapshot(); // on the FSM thread, between updates, O(1)
        } catch (Throwable t) {
            LOG.error("prepareSnapshot failed", t);
            done.run(new Status(RaftError.ESTATEMACHINE, "prepareSnapshot failed: %s", t));
            return;
        }
        try {
            long pause = System.nanoTime() - started;
            snapshotSaver.execute(() -> save(handle, writer, done, started, pause));
        } catch (RejectedExecutionException stopped) {
            done.run(new Status(RaftError.ESTOP, "state machine is shut down"));
        }
    }

    private void save(SnapshotHandle handle, SnapshotWriter writer, Closure done, long started, long pauseNanos) {
        Path file = Path.of(writer.getPath(), SNAPSHOT_FILE);
        try {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream out = Channels.newOutputStream(ch);
                sm.saveSnapshot(handle, out);
                out.flush();
                ch.force(true);
            }
            if (!writer.addFile(SNAPSHOT_FILE)) {
                done.run(new Status(RaftError.EIO, "cannot add %s to the snapshot", SNAPSHOT_FILE));
                return;
            }
        } catch (Throwable t) {
            LOG.error("Saving the snapshot at index {} to {} failed", handle.index(), file, t);
            done.run(new Status(RaftError.EIO, "saving the snapshot failed: %s", t));
            return;
        }
        try {
            effects.onSnapshotSaved(handle.index(), pauseNanos, System.nanoTime() - started);
        } catch (Throwable t) {
            LOG.error("Snapshot listener failed", t);
        }
        done.run(Status.OK());
    }

    @Override
    public boolean onSnapshotLoad(SnapshotReader reader) {
        if (reader.getFileMeta(SNAPSHOT_FILE) == null) {
            LOG.error("Snapshot {} has no {}", reader.getPath(), SNAPSHOT_FILE);
            return false;
        }
        Path file = Path.of(reader.getPath(), SNAPSHOT_FILE);
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            sm.recoverFromSnapshot(in);
        } catch (Throwable t) {
            LOG.error("Loading snapshot {} failed", file, t);
            return false;
        }
        lastAppliedStamp = Math.max(lastAppliedStamp, sm.lookup(new Query.GetSummary()).lastTime());
        lastLoadedSnapshotIndex = sm.lastApplied();
        advanceApplied(sm.lastApplied());
        return true;
    }

    // ---- roles, errors, shutdown ---------------------------------------------------------------

    @Override
    public void onLeaderStart(long term) {
        knownTerm = term;
        leaderTerm = term;
        notifyLeaderChange(selfEndpoint);
        try {
            effects.onLeaderStart(term);
        } catch (Throwable t) {
            LOG.error("Leader-start listener failed", t);
        }
        super.onLeaderStart(term);
    }

    @Override
    public void onLeaderStop(Status status) {
        leaderTerm = -1;
        notifyLeaderStop();
        notifyLeaderChange(null);
        super.onLeaderStop(status);
    }

    @Override
    public void onStartFollowing(LeaderChangeContext ctx) {
        knownTerm = Math.max(knownTerm, ctx.getTerm());
        PeerId leader = ctx.getLeaderId();
        notifyLeaderChange(leader == null || leader.isEmpty() ? null : leader.getEndpoint().toString());
        super.onStartFollowing(ctx);
    }

    @Override
    public void onStopFollowing(LeaderChangeContext ctx) {
        notifyLeaderChange(null);
        super.onStopFollowing(ctx);
    }

    /**
     * Called on this FSM's thread whenever this node's idea of the leader changes: the new leader's
     * Raft endpoint, or null when there is none (this node stopped following, or stopped leading).
     * Listeners must be quick: the apply thread runs them.
     */
    void addLeaderChangeListener(Consumer<String> listener) {
        leaderChangeListeners.add(listener);
    }

    private void notifyLeaderChange(String leaderEndpoint) {
        for (Consumer<String> l : leaderChangeListeners) {
            try {
                l.accept(leaderEndpoint);
            } catch (Throwable t) {
                LOG.error("Leader-change listener failed", t);
            }
        }
    }

    @Override
    public void onError(RaftException e) {
        haltIfServer("The Raft node failed (" + e.getType() + ")", e);
        error = e;
        if (leaderTerm > 0) {
            leaderTerm = -1;
            notifyLeaderStop();
        }
        LOG.error("Raft node failed; it stops applying entries: {} {}", e.getType(), e.getStatus());
    }

    @Override
    public void onShutdown() {
        leaderTerm = -1;
        snapshotSaver.shutdown(); // a save in progress finishes and runs its closure
        sm.close();
        super.onShutdown();
    }

    private void notifyLeaderStop() {
        try {
            effects.onLeaderStop();
        } catch (Throwable t) {
            LOG.error("Leader-stop listener failed", t);
        }
    }

    // ---- applied index -------------------------------------------------------------------------

    private void advanceApplied(long index) {
        List<CompletableFuture<Void>> ready = null;
        synchronized (appliedWatchers) {
            if (index <= appliedIndex) {
                return;
            }
            appliedIndex = index;
            while (!appliedWatchers.isEmpty() && appliedWatchers.firstKey() <= index) {
                if (ready == null) {
                    ready = new ArrayList<>();
                }
                ready.addAll(appliedWatchers.pollFirstEntry().getValue());
            }
        }
        if (ready != null) {
            for (CompletableFuture<Void> f : ready) {
                f.complete(null);
            }
        }
    }

    /** The index of the last data entry applied to the core (or restored from a snapshot). */
    public long appliedIndex() {
        return appliedIndex;
    }

    /**
     * Completes once this replica has applied the entry at {@code index} (or a snapshot past it),
     * on the apply thread after that entry's effects were handed to the {@link EffectListener}; at
     * once if it already has. So whoever continues from this future sees the entry's effects
     * delivered before its own reaction, even for a write that was committed through another node.
     */
    public CompletableFuture<Void> whenApplied(long index) {
        if (index <= appliedIndex) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        synchronized (appliedWatchers) {
            if (index <= appliedIndex) {
                return CompletableFuture.completedFuture(null);
            }
            appliedWatchers.computeIfAbsent(index, k -> new ArrayList<>(2)).add(f);
        }
        return f;
    }

    // ---- what the node reads -------------------------------------------------------------------

    /** True from {@link #onLeaderStart} (earlier terms' entries all applied) to {@link #onLeaderStop}. */
    public boolean isLeader() {
        return leaderTerm > 0;
    }

    /** The term this node leads, or -1. */
    public long leaderTerm() {
        return leaderTerm;
    }

    /** The latest term this node saw start (as leader or follower). */
    public long knownTerm() {
        return knownTerm;
    }

    /**
     * Tells {@code observer} every new highest applied stamp as it is applied (once per run of
     * entries, on the apply thread: it must be quick), so a follower's cluster-time estimate knows
     * when it saw each stamp without a timer looking.
     */
    void observeStamps(java.util.function.LongConsumer observer) {
        stampObserver = java.util.Objects.requireNonNull(observer, "observer");
    }

    /** The highest leader timestamp applied so far (ms since the epoch; 0 before any). */
    public long lastAppliedStamp() {
        return lastAppliedStamp;
    }

    /** The core index restored by the last snapshot load, or -1 if none was loaded. */
    public long lastLoadedSnapshotIndex() {
        return lastLoadedSnapshotIndex;
    }

    /** The engine error that stopped this replica, or null. */
    public RaftException error() {
        return error;
    }

    /** The hosted core state machine (for lookups). */
    public ConcurrentStateMachine core() {
        return sm;
    }
}
