package dev.baton.bench.cluster;

import dev.baton.bench.load.BatonContender;
import dev.baton.bench.load.Contender;
import dev.baton.bench.load.CuratorContender;
import dev.baton.bench.load.EtcdContender;
import dev.baton.bench.load.Json;
import dev.baton.bench.load.LineContender;
import dev.baton.bench.load.RedisContender;
import redis.clients.jedis.Jedis;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The contenders of the comparison with their servers: each {@link #start} starts the servers on free
 * loopback ports (poolcounterd: its fixed 7531), waits until they serve, and returns the client side;
 * {@link Deployment#close()} stops every process it started, by its PID. Each server's PID is also
 * appended to {@link Setup#pidsFile()} (as {@code PID TOKEN}, TOKEN a word of its command line) for
 * the calling script's exit trap.
 */
final class Deployments {
    private Deployments() {}

    /** Every contender name, in report order. */
    static final List<String> ALL = List.of("baton3-java", "baton3-line", "baton1-java", "baton1-line", "poolcounterd",
            "redis-everysec", "redis-always", "zookeeper", "etcd");

    /**
     * Contenders for experiments, run only when named: {@code baton3-line-leader} is {@code baton3-line}
     * with every connection on the leader's line port, so no write is forwarded between nodes;
     * {@code baton3-java-tls} and {@code baton1-java-tls} are {@code baton3-java} and {@code baton1-java}
     * secured as docs/security.md describes (TLS on the API port, mutual TLS on the Raft port, a bearer
     * token on every call), to measure what that costs; {@code baton3-java-shared} is {@code baton3-java}
     * with one {@code BatonClient} shared by all client threads (the way docs/client.md tells an
     * application to use it) instead of one per thread. They compare Baton with itself, not with the
     * others (which all run in plaintext, without authentication), so {@code all} leaves them out.
     */
    static final List<String> EXPERIMENTS = List.of("baton3-line-leader", "baton3-java-tls", "baton1-java-tls",
            "baton3-java-shared");

    /**
     * Settings of the servers and clients. {@code serverCp}: class path of {@code baton server};
     * {@code zkCp}: class path of ZooKeeper's server (Debian's jar); {@code *Recipe}: {@code auto} (mutex or
     * lock for W = 1, semaphore above) or {@code semaphore} (always); {@code redisLockTtlMs}: slot leases.
     */
    record Setup(String serverCp, String serverJvm, String serverArgs, String zkCp, String zkJvm, String zkRecipe,
                 String etcdRecipe, int etcdHandlesPerClient, long redisLockTtlMs, String pidsFile, boolean keep) {}

    /** A contender with its servers up. */
    interface Deployment extends AutoCloseable {
        Contender contender();

        /** The server processes, for CPU accounting. */
        List<Long> pids();

        /** The servers' replicated log index now (Baton: the leader's applied index), or -1. */
        default long logIndex() {
            return -1;
        }

        /** Server side: version, durability, how it was started. */
        Map<String, String> facts();

        /** Stops the servers (and the contender's shared clients). */
        @Override
        void close();
    }

    static Deployment start(String name, Setup s) throws Exception {
        return switch (name) {
            case "baton1-java" -> baton(name, 1, false, false, false, s);
            case "baton3-java" -> baton(name, 3, false, false, false, s);
            case "baton3-java-shared" -> baton(name, 3, false, false, false, s);
            case "baton1-java-tls" -> baton(name, 1, false, false, true, s);
            case "baton3-java-tls" -> baton(name, 3, false, false, true, s);
            case "baton1-line" -> baton(name, 1, true, false, false, s);
            case "baton3-line" -> baton(name, 3, true, false, false, s);
            case "baton3-line-leader" -> baton(name, 3, true, true, false, s);
            case "poolcounterd" -> poolcounterd(s);
            case "redis-everysec" -> redis(name, "everysec", s);
            case "redis-always" -> redis(name, "always", s);
            case "zookeeper" -> zookeeper(s);
            case "etcd" -> etcd(s);
            default -> throw new IllegalArgumentException("unknown contender " + name + "; known: " + ALL + " "
                    + EXPERIMENTS);
        };
    }

    // ---- common ------------------------------------------------------------------------------------

    /** Servers of one contender: their processes, temp dir and client side, closed in reverse. */
    private static final class Group implements Deployment {
        final String name;
        final Setup setup;
        final Path root;
        final List<Daemon> daemons = new ArrayList<>();
        final Map<String, String> facts = new LinkedHashMap<>();
        /** Processes not started as a {@link Daemon} (Baton's). */
        final List<Long> otherPids = new ArrayList<>();
        Contender contender;
        AutoCloseable extra;
        /** Reads the log index ({@link Deployment#logIndex()}), if the servers have a replicated log. */
        java.util.function.LongSupplier logIndex = () -> -1;
        /** If this JVM is stopped (Ctrl-C, SIGTERM) before {@link #close()}: kill the servers, drop the data. */
        private final Thread hook = new Thread(this::stopServers, "stop-servers");

        Group(String name, Setup setup) throws IOException {
            this.name = name;
            this.setup = setup;
            this.root = Files.createTempDirectory("baton-compare-" + name + "-");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        private void stopServers() {
            daemons.forEach(Daemon::kill);
            if (extra != null) {
                try {
                    extra.close();
                } catch (Exception e) {
                    System.out.println("# " + name + ": " + e);
                }
            }
            if (!setup.keep()) {
                Machine.deleteTree(root);
            }
        }

        Daemon add(String member, List<String> command, String token) {
            Daemon d = new Daemon(member, root.resolve(member), command).start();
            daemons.add(d);
            recordPid(setup, d.pid(), token);
            return d;
        }

        @Override
        public Contender contender() {
            return contender;
        }

        @Override
        public List<Long> pids() {
            List<Long> p = new ArrayList<>(otherPids);
            daemons.forEach(d -> p.add(d.pid()));
            return p;
        }

        @Override
        public Map<String, String> facts() {
            return facts;
        }

        @Override
        public long logIndex() {
            return logIndex.getAsLong();
        }

        @Override
        public void close() {
            if (contender != null) {
                try {
                    contender.close();
                } catch (RuntimeException e) {
                    System.out.println("# " + name + ": closing the clients: " + e);
                }
            }
            for (int i = daemons.size() - 1; i >= 0; i--) {
                daemons.get(i).close(); // SIGTERM first, here
            }
            stopServers();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }

        /** Runs {@code body}; on failure prints the servers' logs, stops them and rethrows. */
        Deployment starting(StartBody body) throws Exception {
            try {
                body.run();
                return this;
            } catch (Exception | Error e) {
                for (Daemon d : daemons) {
                    System.out.println("---- " + d.name + " (" + d.log() + ")\n" + d.tail(30));
                }
                close();
                throw e;
            }
        }
    }

    private interface StartBody {
        void run() throws Exception;
    }

    static void recordPid(Setup s, long pid, String token) {
        if (s.pidsFile().isEmpty() || pid <= 0) {
            return;
        }
        try {
            Json.appendLine(Path.of(s.pidsFile()), pid + " " + token);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The installed version of a Debian package, or {@code ?}. */
    static String dpkg(String pkg) {
        return run("dpkg-query", "-W", "-f=${Version}", pkg).orElse("?");
    }

    /** The first line a command prints, if it runs. */
    static Optional<String> run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                out = r.readLine();
                while (r.readLine() != null) {
                    // drain
                }
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Optional.empty();
            }
            return p.exitValue() == 0 && out != null ? Optional.of(out.trim()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static List<String> words(String s) {
        return s == null || s.isBlank() ? List.of() : List.of(s.trim().split("\\s+"));
    }

    // ---- Baton ---------------------------------------------------------------------------------------

    /**
     * Baton with {@code nodes} nodes, used through the Java client or the line port ({@code line}), every
     * line connection on the leader ({@code leaderOnly}), secured with TLS and a token ({@code secured},
     * Java client only: the line protocol has neither).
     */
    private static Deployment baton(String name, int nodes, boolean line, boolean leaderOnly, boolean secured, Setup s)
            throws Exception {
        ServerProcesses procs = new ServerProcesses(nodes, s.serverCp(), s.serverJvm(), s.serverArgs());
        if (line) {
            procs.withLinePorts();
        }
        Group g = new Group(name, s);
        g.extra = () -> procs.close(s.keep());
        g.logIndex = () -> procs.nodes().stream().map(n -> procs.status(n, 2000))
                .flatMap(java.util.Optional::stream).filter(st -> st.getIsLeader())
                .mapToLong(st -> st.getAppliedIndex()).findFirst().orElse(-1);
        return g.starting(() -> {
            if (secured) {
                procs.secured(); // here, so that a failing openssl is reported as this contender's failure
            }
            procs.startAll();
            for (ServerProcesses.Node n : procs.nodes()) {
                g.otherPids.add(n.pid());
                recordPid(s, n.pid(), "dev.baton.server.ServerCommand");
            }
            procs.awaitServing();
            List<String> where = new ArrayList<>();
            if (line) {
                List<InetSocketAddress> targets = procs.lineAddresses();
                if (leaderOnly) {
                    ServerProcesses.Node leader = procs.awaitLeader(10_000)
                            .orElseThrow(() -> new IllegalStateException("no Baton leader"));
                    targets = List.of(targets.get(procs.nodes().indexOf(leader)));
                } else if (nodes > 1) {
                    // The leader last: a run's lone client goes through a follower (as two thirds of
                    // the spread clients do), whichever node leads, instead of wherever it lands.
                    ServerProcesses.Node leader = procs.awaitLeader(10_000)
                            .orElseThrow(() -> new IllegalStateException("no Baton leader"));
                    List<InetSocketAddress> followersFirst = new ArrayList<>(targets);
                    followersFirst.add(followersFirst.remove(procs.nodes().indexOf(leader)));
                    targets = followersFirst;
                }
                targets.forEach(x -> where.add(x.getHostString() + ":" + x.getPort()));
                g.contender = new LineContender(name, targets);
            } else {
                where.addAll(procs.apiEndpoints());
                g.contender = name.endsWith("-java-shared")
                        ? BatonContender.shared(name, procs.apiEndpoints(), procs.apiCaFile(), procs.authToken())
                        : new BatonContender(name, procs.apiEndpoints(), procs.apiCaFile(), procs.authToken());
            }
            g.facts.put("server", (nodes > 1 ? "Baton, " + nodes + " nodes (`baton server` processes)"
                    : "Baton, 1 node (a `baton server` process)") + (secured
                    ? "; TLS on the API port, mutual TLS on the Raft port, bearer tokens (EC P-256 certificates)" : ""));
            g.facts.put("durability", nodes > 1 ? "Raft log fsynced on a majority before an answer (the server's default)"
                    : "Raft log fsynced before an answer (the server's default)");
            g.facts.put("addresses", String.join(",", where));
            g.facts.put("command", String.join(" ", procs.command(procs.nodes().get(0))));
        });
    }

    // ---- poolcounterd ------------------------------------------------------------------------------

    static final int POOLCOUNTERD_PORT = 7531;

    private static Deployment poolcounterd(Setup s) throws Exception {
        try (Socket so = new Socket()) {
            so.connect(new InetSocketAddress("127.0.0.1", POOLCOUNTERD_PORT), 1000);
            throw new IllegalStateException("port " + POOLCOUNTERD_PORT + " is already taken (another poolcounterd?"
                    + " the package's service?); poolcounterd can only listen there: stop that first");
        } catch (IOException free) {
            // good: nobody listens
        }
        Group g = new Group("poolcounterd", s);
        return g.starting(() -> {
            Daemon d = g.add("poolcounterd", List.of("/usr/bin/poolcounterd"), "poolcounterd");
            d.awaitPort("127.0.0.1", POOLCOUNTERD_PORT, 10_000);
            g.contender = new LineContender("poolcounterd",
                    List.of(InetSocketAddress.createUnresolved("127.0.0.1", POOLCOUNTERD_PORT)));
            g.facts.put("server", "poolcounterd (Debian poolcounter " + dpkg("poolcounter") + "), one process");
            g.facts.put("durability", "none: the table is in memory only");
            g.facts.put("addresses", "127.0.0.1:" + POOLCOUNTERD_PORT);
        });
    }

    // ---- Redis -------------------------------------------------------------------------------------

    private static Deployment redis(String name, String fsync, Setup s) throws Exception {
        Group g = new Group(name, s);
        int port = Machine.freePort();
        return g.starting(() -> {
            Daemon d = g.add(name, List.of("/usr/bin/redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--protected-mode", "yes", "--daemonize", "no", "--dir", g.root.resolve(name).toString(),
                    "--save", "", "--appendonly", "yes", "--appendfsync", fsync, "--logfile", ""), "redis-server");
            d.awaitPort("127.0.0.1", port, 10_000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) { // accepting connections is not yet serving (loading the AOF)
                try (Jedis j = new Jedis("127.0.0.1", port, 2000)) {
                    if ("PONG".equals(j.ping())) {
                        break;
                    }
                } catch (RuntimeException e) {
                    if (System.nanoTime() - deadline > 0) {
                        throw e;
                    }
                }
                Machine.sleep(100);
            }
            RedisContender c = new RedisContender(name, "127.0.0.1", port, s.redisLockTtlMs());
            g.contender = c;
            g.facts.put("server", "redis-server (Debian redis-server " + dpkg("redis-server") + "), one process");
            g.facts.put("durability", "AOF on, appendfsync " + fsync + ("always".equals(fsync)
                    ? " (fsync of every write before the reply)" : " (fsync once a second: up to ~1 s of grants lost on a crash)")
                    + ", RDB snapshots off");
            g.facts.put("addresses", "127.0.0.1:" + port);
            g.facts.put("command", String.join(" ", d.command()).replace("--save  ", "--save '' "));
        });
    }

    // ---- ZooKeeper ---------------------------------------------------------------------------------

    private static Deployment zookeeper(Setup s) throws Exception {
        Group g = new Group("zookeeper", s);
        int n = 3;
        int[] client = new int[n];
        int[] peer = new int[n];
        int[] election = new int[n];
        for (int i = 0; i < n; i++) {
            client[i] = Machine.freePort();
            peer[i] = Machine.freePort();
            election[i] = Machine.freePort();
        }
        return g.starting(() -> {
            for (int i = 0; i < n; i++) {
                String id = "zk" + (i + 1);
                Path dir = g.root.resolve(id);
                Files.createDirectories(dir.resolve("data"));
                Files.writeString(dir.resolve("data").resolve("myid"), Integer.toString(i + 1) + "\n");
                StringBuilder cfg = new StringBuilder();
                cfg.append("tickTime=2000\ninitLimit=10\nsyncLimit=5\n");
                cfg.append("dataDir=").append(dir.resolve("data")).append('\n');
                cfg.append("clientPort=").append(client[i]).append("\nclientPortAddress=127.0.0.1\n");
                cfg.append("maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=srvr,ruok\n");
                // forceSync is left at its default (yes): every transaction log write is fsynced.
                for (int j = 0; j < n; j++) {
                    cfg.append("server.").append(j + 1).append("=127.0.0.1:").append(peer[j]).append(':')
                            .append(election[j]).append('\n');
                }
                Files.writeString(dir.resolve("zoo.cfg"), cfg.toString());
                List<String> cmd = new ArrayList<>();
                cmd.add(java());
                cmd.addAll(words(s.zkJvm()));
                cmd.add("-Djava.io.tmpdir=" + dir);
                cmd.addAll(List.of("-cp", s.zkCp(), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                        dir.resolve("zoo.cfg").toString()));
                g.add(id, cmd, "QuorumPeerMain");
            }
            // Up when every member answers "srvr" with a mode, one of them leader.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (true) {
                List<String> modes = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    modes.add(fourLetter(client[i], "srvr").lines().filter(l -> l.startsWith("Mode:"))
                            .map(l -> l.substring(5).trim()).findFirst().orElse("?"));
                }
                if (modes.contains("leader") && modes.stream().allMatch(m -> m.equals("leader") || m.equals("follower"))) {
                    break;
                }
                for (Daemon d : g.daemons) {
                    if (!d.alive()) {
                        throw new IllegalStateException(d.name + " exited");
                    }
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("no ZooKeeper quorum within 90 s: modes " + modes);
                }
                Machine.sleep(250);
            }
            String connect = Arrays.stream(client).mapToObj(p -> "127.0.0.1:" + p)
                    .collect(Collectors.joining(","));
            String version = fourLetter(client[0], "srvr").lines().filter(l -> l.startsWith("Zookeeper version:"))
                    .map(l -> l.substring("Zookeeper version:".length()).split(",")[0].replace("-${mvngit.commit.id}", "").trim())
                    .findFirst().orElse("?");
            g.contender = new CuratorContender("zookeeper", connect, s.zkRecipe().equals("semaphore"));
            g.facts.put("server", "ZooKeeper " + version + " (Debian zookeeper " + dpkg("zookeeper") + "), 3 members");
            g.facts.put("durability", "forceSync=yes (default): transaction log fsynced before a write is acknowledged"
                    + " by a quorum");
            g.facts.put("addresses", connect);
            g.facts.put("command", String.join(" ", g.daemons.get(0).command()));
        });
    }

    /** A ZooKeeper four-letter command's answer, or "" if the member does not answer. */
    private static String fourLetter(int port, String cmd) {
        try (Socket so = new Socket()) {
            so.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            so.setSoTimeout(2000);
            OutputStream out = so.getOutputStream();
            out.write(cmd.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return new String(so.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    // ---- etcd --------------------------------------------------------------------------------------

    private static Deployment etcd(Setup s) throws Exception {
        Group g = new Group("etcd", s);
        int n = 3;
        int[] client = new int[n];
        int[] peer = new int[n];
        for (int i = 0; i < n; i++) {
            client[i] = Machine.freePort();
            peer[i] = Machine.freePort();
        }
        List<String> cluster = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cluster.add("e" + (i + 1) + "=http://127.0.0.1:" + peer[i]);
        }
        String token = "baton-bench-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        return g.starting(() -> {
            for (int i = 0; i < n; i++) {
                String id = "e" + (i + 1);
                String c = "http://127.0.0.1:" + client[i];
                String p = "http://127.0.0.1:" + peer[i];
                g.add(id, List.of("/usr/bin/etcd", "--name", id, "--data-dir", g.root.resolve(id).resolve("data").toString(),
                        "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
                        "--initial-advertise-peer-urls", p, "--initial-cluster", String.join(",", cluster),
                        "--initial-cluster-state", "new", "--initial-cluster-token", token,
                        "--logger", "zap", "--log-outputs", "stderr"), "etcd");
            }
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (int i = 0; i < n; i++) {
                while (true) {
                    String body = "";
                    try {
                        body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + client[i] + "/health"))
                                .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).body();
                    } catch (IOException e) {
                        // not yet
                    }
                    if (body.replace(" ", "").contains("\"health\":\"true\"")) {
                        break;
                    }
                    if (!g.daemons.get(i).alive()) {
                        throw new IllegalStateException(g.daemons.get(i).name + " exited");
                    }
                    if (System.nanoTime() - deadline > 0) {
                        throw new IllegalStateException("etcd member " + (i + 1) + " not healthy within 60 s: " + body);
                    }
                    Machine.sleep(200);
                }
            }
            List<String> endpoints = new ArrayList<>();
            for (int p : client) {
                endpoints.add("http://127.0.0.1:" + p);
            }
            g.contender = new EtcdContender("etcd", endpoints, s.etcdRecipe().equals("semaphore"),
                    s.etcdHandlesPerClient());
            g.facts.put("server", "etcd " + run("/usr/bin/etcd", "--version").map(v -> v.replace("etcd Version: ", ""))
                    .orElse("?") + " (Debian etcd-server " + dpkg("etcd-server") + "), 3 members");
            g.facts.put("durability", "WAL fsynced before a write is acknowledged by a quorum (etcd's only mode)");
            g.facts.put("addresses", String.join(",", endpoints));
            g.facts.put("command", String.join(" ", g.daemons.get(0).command()));
        });
    }
}
