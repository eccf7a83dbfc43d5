package dev.baton.core.session;

import dev.baton.core.command.Result;
import dev.baton.core.machine.Footprint;

import java.util.Arrays;

/**
 * The idempotency window of one session: results of its most recent requests, by request id.
 * Immutable and bounded by {@code Limits.maxRememberedRequests}. Request ids of one session are
 * expected to increase; when the window is full the smallest id of the oldest part is forgotten
 * and raises the {@link #floor()}: a request at or below the floor that is not remembered is
 * refused rather than executed a second time.
 *
 * <p>Remembering a result happens on every client command, so it must not copy the whole window:
 * entries live in chunks of at most {@value #CHUNK}, newest chunk first, each sorted by id. Adding
 * copies the newest chunk and the small array of chunk references; the older chunks are shared.
 * The chunk layout is part of the state (snapshots keep it), because it decides which id is
 * forgotten next.
 *
 * <p>Each answer is kept with a fingerprint of the command it answered (0: unknown, for answers
 * restored from a snapshot older than fingerprints), so that a request id reused for a different
 * command is refused instead of answered with another command's result. The window also keeps
 * the running total of its answers' {@link Footprint#answer cost} for the state budget.
 */
public final class RecentResults {
    static final int CHUNK = 16;

    public static final RecentResults EMPTY = new RecentResults(new Chunk[0], 0, 0, Long.MIN_VALUE, 0);

    /** Ids ascending, fingerprints and results alongside. Never modified once published. */
    public record Chunk(long[] ids, long[] fingerprints, Result[] results) {
        /** A chunk whose commands are unknown (fingerprints 0). */
        public Chunk(long[] ids, Result[] results) {
            this(ids, new long[ids.length], results);
        }
    }

    private final Chunk[] chunks; // newest first
    private final int size;
    private final long floor;
    private final long maxId; // >= every id present: a new request (the usual case) is answered in O(1)
    private final long bytes;

    private RecentResults(Chunk[] chunks, int size, long floor, long maxId, long bytes) {
        this.chunks = chunks;
        this.size = size;
        this.floor = floor;
        this.maxId = maxId;
        this.bytes = bytes;
    }

    /** Rebuilds a window from its chunks, newest first (snapshot recovery). */
    public static RecentResults of(Chunk[] chunks, long floor) {
        int n = 0;
        long max = Long.MIN_VALUE;
        long b = 0;
        for (Chunk c : chunks) {
            n += c.ids().length;
            if (c.ids().length > 0) {
                max = Math.max(max, c.ids()[c.ids().length - 1]);
            }
            for (Result r : c.results()) {
                b += Footprint.answer(r);
            }
        }
        return new RecentResults(chunks.clone(), n, floor, max, b);
    }

    public Result find(long requestId) {
        if (requestId > maxId) {
            return null;
        }
        for (Chunk c : chunks) {
            int i = Arrays.binarySearch(c.ids(), requestId);
            if (i >= 0) {
                return c.results()[i];
            }
        }
        return null;
    }

    /** The fingerprint of the command remembered under this id; 0 if unknown or not remembered. */
    public long fingerprint(long requestId) {
        if (requestId > maxId) {
            return 0;
        }
        for (Chunk c : chunks) {
            int i = Arrays.binarySearch(c.ids(), requestId);
            if (i >= 0) {
                return c.fingerprints()[i];
            }
        }
        return 0;
    }

    /** The summed {@link Footprint#answer cost} of the remembered answers. */
    public long bytes() {
        return bytes;
    }

    public long floor() {
        return floor;
    }

    /**
     * The highest request id ever remembered, 0 if none. The same whether the window was built by
     * applying requests or restored from a snapshot: an id is forgotten only by raising the floor
     * to at least itself.
     */
    public long highestId() {
        return Math.max(Math.max(floor, maxId), 0);
    }

    public int size() {
        return size;
    }

    public int chunkCount() {
        return chunks.length;
    }

    /** Chunk {@code k}, newest first; must not be modified. */
    public Chunk chunk(int k) {
        return chunks[k];
    }

    /** Remembers a result, forgetting the oldest entries beyond {@code capacity}. */
    public RecentResults with(long requestId, Result result, int capacity) {
        return with(requestId, 0, result, capacity);
    }

    /** Remembers a result with the fingerprint of its command, forgetting the oldest entries beyond {@code capacity}. */
    public RecentResults with(long requestId, long fingerprint, Result result, int capacity) {
        RecentResults replaced = replace(requestId, result);
        if (replaced != this) {
            return replaced;
        }
        Chunk[] cs;
        if (chunks.length == 0 || chunks[0].ids().length == CHUNK) {
            cs = new Chunk[chunks.length + 1];
            System.arraycopy(chunks, 0, cs, 1, chunks.length);
            cs[0] = new Chunk(new long[] {requestId}, new long[] {fingerprint}, new Result[] {result});
        } else {
            cs = chunks.clone();
            cs[0] = insert(chunks[0], requestId, fingerprint, result);
        }
        int n = size + 1;
        long newFloor = floor;
        long b = bytes + Footprint.answer(result);
        while (n > capacity) {
            int last = cs.length - 1;
            Chunk old = cs[last];
            newFloor = Math.max(newFloor, old.ids()[0]);
            b -= Footprint.answer(old.results()[0]);
            if (old.ids().length == 1) {
                cs = Arrays.copyOf(cs, last);
            } else {
                cs[last] = new Chunk(Arrays.copyOfRange(old.ids(), 1, old.ids().length),
                        Arrays.copyOfRange(old.fingerprints(), 1, old.fingerprints().length),
                        Arrays.copyOfRange(old.results(), 1, old.results().length));
            }
            n--;
        }
        return new RecentResults(cs, n, newFloor, Math.max(maxId, requestId), b);
    }

    /** Replaces the remembered result of a request (a wait's final outcome); absent ids are left alone. */
    public RecentResults replace(long requestId, Result result) {
        if (requestId > maxId) {
            return this;
        }
        for (int k = 0; k < chunks.length; k++) {
            int i = Arrays.binarySearch(chunks[k].ids(), requestId);
            if (i >= 0) {
                Result[] rs = chunks[k].results().clone();
                long b = bytes - Footprint.answer(rs[i]) + Footprint.answer(result);
                rs[i] = result;
                Chunk[] cs = chunks.clone();
                cs[k] = new Chunk(chunks[k].ids(), chunks[k].fingerprints(), rs);
                return new RecentResults(cs, size, floor, maxId, b);
            }
        }
        return this;
    }

    private static Chunk insert(Chunk c, long id, long fingerprint, Result r) {
        int at = -Arrays.binarySearch(c.ids(), id) - 1;
        int n = c.ids().length;
        long[] ids = new long[n + 1];
        long[] fps = new long[n + 1];
        Result[] rs = new Result[n + 1];
        System.arraycopy(c.ids(), 0, ids, 0, at);
        System.arraycopy(c.fingerprints(), 0, fps, 0, at);
        System.arraycopy(c.results(), 0, rs, 0, at);
        ids[at] = id;
        fps[at] = fingerprint;
        rs[at] = r;
        System.arraycopy(c.ids(), at, ids, at + 1, n - at);
        System.arraycopy(c.fingerprints(), at, fps, at + 1, n - at);
        System.arraycopy(c.results(), at, rs, at + 1, n - at);
        return new Chunk(ids, fps, rs);
    }
}
