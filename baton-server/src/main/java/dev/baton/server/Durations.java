package dev.baton.server;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/**
 * Durations as the command line and config files take them: a number with a unit ({@code 500ms},
 * {@code 5s}, {@code 1.5s}, {@code 2m}, {@code 1h}, {@code 1d}), ISO-8601 ({@code PT30S}), or a bare
 * number in the option's own unit, which is what such options took before units were accepted
 * (milliseconds for the {@code -ms} options, seconds for {@code --snapshot-interval}), so existing
 * command lines and config files keep their meaning. The converters below are for picocli options;
 * {@link #parse} is for everything else that reads one (e.g. {@code --limit maxWaitMs=30s}).
 */
public final class Durations {
    private Durations() {}

    /**
     * {@code text} as a duration; a bare integer counts in {@code bareUnit} and may be negative (the
     * option then says what it accepts, as before), a number with a unit may not.
     *
     * @throws IllegalArgumentException naming what is accepted
     */
    public static Duration parse(String text, ChronoUnit bareUnit) {
        String t = text.trim();
        if (t.matches("[+-]?\\d+")) {
            try {
                return Duration.of(Long.parseLong(t), bareUnit);
            } catch (NumberFormatException | ArithmeticException e) {
                throw invalid(text);
            }
        }
        if (t.length() > 1 && (t.charAt(0) == 'P' || t.charAt(0) == 'p')) {
            try {
                return nonNegative(Duration.parse(t), text);
            } catch (DateTimeParseException e) {
                throw invalid(text);
            }
        }
        int unitAt = 0;
        while (unitAt < t.length() && (Character.isDigit(t.charAt(unitAt)) || t.charAt(unitAt) == '.')) {
            unitAt++;
        }
        if (unitAt == 0) {
            throw invalid(text);
        }
        ChronoUnit unit = switch (t.substring(unitAt).trim().toLowerCase(Locale.ROOT)) {
            case "ms" -> ChronoUnit.MILLIS;
            case "s" -> ChronoUnit.SECONDS;
            case "m", "min" -> ChronoUnit.MINUTES;
            case "h" -> ChronoUnit.HOURS;
            case "d" -> ChronoUnit.DAYS;
            default -> throw invalid(text);
        };
        try {
            BigDecimal nanos = new BigDecimal(t.substring(0, unitAt)).multiply(BigDecimal.valueOf(unit.getDuration().toNanos()));
            return Duration.ofNanos(nanos.setScale(0, java.math.RoundingMode.HALF_UP).longValueExact());
        } catch (NumberFormatException | ArithmeticException e) {
            throw invalid(text);
        }
    }

    /** {@code text} in milliseconds (see {@link #parse}; a bare number is milliseconds). */
    public static long millis(String text) {
        return parse(text, ChronoUnit.MILLIS).toMillis();
    }

    private static Duration nonNegative(Duration d, String text) {
        if (d.isNegative()) {
            throw invalid(text);
        }
        return d;
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("'" + text + "' is not a duration: give a number with a unit (500ms, 5s,"
                + " 2m, 1h, 1d), or ISO-8601 (PT5S)");
    }

    /** An option in milliseconds, a {@code long}: {@code 5s} is 5000; a bare number is milliseconds. */
    public static final class Millis implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return millis(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** An option in milliseconds, an {@code int}: {@code 1s} is 1000; a bare number is milliseconds. */
    public static final class IntMillis implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            long ms = new Millis().convert(value);
            if (ms != (int) ms) {
                throw new TypeConversionException("'" + value + "' is too long");
            }
            return (int) ms;
        }
    }

    /** An option in whole seconds, an {@code int}: {@code 1h} is 3600; a bare number is seconds. */
    public static final class Seconds implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            Duration d;
            try {
                d = parse(value, ChronoUnit.SECONDS);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
            if (d.toNanos() % 1_000_000_000L != 0 || d.getSeconds() != (int) d.getSeconds()) {
                throw new TypeConversionException("'" + value + "' is not a whole number of seconds");
            }
            return (int) d.getSeconds();
        }
    }

    /** A {@link Duration} option: a bare number is milliseconds. */
    public static final class Of implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                return parse(value, ChronoUnit.MILLIS);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
