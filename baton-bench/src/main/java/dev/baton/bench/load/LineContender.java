package dev.baton.bench.load;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The PoolCounter line protocol (MediaWiki's {@code poolcounterd}, and Baton's line port): one plain
 * blocking TCP connection per handle, {@code ACQ4ME|ACQ4ANY <key> <W> <Q> <S>} answered by one line
 * ({@code LOCKED}, {@code DONE}, {@code TIMEOUT}, {@code QUEUE_FULL}, {@code ERROR ...}), then
 * {@code RELEASE} answered by {@code RELEASED}. Every command is written with a single flush and the
 * next one only after the reply: poolcounterd answers only the first command of a read and loses a
 * command split over two reads. Handles are spread round-robin over the targets (the nodes of a
 * cluster), from the first at the start of every run (a run's lone client reaches the first). The
 * wait timeout is sent in whole seconds. With a connection per pair every pair is a new handle:
 * connect, acquire, release, close.
 */
public final class LineContender extends Contender {
    private final List<InetSocketAddress> targets;
    private final AtomicInteger next = new AtomicInteger();

    public LineContender(String name, List<InetSocketAddress> targets) {
        super(name, true);
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("no target");
        }
        this.targets = List.copyOf(targets);
    }

    /** {@code host:port[,host:port...]}. */
    public static List<InetSocketAddress> addresses(String s) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String t : s.split(",")) {
            t = t.trim();
            int colon = t.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("address wants host:port, got " + t);
            }
            out.add(InetSocketAddress.createUnresolved(t.substring(0, colon), Integer.parseInt(t.substring(colon + 1))));
        }
        return out;
    }

    @Override
    public Map<String, String> facts() {
        List<String> t = new ArrayList<>();
        targets.forEach(a -> t.add(a.getHostString() + ":" + a.getPort()));
        return facts("PoolCounter line protocol, one blocking socket per client thread",
                "ACQ4ME key W maxqueue timeout, RELEASE; clients spread round-robin over the addresses",
                String.join(",", t),
                "connect (TCP, in the open time), ACQ4ME, RELEASE, close the socket (as MediaWiki does per web request;"
                        + " the next pair's connection goes to the next address)");
    }

    @Override
    public void runStarts() {
        next.set(0);
    }

    @Override
    public Handle open() throws IOException {
        InetSocketAddress t = targets.get(Math.floorMod(next.getAndIncrement(), targets.size()));
        return new LineHandle(new InetSocketAddress(t.getHostString(), t.getPort()));
    }

    private static final class LineHandle implements Handle {
        private final InetSocketAddress target;
        private final Socket socket;
        private final BufferedReader in;
        private final OutputStream out;

        LineHandle(InetSocketAddress target) throws IOException {
            this.target = target;
            Socket so = new Socket();
            try {
                so.setTcpNoDelay(true);
                so.connect(target, 5000);
                in = new BufferedReader(new InputStreamReader(so.getInputStream(), StandardCharsets.US_ASCII), 256);
                out = so.getOutputStream();
            } catch (IOException e) {
                so.close();
                throw e;
            }
            this.socket = so;
        }

        @Override
        public Outcome acquire(Request r) throws IOException, ContenderException {
            long timeoutS = r.timeout().toSeconds();
            // The server answers a queued acquire within the timeout; well past it, give up on the socket.
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeoutS * 1500L + 5000));
            send((r.forAnyone() ? "ACQ4ANY " : "ACQ4ME ") + r.key() + " " + r.workers() + " " + r.maxQueue() + " "
                    + timeoutS + "\n");
            String reply = readReply();
            switch (reply) {
                case "LOCKED" -> {
                    return Outcome.GRANTED;
                }
                case "TIMEOUT" -> {
                    return Outcome.TIMEOUT;
                }
                case "QUEUE_FULL" -> {
                    return Outcome.QUEUE_FULL;
                }
                case "DONE" -> {
                    if (r.forAnyone()) {
                        return Outcome.DONE;
                    }
                }
                default -> { }
            }
            // DONE for ACQ4ME, ERROR ..., LOCK_HELD or garbage: the connection's state is unknown.
            throw new ContenderException(kind(reply), "unexpected reply " + reply + " from " + target);
        }

        @Override
        public void release() throws IOException, ContenderException {
            send("RELEASE\n");
            String reply = readReply();
            if (!reply.equals("RELEASED")) {
                throw new ContenderException("RELEASE->" + kind(reply), "RELEASE answered " + reply + " by " + target);
            }
        }

        private static String kind(String reply) {
            String k = reply.startsWith("ERROR") || reply.equals("LOCK_HELD") || reply.equals("NOT_LOCKED")
                    || reply.equals("DONE") ? reply : "other:" + reply;
            return k.length() > 60 ? k.substring(0, 60) : k;
        }

        /** One write per command: poolcounterd drops a command split over two reads. */
        private void send(String line) throws IOException {
            out.write(line.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        private String readReply() throws IOException {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("connection closed by " + target);
            }
            return line;
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway; the server frees what this connection held or waited for
            }
        }
    }
}
