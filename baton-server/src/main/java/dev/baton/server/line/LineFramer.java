package dev.baton.server.line;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ByteProcessor;

/**
 * Cuts one connection's input into lines, one at a time, when the connection is ready to run the
 * next; pipelined input is held as bytes, never as a queue of parsed requests. A line ends at
 * {@code \n}; a {@code \r} before it is not part of the line (nor of its limit).
 *
 * <p>A line over {@code maxLineBytes} is noticed as soon as its bytes arrive, before its end: the
 * input is cut there (nothing after it is kept or read) and {@link #next()} answers {@link #TOO_LONG}
 * after the complete lines before it. Not thread-safe: one connection's event loop.
 */
final class LineFramer {
    /** What {@link #next()} answers for a line over the limit; nothing follows it. */
    static final Object TOO_LONG = new Object() {
        @Override
        public String toString() {
            return "TOO_LONG";
        }
    };

    private final int maxLineBytes;
    private ByteBuf in;
    private boolean tooLong;

    LineFramer(ByteBufAllocator alloc, int maxLineBytes) {
        this.maxLineBytes = maxLineBytes;
        this.in = alloc.heapBuffer(256);
    }

    /** Appends received bytes (the caller keeps and releases {@code buf}); ignored after a line too long. */
    void append(ByteBuf buf) {
        if (tooLong || in == null) {
            return;
        }
        in.writeBytes(buf);
        int newline = in.forEachByteDesc(ByteProcessor.FIND_LF);
        int tail = newline < 0 ? in.readableBytes() : in.writerIndex() - newline - 1;
        if (tail > maxLineBytes) {
            // Over the limit before its end arrived: answered in turn, after the lines before it.
            tooLong = true;
            in.writerIndex(in.writerIndex() - tail);
        }
    }

    /** The next complete line (without its end), {@link #TOO_LONG}, or null while none is complete. */
    Object next() {
        if (in == null) {
            return null;
        }
        int newline = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
        if (newline < 0) {
            return tooLong ? TOO_LONG : null;
        }
        int length = newline - in.readerIndex();
        // As a line decoder stripping "\r\n" would: the limit excludes the \r, the parser drops another.
        int content = length > 0 && in.getByte(newline - 1) == '\r' ? length - 1 : length;
        if (content > maxLineBytes) {
            in.skipBytes(in.readableBytes());
            tooLong = true;
            return TOO_LONG;
        }
        byte[] line = new byte[content];
        in.readBytes(line);
        in.skipBytes(length - content + 1);
        return line;
    }

    /** A line over the limit has been seen: nothing more is taken. */
    boolean tooLong() {
        return tooLong;
    }

    /** Bytes received and not yet taken as lines. */
    int buffered() {
        return in == null ? 0 : in.readableBytes();
    }

    /** Gives back the space of lines already taken. */
    void compact() {
        if (in != null) {
            in.discardSomeReadBytes();
        }
    }

    void release() {
        if (in != null) {
            in.release();
            in = null;
        }
    }
}
