package dev.baton.core.session;

import dev.baton.core.command.Result;

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
 */
public final class RecentResults {
    static final int CHUNK = 16;

    public static final RecentResults EMPTY = new RecentResults(new Chunk[0], 0, 0, Long.MIN_VALUE);

    /** Ids ascending, results alongside. Never modified once published. */
    public record Chunk(long[] ids, Result[] results) {}

    private final Chunk[] chunks; // newest first
    private final int size;
    private final long floor;
    private final long maxId; // >= every id present: a new request (the usual case) is answered in O(1)

    private RecentResults(Chunk[] chunks, int size, long floor, long maxId) {
        this.chunks = chunks;
        this.size = size;
        this.floor = floor;
        this.maxId = maxId;
    }

    /** Rebuilds a window from its chunks, newest first (snapshot recovery). */
    public static RecentResults of(Chunk[] chunks, long floor) {
        int n = 0;
        long max = Long.MIN_VALUE;
        for (Chunk c : chunks) {
            n += c.ids().length;
            if (c.ids().length > 0) {
                max = Math.max(max, c.ids()[c.ids().length - 1]);
            }
        }
        return new RecentResults(chunks.clone(), n, floor, max);
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
        RecentResults replaced = replace(requestId, result);
        if (replaced != this) {
            return replaced;
        }
        Chunk[] cs;
        if (chunks.length == 0 || chunks[0].ids().length == CHUNK) {
            cs = new Chunk[chunks.length + 1];
            System.arraycopy(chunks, 0, cs, 1, chunks.length);
            cs[0] = new Chunk(new long[] {requestId}, new Result[] {result});
        } else {
            cs = chunks.clone();
            cs[0] = insert(chunks[0], requestId, result);
        }
        int n = size + 1;
        long newFloor = floor;
        while (n > capacity) {
            int last = cs.length - 1;
            Chunk old = cs[last];
            newFloor = Math.max(newFloor, old.ids()[0]);
            if (old.ids().length == 1) {
                cs = Arrays.copyOf(cs, last);
            } else {
                cs[last] = new Chunk(Arrays.copyOfRange(old.ids(), 1, old.ids().length),
                        Arrays.copyOfRange(old.results(), 1, old.results().length));
            }
            n--;
        }
        return new RecentResults(cs, n, newFloor, Math.max(maxId, requestId));
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
                rs[i] = result;
                Chunk[] cs = chunks.clone();
                cs[k] = new Chunk(chunks[k].ids(), rs);
                return new RecentResults(cs, size, floor, maxId);
            }
        }
        return this;
    }

    private static Chunk insert(Chunk c, long id, Result r) {
        int at = -Arrays.binarySearch(c.ids(), id) - 1;
        int n = c.ids().length;
        long[] ids = new long[n + 1];
        Result[] rs = new Result[n + 1];
        System.arraycopy(c.ids(), 0, ids, 0, at);
        System.arraycopy(c.results(), 0, rs, 0, at);
        ids[at] = id;
        rs[at] = r;
        System.arraycopy(c.ids(), at, ids, at + 1, n - at);
        System.arraycopy(c.results(), at, rs, at + 1, n - at);
        return new Chunk(ids, rs);
    }
}
