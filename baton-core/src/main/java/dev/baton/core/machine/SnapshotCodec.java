package dev.baton.core.machine;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Limits;
import dev.baton.core.command.Result;
import dev.baton.core.dispatch.DispatchData;
import dev.baton.core.dispatch.GroupState;
import dev.baton.core.session.TargetKey;
import dev.baton.core.dispatch.TargetState;
import dev.baton.core.event.EventData;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockData;
import dev.baton.core.lock.LockState;
import dev.baton.core.lock.Locks;
import dev.baton.core.node.NodeData;
import dev.baton.core.node.NodeState;
import dev.baton.core.pool.Holder;
import dev.baton.core.pool.PoolData;
import dev.baton.core.pool.PoolState;
import dev.baton.core.pool.Pools;
import dev.baton.core.session.ItemKey;
import dev.baton.core.queue.ItemState;
import dev.baton.core.queue.QueueData;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.Deadline;
import dev.baton.core.session.RecentResults;
import dev.baton.core.session.SessionData;
import dev.baton.core.session.SessionState;
import dev.baton.core.session.Slot;
import dev.baton.core.session.WaitRef;
import dev.baton.core.session.Waiter;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryReader.MalformedException;
import dev.baton.core.util.BinaryWriter;
import org.organicdesign.fp.collections.PersistentHashMap;
import org.organicdesign.fp.collections.PersistentHashMap.MutHashMap;
import org.organicdesign.fp.collections.PersistentTreeMap;
import org.organicdesign.fp.collections.PersistentTreeSet;
import org.organicdesign.fp.collections.UnmodMap;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.CRC32C;

/**
 * The snapshot format. Deterministic: a State is written in the iteration order of its persistent
 * maps, which depends only on their contents (string and long hashes are specified by the JDK), so
 * two replicas with the same state write the same bytes. Only primary data is written; the indexes
 * derived from it (deadlines, lag index, claimable lists, event → item references, client tokens)
 * are rebuilt on recovery, so they can never disagree with the data.
 *
 * <pre>
 * "BATN" u8 version
 * header: lastIndex lastTime lastFence nextSessionId lastSeq, limits, pool counters
 * sessions, pools, locks, groups, events, queues, nodes: each a count then records
 * fixed64 CRC32C of everything before it
 * </pre>
 *
 * <p>Version 2 added the nodes section (the cluster's address book). Version 3 appends two pool
 * counters, {@code doneWaitMs} and {@code gainedMs} (14 instead of 12); nothing else changed.
 * Version 2 is still read, so that a node upgraded in place can recover from the snapshot it
 * already has: the two counters it lacks start at 0 (those times were never recorded), and the
 * next snapshot is written as version 3. Consequently those two counters only cover what was
 * applied after the upgrade, and replicas that recovered from v2 snapshots taken at different
 * indexes may report different values for them; nothing the machine decides reads them. Version 1
 * was never deployed and is not read.
 *
 * <p>Version 4 appends {@code maxStateBytes} to the limits and writes, with each remembered
 * answer, the fingerprint of the command it answered. Versions 2 and 3 are still read: their
 * limits get the default state budget (the next {@code SetLimits} sets the configured one), and
 * their remembered answers fingerprint 0, "unknown", which any command with that request id matches
 * (as before). The state's byte count is not written: it is recomputed from the data on recovery
 * ({@link Footprint#of}), so it can never disagree with it.
 */
public final class SnapshotCodec {
    private SnapshotCodec() {}

    private static final int MAGIC = 0x4241544E; // "BATN"
    public static final int VERSION = 4;
    /** The oldest version still read; see the class comment. */
    static final int OLDEST_READ = 2;
    /** How many pool counters a version-2 snapshot holds (the ones before {@link Counter#DONE_WAIT_MS}). */
    static final int V2_POOL_COUNTERS = 12;
    private static final int FLUSH_AT = 1 << 16;
    private static final int NAME = Limits.CODEC_MAX_NAME_BYTES;
    private static final int MANY = Integer.MAX_VALUE;

    /** Streams {@code s} to {@code out} in chunks; does not close {@code out}. */
    public static void write(State s, OutputStream out) throws IOException {
        write(s, out, VERSION);
    }

