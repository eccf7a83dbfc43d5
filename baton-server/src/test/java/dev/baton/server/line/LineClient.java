package dev.baton.server.line;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * A raw PoolCounter connection for tests: writes bytes exactly as given and reads replies line by
 * line. Reads wait up to {@link #READ_TIMEOUT_MS} (generous: a missing reply fails the test, a slow
 * machine does not). To show that nothing was sent in between, tests use a {@code STATS} round trip
 * rather than a timed silence.
 */
public final class LineClient implements AutoCloseable {
    static final int READ_TIMEOUT_MS = 30_000;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    public LineClient(String host, int port) {
        this(host, port, null);
    }

    /** Connects from {@code localAddress} (e.g. 127.0.0.2: on Linux all of 127/8 is this host). */
    public LineClient(String host, int port, String localAddress) {
        try {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            if (localAddress != null) {
                socket.bind(new InetSocketAddress(localAddress, 0));
            }
            socket.connect(new InetSocketAddress(host, port), READ_TIMEOUT_MS);
            socket.setSoTimeout(READ_TIMEOUT_MS);
            in = socket.getInputStream();
            out = socket.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public LineClient(int port) {
        this("127.0.0.1", port);
    }

    /** Sends the text as is (no newline added). */
    public LineClient sendRaw(String s) {
        try {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends bytes as they are (for keys that are not UTF-8). */
    public LineClient sendBytes(byte[] b) {
        try {
            out.write(b);
            out.flush();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends one command line. */
    public LineClient send(String line) {
        return sendRaw(line + "\n");
    }

    /** The next reply line, without its newline. Fails on end of stream or after the read timeout. */
    public String read() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try {
            while (true) {
                int c = in.read();
                if (c < 0) {
                    throw new IllegalStateException("connection closed by the server after \"" + b + "\"");
                }
                if (c == '\n') {
                    return b.toString(StandardCharsets.UTF_8);
                }
                b.write(c);
            }
        } catch (SocketTimeoutException e) {
            throw new IllegalStateException("no reply within " + READ_TIMEOUT_MS + " ms (read so far: \"" + b + "\")");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends a line and reads one reply line. */
    public String call(String line) {
        return send(line).read();
    }

    /** True if the server closed the connection (end of stream) before sending anything more. */
    public boolean closedByServer() {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return true; // reset
        }
    }

    /**
     * Proves that no reply is pending: a {@code STATS UPTIME} round trip whose answer must be the
     * very next line.
     */
    public void assertNothingPending() {
        String r = call("STATS UPTIME");
        if (!r.startsWith("uptime: ")) {
            throw new AssertionError("expected no pending reply, but read \"" + r + "\" before the STATS answer");
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing
        }
    }
}
