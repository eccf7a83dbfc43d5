package dev.baton.server.line;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.TooLongFrameException;
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
 * frame decoder of {@code LineDoor}'s pipeline (the same {@link LineBasedFrameDecoder} settings),
 * then {@link LineParser}. The first input byte chooses how the rest is cut into reads, as TCP
 * would. Properties: nothing but {@link TooLongFrameException} (answered {@code LINE_TOO_LONG}) is
 * ever raised; no frame is longer than the limit; the parser never throws and its values stay in
 * their documented ranges (a key is absent or valid UTF-8 without spaces or NUL, numbers within
 * {@code [0, Integer.MAX_VALUE]}); and how the bytes are cut into reads changes nothing (but see
 * the CRLF edge below).
 */
class LineRequestFuzzTest {
    /** Small, so that the fuzzer reaches the too-long path; the door's minimum is 64. */
    private static final int MAX_LINE = 64;
    private static final Object TOO_LONG = "TOO_LONG";

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
        // Netty counts a line's '\r' against the limit while it waits for the '\n' of a CRLF cut
        // between two reads, so a line of exactly the limit can then be refused as too long. A
        // known edge of the frame decoder, not of Baton: with a '\r' only the rest is checked.
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
        EmbeddedChannel ch = new EmbeddedChannel(new LineBasedFrameDecoder(MAX_LINE, true, true),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf buf = (ByteBuf) msg;
                        try {
                            byte[] line = new byte[buf.readableBytes()];
                            buf.readBytes(line);
                            out.add(parseChecked(line));
                        } finally {
                            buf.release();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        if (!(cause instanceof TooLongFrameException)) {
                            throw new AssertionError("undocumented failure decoding lines", cause);
                        }
                        out.add(TOO_LONG);
                    }
                });
        for (int from = 0; from < stream.length; from += readSize) {
            ch.writeInbound(Unpooled.wrappedBuffer(stream, from, Math.min(readSize, stream.length - from)));
        }
        ch.finishAndReleaseAll();
        return out;
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
