package dev.baton.core.sm;

import dev.baton.core.command.Effect;
import dev.baton.core.command.Observation;
import dev.baton.core.command.Result;

import java.util.List;

/**
 * What applying one entry produced.
 *
 * @param index        the entry's index
 * @param results      one result per command of the entry, in order (a single {@code MALFORMED}
 *                     rejection if the payload could not be decoded)
 * @param effects      what happened to other sessions as a consequence (grants, DONE, timeouts, ...),
 *                     in the order it happened; to be delivered by the nodes holding those sessions
 * @param observations facts for the metrics (wait and hold times, acquire outcomes), in the order
 *                     they happened; the same on every replica
 */
public record Applied(long index, List<Result> results, List<Effect> effects, List<Observation> observations) {

    /** An entry that produced no observations. */
    public Applied(long index, List<Result> results, List<Effect> effects) {
        this(index, results, effects, List.of());
    }
}
