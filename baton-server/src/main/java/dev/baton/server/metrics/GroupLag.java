package dev.baton.server.metrics;

import dev.baton.core.command.TargetView;
import dev.baton.core.command.View;

/** A dispatch group's lag over its targets, as the metrics, the admin API and the dashboard show it. */
public record GroupLag(long max, long total, int locked, int disabled) {

    /** Changes the target has not seen: head − seen (never negative). */
    public static long lag(View.Group g, TargetView t) {
        return Math.max(0, g.head() - t.seen());
    }

    public static GroupLag of(View.Group g) {
        long max = 0;
        long total = 0;
        int locked = 0;
        int disabled = 0;
        for (TargetView t : g.targets()) {
            long lag = lag(g, t);
            max = Math.max(max, lag);
            total += lag;
            locked += t.holder() != 0 ? 1 : 0;
            disabled += t.disabled() ? 1 : 0;
        }
        return new GroupLag(max, total, locked, disabled);
    }
}
