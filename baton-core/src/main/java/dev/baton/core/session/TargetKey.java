package dev.baton.core.session;

/** Identifies a dispatch target across groups; ordered by group then target id. */
public record TargetKey(String group, String target) implements Comparable<TargetKey> {
    @Override
    public int compareTo(TargetKey o) {
        int c = group.compareTo(o.group);
        return c != 0 ? c : target.compareTo(o.target);
    }
}
