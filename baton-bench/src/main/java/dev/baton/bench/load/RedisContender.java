package dev.baton.bench.load;

import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisNoScriptException;
import redis.clients.jedis.util.KeyValue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Redis running MediaWiki's PoolCounterRedis algorithm, with the Lua of {@code poolcounter-redis.lua}
 * (next to this class; read its header for the algorithm and the two defects fixed). One Jedis
 * connection per handle. An acquire is one script call; when the pool is full the handle blocks in
 * {@code BLPOP} on the pool's free-slot list (plus the wake-up list for acquire-for-anyone) for the
 * timeout, then confirms with a second script call ({@code granted}, or {@code unwait} on timeout). A
 * release is one script call. Slot leases last {@code lockTtlMs} (PHP: 3600 s outside a web request);
 * a release whose lease had expired counts as an error ({@code release:EXPIRED}).
 */
public final class RedisContender extends Contender {
    /** The script, from the class path. */
    public static final String SCRIPT = script();

    private final String host;
    private final int port;
    private final long lockTtlMs;
    private volatile String sha;

    public RedisContender(String name, String host, int port, long lockTtlMs) {
        super(name, true);
        this.host = host;
        this.port = port;
        this.lockTtlMs = lockTtlMs;
        try (Jedis j = new Jedis(host, port, 5000)) {
            this.sha = j.scriptLoad(SCRIPT);
        }
    }

    private static String script() {
        try (InputStream in = RedisContender.class.getResourceAsStream("poolcounter-redis.lua")) {
            if (in == null) {
                throw new IllegalStateException("poolcounter-redis.lua is not on the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The server's version and persistence settings, as it reports them. */
    @Override
    public Map<String, String> facts() {
        Map<String, String> m = facts("Jedis " + Versions.of("jedis") + ", one connection per client thread",
                "PoolCounterRedis Lua (poolcounter-redis.lua, 2 defects fixed): script acquire, BLPOP on the"
                        + " free-slot list when full, script release; slot lease " + lockTtlMs / 1000 + " s",
                host + ":" + port,
                "a new Jedis connection (TCP connect in the open time), the acquire and release scripts, close");
        try (Jedis j = new Jedis(host, port, 5000)) {
            for (String line : j.info("server").split("\r?\n")) {
                if (line.startsWith("redis_version:")) {
                    m.put("reported_version", line.substring("redis_version:".length()));
                }
            }
            Map<String, String> conf = j.configGet("appendonly", "appendfsync", "save");
            m.put("config", "appendonly " + conf.get("appendonly") + ", appendfsync " + conf.get("appendfsync")
                    + ", save '" + conf.get("save") + "'");
        } catch (RuntimeException e) {
            m.put("reported_version", "? (" + e.getMessage() + ")");
        }
        return m;
    }

    @Override
    public Handle open() {
        return new RedisHandle(new Jedis(host, port, 5000));
    }

    private final class RedisHandle implements Handle {
        private final Jedis jedis;
        private final String id = Long.toHexString(ThreadLocalRandom.current().nextLong());
        private long seq;
        private List<String> keys;
        private int workers;
        private String slot;
        private long deadline;
        private boolean anyone;

        RedisHandle(Jedis jedis) {
            this.jedis = jedis;
        }

        private Object call(List<String> k, String... args) {
            try {
                return jedis.evalsha(sha, k, List.of(args));
            } catch (JedisNoScriptException e) { // the server restarted or flushed its scripts
                sha = jedis.scriptLoad(SCRIPT);
                return jedis.evalsha(sha, k, List.of(args));
            }
        }

        @Override
        public Outcome acquire(Request r) throws ContenderException {
            List<String> k = poolKeys(r.key(), r.workers());
            String waiter = id + ":" + (++seq);
            long timeoutMs = r.timeout().toMillis();
            List<?> reply = list(call(k, "acquire", Integer.toString(r.workers()), Integer.toString(r.maxQueue()),
                    Long.toString(timeoutMs), Long.toString(lockTtlMs), waiter, r.forAnyone() ? "1" : "0"));
            String status = String.valueOf(reply.get(0));
            switch (status) {
                case "LOCKED":
                    return granted(k, r, reply);
                case "QUEUE_FULL":
                    return Outcome.QUEUE_FULL;
                case "WAIT":
                    break;
                default:
                    throw new ContenderException("acquire:" + status, "acquire answered " + reply);
            }
            KeyValue<String, String> got = timeoutMs <= 0 ? null // BLPOP 0 would block forever
                    : r.forAnyone() ? jedis.blpop(timeoutMs / 1000.0, k.get(4), k.get(0))
                    : jedis.blpop(timeoutMs / 1000.0, k.get(0));
            if (got == null) {
                call(k, "unwait", waiter);
                return Outcome.TIMEOUT;
            }
            List<?> conf = list(call(k, "granted", got.getValue(), Long.toString(lockTtlMs), waiter));
            String s = String.valueOf(conf.get(0));
            if (s.equals("DONE") && r.forAnyone()) {
                return Outcome.DONE;
            }
            if (!s.equals("LOCKED")) {
                throw new ContenderException("granted:" + s, "granted answered " + conf);
            }
            return granted(k, r, conf);
        }

        private Outcome granted(List<String> k, Request r, List<?> reply) {
            keys = k;
            workers = r.workers();
            slot = String.valueOf(reply.get(1));
            deadline = ((Number) reply.get(2)).longValue();
            anyone = r.forAnyone();
            return Outcome.GRANTED;
        }

        @Override
        public void release() throws ContenderException {
            Object reply = call(keys, "release", Integer.toString(workers), slot, Long.toString(deadline),
                    anyone ? "1" : "0", Long.toString(lockTtlMs));
            if (!"RELEASED".equals(String.valueOf(reply))) {
                throw new ContenderException("release:" + reply, "release answered " + reply);
            }
        }

        private static List<?> list(Object reply) throws ContenderException {
            if (reply instanceof List<?> l && !l.isEmpty()) {
                return l;
            }
            throw new ContenderException("reply:" + reply, "unexpected script reply " + reply);
        }

        @Override
        public void close() {
            try {
                jedis.close();
            } catch (RuntimeException ignored) {
                // closing anyway: Redis frees nothing, the lease and waiter expiry do
            }
        }
    }

    /** The pool's five keys; W is part of the names so that another W is another pool. */
    static List<String> poolKeys(String key, int workers) {
        String p = "pc:" + key + ":" + workers + ":";
        return List.of(p + "slots", p + "leases", p + "waiters", p + "anyone", p + "wakeup");
    }
}
