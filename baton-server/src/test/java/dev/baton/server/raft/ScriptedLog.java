package dev.baton.server.raft;

import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;
import dev.baton.core.command.Result;
import dev.baton.core.sm.Applied;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engine, the timer and the clock of a {@link ProposalBatcher} played by a test: proposed
 * entries are kept until the test applies them, timer tasks until it runs them, and time moves only
 * when it says. Which commands share an entry, and when a waiting entry leaves, are then decided by
 * the test's own steps, not by timing.
 */
final class ScriptedLog {
    /** One proposed entry: its commands, and the closure the test completes as the engine would. */
    record Proposed(List<Command> commands, ProposalClosure done) {}

    /** A task given to the timer, and the delay it was given with. */
    record Timer(Runnable task, long delayNanos) {}

    /** The batcher's clock, in nanoseconds. */
    long now = 1_000_000_000L;
    final List<Proposed> proposed = new ArrayList<>();
    final List<Timer> timers = new ArrayList<>();
    private long index;

    /** A batcher of leader term 7 on this log. */
    ProposalBatcher batcher(ProposalBatcher.Config config) {
        return new ProposalBatcher(config, "test", () -> 7, Optional::empty,
                (payload, term, done) -> proposed.add(new Proposed(CommandCodec.decodeBatch(payload), done)),
                (task, delayNanos) -> timers.add(new Timer(task, delayNanos)), () -> now);
    }

    /** Completes entry {@code i} as applied at the next index, with these results, one per command. */
    void apply(int i, List<Result> results) {
        proposed.get(i).done().applied(new Applied(++index, results, List.of()));
    }

    /**
     * The only timer set, for {@code waitNanos}, fires halfway: nothing leaves and it is set again
     * for the rest; then time reaches the end of the wait and the new timer fires.
     */
    void timerFiresEarlyThenOnTime(long waitNanos) {
        assertThat(timers).hasSize(1);
        int before = proposed.size();
        now += waitNanos / 2;
        timers.get(0).task().run();
        assertThat(proposed).as("a timer that fires early lets nothing go").hasSize(before);
        assertThat(timers).as("it is set again").hasSize(2);
        assertThat(timers.get(1).delayNanos()).isEqualTo(waitNanos - waitNanos / 2);
        now += waitNanos - waitNanos / 2;
        timers.get(1).task().run();
    }
}
