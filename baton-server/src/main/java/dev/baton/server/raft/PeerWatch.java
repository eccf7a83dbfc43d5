package dev.baton.server.raft;

import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.core.Replicator;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Baton's own account of the leader's peers: one WARN line when a peer stops answering and one when
 * it answers again, instead of the engine's stack trace per retry (SOFAJRaft's replicator and its
 * RPC layer, bolt, retry every 100-500 ms while a peer is down; their loggers are turned down in
 * {@code simplelogger.properties}).
 *
 * <p>Only the leader replicates, so only the leader watches. Every {@code checkMs} it asks SOFAJRaft
 * which peers answered an RPC within the leader lease ({@code Node.listAlivePeers()}, the same test
 * the leader uses to step down). A peer not seen alive for {@code downAfterMs} is reported unreachable,
 * with the reason a plain TCP connect to its Raft port gives (refused, timed out, no route), or, when
 * the port accepts connections, "not answering" and the engine's last error for it. The engine's
 * failed RPCs to it are counted ({@code ReplicatorStateListener.onError}); when the engine could not
 * even open a connection (then it has no replicator and reports no errors; it retries the
 * connection on every check of its own) each of our checks counts as one failed attempt. Once the
 * peer is alive again one line says so, with the count and how long it was unreachable. A node
 * that stops leading forgets what it knew; the next leader reports from scratch.
 */
final class PeerWatch implements Replicator.ReplicatorStateListener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerWatch.class);

    private final Node node;
    private final PeerId self;
    private final long checkMs;
    private final long downAfterNanos;
    private final int probeTimeoutMs;
    private final Function<String, String> describe;
    private final ScheduledExecutorService timer;
    /** Engine RPC failures per peer endpoint since it was last seen alive (engine threads add). */
    private final Map<String, AtomicLong> engineErrors = new ConcurrentHashMap<>();
    private final Map<String, Status> lastError = new ConcurrentHashMap<>();
    // Only the timer thread touches the fields below.
    private final Map<String, Peer> peers = new HashMap<>();
    private boolean leading;

    private static final class Peer {
        long lastAliveNanos;
        boolean down;
        long ownAttempts; // checks while down on which the engine reported no error of its own
        long errorsAtLastCheck;
    }

    /**
     * @param electionTimeoutMs the cluster's election timeout: a peer is unreachable after twice that
     *                          (at least 2 s) without an answer, so a loaded machine's pauses do not
     *                          make a live peer flap
     * @param describe          a peer's name in log lines from its {@code host:port}
     */
    PeerWatch(Node node, PeerId self, int electionTimeoutMs, Function<String, String> describe, String nodeId) {
        this.node = node;
        this.self = self;
        this.checkMs = Math.max(100, Math.min(500, electionTimeoutMs / 2));
        this.downAfterNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(2_000, 2L * electionTimeoutMs));
        this.probeTimeoutMs = Math.max(200, Math.min(1_000, electionTimeoutMs));
        this.describe = describe;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "baton-peers-" + nodeId);
            t.setDaemon(true);
            return t;
        });
    }

    PeerWatch start() {
        node.addReplicatorStateListener(this);
        timer.scheduleWithFixedDelay(this::checkSafely, checkMs, checkMs, TimeUnit.MILLISECONDS);
        return this;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }

    // ---- engine events (SOFAJRaft's closure threads) --------------------------------------------

    @Override
    public void onCreated(PeerId peer) {
    }

    @Override
    public void onError(PeerId peer, Status status) {
        String key = peer.getEndpoint().toString();
        engineErrors.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
        if (status != null) {
            lastError.put(key, status);
        }
    }

    @Override
    public void onDestroyed(PeerId peer) {
    }

    // ---- checks (timer thread) ------------------------------------------------------------------

    private void checkSafely() {
        try {
            check();
        } catch (RuntimeException e) {
            // never let one bad check stop the watch; this is diagnostics, not control
            LOG.debug("peer check failed", e);
        }
    }

    private void check() {
        List<PeerId> alive;
        List<PeerId> all;
        try {
            if (!node.isLeader()) {
                forget();
                return;
            }
            alive = node.listAlivePeers();
            all = node.listPeers();
        } catch (IllegalStateException notLeaderAnyMore) {
            forget();
            return;
        }
        long now = System.nanoTime();
        if (!leading) {
            leading = true;
            for (PeerId p : all) {
                engineErrors.remove(p.getEndpoint().toString());
                lastError.remove(p.getEndpoint().toString());
            }
        }
        Set<String> aliveNow = new HashSet<>();
        for (PeerId p : alive) {
            aliveNow.add(p.getEndpoint().toString());
        }
        Set<String> current = new HashSet<>();
        for (PeerId p : all) {
            if (p.equals(self)) {
                continue;
            }
            String key = p.getEndpoint().toString();
            current.add(key);
            Peer st = peers.computeIfAbsent(key, k -> {
                Peer n = new Peer();
                n.lastAliveNanos = now; // a new leader (or a new member) gets the full grace period
                return n;
            });
            long errors = errorCount(key);
            if (aliveNow.contains(key)) {
                if (st.down) {
                    long attempts = errors + st.ownAttempts;
                    double secs = (now - st.lastAliveNanos) / 1e9; // since it last answered
                    LOG.warn("peer {} reachable again after {} failed attempt{} over {} s", describe.apply(key),
                            attempts, attempts == 1 ? "" : "s", String.format(java.util.Locale.ROOT, "%.1f", secs));
                }
                st.down = false;
                st.ownAttempts = 0;
                st.lastAliveNanos = now;
                resetErrors(key);
                st.errorsAtLastCheck = 0;
            } else {
                if (errors == st.errorsAtLastCheck) {
                    // no RPC failed since the last check: the engine has no replicator for this peer
                    // (it cannot connect) and retries the connection on its own timer
                    st.ownAttempts++;
                }
                st.errorsAtLastCheck = errors;
                if (!st.down && now - st.lastAliveNanos > downAfterNanos) {
                    st.down = true;
                    LOG.warn("peer {} unreachable: {}", describe.apply(key), reason(p, lastError.get(key)));
                }
            }
        }
        peers.keySet().retainAll(current);
    }

    private void forget() {
        leading = false;
        peers.clear();
    }

    private long errorCount(String key) {
        AtomicLong c = engineErrors.get(key);
        return c == null ? 0 : c.get();
    }

    private void resetErrors(String key) {
        AtomicLong c = engineErrors.get(key);
        if (c != null) {
            c.set(0);
        }
        lastError.remove(key);
    }

    /** Why the peer does not answer, as far as a TCP connect to its Raft port can tell. */
    private String reason(PeerId p, Status engineError) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(p.getIp(), p.getPort()), probeTimeoutMs);
        } catch (ConnectException e) {
            return "connection refused";
        } catch (SocketTimeoutException e) {
            return "connect timed out after " + probeTimeoutMs + " ms";
        } catch (NoRouteToHostException e) {
            return "no route to host";
        } catch (UnknownHostException e) {
            return "unknown host " + p.getIp();
        } catch (IOException e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        return "its Raft port accepts connections but it does not answer"
                + (engineError == null ? "" : " (" + engineError.getRaftError() + ": " + engineError.getErrorMsg() + ")");
    }
}