    /**
     * Writes {@code s} in an older format ({@code 3}: no state budget in the limits, no command
     * fingerprints), for the tests that show such snapshots are still read.
     */
    static void writeVersion(State s, OutputStream out, int version) throws IOException {
        if (version != 3 && version != VERSION) {
            throw new IllegalArgumentException("cannot write snapshot version " + version);
        }
        write(s, out, version);
    }

    private static void write(State s, OutputStream out, int version) throws IOException {
        Sink w = new Sink(out);
        w.b.fixed64(((long) MAGIC << 32) | version);
        w.b.varint(s.lastIndex()).svarint(s.lastTime()).varint(s.lastFence()).varint(s.nextSessionId()).varint(s.lastSeq());
        if (version >= 4) {
            CommandCodec.encodeLimits(w.b, s.limits());
        } else {
            CommandCodec.encodeLimitsV1(w.b, s.limits());
        }
        for (long v : s.poolCounters().toArray()) {
            w.b.varint(v);
        }
        w.b.varint(s.sessions().size());
        for (SessionState x : s.sessions().values()) {
            writeSession(w.b, x, version);
            w.maybeFlush();
        }
        w.b.varint(s.pools().size());
        for (PoolState p : s.pools().values()) {
            w.b.string(p.key()).varint(p.holders().size());
            for (Holder h : p.holders().values()) {
                w.b.varint(h.session()).varint(h.fence()).svarint(h.since()).varint(h.requestId());
            }
            writeWaiters(w.b, p.waitMe());
            writeWaiters(w.b, p.waitAny());
            w.maybeFlush();
        }
        w.b.varint(s.locks().size());
        for (LockState l : s.locks().values()) {
            w.b.string(l.name()).varint(l.holder()).varint(l.fence()).svarint(l.since()).varint(l.requestId());
            writeWaiters(w.b, l.waiters());
            w.maybeFlush();
        }
        w.b.varint(s.groups().size());
        for (GroupState g : s.groups().values()) {
            w.b.string(g.name()).varint(g.head());
            CommandCodec.encodeSettings(w.b, g.settings());
            w.b.varint(g.targets().size());
            for (TargetState t : g.targets().values()) {
                w.b.string(t.id()).string(t.name()).varint(t.seen()).svarint(t.touched()).bool(t.disabled())
                        .varint(t.holder()).varint(t.fence());
                w.maybeFlush();
            }
        }
        w.b.varint(s.events().size());
        for (EventState e : s.events().values()) {
            w.b.string(e.name()).varint(e.owner()).svarint(e.since());
            w.maybeFlush();
        }
        w.b.varint(s.queues().size());
        for (QueueState q : s.queues().values()) {
            w.b.string(q.name()).varint(q.items().size());
            for (ItemState it : q.items().values()) {
                w.b.string(it.id()).bytes(it.payload().unsafeArray()).varint(it.prerequisites().length);
                for (String p : it.prerequisites()) {
                    w.b.string(p);
                }
                w.b.varint(it.seq()).varint(it.claimedBy()).varint(it.fence()).varint(it.attempts())
                        .svarint(it.enqueuedAt());
                w.maybeFlush();
            }
        }
        w.b.varint(s.nodes().size());
        for (NodeState n : s.nodes().values()) {
            w.b.string(n.raftEndpoint()).string(n.nodeId()).string(n.apiEndpoint()).svarint(n.since());
        }
        w.finish();
    }

