package dev.baton.server.http;

import dev.baton.server.metrics.GroupLag;

import dev.baton.api.v1.StatusResponse;
import dev.baton.core.command.Command;
import dev.baton.core.command.DispatchSettings;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;
import dev.baton.server.route.BatonException;
import dev.baton.server.route.Router;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.ClockSkewWatch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The JSON admin API ({@code /api/...}; docs/http.md has every shape). Reads answer from this
 * node's applied state (a follower may be a few milliseconds behind the leader), except
 * {@code /api/cluster}, which asks every member for its own indexes. Writes (force-closing a
 * session) go through Raft like any client's.
 */
final class AdminApi {
    static final int DEFAULT_POOLS = 20;
    static final int DEFAULT_SESSIONS = 200;
    static final int DEFAULT_LOCKS = 50;
    static final int MAX_LIMIT = 10_000;
    /** How long /api/cluster waits for other members' status. */
    private static final long MEMBER_STATUS_MS = 1_000;

    private final Router router;
    private final Supplier<StatusResponse> selfStatus;
    private final Function<String, CompletableFuture<StatusResponse>> statusOf;
    private final LagHistory lagHistory;

    AdminApi(Router router, Supplier<StatusResponse> selfStatus,
             Function<String, CompletableFuture<StatusResponse>> statusOf, LagHistory lagHistory) {
        this.router = router;
        this.selfStatus = selfStatus;
        this.statusOf = statusOf;
        this.lagHistory = lagHistory;
    }

    /** An HTTP status with a JSON error body. */
    static final class HttpError extends RuntimeException {
        final int status;
        final String code;

        HttpError(int status, String code, String message) {
            super(message);
            this.status = status;
            this.code = code;
        }
    }

    static HttpError notFound(String what) {
        return new HttpError(404, "NOT_FOUND", what);
    }

    private BatonNode node() {
        return router.node();
    }

    // ---- cluster --------------------------------------------------------------------------------

