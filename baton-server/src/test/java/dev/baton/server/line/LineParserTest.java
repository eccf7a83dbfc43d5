package dev.baton.server.line;

import dev.baton.core.command.View;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** poolcounterd's parsing rules (locks.c process_line, atou) and STATS formats (stats.c), without a server. */
class LineParserTest {

    private static LineRequest.Acquire acq(String line) {
        return (LineRequest.Acquire) LineParser.parse(line);
    }

    @Test
    void acquiresParseLikePoolcounterd() {
        assertThat(acq("ACQ4ME k 2 100 15")).isEqualTo(new LineRequest.Acquire(false, "k", 2, 100, 15));
        assertThat(acq("ACQ4ANY k 2 100 15")).isEqualTo(new LineRequest.Acquire(true, "k", 2, 100, 15));
        assertThat(acq("ACQ4ME   k   2  100   15  extra\r")).isEqualTo(new LineRequest.Acquire(false, "k", 2, 100, 15));
        assertThat(acq("ACQ4ME k 2 100")).isEqualTo(new LineRequest.Acquire(false, "k", 2, 100, 0));
        assertThat(acq("ACQ4ME k 2 100 1.5").timeoutSeconds()).isZero();
        assertThat(acq("ACQ4ME k +2 100 1").workers()).isZero();
        assertThat(acq("ACQ4ME k 99999999999 100 1").workers()).isEqualTo(Integer.MAX_VALUE);
        assertThat(acq("ACQ4ME a%20b 1 1 1").key()).isEqualTo("a%20b"); // the PHP client's escaping is kept
    }

    @Test
    void syntaxRule() {
        assertThat(acq("ACQ4ME k 1 1").syntaxOk()).isTrue();
        assertThat(acq("ACQ4ME ").syntaxOk()).isFalse();
        assertThat(acq("ACQ4ME k").syntaxOk()).isFalse();
        assertThat(acq("ACQ4ME k 0 1").syntaxOk()).isFalse();
        assertThat(acq("ACQ4ME k 1 0").syntaxOk()).isFalse();
        assertThat(acq("ACQ4ME k 1 x").syntaxOk()).isFalse();
    }

    @Test
    void otherCommands() {
        assertThat(LineParser.parse("RELEASE")).isInstanceOf(LineRequest.Release.class);
        assertThat(LineParser.parse("RELEASE key")).isInstanceOf(LineRequest.Release.class);
        assertThat(LineParser.parse("RELEASEX")).isInstanceOf(LineRequest.Release.class); // strncmp(…, 7)
        assertThat(LineParser.parse("STATS FULL")).isEqualTo(new LineRequest.Stats("FULL"));
        assertThat(LineParser.parse("STATS ")).isEqualTo(new LineRequest.Stats(""));
        for (String bad : new String[] {"STATS", "ACQ4ME", "ACQ4ANY", "acq4me k 1 1", "GARBAGE", "", "\r", " RELEASE"}) {
            assertThat(LineParser.parse(bad)).as(bad).isInstanceOf(LineRequest.BadCommand.class);
        }
    }

    @Test
    void aNulEndsTheLineAsInC() {
        assertThat(LineParser.parse("RELE\u0000ASE")).isInstanceOf(LineRequest.BadCommand.class);
        assertThat(acq("ACQ4ME k 2\u0000 9 9")).isEqualTo(new LineRequest.Acquire(false, "k", 2, 0, 0));
    }

    private static final View.PoolTotals T = new View.PoolTotals(3, 2, 1, 10, 7, 1, 2, 4, 5, 6, 8,
            90_061_500, 1_500, 2_750, 3_000, 1_250, 4_000);

    @Test
    void statsFull() {
        String s = LineStats.full(T, new LineStats.DoorCounts(90_061, 11, 12, 2));
        assertThat(s).isEqualTo("""
                uptime: 1 days, 1h 1m 1s
                total processing time: 1 days 1h 1m 1.500000s
                average processing time: 3h 7m 37.687500s
                gained time: 4.000000s
                waiting time: 3.000000s
                waiting time for me: 1.500000s
                waiting time for anyone: 1.500000s
                waiting time for good: 1.250000s
                wasted timeout time: 3.000000s
                total_acquired: 10
                total_releases: 7
                hashtable_entries: 3
                processing_workers: 2
                waiting_workers: 1
                connect_errors: 11
                failed_sends: 12
                full_queues: 4
                lock_mismatch: 5
                lock_while_waiting: 6
                release_mismatch: 10
                processed_count: 8

                """);
    }

    @Test
    void statsSingleCounters() {
        LineStats.DoorCounts d = new LineStats.DoorCounts(59, 0, 0, 0);
        assertThat(LineStats.reply("UPTIME", T, d)).isEqualTo("uptime: 0 days, 0h 0m 59s\n");
        assertThat(LineStats.reply("Hashtable_Entries", T, d)).isEqualTo("hashtable_entries: 3\n");
        assertThat(LineStats.reply("processed_count", T, d)).isEqualTo("processed_count: 8\n");
        assertThat(LineStats.reply("nope", T, d)).isEqualTo("ERROR WRONG_STAT\n");
        StringBuilder b = new StringBuilder();
        LineStats.time(b, "t", 0, 0);
        LineStats.time(b, "avg", 5_000, 0);
        LineStats.time(b, "div", 5_000, 4);
        LineStats.time(b, "min", 61_000, 0);
        assertThat(b.toString()).isEqualTo("t: 0.000000s\navg: 5.000000s\ndiv: 1.250000s\nmin: 1m 1.000000s\n");
    }
}
