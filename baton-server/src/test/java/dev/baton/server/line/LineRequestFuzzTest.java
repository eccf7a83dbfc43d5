package dev.baton.server.line;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the line door's decoding path from the bytes a client sends to {@link LineRequest}s: the
 * connection's {@link LineFramer}, then {@link LineParser}. The first input byte chooses how the
 * rest is cut into reads, as TCP would. Properties: nothing is ever thrown; a line over the limit
 * ends the input ({@code LINE_TOO_LONG}, after the lines before it); no line is longer than the limit; the parser never throws and its values stay in
 * their documented ranges (a key is absent or valid UTF-8 without spaces or NUL, numbers within
 * {@code [0, Integer.MAX_VALUE]}); and how the bytes are cut into reads changes nothing (but see
 * the CRLF edge below).
 */
class LineRequestFuzzTest {
    /** Small, so that the fuzzer reaches the too-long path; the door's minimum is 64. */
    private static final int MAX_LINE = 64;
    private static final Object TOO_LONG = LineFramer.TOO_LONG;

    @MethodSource("seeds")
    @FuzzTest
    void decodeLines(byte[] input) {
        if (input.length == 0) {
            return;
        }
        int readSize = 1 + (input[0] & 0xFF);
        byte[] stream = Arrays.copyOfRange(input, 1, input.length);

        List<Object> inOneRead = decode(stream, stream.length + 1);
        List<Object> inPieces = decode(stream, readSize);
        // A line's '\r' counts against the limit while the '\n' of a CRLF cut between two reads has
        // not arrived, so a line of exactly the limit can then be refused as too long (as Netty's
        // line decoder does too): with a '\r' only the rest is checked.
        if (indexOf(stream, (byte) '\r') < 0) {
            assertThat(inPieces).isEqualTo(inOneRead);
        }
    }

    private static int indexOf(byte[] b, byte x) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == x) {
                return i;
            }
        }
        return -1;
    }

    private static List<Object> decode(byte[] stream, int readSize) {
        List<Object> out = new ArrayList<>();
        LineFramer framer = new LineFramer(ByteBufAllocator.DEFAULT, MAX_LINE);
        try {
            for (int from = 0; from < stream.length && !framer.tooLong(); from += readSize) {
                ByteBuf read = Unpooled.wrappedBuffer(stream, from, Math.min(readSize, stream.length - from));
                try {
                    framer.append(read);
                } finally {
                    read.release();
                }
                // As the door: whatever is complete runs before the next read.
                for (Object next = framer.next(); next != null; next = framer.next()) {
                    if (next == TOO_LONG) {
                        out.add(TOO_LONG);
                        assertThat(framer.next()).as("nothing after a line too long").isSameAs(TOO_LONG);
                        return out;
                    }
                    out.add(parseChecked((byte[]) next));
                }
                framer.compact();
                // Never more kept than one incomplete line (the limit) plus what was not yet taken.
                assertThat(framer.buffered()).isLessThanOrEqualTo(MAX_LINE + 1);
            }
            Object last = framer.next();
            if (last == TOO_LONG) {
                out.add(TOO_LONG);
            }
            return out;
        } finally {
            framer.release();
        }
    }

    private static LineRequest parseChecked(byte[] line) {
        assertThat(line.length).isLessThanOrEqualTo(MAX_LINE);
        assertThat(line).doesNotContain((byte) '\n');
        LineRequest r = LineParser.parse(line, line.length);
        if (r instanceof LineRequest.Acquire a) {
            if (a.key() != null) {
                assertThat(a.key()).isNotEmpty().doesNotContain(" ").doesNotContain("\0");
                byte[] key = a.key().getBytes(StandardCharsets.UTF_8);
                assertThat(key.length).isLessThan(line.length);
                assertThat(new String(key, StandardCharsets.UTF_8)).isEqualTo(a.key()); // well-formed, no substitution
            }
            assertThat(a.workers()).isBetween(0, Integer.MAX_VALUE);
            assertThat(a.maxQueue()).isBetween(0, Integer.MAX_VALUE);
            assertThat(a.timeoutSeconds()).isBetween(0L, (long) Integer.MAX_VALUE);
        } else if (r instanceof LineRequest.Stats s) {
            assertThat(s.type().length()).isLessThan(line.length);
        } else {
            assertThat(r).isInstanceOfAny(LineRequest.Release.class, LineRequest.BadCommand.class);
        }
        return r;
    }

    static Stream<Arguments> seeds() {
        return Stream.of(
                "\u0003ACQ4ME wiki:page 2 10 30\nRELEASE\nACQ4ANY k 1 1 0\r\nSTATS FULL\n",
                "\u0000ACQ4ME k\u0000ey 1 1 1\nACQ4ME  k  4294967296  -1  x\nRELEASE k\nSTATS uptime\nHELLO\n",
                "\u0010ACQ4ME " + "x".repeat(80) + " 1 1 1\nRELEASE\n",
                "\u00ffACQ4ME \u00e4\u00f6 1 1 1\n\n\r\nSTATS\n")
                .map(s -> Arguments.of((Object) s.getBytes(StandardCharsets.ISO_8859_1)));
    }
}