    Map<String, Object> cluster() {
        StatusResponse self = selfStatus.get();
        Map<String, CompletableFuture<StatusResponse>> asks = new LinkedHashMap<>();
        for (var m : self.getMembersList()) {
            if (m.getRaftAddress().equals(self.getRaftAddress())) {
                asks.put(m.getRaftAddress(), CompletableFuture.completedFuture(self));
            } else if (m.getApiAddress().isEmpty()) {
                asks.put(m.getRaftAddress(), CompletableFuture.failedFuture(new IllegalStateException("not announced")));
            } else {
                asks.put(m.getRaftAddress(), statusOf.apply(m.getApiAddress()));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MEMBER_STATUS_MS);
        List<Object> members = new ArrayList<>();
        for (var m : self.getMembersList()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("raftAddress", m.getRaftAddress());
            row.put("nodeId", m.getNodeId());
            row.put("apiAddress", m.getApiAddress());
            row.put("leader", m.getLeader());
            StatusResponse s = null;
            String error = "";
            try {
                s = asks.get(m.getRaftAddress()).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                error = String.valueOf(e.getCause().getMessage());
            } catch (TimeoutException e) {
                error = "no answer within " + MEMBER_STATUS_MS + " ms";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                error = "interrupted";
            }
            row.put("reachable", s != null);
            row.put("term", s == null ? -1 : s.getTerm());
            row.put("commitIndex", s == null ? -1 : s.getCommitIndex());
            row.put("appliedIndex", s == null ? -1 : s.getAppliedIndex());
            row.put("lastSnapshotIndex", s == null ? -1 : s.getLastSnapshotIndex());
            row.put("failure", s == null ? error : s.getFailure());
            members.add(row);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("nodeId", self.getNodeId());
        out.put("self", self.getRaftAddress());
        out.put("term", self.getTerm());
        out.put("leader", self.getLeaderRaftAddress());
        out.put("leaderNodeId", self.getMembersList().stream().filter(m -> m.getLeader()).map(m -> m.getNodeId())
                .findFirst().orElse(""));
        out.put("now", System.currentTimeMillis());
        // Stamped times (since, touched) are in the cluster time: ages are measured against it.
        ClockSkewWatch skew = node().clockSkew();
        out.put("clusterTime", node().clusterTime());
        out.put("clockSkewMs", skew.skewMs());
        out.put("clockSkewWarnMs", skew.warnMs());
        out.put("clockSkewWarning", skew.warning());
        out.put("members", members);
        View.Summary sum = node().readLocal(new Query.GetSummary());
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("lastIndex", sum.lastIndex());
        summary.put("sessions", sum.sessions());
        summary.put("poolKeys", sum.poolKeys());
        summary.put("locks", sum.locks());
        summary.put("groups", sum.groups());
        summary.put("events", sum.events());
        summary.put("queues", sum.queues());
        summary.put("waits", sum.waits());
        out.put("summary", summary);
        out.put("pools", totals(node().readLocal(new Query.GetPoolTotals())));
        return out;
    }

    static Map<String, Object> totals(View.PoolTotals t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("keys", t.keys());
        m.put("processing", t.processing());
        m.put("waiting", t.waiting());
        m.put("acquired", t.acquired());
        m.put("released", t.released());
        m.put("done", t.done());
        m.put("timeouts", t.timeouts());
        m.put("queueFull", t.queueFull());
        m.put("lockHeld", t.lockHeld());
        m.put("waitForResponse", t.waitForResponse());
        m.put("releaseMismatch", t.releaseMismatch());
        m.put("holdMs", t.holdMs());
        m.put("waitMeMs", t.waitMeMs());
        m.put("waitAnyMs", t.waitAnyMs());
        m.put("timeoutWaitMs", t.timeoutWaitMs());
        return m;
    }

    // ---- pools ----------------------------------------------------------------------------------

    Map<String, Object> pools(String sort, int limit) {
        Query.PoolOrder order = switch (sort == null ? "waiters" : sort) {
            case "waiters" -> Query.PoolOrder.WAITERS;
            case "holders" -> Query.PoolOrder.HOLDERS;
            case "key" -> Query.PoolOrder.KEY;
            default -> throw new HttpError(400, "BAD_REQUEST", "sort must be waiters, holders or key, got '" + sort + "'");
        };
        View.PoolList list = node().readLocal(new Query.ListPools(order, limit));
        List<Object> rows = new ArrayList<>();
        for (View.PoolBrief b : list.pools()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("key", b.key());
            r.put("holders", b.holders());
            r.put("waiters", b.waiters());
            rows.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", list.count());
        out.put("totals", totals(node().readLocal(new Query.GetPoolTotals())));
        out.put("pools", rows);
        return out;
    }

    Map<String, Object> pool(String key) {
        View.Pool p = node().readLocal(new Query.GetPool(key));
        if (p == null) {
            throw notFound("pool key '" + key + "' has no holders and no waiters");
        }
        List<Object> holders = new ArrayList<>();
        for (View.PoolHolder h : p.holders()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("session", h.session());
            r.put("fence", h.fence());
            r.put("since", h.since());
            holders.add(r);
        }
        List<Object> waiters = new ArrayList<>();
        for (View.PoolWaiter w : p.waiters()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("session", w.session());
            r.put("requestId", w.requestId());
            r.put("since", w.since());
            r.put("deadline", w.deadline());
            r.put("forAnyone", w.forAnyone());
            waiters.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("key", p.key());
        out.put("holders", holders);
        out.put("waiters", waiters);
        return out;
    }

    // ---- sessions -------------------------------------------------------------------------------

    Map<String, Object> sessions(int limit) {
        View.SessionList list = node().readLocal(new Query.ListSessions(limit));
        List<Object> rows = new ArrayList<>();
        for (View.Session s : list.sessions()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("id", s.id());
            r.put("token", s.token());
            r.put("ttlMs", s.ttlMs());
            r.put("openedAt", s.openedAt());
            List<Object> slots = new ArrayList<>();
            for (View.PoolSlot sl : s.slots()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("key", sl.key());
                m.put("state", sl.state());
                m.put("id", sl.id());
                m.put("requestId", sl.requestId());
                m.put("since", sl.since());
                slots.add(m);
            }
            r.put("slots", slots);
            r.put("locksHeld", s.locksHeld());
            r.put("lockWaits", s.lockWaits());
            r.put("dispatchTargets", s.dispatchTargets());
            r.put("events", s.events());
            r.put("claimedItems", s.claimedItems());
            rows.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", list.count());
        out.put("sessions", rows);
        return out;
    }

    // ---- locks ----------------------------------------------------------------------------------

    Map<String, Object> locks(int limit) {
        View.LockList list = node().readLocal(new Query.ListLocks(limit));
        List<Object> rows = new ArrayList<>();
        for (View.Lock l : list.locks()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", l.name());
            r.put("holder", l.holder());
            r.put("fence", l.fence());
            r.put("since", l.since());
            List<Object> waiters = new ArrayList<>();
            for (View.LockWaiter w : l.waiters()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("session", w.session());
                m.put("requestId", w.requestId());
                m.put("since", w.since());
                m.put("deadline", w.deadline());
                waiters.add(m);
            }
            r.put("waiters", waiters);
            rows.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", list.count());
        out.put("locks", rows);
        return out;
    }

    /** Force-closes a session through Raft: everything it holds is released as on a disconnect. */
    Map<String, Object> closeSession(long id) {
        // Closing is idempotent in the core (a client's retry must succeed); an operator wants to know.
        if (node().readLocal(new Query.GetSession(id)) == null) {
            throw notFound("no session " + Long.toUnsignedString(id));
        }
        Result r;
        try {
            r = router.write(new Command.CloseSession(id, 0)).get(15, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable why = e.getCause();
            throw new HttpError(503, "UNAVAILABLE", "could not close session " + Long.toUnsignedString(id) + ": "
                    + (why instanceof BatonException b ? b.code() + ": " + b.getMessage() : why.getMessage()));
        } catch (TimeoutException e) {
            throw new HttpError(503, "UNAVAILABLE", "no answer from the cluster within 15 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HttpError(503, "UNAVAILABLE", "interrupted");
        }
        if (r instanceof Result.SessionClosed c) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("session", c.session());
            out.put("closed", true);
            return out;
        }
        if (r instanceof Result.Rejected rej) {
            if (rej.code() == dev.baton.core.command.ErrorCode.UNKNOWN_SESSION) {
                throw notFound("no session " + Long.toUnsignedString(id));
            }
            throw new HttpError(409, rej.code().name(), rej.message());
        }
        throw new HttpError(500, "INTERNAL", "unexpected result " + r);
    }

    // ---- dispatch -------------------------------------------------------------------------------

    Map<String, Object> groups() {
        List<Object> rows = new ArrayList<>();
        for (View.Group g : node().readLocal(new Query.ListGroups())) {
            GroupLag lag = GroupLag.of(g);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", g.name());
            r.put("head", g.head());
            r.put("targets", g.targets().size());
            r.put("locked", lag.locked());
            r.put("disabled", lag.disabled());
            r.put("maxLag", lag.max());
            r.put("totalLag", lag.total());
            rows.add(r);
        }
        return Map.of("groups", rows);
    }

    /** The group with its {@code limit} most lagging targets ({@code count}: all of them). */
    Map<String, Object> group(String name, int limit) {
        View.Group g = node().readLocal(new Query.GetGroup(name));
        if (g == null) {
            throw notFound("no dispatch group '" + name + "'");
        }
        long now = node().clusterTime(); // touched is a stamp
        List<TargetView> sorted = new ArrayList<>(g.targets());
        sorted.sort((a, b) -> a.seen() != b.seen() ? Long.compare(a.seen(), b.seen()) : a.id().compareTo(b.id()));
        List<Object> targets = new ArrayList<>();
        for (TargetView t : sorted.subList(0, Math.min(limit, sorted.size()))) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("id", t.id());
            r.put("name", t.name());
            r.put("seen", t.seen());
            r.put("lag", GroupLag.lag(g, t));
            r.put("touched", t.touched());
            r.put("secondsSinceTouched", t.touched() == 0 ? null : Math.max(0, now - t.touched()) / 1000.0);
            r.put("disabled", t.disabled());
            r.put("holder", t.holder());
            r.put("fence", t.fence());
            targets.add(r);
        }
        DispatchSettings st = g.settings();
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("intervalMs", st.intervalMs());
        settings.put("batchSize", st.batchSize());
        settings.put("randomness", st.randomness());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", g.name());
        out.put("head", g.head());
        out.put("settings", settings);
        out.put("count", sorted.size());
        out.put("targets", targets);
        return out;
    }

    Map<String, Object> lagHistory() {
        return lagHistory.toJson();
    }

    // ---- events and queues ----------------------------------------------------------------------

    Map<String, Object> events() {
        List<Object> rows = new ArrayList<>();
        for (View.Event e : node().readLocal(new Query.ListEvents())) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", e.name());
            r.put("owner", e.owner());
            r.put("since", e.since());
            rows.add(r);
        }
        return Map.of("events", rows);
    }

    Map<String, Object> queues() {
        List<Object> rows = new ArrayList<>();
        for (View.QueueBrief q : node().readLocal(new Query.ListQueues())) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("name", q.name());
            r.put("items", q.items());
            r.put("ready", q.ready());
            r.put("claimed", q.claimed());
            r.put("gated", q.gated());
            rows.add(r);
        }
        return Map.of("queues", rows);
    }

    Map<String, Object> queue(String name) {
        View.Queue q = node().readLocal(new Query.GetQueue(name));
        if (q == null) {
            throw notFound("no queue '" + name + "'");
        }
        List<Object> items = new ArrayList<>();
        for (View.Item it : q.items()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("id", it.id());
            r.put("seq", it.seq());
            r.put("prerequisites", it.prerequisites());
            r.put("pendingPrerequisites", it.pendingPrerequisites());
            r.put("claimedBy", it.claimedBy());
            r.put("fence", it.fence());
            r.put("attempts", it.attempts());
            r.put("enqueuedAt", it.enqueuedAt());
            r.put("payloadBytes", it.payload().size());
            items.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", q.name());
        out.put("ready", q.ready());
        out.put("items", items);
        return out;
    }

    // ---- health ---------------------------------------------------------------------------------

    /**
     * Ready = this node knows a leader and has applied everything committed as of the request (it
     * gets up to {@code waitMs} to catch up, so a busy but healthy node is not reported unready for
     * the entries committed during the request).
     */
    Optional<String> notReadyReason(long waitMs) {
        BatonNode n = node();
        if (n.failure().isPresent()) {
            return Optional.of("replica stopped applying: " + n.failure().get());
        }
        if (n.leader().isEmpty()) {
            return Optional.of("no known leader");
        }
        long commit = n.commitIndex();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (n.lastAppliedIndex() < commit) {
            if (System.nanoTime() > deadline) {
                return Optional.of("applied index " + n.lastAppliedIndex() + " is behind commit index " + commit);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.of("interrupted");
            }
        }
        return Optional.empty();
    }
}