    private static void writeSession(BinaryWriter b, SessionState x, int version) {
        b.varint(x.id()).optString(x.token()).varint(x.ttlMs()).svarint(x.openedAt()).varint(x.slots().length);
        for (Slot sl : x.slots()) {
            b.string(sl.key()).u8(sl.state().ordinal()).varint(sl.id()).varint(sl.requestId()).svarint(sl.since());
        }
        // (most sessions hold none of these; an empty tree is skipped, as iterating one allocates)
        b.varint(x.locksHeld().size());
        if (x.locksHeld().size() > 0) {
            for (UnmodMap.UnEntry<String, Long> e : x.locksHeld()) {
                b.string(e.getKey()).varint(e.getValue());
            }
        }
        b.varint(x.lockWaits().size());
        if (x.lockWaits().size() > 0) {
            for (UnmodMap.UnEntry<String, Long> e : x.lockWaits()) {
                b.string(e.getKey()).varint(e.getValue());
            }
        }
        b.varint(x.dispatch().size());
        if (x.dispatch().size() > 0) {
            for (TargetKey k : x.dispatch()) {
                b.string(k.group()).string(k.target());
            }
        }
        b.varint(x.events().size());
        if (x.events().size() > 0) {
            for (String e : x.events()) {
                b.string(e);
            }
        }
        b.varint(x.claimed().size());
        if (x.claimed().size() > 0) {
            for (ItemKey k : x.claimed()) {
                b.string(k.queue()).string(k.item());
            }
        }
        RecentResults r = x.recent();
        b.varint(r.floor()).varint(r.chunkCount());
        for (int k = 0; k < r.chunkCount(); k++) {
            RecentResults.Chunk c = r.chunk(k);
            b.varint(c.ids().length);
            for (int i = 0; i < c.ids().length; i++) {
                b.varint(c.ids()[i]);
                if (version >= 4) {
                    b.fixed64(c.fingerprints()[i]);
                }
                CommandCodec.encodeResult(b, c.results()[i]);
            }
        }
    }

    private static void writeWaiters(BinaryWriter b, PersistentTreeMap<Long, Waiter> ws) {
        b.varint(ws.size());
        if (ws.size() == 0) {
            return; // the usual case; iterating an empty tree allocates
        }
        for (Waiter w : ws.values()) {
            b.varint(w.session()).varint(w.requestId()).varint(w.waitId()).svarint(w.since()).svarint(w.deadline());
        }
    }

    /** Reads a whole snapshot; throws {@link IOException} if it is malformed or its checksum is wrong. */
    public static State read(InputStream in) throws IOException {
        byte[] all = in.readAllBytes();
        if (all.length < 16) {
            throw new IOException("snapshot too short (" + all.length + " bytes)");
        }
        CRC32C crc = new CRC32C();
        crc.update(all, 0, all.length - 8);
        long stored = new BinaryReader(all, all.length - 8, 8).fixed64();
        if (stored != crc.getValue()) {
            throw new IOException("snapshot checksum mismatch");
        }
        try {
            return decode(new BinaryReader(all, 0, all.length - 8));
        } catch (MalformedException | IllegalArgumentException | NullPointerException | ClassCastException e) {
            throw new IOException("malformed snapshot: " + e.getMessage(), e);
        }
    }

