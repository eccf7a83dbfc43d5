package dev.baton.server.line;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
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
        byte[] keyBytes = token(line, pos, to);
        String key = keyBytes == null ? null : utf8(keyBytes);
        long workers = atou(token(line, pos, to));
        long maxQueue = atou(token(line, pos, to));
        long timeout = atou(token(line, pos, to));
        return new LineRequest.Acquire(forAnyone, key, (int) Math.min(workers, Integer.MAX_VALUE),
                (int) Math.min(maxQueue, Integer.MAX_VALUE), timeout);
    }

    /** The next space-separated token from {@code pos[0]}, or null (strtok with " "). */
    private static byte[] token(byte[] line, int[] pos, int to) {
        int i = pos[0];
        while (i < to && line[i] == ' ') {
            i++;
        }
        if (i >= to) {
            pos[0] = to;
            return null;
        }
        int start = i;
        while (i < to && line[i] != ' ') {
            i++;
        }
        pos[0] = i;
        byte[] t = new byte[i - start];
        System.arraycopy(line, start, t, 0, t.length);
        return t;
    }

    /** poolcounterd's {@code atou}: digits only, else 0; saturates instead of overflowing. */
    static long atou(byte[] t) {
        if (t == null) {
            return 0;
        }
        long v = 0;
        for (byte b : t) {
            if (b < '0' || b > '9') {
                return 0;
            }
            v = Math.min(v * 10 + (b - '0'), Integer.MAX_VALUE);
        }
        return v;
    }

    private static String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
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
