package dev.baton.client;

import dev.baton.client.internal.EventCodec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Turns the server's messages into Baton's own types. */
final class Wire {
    private Wire() {}

    static PoolStatus status(dev.baton.api.v1.PoolStatus s) {
        return EventCodec.fromWire(PoolStatus.class, s, "POOL_", PoolStatus.UNKNOWN);
    }

    static LockStatus status(dev.baton.api.v1.LockStatus s) {
        return EventCodec.fromWire(LockStatus.class, s, "LOCK_", LockStatus.UNKNOWN);
    }

    static DispatchStatus status(dev.baton.api.v1.DispatchStatus s) {
        return EventCodec.fromWire(DispatchStatus.class, s, "DISPATCH_", DispatchStatus.UNKNOWN);
    }

    static EventStatus status(dev.baton.api.v1.EventStatus s) {
        return EventCodec.fromWire(EventStatus.class, s, "EVENT_", EventStatus.UNKNOWN);
    }

    static QueueStatus status(dev.baton.api.v1.QueueStatus s) {
        return EventCodec.fromWire(QueueStatus.class, s, "QUEUE_", QueueStatus.UNKNOWN);
    }

    static PoolReply pool(dev.baton.api.v1.PoolReply r, long session) {
        return new PoolReply(status(r.getStatus()), r.getKey(), r.getFence(), session);
    }

    static PoolInfo pool(dev.baton.api.v1.PoolInfo p) {
        List<PoolHolder> holders = new ArrayList<>();
        for (var h : p.getHoldersList()) {
            holders.add(new PoolHolder(h.getSession(), h.getFence(), h.getSince()));
        }
        List<PoolWaiter> waiters = new ArrayList<>();
        for (var w : p.getWaitersList()) {
            waiters.add(new PoolWaiter(w.getSession(), w.getRequestId(), w.getSince(), w.getDeadline(),
                    w.getForAnyone()));
        }
        return new PoolInfo(p.getKey(), p.getExists(), p.getProcessing(), p.getWaiting(), List.copyOf(holders),
                List.copyOf(waiters));
    }

    static PoolTotals totals(dev.baton.api.v1.PoolTotals t) {
        return new PoolTotals(t.getKeys(), t.getProcessing(), t.getWaiting(), t.getAcquired(), t.getReleased(),
                t.getDone(), t.getTimeouts(), t.getQueueFull(), t.getLockHeld(), t.getWaitForResponse(),
                t.getReleaseMismatch(), t.getHoldMs(), t.getWaitMeMs(), t.getWaitAnyMs(), t.getTimeoutWaitMs(),
                t.getDoneWaitMs(), t.getGainedMs());
    }

    static LockReply lock(dev.baton.api.v1.LockReply r, long session) {
        return new LockReply(status(r.getStatus()), r.getName(), r.getFence(), session);
    }

    static LockInfo lock(dev.baton.api.v1.LockInfo l) {
        List<LockWaiter> waiters = new ArrayList<>();
        for (var w : l.getWaitersList()) {
            waiters.add(new LockWaiter(w.getSession(), w.getRequestId(), w.getSince(), w.getDeadline()));
        }
        return new LockInfo(l.getName(), l.getExists(), l.getHolder(), l.getFence(), l.getSince(),
                List.copyOf(waiters));
    }

    static DispatchTarget target(dev.baton.api.v1.Target t) {
        return new DispatchTarget(t.getGroup(), t.getId(), t.getName(), t.getSeen(), t.getTouched(), t.getDisabled(),
                t.getHolder(), t.getFence());
    }

    static DispatchReply dispatch(dev.baton.api.v1.DispatchReply r) {
        return new DispatchReply(status(r.getStatus()), r.hasTarget() ? target(r.getTarget()) : null, r.getValue());
    }

    static DispatchSettings settings(dev.baton.api.v1.DispatchSettings s) {
        return new DispatchSettings(s.getIntervalMs(), s.getBatchSize(), s.getRandomness());
    }

