package dev.baton.core.command;

import dev.baton.core.command.Command.*;
import dev.baton.core.command.Result.*;
import dev.baton.core.util.BinaryReader;
import dev.baton.core.util.BinaryReader.MalformedException;
import dev.baton.core.util.BinaryWriter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The binary form of commands as they travel in the Raft log, and of results as they are kept in
 * snapshots. A batch starts with a format version; each command with a one-byte tag. Tags and field
 * orders are append-only: a new field or command means a new version or tag, never a reuse, so a
 * log written by an older Baton stays readable. Decoding checks every length against hard ceilings
 * ({@link Limits}{@code .CODEC_*}) before allocating.
 */
public final class CommandCodec {
    private CommandCodec() {}

    /** Version of the batch format written by this code. */
    public static final int BATCH_VERSION = 1;

    private static final int NAME = Limits.CODEC_MAX_NAME_BYTES;
    private static final int LIST = Limits.CODEC_MAX_LIST;

    // command tags (never reuse a number)
    private static final int OPEN_SESSION = 1, CLOSE_SESSION = 2, EXPIRE_SESSIONS = 3, EXPIRE_WAITS = 4,
            SET_LIMITS_V1 = 5, SET_LIMITS = 6, POOL_ACQUIRE = 10, POOL_RELEASE = 11, LOCK_ACQUIRE = 20, LOCK_RELEASE = 21,
            DISPATCH_INIT = 30, DISPATCH_ADVANCE = 31, DISPATCH_SELECT = 32, DISPATCH_LOCK = 33,
            DISPATCH_RELEASE = 34, DISPATCH_SET_DISABLED = 35, EVENT_BEGIN = 40, EVENT_COMPLETE = 41,
            QUEUE_ENQUEUE = 50, QUEUE_CLAIM = 51, QUEUE_DONE = 52, QUEUE_RETRY = 53, ANNOUNCE_NODE = 60,
            OPEN_SESSION_THEN = 7;

    // result tags
    private static final int R_REJECTED = 1, R_SESSION_OPENED = 2, R_SESSION_CLOSED = 3, R_SESSIONS_EXPIRED = 4,
            R_WAITS_EXPIRED = 5, R_LIMITS_SET_V1 = 6, R_POOL = 7, R_LOCK = 8, R_DISPATCH = 9, R_EVENT = 10, R_QUEUE = 11,
            R_NODE_ANNOUNCED = 12, R_LIMITS_SET = 13, R_SESSION_OPENED_THEN = 14;

    /** Encodes a batch; throws IllegalArgumentException if any command cannot be encoded within the ceilings. */
    public static byte[] encodeBatch(List<? extends Command> commands) {
        List<byte[]> encoded = new ArrayList<>(commands.size());
        for (Command c : commands) {
            encoded.add(encodeChecked(c));
        }
        return batchOfEncoded(encoded);
    }

    /**
     * One command's bytes, checked to decode back within the codec's ceilings. The leader's batcher
     * should encode each client command this way on arrival (a bad one is refused to that client
     * alone) and join them with {@link #batchOfEncoded}: one oversized command can then never make
     * a whole batch of other clients' commands undecodable.
     *
     * @throws IllegalArgumentException if the command is over a ceiling (name, payload, list length)
     */
    public static byte[] encodeChecked(Command c) {
        BinaryWriter w = new BinaryWriter();
        encode(w, c);
        byte[] b = w.toByteArray();
        try {
            BinaryReader r = new BinaryReader(b);
            decode(r);
            r.expectEnd();
        } catch (MalformedException e) {
            throw new IllegalArgumentException("command cannot be encoded: " + e.getMessage());
        }
        return b;
    }

    /** Joins commands encoded by {@link #encodeChecked} into an entry payload. */
    public static byte[] batchOfEncoded(List<byte[]> commands) {
        int size = 16;
        for (byte[] c : commands) {
            size += c.length;
        }
        if (size > Limits.CODEC_MAX_ENTRY_BYTES || commands.size() > LIST) {
            throw new IllegalArgumentException("batch of " + commands.size() + " commands and about " + size
                    + " bytes exceeds " + LIST + " commands or " + Limits.CODEC_MAX_ENTRY_BYTES + " bytes");
        }
        BinaryWriter w = new BinaryWriter(size);
        w.u8(BATCH_VERSION).varint(commands.size());
        for (byte[] c : commands) {
            w.raw(c, 0, c.length);
        }
        return w.toByteArray();
    }

