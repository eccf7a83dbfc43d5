package dev.baton.server.raft;

import com.alipay.sofa.jraft.Node;
import com.alipay.sofa.jraft.conf.ConfigurationEntry;
import com.alipay.sofa.jraft.core.NodeImpl;
import com.alipay.sofa.jraft.core.State;
import com.alipay.sofa.jraft.entity.PeerId;
import com.alipay.sofa.jraft.util.Utils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets a follower start an election as soon as its leader's lease has run out, instead of at the next
 * tick of SOFAJRaft's election timer.
 *
 * <p>Why: SOFAJRaft looks at the leader's lease (a heartbeat within the election timeout E) only when
 * its election timer fires, and that timer runs freely with a period of E plus a random delay; it is
 * not restarted by heartbeats. So a follower notices a dead or paused leader anywhere from E to about
 * 2E + delay after the last heartbeat: with E = 1 s, from kill -9 or SIGSTOP of the leader to the next
 * grant on a follower took 1.1-3.7 s, median 1.6-1.9 s (docs/benchmark-history.md, "Fail-over as
 * line clients on followers feel it").
 *
 * <p>This watch looks when the lease can first have run out (the last word from the leader plus E:
 * a follower that keeps hearing from its leader is looked at about once per E, not polled) and,
 * while it is out, every {@value #TICK_MS} ms at most; on a leader or a candidate, whose lease is not
 * watched, it looks every E/4. Once the lease has run out it runs the engine's own
 * election-timeout handler, which checks again under the node's lock that the node is a follower and
 * the lease is out, and starts the pre-vote. So it never starts an election the engine would not
 * start itself, only sooner. The followers take turns: the one whose address sorts first among the
 * members other than the lost leader goes at once (plus up to E/20 at random), the next a quarter of E
 * later, and so on. Without turns two followers that lost the same leader at the same instant both
 * pass the pre-vote and split the vote, which costs a vote timeout (about E) more; that happened in
 * half the trials when every follower drew from the same short random delay. If the first follower's
 * log is behind, the next one's pre-vote wins a quarter of E later. After a failed attempt a follower
 * tries again half of E later. The engine's own timer keeps running as before.
 *
 * <p>The handler, the lease timestamp and the configuration are private to SOFAJRaft's
 * {@code NodeImpl}; they are found by reflection ({@code ElectionNudgeTest} pins their names for the
 * SOFAJRaft version in the pom). If they are missing, the watch logs one WARN and does nothing:
 * elections then run on the engine's timer alone.
 */
final class ElectionNudge implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ElectionNudge.class);
    static final int TICK_MS = 20;

    /** The engine's private hooks, or null when this SOFAJRaft does not have them. */
    static final Hooks HOOKS = Hooks.find();

    record Hooks(Field lastLeaderTimestamp, Method handleElectionTimeout, Method getConf) {
        static Hooks find() {
            try {
                Field f = NodeImpl.class.getDeclaredField("lastLeaderTimestamp");
                Method m = NodeImpl.class.getDeclaredMethod("handleElectionTimeout");
                Method c = NodeImpl.class.getDeclaredMethod("getConf");
                if (f.getType() != long.class) {
                    throw new NoSuchFieldException("lastLeaderTimestamp is a " + f.getType());
                }
                if (c.getReturnType() != ConfigurationEntry.class) {
                    throw new NoSuchMethodException("getConf returns a " + c.getReturnType());
                }
                f.setAccessible(true);
                m.setAccessible(true);
                c.setAccessible(true);
                return new Hooks(f, m, c);
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.warn("Followers notice a lost leader on SOFAJRaft's election timer only (up to twice the election"
                        + " timeout): this SOFAJRaft has no {}", e.toString());
                return null;
            }
        }
    }

    private final NodeImpl node;
    private final int electionTimeoutMs;
    private final int turnMs;
    private final int spreadMs;
    private final ScheduledExecutorService timer;
    private final AtomicLong nudges = new AtomicLong();

    /** The lease timestamp of the lapse being watched (0: none), and when to act on it. */
    private long lapseOf;
    private long nudgeAtMs;
    /** The leader this node followed last (its lease is the one that runs out). */
    private PeerId lastLeader = PeerId.emptyPeer();

    private ElectionNudge(NodeImpl node, int electionTimeoutMs, String nodeId) {
        this.node = node;
        this.electionTimeoutMs = electionTimeoutMs;
        this.turnMs = Math.max(1, electionTimeoutMs / 4);
        this.spreadMs = Math.max(1, electionTimeoutMs / 20);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "baton-election-" + nodeId);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Starts watching {@code node}'s leader lease; returns null (and watches nothing) when the node is
     * not SOFAJRaft's {@code NodeImpl} or the engine's hooks were not found.
     */
    static ElectionNudge start(Node node, int electionTimeoutMs, String nodeId) {
        if (HOOKS == null || !(node instanceof NodeImpl impl)) {
            return null;
        }
        ElectionNudge n = new ElectionNudge(impl, electionTimeoutMs, nodeId);
        n.timer.schedule(n::tickSafely, TICK_MS, TimeUnit.MILLISECONDS);
        return n;
    }

    /** How many times the watch ran the engine's election-timeout handler. */
    long nudges() {
        return nudges.get();
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }

    private void tickSafely() {
        long nextMs = notFollowingMs();
        try {
            nextMs = tick();
        } catch (RuntimeException | ReflectiveOperationException e) {
            // the engine's own timer still runs: this only makes elections start sooner
            LOG.debug("election nudge failed", e);
        }
        try {
            timer.schedule(this::tickSafely, Math.max(1, nextMs), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // close() ran: the watch ends
        }
    }

    /** How long a leader or candidate waits between looks (its own lease is not watched). */
    private long notFollowingMs() {
        return Math.max(TICK_MS, turnMs);
    }

    /**
     * When to look next while following, ms from {@code now}: while the leader was heard from within
     * the election timeout, not before the lease can first run out ({@code lastHeard + E}: nothing can
     * happen earlier, as the lease timestamp only moves forward); once it is out, at the time set to
     * act ({@code nudgeAt}), but at least every {@value #TICK_MS} ms so a new leader is noticed.
     */
    static long nextLookMs(long now, long lastHeard, int electionTimeoutMs, long nudgeAt) {
        long leaseLeft = lastHeard + electionTimeoutMs - now;
        if (leaseLeft > 0) {
            return leaseLeft;
        }
        return Math.max(1, Math.min(TICK_MS, nudgeAt - now));
    }

    /** One look; returns the ms until the next one. */
    private long tick() throws ReflectiveOperationException {
        if (node.getNodeState() != State.STATE_FOLLOWER) {
            lapseOf = 0;
            return notFollowingMs();
        }
        PeerId leader = node.getLeaderId();
        if (leader != null && !leader.isEmpty()) {
            lastLeader = leader;
        }
        long last = HOOKS.lastLeaderTimestamp().getLong(node);
        long now = Utils.monotonicMs(); // the engine's clock for the lease
        if (now - last < electionTimeoutMs) {
            return nextLookMs(now, last, electionTimeoutMs, 0); // the leader was heard from within the election timeout
        }
        if (last != lapseOf) {
            lapseOf = last;
            nudgeAtMs = last + electionTimeoutMs + turn() * (long) turnMs + random(spreadMs);
        }
        if (now < nudgeAtMs) {
            return nextLookMs(now, last, electionTimeoutMs, nudgeAtMs);
        }
        nudgeAtMs = now + electionTimeoutMs / 2 + turn() * (long) turnMs + random(spreadMs);
        nudges.incrementAndGet();
        try {
            HOOKS.handleElectionTimeout().invoke(node);
        } catch (InvocationTargetException e) {
            LOG.debug("the engine's election-timeout handler failed", e.getCause());
        }
        return TICK_MS;
    }

    /** This node's place among the members other than the lost leader, by address (0 goes first). */
    private int turn() throws ReflectiveOperationException {
        ConfigurationEntry conf = (ConfigurationEntry) HOOKS.getConf().invoke(node);
        PeerId self = node.getNodeId().getPeerId();
        if (conf == null || conf.getConf() == null) {
            return 0;
        }
        return turn(self, lastLeader, conf.getConf().listPeers());
    }

    static int turn(PeerId self, PeerId lostLeader, List<PeerId> members) {
        String me = self.toString();
        int before = 0;
        for (PeerId p : members) {
            if (!p.equals(self) && !p.equals(lostLeader) && p.toString().compareTo(me) < 0) {
                before++;
            }
        }
        return before;
    }

    private static int random(int bound) {
        return ThreadLocalRandom.current().nextInt(bound + 1);
    }
}