    static dev.baton.api.v1.DispatchSettings settings(DispatchSettings s) {
        return dev.baton.api.v1.DispatchSettings.newBuilder()
                .setIntervalMs(s.intervalMs())
                .setBatchSize(s.batchSize())
                .setRandomness(s.randomness())
                .build();
    }

    static DispatchGroup group(dev.baton.api.v1.GroupInfo g) {
        List<DispatchTarget> targets = new ArrayList<>();
        for (var t : g.getTargetsList()) {
            targets.add(target(t));
        }
        return new DispatchGroup(g.getName(), g.getExists(), g.getHead(),
                g.hasSettings() ? settings(g.getSettings()) : null, List.copyOf(targets));
    }

    static EventReply event(dev.baton.api.v1.EventReply r) {
        return new EventReply(status(r.getStatus()), r.getName());
    }

    static EventInfo event(dev.baton.api.v1.EventInfo e) {
        return new EventInfo(e.getName(), e.getPending(), e.getOwner(), e.getSince());
    }

    static List<EventInfo> events(dev.baton.api.v1.ListEventsResponse r) {
        List<EventInfo> out = new ArrayList<>();
        for (var e : r.getEventsList()) {
            out.add(event(e));
        }
        return List.copyOf(out);
    }

    static QueueReply queue(dev.baton.api.v1.QueueReply r) {
        List<dev.baton.client.events.ClaimedItem> items = new ArrayList<>();
        for (var c : r.getItemsList()) {
            items.add(new dev.baton.client.events.ClaimedItem(c.getQueue(), c.getItem(), c.getPayload().toByteArray(),
                    c.getFence(), c.getAttempts()));
        }
        return new QueueReply(status(r.getStatus()), List.copyOf(items));
    }

    static QueueInfo queue(dev.baton.api.v1.QueueInfo q) {
        List<QueueItem> items = new ArrayList<>();
        for (var i : q.getItemsList()) {
            items.add(new QueueItem(i.getId(), i.getSeq(), i.getPayload().toByteArray(),
                    List.copyOf(i.getPrerequisitesList()), i.getPendingPrerequisites(), i.getClaimedBy(), i.getFence(),
                    i.getAttempts(), i.getEnqueuedAt()));
        }
        return new QueueInfo(q.getName(), q.getExists(), q.getReady(), List.copyOf(items));
    }

    static SessionInfo session(dev.baton.api.v1.SessionInfo s) {
        List<PoolSlot> slots = new ArrayList<>();
        for (var p : s.getPoolSlotsList()) {
            slots.add(new PoolSlot(p.getKey(), p.getState(), p.getId(), p.getRequestId(), p.getSince()));
        }
        Map<String, Long> locks = new LinkedHashMap<>(new TreeMap<>(s.getLocksHeldMap()));
        return new SessionInfo(s.getSession(), s.getClientToken(), s.getTtlMs(), s.getOpenedAt(), List.copyOf(slots),
                java.util.Collections.unmodifiableMap(locks), List.copyOf(s.getLockWaitsList()),
                List.copyOf(s.getDispatchTargetsList()), List.copyOf(s.getEventsList()),
                List.copyOf(s.getClaimedItemsList()));
    }

    static List<SessionLease> sessions(dev.baton.api.v1.ListSessionsResponse r) {
        List<SessionLease> out = new ArrayList<>();
        for (var l : r.getSessionsList()) {
            out.add(new SessionLease(l.getSession(), l.getTtlMs()));
        }
        return List.copyOf(out);
    }

    static ClusterStatus status(dev.baton.api.v1.StatusResponse s) {
        List<ClusterMember> members = new ArrayList<>();
        for (var m : s.getMembersList()) {
            members.add(new ClusterMember(m.getRaftAddress(), m.getNodeId(), m.getApiAddress(), m.getLeader()));
        }
        return new ClusterStatus(s.getNodeId(), s.getRaftAddress(), s.getApiAddress(), s.getLeaderRaftAddress(),
                s.getLeaderApiAddress(), s.getTerm(), s.getIsLeader(), s.getCommitIndex(), s.getAppliedIndex(),
                List.copyOf(members), s.getFailure(), s.getLastSnapshotIndex(), totals(s.getPools()));
    }
}
