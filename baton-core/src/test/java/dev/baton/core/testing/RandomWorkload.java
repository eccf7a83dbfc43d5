package dev.baton.core.testing;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Command.*;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.sm.Entry;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A seeded, open-loop stream of entries exercising every command with heavy contention: a few
 * sessions, a handful of names, stale ids, retried request ids, clock jumps that make waits time
 * out. It does not read results (session ids are predicted: the state machine numbers sessions
 * 1, 2, 3, ... in opening order), so the same seed always gives the same entries, which is what
 * determinism tests need. Many commands will be rejected; that is part of the workload.
 */
public final class RandomWorkload {
    public static final int MAX_WORKERS = 3;

    private final Random rnd;
    private long index;
    private long now;
    private long opened;
    private long nextRequestId = 1;
    private OpenSession retryOpen;

    public RandomWorkload(long seed) {
        this(seed, 0, 1_000_000);
    }

    /** Continues after {@code lastIndex} (e.g. after a snapshot) with the clock at {@code now}. */
    public RandomWorkload(long seed, long lastIndex, long now) {
        this.rnd = new Random(seed);
        this.index = lastIndex;
        this.now = now;
    }

    /** Assume this many sessions were opened before (when continuing an existing state). */
    public RandomWorkload assumeOpened(long n) {
        opened = n;
        return this;
    }

    public List<Entry> entries(int n, int maxCommandsPerEntry) {
        List<Entry> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(next(1 + rnd.nextInt(maxCommandsPerEntry)));
        }
        return out;
    }

    public Entry next(int commands) {
        now += rnd.nextInt(10) == 0 ? rnd.nextInt(3_000) : rnd.nextInt(50);
        List<Command> cs = new ArrayList<>(commands);
        for (int i = 0; i < commands; i++) {
            cs.add(command());
        }
        return Entry.of(++index, now, cs);
    }

    private long session() {
        // mostly a recent session, sometimes an old (likely closed) one, rarely one never opened
        if (opened == 0 || rnd.nextInt(50) == 0) {
            return opened + 1 + rnd.nextInt(3);
        }
        long recentFloor = Math.max(1, opened - 6);
        return rnd.nextInt(8) == 0 ? 1 + rnd.nextInt((int) opened) : recentFloor + rnd.nextInt((int) (opened - recentFloor + 1));
    }

    private long requestId() {
        int r = rnd.nextInt(20);
        if (r == 0) {
            return 0; // not idempotent
        }
        if (r == 1 && nextRequestId > 5) {
            return nextRequestId - 1 - rnd.nextInt(5); // a retry of a recent request
        }
        return nextRequestId++;
    }

    private String pick(String prefix, int n) {
        return prefix + rnd.nextInt(n);
    }

    /** Targets site0..3 and site4-0..3 (what DispatchInit creates), plus one never created. */
    private String site() {
        int i = rnd.nextInt(9);
        return i == 8 ? "site-missing" : i < 4 ? "site" + i : "site4-" + (i - 4);
    }

    private long fence() {
        return rnd.nextInt(3) == 0 ? 0 : (index << 16) - rnd.nextInt(1 << 20);
    }

    private Command command() {
        int r = rnd.nextInt(100);
        if (retryOpen != null) {
            // a client retrying its open with the same token gets the same session: no new id
            OpenSession again = retryOpen;
            retryOpen = null;
            return again;
        }
        if (r < 6 || opened < 2) {
            opened++;
            OpenSession open = new OpenSession(rnd.nextInt(4) == 0 ? "token" + opened : null, 1_000 + rnd.nextInt(30_000));
            if (open.clientToken() != null && rnd.nextBoolean()) {
                retryOpen = open;
            }
            return open;
        }
        if (r < 8) {
            return new CloseSession(session(), requestId());
        }
        if (r < 10) {
            // leases run out: the leader expires sessions that fell out of the active window
            List<Long> ids = new ArrayList<>();
            for (long id = Math.max(1, opened - 40); id <= opened - 8; id++) {
                ids.add(id);
            }
            ids.add(session());
            return new ExpireSessions(ids);
        }
        if (r < 33) {
            String key = pick("key", 6);
            int workers = 1 + Math.abs(key.hashCode()) % MAX_WORKERS;
            long timeout = rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(4_000);
            return new PoolAcquire(session(), requestId(), key, workers, workers + 2, timeout, rnd.nextBoolean());
        }
        if (r < 50) {
            return new PoolRelease(session(), requestId(), rnd.nextBoolean() ? null : pick("key", 6),
                    rnd.nextInt(4) == 0 ? fence() : 0);
        }
        if (r < 56) {
            return new LockAcquire(session(), requestId(), pick("lock", 3), rnd.nextBoolean() ? 0 : rnd.nextInt(3_000));
        }
        if (r < 61) {
            return new LockRelease(session(), requestId(), pick("lock", 3), fence());
        }
        if (r < 63) {
            return new DispatchInit(rnd.nextBoolean() ? 0 : session(), requestId(), pick("group", 2),
                    Map.of(pick("site", 4), "db", pick("site", 4).replace("site", "site4-"), "db2"),
                    rnd.nextBoolean() ? null : new DispatchSettings(rnd.nextInt(2_000), rnd.nextInt(10), 1 + rnd.nextInt(4)));
        }
        if (r < 66) {
            return new DispatchAdvance(0, 0, pick("group", 2), rnd.nextInt((int) Math.min(Integer.MAX_VALUE, index + 2)));
        }
        if (r < 70) {
            return new DispatchSelect(session(), requestId(), pick("group", 2));
        }
        if (r < 72) {
            return new DispatchLock(session(), requestId(), pick("group", 2), site());
        }
        if (r < 76) {
            return new DispatchRelease(session(), requestId(), pick("group", 2), site(), fence(),
                    rnd.nextInt((int) Math.min(Integer.MAX_VALUE, index + 2)));
        }
        if (r < 77) {
            return new DispatchSetDisabled(0, 0, pick("group", 2), site(), rnd.nextInt(4) == 0);
        }
        if (r < 81) {
            return new EventBegin(session(), requestId(), pick("event", 4));
        }
        if (r < 84) {
            return new EventComplete(rnd.nextBoolean() ? 0 : session(), requestId(), pick("event", 4));
        }
        if (r < 89) {
            List<String> prereqs = new ArrayList<>();
            for (int i = rnd.nextInt(3); i > 0; i--) {
                prereqs.add(pick("event", 4));
            }
            return new QueueEnqueue(0, 0, pick("queue", 2), pick("item", 10), Bytes.utf8("p" + rnd.nextInt(100)), prereqs);
        }
        if (r < 93) {
            return new QueueClaim(session(), requestId(), pick("queue", 2), 1 + rnd.nextInt(3));
        }
        if (r < 95) {
            return new QueueDone(session(), requestId(), pick("queue", 2), pick("item", 10), rnd.nextBoolean() ? 0 : fence());
        }
        if (r < 97) {
            return new QueueRetry(session(), requestId(), pick("queue", 2), pick("item", 10), 0);
        }
        if (r < 98) {
            // a few nodes (re)announcing themselves, moving their API port, or leaving (empty API)
            int node = rnd.nextInt(4);
            int a = rnd.nextInt(4);
            return new AnnounceNode("10.0.0." + node + ":7000", "node" + node,
                    a == 0 ? "" : "10.0.0." + node + ":900" + (a & 1));
        }
        return new ExpireWaits();
    }
}
