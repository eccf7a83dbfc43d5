package dev.baton.bench.load;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where the line contender's handles go: round-robin over its addresses, from the first at the
 * start of every run, so that the lone client of a one-client cell reaches the same address
 * whatever ran before it (the report says which node that is).
 */
class LineContenderTest {
    private final List<ServerSocket> listeners = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (ServerSocket s : listeners) {
            s.close();
        }
    }

    @Test
    void everyRunStartsAtTheFirstAddress() throws Exception {
        List<InetSocketAddress> targets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            listeners.add(s);
            targets.add(InetSocketAddress.createUnresolved("127.0.0.1", s.getLocalPort()));
        }
        try (LineContender c = new LineContender("line", targets)) {
            c.runStarts();
            assertThat(openedAt(c, 4)).containsExactly(0, 1, 2, 0);
            c.runStarts(); // a new run after one that opened four handles
            assertThat(openedAt(c, 1)).containsExactly(0);
        }
    }

    /** Opens {@code n} handles one after another; the index of the listener each reached. */
    private List<Integer> openedAt(LineContender c, int n) throws Exception {
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try (Contender.Handle h = c.open()) {
                at.add(acceptedBy());
            }
        }
        return at;
    }

    private int acceptedBy() throws Exception {
        for (int i = 0; i < listeners.size(); i++) {
            ServerSocket s = listeners.get(i);
            s.setSoTimeout(50);
            try (Socket accepted = s.accept()) {
                return i;
            } catch (java.net.SocketTimeoutException none) {
                // not this one
            }
        }
        throw new AssertionError("no listener was connected to");
    }
}
