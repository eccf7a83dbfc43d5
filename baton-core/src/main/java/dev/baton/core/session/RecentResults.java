package dev.baton.core.session;

import dev.baton.core.command.Result;

import java.util.Arrays;

/**
 * The idempotency window of one session: results of its most recent requests, by request id.
 * Immutable and small (bounded by {@code Limits.maxRememberedRequests}). Request ids of one session
 * are expected to increase; when the window is full the smallest id is forgotten and becomes the
 * {@link #floor()}: a request at or below the floor that is not remembered is refused rather than
 * executed a second time.
 */
public final class RecentResults {
    public static final RecentResults EMPTY = new RecentResults(new long[0], new Result[0], 0);

    private final long[] ids;      // ascending
    private final Result[] results;
    private final long floor;

    public RecentResults(long[] ids, Result[] results, long floor) {
        this.ids = ids;
        this.results = results;
        this.floor = floor;
    }

    public Result find(long requestId) {
        int i = Arrays.binarySearch(ids, requestId);
        return i >= 0 ? results[i] : null;
    }

    public long floor() {
        return floor;
    }

    public int size() {
        return ids.length;
    }

    public long idAt(int i) {
        return ids[i];
    }

    public Result resultAt(int i) {
        return results[i];
    }

    /** Remembers a result, forgetting the smallest ids beyond {@code capacity}. */
    public RecentResults with(long requestId, Result result, int capacity) {
        int i = Arrays.binarySearch(ids, requestId);
        if (i >= 0) {
            return replaceAt(i, result);
        }
        int at = -i - 1;
        int n = ids.length + 1;
        int drop = Math.max(0, n - capacity);
        long newFloor = floor;
        long[] nIds = new long[n - drop];
        Result[] nRes = new Result[n - drop];
        int w = 0;
        for (int r = 0; r < n; r++) {
            long id;
            Result res;
            if (r < at) {
                id = ids[r];
                res = results[r];
            } else if (r == at) {
                id = requestId;
                res = result;
            } else {
                id = ids[r - 1];
                res = results[r - 1];
            }
            if (r < drop) {
                newFloor = Math.max(newFloor, id);
            } else {
                nIds[w] = id;
                nRes[w] = res;
                w++;
            }
        }
        return new RecentResults(nIds, nRes, newFloor);
    }

    /** Replaces the remembered result of a request (a wait's final outcome); absent ids are left alone. */
    public RecentResults replace(long requestId, Result result) {
        int i = Arrays.binarySearch(ids, requestId);
        return i >= 0 ? replaceAt(i, result) : this;
    }

    private RecentResults replaceAt(int i, Result result) {
        Result[] nRes = results.clone();
        nRes[i] = result;
        return new RecentResults(ids, nRes, floor);
    }
}
