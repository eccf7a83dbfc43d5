package dev.baton.client.dispatch;

import dev.baton.client.BatonUnavailableException;
import dev.baton.client.StaleFenceException;
import io.grpc.Status;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An in-memory coordinator with the core's rules that matter to the driver: only targets with
 * pending changes and no lock are selected (most lagged first, no rest interval), releases quote the
 * fence, a cursor never moves backwards. Records what the driver did.
 */
class FakeCoordinator implements Coordinator {
    /** One target's row. */
    static final class Row {
        final String site;
        long seen;
        long fence;

        Row(String site) {
            this.site = site;
        }
    }

    final Map<String, Row> rows = new TreeMap<>();
    long head;
    long nextFence = 1;
    final List<Long> advances = new ArrayList<>();
    final List<DispatchState> releases = new ArrayList<>();
    int initCalls;
    int releaseHeldCalls;
    /** Makes the next select fail with an unknown outcome after locking a target. */
    boolean failNextSelectAfterLocking;

    @Override
    public synchronized int initState(Map<String, String> clientWikiDbs) {
        initCalls++;
        int added = 0;
        for (String site : clientWikiDbs.keySet()) {
            if (rows.putIfAbsent(site, new Row(site)) == null) {
                added++;
            }
        }
        return added;
    }

    @Override
    public synchronized long advanceHead(long h) {
        advances.add(h);
        head = Math.max(head, h);
        return head;
    }

    @Override
    public synchronized DispatchState selectClient() {
        Row pick = rows.values().stream()
                .filter(r -> r.fence == 0 && r.seen < head)
                .min(Comparator.comparingLong(r -> r.seen))
                .orElse(null);
        if (pick == null) {
            return null;
        }
        pick.fence = nextFence++;
        if (failNextSelectAfterLocking) {
            failNextSelectAfterLocking = false;
            throw new BatonUnavailableException(Status.Code.UNAVAILABLE, null, 3, "lost in the network", null);
        }
        return new DispatchState(pick.site, pick.site + "db", pick.seen, Instant.EPOCH, pick.fence);
    }

    @Override
    public synchronized DispatchState releaseClient(DispatchState state) {
        Row r = rows.get(state.site());
        if (r == null || r.fence == 0 || r.fence != state.fence()) {
            throw new StaleFenceException("STALE_FENCE", "stale " + state, null);
        }
        releases.add(state);
        r.seen = Math.max(r.seen, state.seen());
        r.fence = 0;
        return new DispatchState(r.site, r.site + "db", r.seen, Instant.EPOCH, 0);
    }

    @Override
    public synchronized int releaseHeld() {
        releaseHeldCalls++;
        int n = 0;
        for (Row r : rows.values()) {
            if (r.fence != 0) {
                r.fence = 0;
                n++;
            }
        }
        return n;
    }

    synchronized long seen(String site) {
        return rows.get(site).seen;
    }

    synchronized boolean anyLocked() {
        return rows.values().stream().anyMatch(r -> r.fence != 0);
    }
}
