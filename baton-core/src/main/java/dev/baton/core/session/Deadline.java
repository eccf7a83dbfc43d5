package dev.baton.core.session;

/** When a wait times out; ordered by time, then by wait id (which is unique). */
public record Deadline(long at, long waitId) implements Comparable<Deadline> {
    @Override
    public int compareTo(Deadline o) {
        int c = Long.compare(at, o.at);
        return c != 0 ? c : Long.compare(waitId, o.waitId);
    }
}
