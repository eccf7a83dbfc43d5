package dev.baton.server;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Durations on the command line and in config files: units, ISO-8601, and a bare number as before. */
class DurationsTest {

    @Test
    void unitsAndIso() {
        assertThat(Durations.parse("500ms", ChronoUnit.MILLIS)).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("5s", ChronoUnit.MILLIS)).isEqualTo(Duration.ofSeconds(5));
        assertThat(Durations.parse("1.5s", ChronoUnit.MILLIS)).isEqualTo(Duration.ofMillis(1500));
        assertThat(Durations.parse("2m", ChronoUnit.MILLIS)).isEqualTo(Duration.ofMinutes(2));
        assertThat(Durations.parse("1h", ChronoUnit.MILLIS)).isEqualTo(Duration.ofHours(1));
        assertThat(Durations.parse("1d", ChronoUnit.MILLIS)).isEqualTo(Duration.ofDays(1));
        assertThat(Durations.parse(" 10 S ", ChronoUnit.MILLIS)).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse("PT30S", ChronoUnit.MILLIS)).isEqualTo(Duration.ofSeconds(30));
        assertThat(Durations.parse("0s", ChronoUnit.MILLIS)).isZero();
    }

    @Test
    void aBareNumberCountsInTheOptionsOwnUnit() {
        assertThat(Durations.parse("30000", ChronoUnit.MILLIS)).isEqualTo(Duration.ofSeconds(30));
        assertThat(Durations.parse("3600", ChronoUnit.SECONDS)).isEqualTo(Duration.ofHours(1));
        assertThat(Durations.millis("0")).isZero();
        // as before units: a negative number reaches the option, which says what it accepts
        assertThat(Durations.millis("-1")).isEqualTo(-1);
    }

    @Test
    void nonsenseIsRefusedSayingWhatIsAccepted() {
        for (String bad : new String[] {"", "s", "5x", "1.2.3s", "-5s", "PT", "P-1D", "five seconds", "99999999999999999999"}) {
            assertThatThrownBy(() -> Durations.parse(bad, ChronoUnit.MILLIS)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("500ms, 5s");
        }
    }

    @Command(name = "t")
    static final class Options {
        @Option(names = "--wait-ms", converter = Durations.Millis.class, defaultValue = "1000")
        long waitMs;
        @Option(names = "--election-timeout-ms", converter = Durations.IntMillis.class, defaultValue = "1000")
        int electionMs;
        @Option(names = "--interval", converter = Durations.Seconds.class, defaultValue = "3600")
        int intervalSecs;
        @Option(names = "--hold", converter = Durations.Of.class, defaultValue = "PT0S")
        Duration hold;
    }

    @Test
    void theConvertersOfTheOptions() {
        Options o = new Options();
        new CommandLine(o).parseArgs("--wait-ms", "2s", "--election-timeout-ms", "1500ms", "--interval", "2h",
                "--hold", "250ms");
        assertThat(o.waitMs).isEqualTo(2000);
        assertThat(o.electionMs).isEqualTo(1500);
        assertThat(o.intervalSecs).isEqualTo(7200);
        assertThat(o.hold).isEqualTo(Duration.ofMillis(250));

        Options defaults = new Options();
        new CommandLine(defaults).parseArgs();
        assertThat(defaults.waitMs).isEqualTo(1000);
        assertThat(defaults.intervalSecs).isEqualTo(3600);

        assertThatThrownBy(() -> new CommandLine(new Options()).parseArgs("--interval", "1500ms"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("whole number of seconds");
        assertThatThrownBy(() -> new CommandLine(new Options()).parseArgs("--wait-ms", "soon"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--wait-ms")
                .hasMessageContaining("not a duration");
    }

    @Test
    void theServerTakesDurationsOnTheCommandLineAndInItsConfigFile(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        Path f = tmp.resolve("node.properties");
        Files.writeString(f, "session-ttl=15s\nline-idle-timeout-ms=5m\nsnapshot-interval=30m\nclock-skew-warn-ms=2500\n");
        String[] args = {"--config", f.toString(), "--election-timeout-ms", "2s", "--http-request-timeout-ms", "1.5s"};
        CommandLine cl = ServerCommand.commandLine(args);
        cl.parseArgs(args);
        ServerCommand s = cl.getCommand();
        assertThat(s.sessionTtlMs).isEqualTo(15_000);
        assertThat(s.lineIdleTimeoutMs).isEqualTo(300_000);
        assertThat(s.snapshotIntervalSecs).isEqualTo(1800);
        assertThat(s.clockSkewWarnMs).as("a bare number: ms, as before").isEqualTo(2500);
        assertThat(s.electionTimeoutMs).isEqualTo(2000);
        assertThat(s.httpRequestTimeoutMs).isEqualTo(1500);
    }

    @Test
    void limitsWhoseNamesEndInMsTakeDurations() {
        dev.baton.core.command.Limits l = LimitOptions.parse(java.util.List.of("maxWaitMs=90s", "maxSessions=7"), null, null)
                .apply(dev.baton.core.command.Limits.defaults());
        assertThat(l.maxWaitMs()).isEqualTo(90_000);
        assertThat(l.maxSessions()).isEqualTo(7);
        assertThatThrownBy(() -> LimitOptions.parse(java.util.List.of("maxWaitMs=soon"), null, null))
                .hasMessageContaining("limit maxWaitMs").hasMessageContaining("not a duration");
    }
}
