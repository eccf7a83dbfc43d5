package dev.baton.core.dispatch;

/** Orders targets most-lagged first: by cursor, then by id so that ties are deterministic. */
public record LagKey(long seen, String id) implements Comparable<LagKey> {
    @Override
    public int compareTo(LagKey o) {
        int c = Long.compare(seen, o.seen);
        return c != 0 ? c : id.compareTo(o.id);
    }
}