    public static List<Command> decodeBatch(byte[] payload) {
        return decodeBatch(payload, 0, payload.length);
    }

    /** {@link #decodeBatch(byte[])} of the {@code length} bytes of {@code buf} from {@code offset}, read in place. */
    public static List<Command> decodeBatch(byte[] buf, int offset, int length) {
        if (length > Limits.CODEC_MAX_ENTRY_BYTES) {
            throw new MalformedException("entry of " + length + " bytes exceeds " + Limits.CODEC_MAX_ENTRY_BYTES);
        }
        java.util.Objects.checkFromIndexSize(offset, length, buf.length);
        BinaryReader r = new BinaryReader(buf, offset, length);
        int version = r.u8();
        if (version != BATCH_VERSION) {
            throw new MalformedException("unknown batch format version " + version);
        }
        int n = r.itemCount(LIST);
        List<Command> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(decode(r));
        }
        r.expectEnd();
        return out;
    }

    /**
     * A 64-bit fingerprint of a command's canonical encoding (FNV-1a, never 0): remembered with
     * its answer, so that a request id re-sent with a different command is recognised. The same
     * on every replica and JVM.
     */
    public static long fingerprint(Command c) {
        BinaryWriter w = new BinaryWriter();
        encode(w, c);
        byte[] b = w.buffer();
        long h = 0xcbf29ce484222325L;
        for (int i = 0, n = w.size(); i < n; i++) {
            h = (h ^ (b[i] & 0xff)) * 0x100000001b3L;
        }
        return h == 0 ? 1 : h;
    }

    public static void encode(BinaryWriter w, Command c) {
        if (c == null) {
            throw new IllegalArgumentException("no encoding for null");
        }
        // a switch expression without default: a command kind with no encoding does not compile
        BinaryWriter unused = switch (c.kind()) {
            case POOL_ACQUIRE -> {
                PoolAcquire a = (PoolAcquire) c;
                yield w.u8(POOL_ACQUIRE).varint(a.session()).varint(a.requestId()).string(a.key()).svarint(a.workers())
                        .svarint(a.maxQueue()).svarint(a.timeoutMs()).bool(a.forAnyone());
            }
            case POOL_RELEASE -> {
                PoolRelease a = (PoolRelease) c;
                yield w.u8(POOL_RELEASE).varint(a.session()).varint(a.requestId()).optString(a.key()).varint(a.fence());
            }
            case OPEN_SESSION -> {
                OpenSession a = (OpenSession) c;
                yield w.u8(OPEN_SESSION).optString(a.clientToken()).svarint(a.ttlMs());
            }
            case OPEN_SESSION_THEN -> {
                OpenSessionThen a = (OpenSessionThen) c;
                if (a.open() == null || a.first() == null) {
                    throw new IllegalArgumentException("an OpenSessionThen needs an open and a first command");
                }
                w.u8(OPEN_SESSION_THEN);
                encode(w, a.open());
                encode(w, a.first());
                yield w;
            }
            case CLOSE_SESSION -> {
                CloseSession a = (CloseSession) c;
                yield w.u8(CLOSE_SESSION).varint(a.session()).varint(a.requestId());
            }
            case EXPIRE_SESSIONS -> {
                ExpireSessions a = (ExpireSessions) c;
                w.u8(EXPIRE_SESSIONS).varint(a.sessions().size());
                for (long id : a.sessions()) {
                    w.varint(id);
                }
                yield w;
            }
            case EXPIRE_WAITS -> w.u8(EXPIRE_WAITS);
            case SET_LIMITS -> {
                w.u8(SET_LIMITS);
                encodeLimits(w, ((SetLimits) c).limits());
                yield w;
            }
            case ANNOUNCE_NODE -> {
                AnnounceNode a = (AnnounceNode) c;
                // optional strings: a null travels as null and is refused by the state machine, rather
                // than failing here with a NullPointerException
                yield w.u8(ANNOUNCE_NODE).optString(a.raftEndpoint()).optString(a.nodeId()).optString(a.apiEndpoint());
            }
            case LOCK_ACQUIRE -> {
                LockAcquire a = (LockAcquire) c;
                yield w.u8(LOCK_ACQUIRE).varint(a.session()).varint(a.requestId()).string(a.name()).svarint(a.timeoutMs());
            }
            case LOCK_RELEASE -> {
                LockRelease a = (LockRelease) c;
                yield w.u8(LOCK_RELEASE).varint(a.session()).varint(a.requestId()).string(a.name()).varint(a.fence());
            }
            case DISPATCH_INIT -> {
                DispatchInit a = (DispatchInit) c;
                w.u8(DISPATCH_INIT).varint(a.session()).varint(a.requestId()).string(a.group());
                Map<String, String> sorted = new TreeMap<>(a.targets());
                w.varint(sorted.size());
                for (Map.Entry<String, String> e : sorted.entrySet()) {
                    w.string(e.getKey()).string(e.getValue());
                }
                w.bool(a.settings() != null);
                if (a.settings() != null) {
                    encodeSettings(w, a.settings());
                }
                yield w;
            }
            case DISPATCH_ADVANCE -> {
                DispatchAdvance a = (DispatchAdvance) c;
                yield w.u8(DISPATCH_ADVANCE).varint(a.session()).varint(a.requestId()).string(a.group()).svarint(a.head());
            }
            case DISPATCH_SELECT -> {
                DispatchSelect a = (DispatchSelect) c;
                yield w.u8(DISPATCH_SELECT).varint(a.session()).varint(a.requestId()).string(a.group());
            }
            case DISPATCH_LOCK -> {
                DispatchLock a = (DispatchLock) c;
                yield w.u8(DISPATCH_LOCK).varint(a.session()).varint(a.requestId()).string(a.group()).string(a.target());
            }
            case DISPATCH_RELEASE -> {
                DispatchRelease a = (DispatchRelease) c;
                yield w.u8(DISPATCH_RELEASE).varint(a.session()).varint(a.requestId()).string(a.group())
                        .string(a.target()).varint(a.fence()).svarint(a.newSeen());
            }
            case DISPATCH_SET_DISABLED -> {
                DispatchSetDisabled a = (DispatchSetDisabled) c;
                yield w.u8(DISPATCH_SET_DISABLED).varint(a.session()).varint(a.requestId()).string(a.group())
                        .string(a.target()).bool(a.disabled());
            }
            case EVENT_BEGIN -> {
                EventBegin a = (EventBegin) c;
                yield w.u8(EVENT_BEGIN).varint(a.session()).varint(a.requestId()).string(a.name());
            }
            case EVENT_COMPLETE -> {
                EventComplete a = (EventComplete) c;
                yield w.u8(EVENT_COMPLETE).varint(a.session()).varint(a.requestId()).string(a.name());
            }
            case QUEUE_ENQUEUE -> {
                QueueEnqueue a = (QueueEnqueue) c;
                w.u8(QUEUE_ENQUEUE).varint(a.session()).varint(a.requestId()).string(a.queue()).string(a.item())
                        .bytes(a.payload().unsafeArray()).varint(a.prerequisites().size());
                for (String p : a.prerequisites()) {
                    w.string(p);
                }
                yield w;
            }
            case QUEUE_CLAIM -> {
                QueueClaim a = (QueueClaim) c;
                yield w.u8(QUEUE_CLAIM).varint(a.session()).varint(a.requestId()).string(a.queue()).svarint(a.max());
            }
            case QUEUE_DONE -> {
                QueueDone a = (QueueDone) c;
                yield w.u8(QUEUE_DONE).varint(a.session()).varint(a.requestId()).string(a.queue()).string(a.item())
                        .varint(a.fence());
            }
            case QUEUE_RETRY -> {
                QueueRetry a = (QueueRetry) c;
                yield w.u8(QUEUE_RETRY).varint(a.session()).varint(a.requestId()).string(a.queue()).string(a.item())
                        .varint(a.fence());
            }
        };
    }

    public static Command decode(BinaryReader r) {
        return decode(r.u8(), r);
    }

    private static Command decode(int tag, BinaryReader r) {
        switch (tag) {
            case POOL_ACQUIRE:
                return new PoolAcquire(r.varint(), r.varint(), r.string(NAME), int32(r), int32(r),
                        r.svarint(), r.bool());
            case POOL_RELEASE:
                return new PoolRelease(r.varint(), r.varint(), r.optString(NAME), r.varint());
            case OPEN_SESSION:
                return new OpenSession(r.optString(NAME), r.svarint());
            case OPEN_SESSION_THEN: {
                // tags checked before decoding, so nesting cannot recurse
                if (r.u8() != OPEN_SESSION) {
                    throw new MalformedException("an OpenSessionThen starts with an OpenSession");
                }
                OpenSession open = new OpenSession(r.optString(NAME), r.svarint());
                int firstTag = r.u8();
                if (firstTag == OPEN_SESSION_THEN || firstTag == OPEN_SESSION) {
                    throw new MalformedException("an OpenSessionThen's first command is a session request");
                }
                if (!(decode(firstTag, r) instanceof SessionRequest first)) {
                    throw new MalformedException("an OpenSessionThen's first command is a session request");
                }
                return new OpenSessionThen(open, first);
            }
            case CLOSE_SESSION:
                return new CloseSession(r.varint(), r.varint());
            case EXPIRE_SESSIONS: {
                int n = r.itemCount(LIST);
                List<Long> ids = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    ids.add(r.varint());
                }
                return new ExpireSessions(List.copyOf(ids));
            }
            case EXPIRE_WAITS:
                return new ExpireWaits();
            case SET_LIMITS:
                return new SetLimits(decodeLimits(r));
            case SET_LIMITS_V1: // written before the state budget existed: it gets its default
                return new SetLimits(decodeLimitsV1(r));
            case ANNOUNCE_NODE:
                return new AnnounceNode(r.optString(NAME), r.optString(NAME), r.optString(NAME));
            case LOCK_ACQUIRE:
                return new LockAcquire(r.varint(), r.varint(), r.string(NAME), r.svarint());
            case LOCK_RELEASE:
                return new LockRelease(r.varint(), r.varint(), r.string(NAME), r.varint());
            case DISPATCH_INIT: {
                long s = r.varint();
                long q = r.varint();
                String group = r.string(NAME);
                int n = r.itemCount(LIST);
                Map<String, String> targets = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    targets.put(r.string(NAME), r.string(NAME));
                }
                DispatchSettings settings = r.bool() ? decodeSettings(r) : null;
                return new DispatchInit(s, q, group, targets, settings);
            }
            case DISPATCH_ADVANCE:
                return new DispatchAdvance(r.varint(), r.varint(), r.string(NAME), r.svarint());
            case DISPATCH_SELECT:
                return new DispatchSelect(r.varint(), r.varint(), r.string(NAME));
            case DISPATCH_LOCK:
                return new DispatchLock(r.varint(), r.varint(), r.string(NAME), r.string(NAME));
            case DISPATCH_RELEASE:
                return new DispatchRelease(r.varint(), r.varint(), r.string(NAME), r.string(NAME), r.varint(),
                        r.svarint());
            case DISPATCH_SET_DISABLED:
                return new DispatchSetDisabled(r.varint(), r.varint(), r.string(NAME), r.string(NAME), r.bool());
            case EVENT_BEGIN:
                return new EventBegin(r.varint(), r.varint(), r.string(NAME));
            case EVENT_COMPLETE:
                return new EventComplete(r.varint(), r.varint(), r.string(NAME));
            case QUEUE_ENQUEUE: {
                long s = r.varint();
                long q = r.varint();
                String queue = r.string(NAME);
                String item = r.string(NAME);
                Bytes payload = Bytes.wrap(r.bytes(Limits.CODEC_MAX_PAYLOAD_BYTES));
                int n = r.itemCount(LIST);
                List<String> prereqs = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    prereqs.add(r.string(NAME));
                }
                return new QueueEnqueue(s, q, queue, item, payload, List.copyOf(prereqs));
            }
            case QUEUE_CLAIM:
                return new QueueClaim(r.varint(), r.varint(), r.string(NAME), int32(r));
            case QUEUE_DONE:
                return new QueueDone(r.varint(), r.varint(), r.string(NAME), r.string(NAME), r.varint());
            case QUEUE_RETRY:
                return new QueueRetry(r.varint(), r.varint(), r.string(NAME), r.string(NAME), r.varint());
            default:
                throw new MalformedException("unknown command tag " + tag);
        }
    }

    // ---- results (kept in snapshots as remembered request outcomes) ----------------------------

    public static void encodeResult(BinaryWriter w, Result res) {
        if (res == null) {
            throw new IllegalArgumentException("no encoding for null");
        }
        // a switch expression without default: a result kind with no encoding does not compile
        BinaryWriter unused = switch (res.kind()) {
            case POOL_REPLY -> {
                PoolReply p = (PoolReply) res;
                yield w.u8(R_POOL).u8(p.status().ordinal()).optString(p.key()).varint(p.fence());
            }
            case LOCK_REPLY -> {
                LockReply p = (LockReply) res;
                yield w.u8(R_LOCK).u8(p.status().ordinal()).string(p.name()).varint(p.fence());
            }
            case REJECTED -> {
                Rejected p = (Rejected) res;
                yield w.u8(R_REJECTED).u8(p.code().ordinal()).string(p.message());
            }
            case SESSION_OPENED -> {
                SessionOpened p = (SessionOpened) res;
                yield w.u8(R_SESSION_OPENED).varint(p.session()).varint(p.ttlMs()).bool(p.existing())
                        .varint(p.nextRequestId());
            }
            case SESSION_OPENED_THEN -> {
                SessionOpenedThen p = (SessionOpenedThen) res;
                w.u8(R_SESSION_OPENED_THEN);
                encodeResult(w, p.opened());
                encodeResult(w, p.first());
                yield w;
            }
            case SESSION_CLOSED -> w.u8(R_SESSION_CLOSED).varint(((SessionClosed) res).session());
            case SESSIONS_EXPIRED -> {
                SessionsExpired p = (SessionsExpired) res;
                w.u8(R_SESSIONS_EXPIRED).varint(p.sessions().size());
                for (long id : p.sessions()) {
                    w.varint(id);
                }
                yield w;
            }
            case WAITS_EXPIRED -> w.u8(R_WAITS_EXPIRED).varint(((WaitsExpired) res).count());
            case LIMITS_SET -> {
                w.u8(R_LIMITS_SET);
                encodeLimits(w, ((LimitsSet) res).limits());
                yield w;
            }
            case NODE_ANNOUNCED -> {
                NodeAnnounced p = (NodeAnnounced) res;
                yield w.u8(R_NODE_ANNOUNCED).optString(p.raftEndpoint()).bool(p.removed());
            }
            case DISPATCH_REPLY -> {
                DispatchReply p = (DispatchReply) res;
                w.u8(R_DISPATCH).u8(p.status().ordinal()).svarint(p.value()).bool(p.target() != null);
                if (p.target() != null) {
                    TargetView t = p.target();
                    w.string(t.group()).string(t.id()).string(t.name()).svarint(t.seen()).svarint(t.touched())
                            .bool(t.disabled()).varint(t.holder()).varint(t.fence());
                }
                yield w;
            }
            case EVENT_REPLY -> {
                EventReply p = (EventReply) res;
                yield w.u8(R_EVENT).u8(p.status().ordinal()).string(p.name());
            }
            case QUEUE_REPLY -> {
                QueueReply p = (QueueReply) res;
                w.u8(R_QUEUE).u8(p.status().ordinal()).varint(p.items().size());
                for (ClaimedItem i : p.items()) {
                    w.string(i.queue()).string(i.item()).bytes(i.payload().unsafeArray()).varint(i.fence())
                            .varint(i.attempts());
                }
                yield w;
            }
        };
    }

    public static Result decodeResult(BinaryReader r) {
        return decodeResult(r.u8(), r);
    }

    private static Result decodeResult(int tag, BinaryReader r) {
        switch (tag) {
            case R_POOL:
                return new PoolReply(enumAt(PoolStatus.values(), r.u8()), r.optString(NAME), r.varint());
            case R_LOCK:
                return new LockReply(enumAt(LockStatus.values(), r.u8()), r.string(NAME), r.varint());
            case R_REJECTED:
                return new Rejected(enumAt(ErrorCode.values(), r.u8()), r.string(LIST));
            case R_SESSION_OPENED:
                return new SessionOpened(r.varint(), r.varint(), r.bool(), r.varint());
            case R_SESSION_OPENED_THEN: {
                // tags checked before decoding, so nesting cannot recurse
                if (r.u8() != R_SESSION_OPENED) {
                    throw new MalformedException("a SessionOpenedThen starts with a SessionOpened");
                }
                SessionOpened opened = new SessionOpened(r.varint(), r.varint(), r.bool(), r.varint());
                int firstTag = r.u8();
                if (firstTag == R_SESSION_OPENED_THEN) {
                    throw new MalformedException("a SessionOpenedThen cannot hold another");
                }
                return new SessionOpenedThen(opened, decodeResult(firstTag, r));
            }
            case R_SESSION_CLOSED:
                return new SessionClosed(r.varint());
            case R_SESSIONS_EXPIRED: {
                int n = r.itemCount(LIST);
                List<Long> ids = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    ids.add(r.varint());
                }
                return new SessionsExpired(List.copyOf(ids));
            }
            case R_WAITS_EXPIRED:
                return new WaitsExpired(r.count(Integer.MAX_VALUE));
            case R_LIMITS_SET:
                return new LimitsSet(decodeLimits(r));
            case R_LIMITS_SET_V1:
                return new LimitsSet(decodeLimitsV1(r));
            case R_NODE_ANNOUNCED:
                return new NodeAnnounced(r.optString(NAME), r.bool());
            case R_DISPATCH: {
                DispatchStatus st = enumAt(DispatchStatus.values(), r.u8());
                long value = r.svarint();
                TargetView t = r.bool()
                        ? new TargetView(r.string(NAME), r.string(NAME), r.string(NAME), r.svarint(), r.svarint(),
                                r.bool(), r.varint(), r.varint())
                        : null;
                return new DispatchReply(st, t, value);
            }
            case R_EVENT:
                return new EventReply(enumAt(EventStatus.values(), r.u8()), r.string(NAME));
            case R_QUEUE: {
                QueueStatus st = enumAt(QueueStatus.values(), r.u8());
                int n = r.itemCount(LIST);
                List<ClaimedItem> items = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    items.add(new ClaimedItem(r.string(NAME), r.string(NAME),
                            Bytes.wrap(r.bytes(Limits.CODEC_MAX_PAYLOAD_BYTES)), r.varint(), r.count(Integer.MAX_VALUE)));
                }
                return new QueueReply(st, List.copyOf(items));
            }
            default:
                throw new MalformedException("unknown result tag " + tag);
        }
    }

    private static int int32(BinaryReader r) {
        long v = r.svarint();
        if (v != (int) v) {
            throw new MalformedException("value " + v + " does not fit in 32 bits");
        }
        return (int) v;
    }

    private static <E> E enumAt(E[] values, int i) {
        if (i >= values.length) {
            throw new MalformedException("enum ordinal " + i + " out of range");
        }
        return values[i];
    }

    /**
     * The limits, every field in record order. Since the state budget the last field is
     * {@code maxStateBytes}; an encoding without it (tag {@code SET_LIMITS_V1}, snapshots before
     * version 4) is read by {@link #decodeLimitsV1}.
     */
    public static void encodeLimits(BinaryWriter w, Limits l) {
        encodeLimitsV1(w, l);
        w.varint(l.maxStateBytes());
    }

    /** The limits without the state budget: the encoding before it existed (snapshots before version 4). */
    public static void encodeLimitsV1(BinaryWriter w, Limits l) {
        w.varint(l.maxSessions()).varint(l.minSessionTtlMs()).varint(l.maxSessionTtlMs()).varint(l.maxNameBytes())
                .varint(l.maxPoolKeys()).varint(l.maxWaitersPerKey()).varint(l.maxSlotsPerSession())
                .varint(l.maxLocks()).varint(l.maxWaitMs()).varint(l.maxDispatchGroups())
                .varint(l.maxTargetsPerGroup()).varint(l.maxEvents()).varint(l.maxQueues())
                .varint(l.maxItemsPerQueue()).varint(l.maxPayloadBytes()).varint(l.maxPrerequisites())
                .varint(l.maxClaimBatch()).varint(l.maxRememberedRequests());
    }

    public static Limits decodeLimits(BinaryReader r) {
        Limits v1 = decodeLimitsV1(r);
        long budget = r.varint();
        try {
            return v1.toBuilder().maxStateBytes(budget).build();
        } catch (IllegalArgumentException e) {
            throw new MalformedException("invalid limits: " + e.getMessage());
        }
    }

    /** Limits encoded before the state budget existed; the budget gets its default. */
    public static Limits decodeLimitsV1(BinaryReader r) {
        try {
            return new Limits(r.count(Integer.MAX_VALUE), r.varint(), r.varint(), r.count(Integer.MAX_VALUE),
                    r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE),
                    r.count(Integer.MAX_VALUE), r.varint(), r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE),
                    r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE),
                    r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE), r.count(Integer.MAX_VALUE),
                    r.count(Integer.MAX_VALUE));
        } catch (IllegalArgumentException e) {
            throw new MalformedException("invalid limits: " + e.getMessage());
        }
    }

    public static void encodeSettings(BinaryWriter w, DispatchSettings s) {
        w.varint(s.intervalMs()).varint(s.batchSize()).varint(s.randomness());
    }

    public static DispatchSettings decodeSettings(BinaryReader r) {
        try {
            return new DispatchSettings(r.varint(), r.varint(), r.count(Integer.MAX_VALUE));
        } catch (IllegalArgumentException e) {
            throw new MalformedException("invalid dispatch settings: " + e.getMessage());
        }
    }
}
