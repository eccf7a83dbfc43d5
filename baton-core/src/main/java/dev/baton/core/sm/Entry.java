package dev.baton.core.sm;

import dev.baton.core.command.Command;
import dev.baton.core.command.CommandCodec;

import java.util.List;

/**
 * One committed log entry as the state machine sees it.
 *
 * @param index     the Raft log index; strictly increasing from entry to entry (gaps allowed:
 *                  configuration entries never reach the state machine)
 * @param timestamp the leader's clock when it proposed the entry (ms since the epoch); the state
 *                  machine never reads a clock of its own
 * @param payload   a batch of commands encoded by {@link CommandCodec#encodeBatch}: versioned and
 *                  size-limited. The leader packs concurrent client commands into one entry.
 */
public record Entry(long index, long timestamp, byte[] payload) {

    public static Entry of(long index, long timestamp, List<? extends Command> commands) {
        return new Entry(index, timestamp, CommandCodec.encodeBatch(commands));
    }

    public static Entry of(long index, long timestamp, Command... commands) {
        return of(index, timestamp, List.of(commands));
    }
}
