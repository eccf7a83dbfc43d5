package dev.baton.core.machine;

import dev.baton.core.command.ClaimedItem;
import dev.baton.core.command.Result;
import dev.baton.core.command.TargetView;
import dev.baton.core.dispatch.GroupState;
import dev.baton.core.dispatch.TargetState;
import dev.baton.core.event.EventState;
import dev.baton.core.lock.LockState;
import dev.baton.core.pool.PoolState;
import dev.baton.core.queue.ItemState;
import dev.baton.core.queue.QueueState;
import dev.baton.core.session.RecentResults;
import dev.baton.core.session.SessionState;

/**
 * What the replicated state costs, in the units of {@code Limits.maxStateBytes}: for each stored
 * object a fixed overhead (the JVM objects, map nodes and indexes that keep it, measured on a
 * 64-bit JDK 17 with compressed references by {@code FootprintCalibrationTest}, see docs/core.md) plus the characters of its names and the
 * bytes of its payload. Only what clients can make every replica store is counted; the address book
 * (leader-issued, one entry per member) is not.
 *
 * <p>The figures are a deterministic estimate, not a measurement: every replica computes the same
 * number from the same entries, which is what lets the budget be enforced in the log. The state
 * machine keeps the total as it changes ({@link Tx#stateBytes}); {@link #of(State)} recomputes it
 * from scratch (snapshot recovery, tests).
 */
public final class Footprint {
    private Footprint() {}

    /** A session: its record, its id in the session map, its empty trees and window. */
    public static final long SESSION = 160;
    /** A client token: the string and its entry in the token index. */
    public static final long TOKEN = 100;
    /** A pool key with no holder or waiter: PoolState, its map entry, the key string. */
    public static final long POOL_KEY = 150;
    /** One holder or waiter of a pool key or lock: the Holder/Waiter, its tree node, the session's slot or tree entry, the deadline index. */
    public static final long SLOT = 150;
    /** A held lock: LockState, its map entry, the name, the holder's entry in its session. */
    public static final long LOCK = 200;
    /** A pending event: EventState, its map entry, the name, the owner's entry. */
    public static final long EVENT = 170;
    /** A dispatch group: GroupState, its map entry, settings. */
    public static final long GROUP = 240;
    /** A dispatch target: TargetState, its tree node, its lag-index entry, two strings. */
    public static final long TARGET = 240;
    /** A queue with no items. */
    public static final long QUEUE = 200;
    /** A queue item: ItemState, its payload object, its map entry and ready-index node, the id string. */
    public static final long ITEM = 250;
    /** A prerequisite of a queue item: the name in the item and its entry in the event → items index. */
    public static final long PREREQUISITE = 220;
    /** A remembered answer: the result record, its slot in the window. */
    public static final long ANSWER = 96;
    /** One claimed item inside a remembered claim answer. */
    public static final long CLAIMED_ITEM = 80;

    public static long chars(String s) {
        return s == null ? 0 : s.length();
    }

    public static long session(SessionState s) {
        return session(s.token()) + s.recent().bytes();
    }

    /** A new session's cost (before it remembers anything). */
    public static long session(String token) {
        return SESSION + (token == null ? 0 : TOKEN + chars(token));
    }

    public static long pool(PoolState p) {
        return p == null ? 0 : POOL_KEY + chars(p.key()) + SLOT * (long) p.count();
    }

    public static long lock(LockState l) {
        return l == null ? 0 : lock(l.name()) + SLOT * (long) l.waiters().size();
    }

    public static long lock(String name) {
        return LOCK + chars(name);
    }

    public static long event(String name) {
        return EVENT + chars(name);
    }

    public static long group(String name) {
        return GROUP + chars(name);
    }

    public static long target(String id, String name) {
        return TARGET + chars(id) + chars(name);
    }

    public static long queue(String name) {
        return QUEUE + chars(name);
    }

    public static long item(String id, int payloadBytes, String[] prerequisites) {
        long n = ITEM + chars(id) + payloadBytes;
        for (String p : prerequisites) {
            n += PREREQUISITE + chars(p);
        }
        return n;
    }

    public static long item(ItemState it) {
        return item(it.id(), it.payload().size(), it.prerequisites());
    }

    /** A remembered answer, by what it holds (names, claimed payloads). */
    public static long answer(Result r) {
        // a switch expression without default: a new result kind must say what it costs
        return ANSWER + switch (r.kind()) {
            case REJECTED -> chars(((Result.Rejected) r).message());
            case POOL_REPLY -> chars(((Result.PoolReply) r).key());
            case LOCK_REPLY -> chars(((Result.LockReply) r).name());
            case EVENT_REPLY -> chars(((Result.EventReply) r).name());
            case DISPATCH_REPLY -> {
                TargetView t = ((Result.DispatchReply) r).target();
                yield t == null ? 0 : CLAIMED_ITEM + chars(t.group()) + chars(t.id()) + chars(t.name());
            }
            case QUEUE_REPLY -> {
                long n = 0;
                for (ClaimedItem i : ((Result.QueueReply) r).items()) {
                    n += CLAIMED_ITEM + chars(i.queue()) + chars(i.item()) + i.payload().size();
                }
                yield n;
            }
            case SESSIONS_EXPIRED -> 16L * ((Result.SessionsExpired) r).sessions().size();
            // answers whose size does not depend on names or payloads
            case SESSION_OPENED, SESSION_OPENED_THEN, SESSION_CLOSED, WAITS_EXPIRED, LIMITS_SET, NODE_ANNOUNCED -> 0;
        };
    }

    /** The whole state's cost, recomputed from scratch: O(state). */
    public static long of(State s) {
        long n = 0;
        for (SessionState x : s.sessions().values()) {
            n += session(x.token());
            n += windowBytes(x.recent());
        }
        for (PoolState p : s.pools().values()) {
            n += pool(p);
        }
        for (LockState l : s.locks().values()) {
            n += lock(l);
        }
        for (EventState e : s.events().values()) {
            n += event(e.name());
        }
        for (GroupState g : s.groups().values()) {
            n += group(g.name());
            for (TargetState t : g.targets().values()) {
                n += target(t.id(), t.name());
            }
        }
        for (QueueState q : s.queues().values()) {
            n += queue(q.name());
            for (ItemState it : q.items().values()) {
                n += item(it);
            }
        }
        return n;
    }

    /** A window's answers, summed one by one (the window keeps its own running total). */
    static long windowBytes(RecentResults r) {
        long n = 0;
        for (int k = 0; k < r.chunkCount(); k++) {
            for (Result x : r.chunk(k).results()) {
                n += answer(x);
            }
        }
        return n;
    }
}
