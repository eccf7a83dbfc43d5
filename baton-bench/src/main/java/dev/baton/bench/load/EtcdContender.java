package dev.baton.bench.load;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.lock.LockResponse;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.support.CloseableClient;
import io.etcd.jetcd.watch.WatchEvent;
import io.grpc.stub.StreamObserver;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * etcd v3 through jetcd. Every handle is an etcd session: its own lease (TTL {@value #LEASE_TTL_S} s,
 * kept alive by jetcd), revoked when the handle closes. Handles share jetcd {@link Client}s (a gRPC
 * channel each), {@code handlesPerClient} to a client, as the threads of one application would.
 *
 * <p>W = 1: etcd's lock service ({@code Lock.lock(name, lease)}): the server puts a key under the
 * name with the lease and answers when every key created before it is gone (each waiter waits for
 * its predecessor); {@code Lock.unlock(key)} deletes it. On timeout the lease is revoked (which
 * deletes the waiting key) and a new one granted.
 *
 * <p>W &gt; 1 (or every W with {@code semaphoreAlways}): a lease-based semaphore recipe. Acquire puts
 * {@code <prefix>/<lease>-<n>} with the lease and reads the keys under the prefix created before it
 * (keys only, {@code max_create_revision}). It holds a slot when fewer than W are ahead; otherwise it
 * watches the prefix for deletes from the read's revision on and crosses off the keys ahead as they
 * go, until fewer than W are left: one put and one read per acquire, no re-reads. Keys created later
 * never get ahead, so a holder stays among the W oldest: at most W hold at once. On timeout it deletes
 * its key; release deletes it. Every waiter of a key is told of every delete under it (etcd sends the
 * events; the client only counts). No bound on waiters: {@code maxQueue} is ignored; no
 * acquire-for-anyone.
 */
public final class EtcdContender extends Contender {
    static final long LEASE_TTL_S = 10;
    private static final String ROOT = "/baton-bench/";

    private final List<String> endpoints;
    private final boolean semaphoreAlways;
    private final int handlesPerClient;
    private final List<Client> clients = new ArrayList<>();
    private int opened;

    /** @param endpoints client URLs, e.g. {@code http://127.0.0.1:2379} */
    public EtcdContender(String name, List<String> endpoints, boolean semaphoreAlways, int handlesPerClient) {
        super(name, false);
        this.endpoints = List.copyOf(endpoints);
        this.semaphoreAlways = semaphoreAlways;
        this.handlesPerClient = Math.max(1, handlesPerClient);
    }

    @Override
    public Map<String, String> facts() {
        String semaphore = "lease-based semaphore (put with lease; hold while fewer than W keys were created before it,"
                + " counting their deletes on a watch)";
        return facts("jetcd " + Versions.of("jetcd") + ", one lease (session) per client thread, " + handlesPerClient
                        + " client threads per jetcd Client",
                semaphoreAlways ? semaphore + " for every W" : "etcd Lock service for W=1; " + semaphore + " for W>1",
                String.join(",", endpoints),
                "a new lease (grant, in the open time, and its keep-alive stream), the acquire and release, then the"
                        + " lease revoked: an etcd session per pair, on the shared jetcd Clients");
    }

    private synchronized Client client() {
        int i = opened++ / handlesPerClient;
        while (clients.size() <= i) {
            clients.add(Client.builder().endpoints(endpoints.toArray(new String[0])).build());
        }
        return clients.get(i);
    }

    @Override
    public Handle open() throws Exception {
        return new EtcdHandle(client());
    }

    /** A lease per pair, on the jetcd Client this thread would have shared (not a new Client every few pairs). */
    @Override
    public PerPair perPair() {
        Client c = client();
        return () -> new EtcdHandle(c);
    }

    @Override
    public synchronized void close() {
        clients.forEach(Client::close);
        clients.clear();
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private final class EtcdHandle implements Handle {
        private final Client client;
        private final KV kv;
        private long lease;
        private CloseableClient keepAlive;
        private long seq;
        /** The lock key (W = 1) or semaphore key held, or null. */
        private ByteSequence heldLock;
        private ByteSequence heldKey;

        EtcdHandle(Client client) throws Exception {
            this.client = client;
            this.kv = client.getKVClient();
            newLease();
        }

        private void newLease() throws Exception {
            lease = client.getLeaseClient().grant(LEASE_TTL_S).get(30, TimeUnit.SECONDS).getID();
            // jetcd renews the lease in the background; a lost lease shows up as a failed release.
            keepAlive = client.getLeaseClient().keepAlive(lease, new StreamObserver<LeaseKeepAliveResponse>() {
                @Override
                public void onNext(LeaseKeepAliveResponse value) {
                    // renewed
                }

                @Override
                public void onError(Throwable t) {
                    // the next call on this lease fails and the generator opens a new handle
                }

                @Override
                public void onCompleted() {
                    // closed by dropLease
                }
            });
        }

        private void dropLease() {
            CloseableClient k = keepAlive;
            keepAlive = null;
            if (k != null) {
                k.close();
            }
            try {
                client.getLeaseClient().revoke(lease).get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // it expires after its TTL anyway
            }
        }

        @Override
        public Outcome acquire(Request r) throws Exception {
            long deadline = System.nanoTime() + r.timeout().toNanos();
            if (r.workers() == 1 && !semaphoreAlways) {
                CompletableFuture<LockResponse> f = client.getLockClient().lock(bytes(ROOT + "lock/" + r.key()), lease);
                try {
                    heldLock = f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS).getKey();
                    return Outcome.GRANTED;
                } catch (TimeoutException e) {
                    f.cancel(true);
                    dropLease(); // deletes the key that still waits on the server
                    newLease();
                    return Outcome.TIMEOUT;
                }
            }
            return semaphore(r, deadline);
        }

        private Outcome semaphore(Request r, long deadline) throws Exception {
            String prefix = ROOT + "semaphore/" + r.key() + "-w" + r.workers() + "/";
            ByteSequence mine = bytes(prefix + Long.toHexString(lease) + "-" + (++seq));
            long created = kv.put(mine, ByteSequence.EMPTY, PutOption.builder().withLeaseId(lease).build())
                    .get(30, TimeUnit.SECONDS).getHeader().getRevision();
            ByteSequence p = bytes(prefix);
            // The keys created before mine. (etcd applies max_create_revision to the keys it returns, not
            // to a count; the filter is repeated here so that this never counts itself.)
            GetResponse g = kv.get(p, GetOption.builder().isPrefix(true).withKeysOnly(true)
                    .withMaxCreateRevision(created - 1).build()).get(30, TimeUnit.SECONDS);
            Set<ByteSequence> ahead = new HashSet<>();
            for (KeyValue k : g.getKvs()) {
                if (k.getCreateRevision() < created) {
                    ahead.add(k.getKey());
                }
            }
            if (ahead.size() < r.workers()) {
                heldKey = mine;
                return Outcome.GRANTED;
            }
            // Keys ahead can only go (new ones come after mine): count their deletes, seen by a watch from
            // the read's revision on, until fewer than W are left.
            CompletableFuture<Void> granted = new CompletableFuture<>();
            WatchOption wo = WatchOption.builder().isPrefix(true).withNoPut(true)
                    .withRevision(g.getHeader().getRevision() + 1).build();
            Watch.Watcher w = client.getWatchClient().watch(p, wo, resp -> {
                synchronized (ahead) {
                    for (WatchEvent e : resp.getEvents()) {
                        if (e.getEventType() == WatchEvent.EventType.DELETE) {
                            ahead.remove(e.getKeyValue().getKey());
                        }
                    }
                    if (ahead.size() < r.workers()) {
                        granted.complete(null);
                    }
                }
            });
            try {
                granted.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                heldKey = mine;
                return Outcome.GRANTED;
            } catch (TimeoutException e) {
                kv.delete(mine, DeleteOption.DEFAULT).get(30, TimeUnit.SECONDS);
                return Outcome.TIMEOUT;
            } finally {
                w.close();
            }
        }

        @Override
        public void release() throws Exception {
            if (heldLock != null) {
                ByteSequence k = heldLock;
                heldLock = null;
                client.getLockClient().unlock(k).get(30, TimeUnit.SECONDS);
            } else if (heldKey != null) {
                ByteSequence k = heldKey;
                heldKey = null;
                if (kv.delete(k).get(30, TimeUnit.SECONDS).getDeleted() != 1) {
                    throw new ContenderException("release:not found", "semaphore key gone (lease expired?): " + k);
                }
            } else {
                throw new ContenderException("release:not held");
            }
        }

        @Override
        public void close() {
            dropLease();
        }
    }
}
