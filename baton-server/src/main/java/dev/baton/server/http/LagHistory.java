package dev.baton.server.http;

import dev.baton.server.metrics.GroupLag;

import dev.baton.core.command.Query;
import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;
import dev.baton.server.raft.BatonNode;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dispatch lag over the last minutes, for the dashboard's chart: every {@code intervalMs} the node
 * samples each group's lag (head − seen) per target from its applied state and keeps the last
 * {@code samples} samples. Node-local and in memory: a restarted node starts an empty history.
 *
 * <p>Bounded: at most {@link #MAX_GROUPS} groups and, per group, the {@link #MAX_TARGETS_PER_GROUP}
 * most lagging targets of each sample are kept (the group's maximum lag always).
 */
public final class LagHistory {
    static final int MAX_GROUPS = 50;
    static final int MAX_TARGETS_PER_GROUP = 20;

    private final BatonNode node;
    private final long intervalMs;
    private final int samples;
    private final ArrayDeque<Sample> history = new ArrayDeque<>();

    /** One sample: time, and per group its max lag and the lag of its most lagging targets. */
    private record Sample(long time, Map<String, GroupSample> groups) {}

    private record GroupSample(long maxLag, Map<String, Long> targets) {}

    public LagHistory(BatonNode node, long intervalMs, int samples) {
        if (intervalMs <= 0 || samples <= 0) {
            throw new IllegalArgumentException("lag history needs a positive interval and sample count");
        }
        this.node = node;
        this.intervalMs = intervalMs;
        this.samples = samples;
    }

    public long intervalMs() {
        return intervalMs;
    }

    /** Takes one sample now (the node's timer calls this every interval). */
    public void sample() {
        sample(System.currentTimeMillis());
    }

    synchronized void sample(long now) {
        Map<String, GroupSample> groups = new LinkedHashMap<>();
        for (View.Group g : node.readLocal(new Query.ListGroups())) {
            if (groups.size() == MAX_GROUPS) {
                break;
            }
            List<TargetView> ts = new ArrayList<>(g.targets());
            ts.sort(Comparator.comparingLong((TargetView t) -> t.seen()).thenComparing(TargetView::id));
            Map<String, Long> top = new LinkedHashMap<>();
            long max = 0;
            for (TargetView t : ts) {
                long lag = GroupLag.lag(g, t);
                max = Math.max(max, lag);
                if (top.size() < MAX_TARGETS_PER_GROUP) {
                    top.put(t.id(), lag);
                }
            }
            groups.put(g.name(), new GroupSample(max, top));
        }
        history.addLast(new Sample(now, groups));
        while (history.size() > samples) {
            history.removeFirst();
        }
    }

    /**
     * The history as the admin API's JSON object: per group, the sample times, the group's max lag,
     * and a lag series for each of the (up to 20) targets that lag most in the newest sample, with
     * null where the target was not sampled.
     */
    public synchronized Map<String, Object> toJson() {
        List<Sample> all = new ArrayList<>(history);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("intervalMs", intervalMs);
        out.put("now", System.currentTimeMillis());
        List<Object> groups = new ArrayList<>();
        if (!all.isEmpty()) {
            Sample newest = all.get(all.size() - 1);
            for (var g : newest.groups().entrySet()) {
                String name = g.getKey();
                List<Long> times = new ArrayList<>();
                List<Long> max = new ArrayList<>();
                Map<String, List<Long>> series = new LinkedHashMap<>();
                for (String t : g.getValue().targets().keySet()) {
                    series.put(t, new ArrayList<>());
                }
                for (Sample s : all) {
                    GroupSample gs = s.groups().get(name);
                    if (gs == null) {
                        continue; // the group did not exist yet
                    }
                    times.add(s.time());
                    max.add(gs.maxLag());
                    for (var e : series.entrySet()) {
                        e.getValue().add(gs.targets().get(e.getKey()));
                    }
                }
                List<Object> targets = new ArrayList<>();
                for (var e : series.entrySet()) {
                    Map<String, Object> t = new HashMap<>();
                    t.put("id", e.getKey());
                    t.put("lag", e.getValue());
                    targets.add(t);
                }
                Map<String, Object> grp = new LinkedHashMap<>();
                grp.put("name", name);
                grp.put("times", times);
                grp.put("targets", targets);
                grp.put("maxLag", max);
                groups.add(grp);
            }
        }
        out.put("groups", groups);
        return out;
    }
}