    private static State decode(BinaryReader r) {
        long head = r.fixed64();
        if ((int) (head >>> 32) != MAGIC) {
            throw new MalformedException("not a Baton snapshot");
        }
        int version = (int) head;
        if (version < OLDEST_READ || version > VERSION) {
            throw new MalformedException("unknown snapshot version " + version);
        }
        long lastIndex = r.varint();
        long lastTime = r.svarint();
        long lastFence = r.varint();
        long nextSessionId = r.varint();
        long lastSeq = r.varint();
        Limits limits = version >= 4 ? CommandCodec.decodeLimits(r) : CommandCodec.decodeLimitsV1(r);
        long[] counters = new long[PoolCounters.SIZE]; // a v2 snapshot leaves the newer counters at 0
        int stored = version == 2 ? V2_POOL_COUNTERS : PoolCounters.SIZE;
        for (int i = 0; i < stored; i++) {
            counters[i] = r.varint();
        }
        PersistentTreeMap<Deadline, WaitRef> deadlines = PersistentTreeMap.empty();

        MutHashMap<Long, SessionState> sessions = PersistentHashMap.emptyMutable();
        MutHashMap<String, Long> tokens = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            SessionState s = readSession(r, version);
            sessions = sessions.assoc(s.id(), s);
            if (s.token() != null) {
                tokens = tokens.assoc(s.token(), s.id());
            }
        }
        MutHashMap<String, PoolState> pools = PersistentHashMap.emptyMutable();
        long poolHolders = 0;
        long poolWaiters = 0;
        for (int n = r.count(MANY); n > 0; n--) {
            String key = r.string(NAME);
            PersistentTreeMap<Long, Holder> holders = PersistentTreeMap.empty();
            for (int h = r.count(MANY); h > 0; h--) {
                Holder x = new Holder(r.varint(), r.varint(), r.svarint(), r.varint());
                holders = holders.assoc(x.fence(), x);
            }
            PersistentTreeMap<Long, Waiter> me = readWaiters(r);
            PersistentTreeMap<Long, Waiter> any = readWaiters(r);
            deadlines = addDeadlines(deadlines, me, Pools.NAME, key);
            deadlines = addDeadlines(deadlines, any, Pools.NAME, key);
            PoolState pool = new PoolState(key, holders, me, any);
            poolHolders += pool.processing();
            poolWaiters += pool.waiting();
            pools = pools.assoc(key, pool);
        }
        MutHashMap<String, LockState> locks = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            String name = r.string(NAME);
            LockState l = new LockState(name, r.varint(), r.varint(), r.svarint(), r.varint(), readWaiters(r));
            deadlines = addDeadlines(deadlines, l.waiters(), Locks.NAME, name);
            locks = locks.assoc(name, l);
        }
        MutHashMap<String, GroupState> groups = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            String name = r.string(NAME);
            long headPos = r.varint();
            GroupState g = GroupState.empty(name, CommandCodec.decodeSettings(r)).withHead(headPos);
            for (int t = r.count(MANY); t > 0; t--) {
                g = g.withTarget(new TargetState(r.string(NAME), r.string(NAME), r.varint(), r.svarint(), r.bool(),
                        r.varint(), r.varint()));
            }
            groups = groups.assoc(name, g);
        }
        MutHashMap<String, EventState> events = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            EventState e = new EventState(r.string(NAME), r.varint(), r.svarint());
            events = events.assoc(e.name(), e);
        }
        MutHashMap<String, QueueState> queues = PersistentHashMap.emptyMutable();
        MutHashMap<String, PersistentTreeSet<ItemKey>> refs = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            String name = r.string(NAME);
            MutHashMap<String, ItemState> items = PersistentHashMap.emptyMutable();
            PersistentTreeMap<Long, String> ready = PersistentTreeMap.empty();
            for (int i = r.count(MANY); i > 0; i--) {
                String id = r.string(NAME);
                Bytes payload = Bytes.wrap(r.bytes(Limits.CODEC_MAX_PAYLOAD_BYTES));
                String[] prereqs = new String[r.itemCount(Limits.CODEC_MAX_LIST)];
                int pending = 0;
                for (int p = 0; p < prereqs.length; p++) {
                    prereqs[p] = r.string(NAME);
                    if (events.containsKey(prereqs[p])) {
                        pending++;
                    }
                    PersistentTreeSet<ItemKey> set = refs.get(prereqs[p]);
                    refs = refs.assoc(prereqs[p],
                            (set == null ? PersistentTreeSet.<ItemKey>empty() : set).put(new ItemKey(name, id)));
                }
                ItemState it = new ItemState(id, payload, prereqs, r.varint(), pending, r.varint(), r.varint(),
                        r.count(MANY), r.svarint());
                if (it.ready()) {
                    ready = ready.assoc(it.seq(), id);
                }
                items = items.assoc(id, it);
            }
            queues = queues.assoc(name, new QueueState(name, items.immutable(), ready));
        }
        MutHashMap<String, NodeState> nodes = PersistentHashMap.emptyMutable();
        for (int n = r.count(MANY); n > 0; n--) {
            NodeState node = new NodeState(r.string(NAME), r.string(NAME), r.string(NAME), r.svarint());
            nodes = nodes.assoc(node.raftEndpoint(), node);
        }
        r.expectEnd();
        State s = new State(lastIndex, lastTime, lastFence, nextSessionId, lastSeq, limits,
                new SessionData(sessions.immutable(), tokens.immutable(), deadlines),
                new PoolData(pools.immutable(), poolHolders, poolWaiters), new LockData(locks.immutable()),
                new DispatchData(groups.immutable()), new EventData(events.immutable()),
                new QueueData(queues.immutable(), refs.immutable()), new NodeData(nodes.immutable()),
                PoolCounters.fromArray(counters), 0);
        return s.withStateBytes(Footprint.of(s));
    }

    private static SessionState readSession(BinaryReader r, int version) {
        long id = r.varint();
        String token = r.optString(NAME);
        long ttl = r.varint();
        long openedAt = r.svarint();
        Slot[] slots = new Slot[r.itemCount(Limits.CODEC_MAX_LIST)];
        for (int i = 0; i < slots.length; i++) {
            String key = r.string(NAME);
            int st = r.u8();
            if (st >= Slot.State.values().length) {
                throw new MalformedException("bad slot state " + st);
            }
            slots[i] = new Slot(key, Slot.State.values()[st], r.varint(), r.varint(), r.svarint());
        }
        PersistentTreeMap<String, Long> held = PersistentTreeMap.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            held = held.assoc(r.string(NAME), r.varint());
        }
        PersistentTreeMap<String, Long> waits = PersistentTreeMap.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            waits = waits.assoc(r.string(NAME), r.varint());
        }
        PersistentTreeSet<TargetKey> dispatch = PersistentTreeSet.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            dispatch = dispatch.put(new TargetKey(r.string(NAME), r.string(NAME)));
        }
        PersistentTreeSet<String> events = PersistentTreeSet.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            events = events.put(r.string(NAME));
        }
        PersistentTreeSet<ItemKey> claimed = PersistentTreeSet.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            claimed = claimed.put(new ItemKey(r.string(NAME), r.string(NAME)));
        }
        long floor = r.varint();
        RecentResults.Chunk[] chunks = new RecentResults.Chunk[r.itemCount(Limits.CODEC_MAX_LIST)];
        for (int k = 0; k < chunks.length; k++) {
            int n = r.itemCount(Limits.CODEC_MAX_LIST);
            long[] ids = new long[n];
            long[] fingerprints = new long[n];
            Result[] results = new Result[n];
            for (int i = 0; i < n; i++) {
                ids[i] = r.varint();
                fingerprints[i] = version >= 4 ? r.fixed64() : 0;
                results[i] = CommandCodec.decodeResult(r);
                if (i > 0 && ids[i] <= ids[i - 1]) {
                    throw new MalformedException("request ids of a window chunk not ascending");
                }
            }
            chunks[k] = new RecentResults.Chunk(ids, fingerprints, results);
        }
        return new SessionState(id, token, ttl, openedAt, slots, held, waits, dispatch, events, claimed,
                RecentResults.of(chunks, floor));
    }

    private static PersistentTreeMap<Long, Waiter> readWaiters(BinaryReader r) {
        PersistentTreeMap<Long, Waiter> ws = PersistentTreeMap.empty();
        for (int n = r.count(MANY); n > 0; n--) {
            Waiter w = new Waiter(r.varint(), r.varint(), r.varint(), r.svarint(), r.svarint());
            ws = ws.assoc(w.waitId(), w);
        }
        return ws;
    }

    private static PersistentTreeMap<Deadline, WaitRef> addDeadlines(PersistentTreeMap<Deadline, WaitRef> d,
            PersistentTreeMap<Long, Waiter> ws, String owner, String key) {
        for (Waiter w : ws.values()) {
            d = d.assoc(new Deadline(w.deadline(), w.waitId()), new WaitRef(owner, w.session(), key));
        }
        return d;
    }

    /** A BinaryWriter drained into the stream in chunks, with a running checksum. */
    private static final class Sink {
        final BinaryWriter b = new BinaryWriter(FLUSH_AT * 2);
        final OutputStream out;
        final CRC32C crc = new CRC32C();

        Sink(OutputStream out) {
            this.out = out;
        }

        void maybeFlush() throws IOException {
            if (b.size() >= FLUSH_AT) {
                flush();
            }
        }

        void flush() throws IOException {
            crc.update(b.buffer(), 0, b.size());
            out.write(b.buffer(), 0, b.size());
            b.reset();
        }

        void finish() throws IOException {
            flush();
            b.fixed64(crc.getValue());
            out.write(b.buffer(), 0, b.size());
            b.reset();
            out.flush();
        }
    }
}
