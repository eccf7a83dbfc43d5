package dev.baton.bench.load;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * ZooKeeper through Apache Curator's lock recipes: one {@link CuratorFramework}, hence one ZooKeeper
 * session, per handle. W = 1 uses {@link InterProcessMutex} (an ephemeral sequential node per
 * acquire, each waiter watching its predecessor); W &gt; 1 uses {@link InterProcessSemaphoreV2} (a lease
 * node per holder, created under the recipe's internal mutex, waiters watching the leases' parent).
 * With {@code semaphoreAlways} W = 1 uses the semaphore too. Curator has no bound on waiters, so
 * {@code maxQueue} is ignored, and no acquire-for-anyone.
 */
public final class CuratorContender extends Contender {
    private static final String ROOT = "/baton-bench";

    private final String connect;
    private final boolean semaphoreAlways;

    /** @param connect ZooKeeper connect string, {@code host:port,host:port,...} */
    public CuratorContender(String name, String connect, boolean semaphoreAlways) {
        super(name, false);
        this.connect = connect;
        this.semaphoreAlways = semaphoreAlways;
    }

    @Override
    public Map<String, String> facts() {
        return facts("Curator " + Versions.of("curator") + " on the ZooKeeper " + Versions.of("zookeeper")
                        + " client, one session per client thread",
                semaphoreAlways ? "InterProcessSemaphoreV2 for every W"
                        : "InterProcessMutex for W=1, InterProcessSemaphoreV2 for W>1", connect,
                "a new CuratorFramework, hence a new ZooKeeper session, connected before the acquire (open time) and"
                        + " closed after the release: Curator has no lighter session (a ZooKeeper client per session)");
    }

    @Override
    public Handle open() throws IOException, InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connect).sessionTimeoutMs(15_000)
                .connectionTimeoutMs(15_000).retryPolicy(new ExponentialBackoffRetry(100, 3)).build();
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            c.close();
            throw new IOException("no ZooKeeper connection within 30 s to " + connect);
        }
        return new CuratorHandle(c);
    }

    private final class CuratorHandle implements Handle {
        private final CuratorFramework client;
        /** Recipe objects by key: they are cheap, but re-creating them per acquire would be wasteful. */
        private final Map<String, InterProcessMutex> mutexes = new HashMap<>();
        private final Map<String, InterProcessSemaphoreV2> semaphores = new HashMap<>();
        private InterProcessMutex heldMutex;
        private Lease heldLease;

        CuratorHandle(CuratorFramework client) {
            this.client = client;
        }

        @Override
        public Outcome acquire(Request r) throws Exception {
            long ms = r.timeout().toMillis();
            if (r.workers() == 1 && !semaphoreAlways) {
                InterProcessMutex m = mutexes.computeIfAbsent(r.key(),
                        k -> new InterProcessMutex(client, ROOT + "/mutex/" + k));
                if (!m.acquire(ms, TimeUnit.MILLISECONDS)) {
                    return Outcome.TIMEOUT;
                }
                heldMutex = m;
                return Outcome.GRANTED;
            }
            InterProcessSemaphoreV2 s = semaphores.computeIfAbsent(r.key() + "/" + r.workers(),
                    k -> new InterProcessSemaphoreV2(client, ROOT + "/semaphore/" + r.key() + "-w" + r.workers(),
                            r.workers()));
            Lease lease = s.acquire(ms, TimeUnit.MILLISECONDS);
            if (lease == null) {
                return Outcome.TIMEOUT;
            }
            heldLease = lease;
            return Outcome.GRANTED;
        }

        @Override
        public void release() throws Exception {
            if (heldMutex != null) {
                InterProcessMutex m = heldMutex;
                heldMutex = null;
                m.release();
            } else if (heldLease != null) {
                Lease l = heldLease;
                heldLease = null;
                l.close();
            } else {
                throw new ContenderException("release:not held");
            }
        }

        @Override
        public void close() {
            try {
                client.close(); // ends the session: its ephemeral nodes go
            } catch (RuntimeException ignored) {
                // closing anyway
            }
        }
    }
}
