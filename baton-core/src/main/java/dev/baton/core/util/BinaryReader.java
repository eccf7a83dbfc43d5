package dev.baton.core.util;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads what {@link BinaryWriter} wrote. Every read is bounds-checked and every length is
 * checked against a limit before anything is allocated, so a corrupt or hostile message
 * fails with {@link MalformedException} instead of an OutOfMemoryError.
 */
public final class BinaryReader {
    private final byte[] buf;
    private final int end;
    private int pos;

    public BinaryReader(byte[] buf) {
        this(buf, 0, buf.length);
    }

    public BinaryReader(byte[] buf, int off, int len) {
        this.buf = buf;
        this.pos = off;
        this.end = off + len;
    }

    public static final class MalformedException extends RuntimeException {
        public MalformedException(String message) {
            super(message);
        }
    }

    private void need(int n) {
        if (n < 0 || end - pos < n) {
            throw new MalformedException("truncated message: need " + n + " bytes, have " + (end - pos));
        }
    }

    public int u8() {
        need(1);
        return buf[pos++] & 0xFF;
    }

    public boolean bool() {
        int b = u8();
        if (b > 1) {
            throw new MalformedException("bad boolean " + b);
        }
        return b == 1;
    }

    public long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = u8();
            result |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new MalformedException("varint longer than 10 bytes");
    }

    public long svarint() {
        long v = varint();
        return (v >>> 1) ^ -(v & 1);
    }

    /** A varint that must fit in [0, max]. */
    public int count(int max) {
        long v = varint();
        if (v < 0 || v > max) {
            throw new MalformedException("count " + v + " outside [0, " + max + "]");
        }
        return (int) v;
    }

    /**
     * The number of items that follow, each at least one byte long: at most {@code max}, and at
     * most the bytes left, so that sizing a list or an array by it never reserves more than the
     * message itself could fill (a short message with a large count fails here, not after the
     * allocation).
     */
    public int itemCount(int max) {
        int n = count(max);
        if (n > end - pos) {
            throw new MalformedException("count " + n + " exceeds the " + (end - pos) + " bytes left");
        }
        return n;
    }

    public long fixed64() {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (buf[pos++] & 0xFF);
        }
        return v;
    }

    public byte[] bytes(int maxLen) {
        int n = count(maxLen);
        need(n);
        byte[] out = new byte[n];
        System.arraycopy(buf, pos, out, 0, n);
        pos += n;
        return out;
    }

    /**
     * A length-prefixed string, which must be well-formed UTF-8 (what {@link BinaryWriter} writes):
     * a lenient decoder would turn each bad byte into a three-byte U+FFFD, so a name within the
     * ceiling here could re-encode far past it, and two different byte strings into one name.
     */
    public String string(int maxBytes) {
        int n = count(maxBytes);
        need(n);
        String s;
        if (isAscii(pos, n)) {
            s = new String(buf, pos, n, StandardCharsets.ISO_8859_1); // the usual names: no decoder needed
        } else {
            try {
                s = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(buf, pos, n))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new MalformedException("string of " + n + " bytes is not well-formed UTF-8");
            }
        }
        pos += n;
        return s;
    }

    private boolean isAscii(int from, int n) {
        for (int i = from; i < from + n; i++) {
            if (buf[i] < 0) {
                return false;
            }
        }
        return true;
    }

    public String optString(int maxBytes) {
        return bool() ? string(maxBytes) : null;
    }

    public boolean atEnd() {
        return pos == end;
    }

    public int remaining() {
        return end - pos;
    }

    public void expectEnd() {
        if (pos != end) {
            throw new MalformedException((end - pos) + " unexpected trailing bytes");
        }
    }
}
