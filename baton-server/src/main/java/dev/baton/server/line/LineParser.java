package dev.baton.server.line;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns one protocol line (without its {@code \n}) into a {@link LineRequest}, with poolcounterd's
 * parsing rules ({@code locks.c: process_line}): a trailing {@code \r} is dropped, commands are
 * case-sensitive prefixes ({@code "ACQ4ME "}, {@code "ACQ4ANY "}, {@code "RELEASE"},
 * {@code "STATS "}), arguments are separated by runs of spaces, extra arguments are ignored.
 *
 * <p>Keys are bytes on the wire; Baton's keys are strings shared with the gRPC API, so a key must be
 * valid UTF-8 (every key MediaWiki builds is). A key that is not is refused as a syntax error rather
 * than mangled: mapping two different byte strings to one key would make them share a pool.
 */
final class LineParser {
    private LineParser() {}

    static LineRequest parse(byte[] line, int length) {
        int n = length;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        for (int i = 0; i < n; i++) {
            if (line[i] == 0) { // poolcounterd sees a C string: it ends at the first NUL
                n = i;
                break;
            }
        }
        if (startsWith(line, n, "ACQ4ME ")) {
            return acquire(line, 7, n, false);
        }
        if (startsWith(line, n, "ACQ4ANY ")) {
            return acquire(line, 8, n, true);
        }
        if (startsWith(line, n, "RELEASE")) {
            return new LineRequest.Release();
        }
        if (startsWith(line, n, "STATS ")) {
            return new LineRequest.Stats(new String(line, 6, n - 6, StandardCharsets.ISO_8859_1));
        }
        return new LineRequest.BadCommand();
    }

    static LineRequest parse(String line) {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        return parse(b, b.length);
    }

    private static LineRequest.Acquire acquire(byte[] line, int from, int to, boolean forAnyone) {
        int[] pos = {from};
        String key = tokenEnd(line, pos, to) ? null : key(line, pos, to);
        long workers = number(line, pos, to);
        long maxQueue = number(line, pos, to);
        long timeout = number(line, pos, to);
        return new LineRequest.Acquire(forAnyone, key, (int) Math.min(workers, Integer.MAX_VALUE),
                (int) Math.min(maxQueue, Integer.MAX_VALUE), timeout);
    }

    /** Skips spaces from {@code pos[0]}; true if no token is left (strtok with " "). */
    private static boolean tokenEnd(byte[] line, int[] pos, int to) {
        int i = pos[0];
        while (i < to && line[i] == ' ') {
            i++;
        }
        pos[0] = i;
        return i >= to;
    }

    /** The token at {@code pos[0]} (spaces skipped) as a key: null if it is not valid UTF-8. */
    private static String key(byte[] line, int[] pos, int to) {
        int start = pos[0];
        int i = start;
        boolean ascii = true;
        while (i < to && line[i] != ' ') {
            ascii &= line[i] >= 0;
            i++;
        }
        pos[0] = i;
        // ASCII (every key MediaWiki builds) needs no decoder; ISO-8859-1 maps it byte for byte.
        return ascii ? new String(line, start, i - start, StandardCharsets.ISO_8859_1) : utf8(line, start, i - start);
    }

    /** The next token as poolcounterd's {@code atou} reads it (0 if missing or not all digits). */
    private static long number(byte[] line, int[] pos, int to) {
        if (tokenEnd(line, pos, to)) {
            return 0;
        }
        int start = pos[0];
        int i = start;
        while (i < to && line[i] != ' ') {
            i++;
        }
        pos[0] = i;
        return atou(line, start, i);
    }

    /** poolcounterd's {@code atou}: digits only, else 0; saturates instead of overflowing. */
    static long atou(byte[] t) {
        return t == null ? 0 : atou(t, 0, t.length);
    }

    private static long atou(byte[] t, int from, int to) {
        long v = 0;
        for (int i = from; i < to; i++) {
            byte b = t[i];
            if (b < '0' || b > '9') {
                return 0;
            }
            v = Math.min(v * 10 + (b - '0'), Integer.MAX_VALUE);
        }
        return v;
    }

    /** A strict decoder per thread (the door's one event loop): reports, never replaces. */
    private static final ThreadLocal<CharsetDecoder> UTF8 = ThreadLocal.withInitial(() -> StandardCharsets.UTF_8
            .newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT));

    private static String utf8(byte[] b, int from, int length) {
        try {
            return UTF8.get().reset().decode(ByteBuffer.wrap(b, from, length)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static boolean startsWith(byte[] line, int n, String prefix) {
        if (n < prefix.length()) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            if (line[i] != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
