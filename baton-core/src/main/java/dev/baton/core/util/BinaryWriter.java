package dev.baton.core.util;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Append-only byte buffer with the primitive encodings used by commands and snapshots:
 * unsigned LEB128 varints, zig-zag signed varints, length-prefixed UTF-8 strings and byte arrays.
 * Every encoding is fixed by this class, never by the JVM, so two replicas produce the same bytes.
 */
public final class BinaryWriter {
    private byte[] buf;
    private int len;

    public BinaryWriter() {
        this(64);
    }

    public BinaryWriter(int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    private void ensure(int extra) {
        if (len + extra > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + extra));
        }
    }

    public BinaryWriter u8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    public BinaryWriter bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    /** Unsigned varint; negative values take 10 bytes but round-trip. */
    public BinaryWriter varint(long v) {
        ensure(10);
        while ((v & ~0x7FL) != 0) {
            buf[len++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[len++] = (byte) v;
        return this;
    }

    /** Zig-zag signed varint, compact for small negative numbers too. */
    public BinaryWriter svarint(long v) {
        return varint((v << 1) ^ (v >> 63));
    }

    public BinaryWriter fixed64(long v) {
        ensure(8);
        for (int i = 7; i >= 0; i--) {
            buf[len++] = (byte) (v >>> (i * 8));
        }
        return this;
    }

    public BinaryWriter bytes(byte[] b) {
        varint(b.length);
        ensure(b.length);
        System.arraycopy(b, 0, buf, len, b.length);
        len += b.length;
        return this;
    }

    public BinaryWriter raw(byte[] b, int off, int n) {
        ensure(n);
        System.arraycopy(b, off, buf, len, n);
        len += n;
        return this;
    }

    /** Length-prefixed UTF-8. ASCII strings (the usual names) are copied without an intermediate array. */
    public BinaryWriter string(String s) {
        int n = s.length();
        if (n < 128) {
            ensure(1 + n);
            int start = len + 1;
            for (int i = 0; i < n; i++) {
                char ch = s.charAt(i);
                if (ch >= 0x80) {
                    return bytes(s.getBytes(StandardCharsets.UTF_8));
                }
                buf[start + i] = (byte) ch;
            }
            buf[len] = (byte) n; // a one-byte varint, as n < 128
            len = start + n;
            return this;
        }
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A string that may be null: a presence byte, then the string. */
    public BinaryWriter optString(String s) {
        if (s == null) {
            return u8(0);
        }
        u8(1);
        return string(s);
    }

    public int size() {
        return len;
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(buf, len);
    }

    /** The backing array; only the first {@link #size()} bytes are meaningful. */
    public byte[] buffer() {
        return buf;
    }

    public void reset() {
        len = 0;
    }
}
