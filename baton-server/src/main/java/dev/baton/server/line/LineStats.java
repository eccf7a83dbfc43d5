package dev.baton.server.line;

import dev.baton.core.command.View;

import java.util.Locale;

/**
 * poolcounterd's {@code STATS} replies, byte for byte in its formats (docs/poolcounter.md; exporters
 * such as Wikia's poolcounter-prometheus-exporter split each line on {@code ": "} and stop at the
 * empty line that ends {@code STATS FULL}).
 *
 * <p>The figures are Baton's replicated pool counters ({@link View.PoolTotals}, the same numbers the
 * metrics report), so they are cluster-wide and include pools used through the gRPC API; only the
 * uptime, {@code connect_errors}, {@code failed_sends} and the door's own {@code release_mismatch}
 * share are this node's. Time sums are kept in ms of leader time.
 */
final class LineStats {
    /** The counters of {@code stats.list}, in its order. */
    static final String[] COUNTERS = {"total_acquired", "total_releases", "hashtable_entries", "processing_workers",
            "waiting_workers", "connect_errors", "failed_sends", "full_queues", "lock_mismatch", "lock_while_waiting",
            "release_mismatch", "processed_count"};

    /** What this node's door counted itself. */
    record DoorCounts(long uptimeSeconds, long connectErrors, long failedSends, long releaseMismatch) {}

    private LineStats() {}

    /** The reply to {@code STATS <type>}: {@code FULL}, {@code UPTIME} or a counter, case-insensitive. */
    static String reply(String type, View.PoolTotals t, DoorCounts d) {
        if (type.equalsIgnoreCase("FULL")) {
            return full(t, d);
        }
        if (type.equalsIgnoreCase("UPTIME")) {
            return uptime(d.uptimeSeconds());
        }
        for (int i = 0; i < COUNTERS.length; i++) {
            if (COUNTERS[i].equalsIgnoreCase(type)) {
                return COUNTERS[i] + ": " + counter(i, t, d) + "\n";
            }
        }
        // poolcounterd sends this without a newline (quirk 4); a line-reading client would hang on it.
        return "ERROR WRONG_STAT\n";
    }

    static String uptime(long secs) {
        long minutes = secs / 60;
        long hours = minutes / 60;
        long days = hours / 24;
        // poolcounterd once printed hours % 60 here (T237407); hours of the day are % 24.
        return String.format(Locale.ROOT, "uptime: %d days, %dh %dm %ds\n", days, hours % 24, minutes % 60, secs % 60);
    }

    static String full(View.PoolTotals t, DoorCounts d) {
        StringBuilder b = new StringBuilder(768);
        b.append(uptime(d.uptimeSeconds()));
        long processed = processed(t);
        long anyHandOffMs = t.waitAnyMs() - t.doneWaitMs();
        time(b, "total processing time", t.holdMs(), 0);
        time(b, "average processing time", t.holdMs(), processed);
        time(b, "gained time", t.gainedMs(), 0);
        time(b, "waiting time", t.waitMeMs() + anyHandOffMs, 0);
        time(b, "waiting time for me", t.waitMeMs(), 0);
        time(b, "waiting time for anyone", anyHandOffMs, 0);
        time(b, "waiting time for good", t.doneWaitMs(), 0);
        time(b, "wasted timeout time", t.timeoutWaitMs(), 0);
        for (int i = 0; i < COUNTERS.length; i++) {
            b.append(COUNTERS[i]).append(": ").append(counter(i, t, d)).append('\n');
        }
        return b.append('\n').toString();
    }

    private static long processed(View.PoolTotals t) {
        return t.acquired() - t.processing(); // every grant either still runs or has been processed
    }

    private static long counter(int i, View.PoolTotals t, DoorCounts d) {
        return switch (i) {
            case 0 -> t.acquired();
            case 1 -> t.released();
            case 2 -> t.keys();
            case 3 -> t.processing();
            case 4 -> t.waiting();
            case 5 -> d.connectErrors();
            case 6 -> d.failedSends();
            case 7 -> t.queueFull();
            case 8 -> t.lockHeld();
            case 9 -> t.waitForResponse();
            case 10 -> t.releaseMismatch() + d.releaseMismatch();
            case 11 -> processed(t);
            default -> throw new IllegalArgumentException("counter " + i);
        };
    }

    /** poolcounterd's {@code strtimeval}: {@code [N days ][Hh ][Mm ]S.ffffffs}, divided if asked. */
    static void time(StringBuilder b, String title, long ms, long divisor) {
        double seconds = ms / 1000.0;
        if (divisor != 0) {
            seconds /= divisor;
        }
        b.append(title).append(": ");
        if (seconds >= 60) {
            long minutes = (long) (seconds / 60);
            seconds -= minutes * 60.0;
            if (minutes >= 60) {
                long hours = minutes / 60;
                minutes %= 60;
                if (hours >= 24) {
                    b.append(hours / 24).append(" days ");
                    hours %= 24;
                }
                b.append(hours).append("h ");
            }
            b.append(minutes).append("m ");
        }
        b.append(String.format(Locale.ROOT, "%fs", seconds)).append('\n');
    }
}
