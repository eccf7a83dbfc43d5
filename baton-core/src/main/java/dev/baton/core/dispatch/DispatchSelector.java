package dev.baton.core.dispatch;

import java.util.ArrayList;
import java.util.List;

/**
 * Wikibase's client selection (SqlChangeDispatchCoordinator::getCandidateClients, docs/design.md):
 * among targets that are enabled, have pending changes ({@code seen < head}) and either have
 * rested since their last release ({@code touched < now − interval}) or lag by more than
 * {@code batchSize}, take the {@code randomness} most lagged and pick one at random.
 *
 * <p>One deliberate difference: locked targets are not candidates. Wikibase lists the N most lagged
 * rows first and only then finds some of them locked, so it can return nothing while an unlocked
 * eligible target exists further down; here the N are drawn from the unlocked ones.
 */
public final class DispatchSelector {
    private DispatchSelector() {}

    /** The candidates, most lagged first (at most {@code settings.randomness()}). */
    public static List<TargetState> candidates(GroupState g, long now) {
        long fresh = now - g.settings().intervalMs();
        int want = g.settings().randomness();
        List<TargetState> out = new ArrayList<>(Math.min(want, 16));
        for (LagKey k : g.byLag()) {
            if (k.seen() >= g.head()) {
                break; // the index is ordered by seen: nobody after this has pending changes
            }
            TargetState t = g.targets().get(k.id());
            if (t.disabled() || t.locked()) {
                continue;
            }
            if (t.touched() < fresh || g.head() - t.seen() > g.settings().batchSize()) {
                out.add(t);
                if (out.size() == want) {
                    break;
                }
            }
        }
        return out;
    }

    /** Picks one candidate with a replica-independent random number, or null if there are none. */
    public static TargetState select(GroupState g, long now, long random) {
        List<TargetState> c = candidates(g, now);
        if (c.isEmpty()) {
            return null;
        }
        return c.get((int) Long.remainderUnsigned(random, c.size()));
    }
}
