package dev.baton.server;

import dev.baton.server.node.ApiServer;
import dev.baton.server.grpc.ApiTls;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.grpc.ClusterSecret;
import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.http.HttpDoor;
import dev.baton.server.line.AddressAllowList;
import dev.baton.server.line.LineDoor;
import dev.baton.server.raft.BatonNode;
import dev.baton.server.raft.PeerTls;
import dev.baton.server.raft.ProposalBatcher;
import dev.baton.server.raft.Restore;
import dev.baton.server.security.PemCredentials;
import dev.baton.server.raft.BatonStateMachine;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code baton server}: starts a Baton node. */
@Command(name = "server", mixinStandardHelpOptions = true, version = "baton 0.1.0-SNAPSHOT",
        description = {"Start a Baton node. With no options: a single-node cluster on 127.0.0.1,"
                + " data in ./baton-data. Stops cleanly on SIGTERM or Ctrl-C; restarting on the same"
                + " data directory resumes where it stopped.",
                "",
                "Serves the gRPC API (default port 7530), the PoolCounter line protocol (7531; existing"
                + " poolcounterd clients work unchanged), HTTP (7532: /metrics, /health/live, /health/ready,"
                + " the admin JSON API under /api/ and the dashboard at /dashboard/) and Raft (7533)."},
        footer = {"", "Durations (the -ms options, --session-ttl, --session-ttl-min, --session-ttl-max,"
                + " --snapshot-interval, and the limits whose names end in Ms) take a unit: 500ms, 5s, 1.5s, 2m, 1h;"
                + " a bare number is milliseconds (seconds for --snapshot-interval), as before."})
public final class ServerCommand implements Callable<Integer> {
    /** Asked for when needed, not in a static field: the logging backend starts on {@link StartupWarmup}'s thread. */
    private static org.slf4j.Logger log() {
        return org.slf4j.LoggerFactory.getLogger(ServerCommand.class);
    }

    /** Runs {@code baton server} on its own: {@code java -cp ... dev.baton.server.ServerCommand [options]}. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs {@code baton server} with {@code args} (the options after {@code server}) and returns its
     * exit code: what {@code baton server} does, with the command line of this command alone (usage
     * and errors name it {@code baton server}). A launcher that knows it starts a node calls this
     * rather than building every {@code baton} command first (picocli reads each command's options
     * by reflection: for all of them, a few hundred milliseconds of a node's start).
     */
    public static int run(String[] args) {
        StartupWarmup.start();
        return commandLine(args).setCommandName("baton server").execute(args);
    }

    /**
     * The {@code server} command line, with {@code --config FILE} read as defaults for every option
     * (a properties file whose keys are the long option names without dashes, e.g.
     * {@code node-id=n2}); options given on the command line win.
     */
    public static CommandLine commandLine(String[] args) {
        return withConfigFile(new CommandLine(new ServerCommand()), args);
    }

    /**
     * Sets {@code server}'s defaults from the {@code --config FILE} among {@code args}, if any, and
     * with {@code --options-from-env} from the {@code BATON_*} environment variables above it
     * ({@link EnvOptions}); {@code server} is this command's command line, alone or as the
     * subcommand of another.
     */
    public static CommandLine withConfigFile(CommandLine server, String[] args) {
        return withConfigFile(server, args, System.getenv());
    }

    /** {@link #withConfigFile(CommandLine, String[])} with {@code env} as the environment ({@code --options-from-env}). */
    static CommandLine withConfigFile(CommandLine server, String[] args, Map<String, String> env) {
        for (int i = 0; i < args.length; i++) {
            String file = null;
            if (args[i].equals("--config") && i + 1 < args.length) {
                file = args[i + 1];
            } else if (args[i].startsWith("--config=")) {
                file = args[i].substring("--config=".length());
            }
            if (file != null) {
                server.setDefaultValueProvider(new ConfigFile(Path.of(file)));
            }
        }
        if (java.util.Arrays.asList(args).contains(EnvOptions.FLAG)) {
            server.setDefaultValueProvider(new EnvOptions(env,
                    server.getCommandSpec().defaultValueProvider()));
        }
        return server;
    }

    @Option(names = "--node-id", defaultValue = "n1", description = "This node's id (default: ${DEFAULT-VALUE}).")
    String nodeId;

    @Option(names = "--data-dir", defaultValue = "baton-data",
            description = "Raft log, metadata and snapshots (default: ./${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "Address to bind and to be reached at (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--raft-port", defaultValue = "7533", description = "Raft peer port (default: ${DEFAULT-VALUE}).")
    int raftPort;

    @Option(names = "--api-port", defaultValue = "7530",
            description = "gRPC API port, on --host (default: ${DEFAULT-VALUE}).")
    int apiPort;

    @Option(names = "--line-port", defaultValue = "7531",
            description = "PoolCounter line-protocol port (poolcounterd's; default: ${DEFAULT-VALUE}).")
    int linePort;

    @Option(names = "--line-host",
            description = "Address the PoolCounter port binds to (default: --host).")
    String lineHost;

    @Option(names = "--no-line", description = "Do not serve the PoolCounter line protocol.")
    boolean noLine;

    @Option(names = "--line-max-connections", defaultValue = "10000",
            description = "Open PoolCounter connections on this node; more are refused with"
                    + " ERROR TOO_MANY_CONNECTIONS (default: ${DEFAULT-VALUE}).")
    int lineMaxConnections;

    @Option(names = "--line-allow", paramLabel = "CIDR[,CIDR...]",
            description = "Client networks that may connect to the PoolCounter port, e.g. 10.0.0.0/8,192.168.1.7"
                    + " (the protocol has no authentication); others get ERROR NOT_ALLOWED and are closed."
                    + " Default: every address (the port listens on 127.0.0.1 unless --line-host says otherwise).")
    String lineAllow;

    // ---- line door bounds: per-address cap, timeouts, back-pressure ----
    @Option(names = "--line-max-connections-per-address", defaultValue = "1000",
            description = "Open PoolCounter connections from one client address; more are refused with"
                    + " ERROR TOO_MANY_CONNECTIONS_FROM_ADDRESS (default: ${DEFAULT-VALUE}).")
    int lineMaxConnectionsPerAddress;

    @Option(names = "--line-idle-timeout-ms", converter = Durations.Millis.class, defaultValue = "300000",
            description = "Close a PoolCounter connection that holds and waits for no slot and has sent no line"
                    + " for this long, with ERROR IDLE_TIMEOUT; 0: never (default: ${DEFAULT-VALUE}).")
    long lineIdleTimeoutMs;

    @Option(names = "--line-partial-line-timeout-ms", converter = Durations.Millis.class, defaultValue = "30000",
            description = "Close a PoolCounter connection whose incomplete line has been waiting for its end this"
                    + " long, with ERROR LINE_TIMEOUT; 0: never (default: ${DEFAULT-VALUE}).")
    long linePartialLineTimeoutMs;

    @Option(names = "--line-max-buffered-bytes", defaultValue = "16384",
            description = "Per PoolCounter connection: stop reading it while its unsent replies (or its input"
                    + " waiting behind a line in progress) exceed this many bytes (default: ${DEFAULT-VALUE}).")
    int lineMaxBufferedBytes;
    // ---- end of line door bounds ----

    @Option(names = "--line-max-bytes", defaultValue = "1024",
            description = "Longest PoolCounter line, newline excluded; a longer one gets ERROR LINE_TOO_LONG"
                    + " and its connection is closed (default: ${DEFAULT-VALUE}).")
    int lineMaxBytes;

    @Option(names = "--http-port", defaultValue = "7532",
            description = "HTTP port: metrics, health, admin JSON and dashboard (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--http-host", description = "Address the HTTP port binds to (default: --host).")
    String httpHost;

    // ---- HTTP port bounds (slow clients cannot stall it) ----
    @Option(names = "--http-request-timeout-ms", converter = Durations.Millis.class, defaultValue = "10000",
            description = "Time for a request's head and body to arrive, and for its answer to be taken; a slower"
                    + " connection is answered 408 and closed (default: ${DEFAULT-VALUE}).")
    long httpRequestTimeoutMs;

    @Option(names = "--http-idle-timeout-ms", converter = Durations.Millis.class, defaultValue = "60000",
            description = "A kept-alive HTTP connection with no request for this long is closed"
                    + " (default: ${DEFAULT-VALUE}).")
    long httpIdleTimeoutMs;

    @Option(names = "--http-max-connections", defaultValue = "512",
            description = "Open HTTP connections on this node; more are answered 503 and closed"
                    + " (default: ${DEFAULT-VALUE}).")
    int httpMaxConnections;

    @Option(names = "--http-max-body-bytes", defaultValue = "16384",
            description = "Largest HTTP request body outside the HTTP/JSON API (no other endpoint takes one); a"
                    + " larger one is answered 413"
                    + " (default: ${DEFAULT-VALUE}).")
    int httpMaxBodyBytes;

    @Option(names = "--http-max-api-calls", defaultValue = "1000",
            description = "HTTP/JSON API calls (POST /v1/...) in flight on this node, waiting acquires included;"
                    + " more are answered 429 LIMIT_EXCEEDED (default: ${DEFAULT-VALUE}).")
    int httpMaxApiCalls;

    @Option(names = "--http-max-api-body-bytes", defaultValue = "4194304",
            description = "Largest HTTP/JSON API request body, as the gRPC port's message limit; a larger one is"
                    + " answered 413 (default: ${DEFAULT-VALUE}).")
    int httpMaxApiBodyBytes;

    @Option(names = "--http-threads", defaultValue = "4",
            description = "Threads answering HTTP requests (some wait up to 1 s for other members)"
                    + " (default: ${DEFAULT-VALUE}).")
    int httpThreads;

    @Option(names = "--http-tls-cert-file", paramLabel = "PEM",
            description = "Serve the HTTP port (dashboard, admin JSON API, metrics) over TLS with this certificate"
                    + " (chain); with --http-tls-key-file. Read again every minute: rotate by rewriting both files.")
    Path httpTlsCertFile;

    @Option(names = "--http-tls-key-file", paramLabel = "PEM",
            description = "The private key of --http-tls-cert-file (PKCS#8 PEM, BEGIN PRIVATE KEY).")
    Path httpTlsKeyFile;

    @Option(names = "--http-max-queued", defaultValue = "64",
            description = "HTTP requests waiting for a free thread; more are answered 503 at once"
                    + " (default: ${DEFAULT-VALUE}).")
    int httpMaxQueued;

    @Option(names = "--http-open", paramLabel = "PATHS",
            description = "With --auth-token-file: what of the HTTP port stays open without a token, a comma list"
                    + " of metrics (/metrics) and health (/health/live, /health/ready), or none (then they need a"
                    + " token with the role read). The admin JSON API always needs a token. Default: metrics,health.")
    String httpOpen;

    @Option(names = "--no-http", description = "Do not serve HTTP (no metrics, admin API or dashboard).")
    boolean noHttp;

    @Option(names = "--metrics-top-keys", defaultValue = "20",
            description = "Pool keys with their own series in /metrics (the most active ones; default: ${DEFAULT-VALUE}).")
    int metricsTopKeys;

    @Option(names = "--metrics-max-targets", defaultValue = "500",
            description = "Dispatch targets with their own lag series in /metrics (the most lagging; default: ${DEFAULT-VALUE}).")
    int metricsMaxTargets;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file of option defaults, keys without dashes (node-id=n2, api-port=7540, ...);"
                    + " an unknown key is an error.")
    java.io.File config;

    @Option(names = EnvOptions.FLAG,
            description = "Read every option that is not on the command line from the environment variable BATON_"
                    + " + its name in upper case with underscores (BATON_NODE_ID=n2, BATON_PEERS=..., BATON_INSECURE=true),"
                    + " before --config's file and the defaults; a BATON_ variable one typo away from an option's is"
                    + " an error. The container image starts the node with it.")
    boolean optionsFromEnv;

    // ---- quiet logs: the engine's own log lines ---------------------------------------------
    @Option(names = "--engine-log", paramLabel = "LEVEL",
            description = "Log level of the Raft engine (SOFAJRaft) and its RPC layer (bolt): off, error, warn,"
                    + " info, debug or trace (default: error for SOFAJRaft, off for bolt; Baton logs peers going"
                    + " down and coming back itself). warn or info shows the engine's detail again, e.g. when"
                    + " reporting a bug.")
    String engineLog;

    @Option(names = "--session-ttl", converter = Durations.Millis.class, defaultValue = "10000",
            description = "Session TTL in ms for clients that do not ask for one (default: ${DEFAULT-VALUE}).")
    long sessionTtlMs;

    @Option(names = "--session-ttl-min", converter = Durations.Millis.class, description = "Smallest session TTL a client may ask for, ms (replicated limit; default 1000).")
    Long sessionTtlMinMs;

    @Option(names = "--session-ttl-max", converter = Durations.Millis.class, description = "Largest session TTL a client may ask for, ms (replicated limit; default 3600000).")
    Long sessionTtlMaxMs;

    @Option(names = "--limit", paramLabel = "NAME=VALUE", split = ",",
            description = "Any replicated limit, e.g. maxSessions=200000,maxWaitersPerKey=500 (names: see docs/server.md)."
                    + " Applied by whichever node leads; give every node the same limits.")
    List<String> limits = new ArrayList<>();

    @Option(names = "--peers", split = ",", paramLabel = "ID=HOST:PORT",
            description = "The initial cluster, this node included, e.g. n1=10.0.0.1:7533,n2=10.0.0.2:7533,"
                    + "n3=10.0.0.3:7533. This node's address is the one under --node-id. Omit for a single node.")
    List<String> peers = new ArrayList<>();

    @Option(names = "--join",
            description = "Start as a new node for a running cluster: no initial configuration; it waits until the"
                    + " leader adds it (baton admin add-member / Admin.AddMember). Give --peers as the cluster will be.")
    boolean join;

    // ---- mutual TLS on the Raft port ----
    @Option(names = "--peer-tls-cert-file", paramLabel = "PEM",
            description = "This node's certificate (chain) for the Raft port, signed by the members' CA; with"
                    + " --peer-tls-key-file and --peer-tls-ca-file, every Raft connection is TLS and both ends must"
                    + " show a certificate of that CA (default: plaintext).")
    Path peerTlsCertFile;

    @Option(names = "--peer-tls-key-file", paramLabel = "PEM",
            description = "The private key of --peer-tls-cert-file (PKCS#8 PEM, BEGIN PRIVATE KEY).")
    Path peerTlsKeyFile;

    @Option(names = "--peer-tls-ca-file", paramLabel = "PEM",
            description = "The members' CA certificate(s): any certificate it signs is a member, so use a CA for"
                    + " members only.")
    Path peerTlsCaFile;

    @Option(names = "--peer-tls-reload-interval-ms", converter = Durations.Millis.class, defaultValue = "60000",
            description = "How often the peer TLS files are checked for a change (rotation without a restart;"
                    + " rewrite the key, then the certificate). Default: ${DEFAULT-VALUE}.")
    long peerTlsReloadIntervalMs;

    // ---- the members-only Forward link ----
    @Option(names = "--cluster-secret-file", paramLabel = "FILE",
            description = "File holding the secret every node of the cluster shares (at least 16 bytes, white"
                    + " space trimmed; create one with: head -c 32 /dev/urandom | base64 > cluster.secret)."
                    + " Nodes forward client writes to the leader only with it. Required with --peers of more"
                    + " than one node or --join; the environment variable BATON_CLUSTER_SECRET is read if this"
                    + " option is absent. A single node without one uses a random secret nobody knows.")
    Path clusterSecretFile;

    // ---- TLS on the gRPC API port ----
    @Option(names = "--tls-cert-file", paramLabel = "PEM",
            description = "This node's certificate for the gRPC API port, PEM (its intermediate CAs may follow)."
                    + " With --tls-key-file: the port speaks TLS only. It must name the address clients and the"
                    + " other members use (--host), and be valid for both serverAuth and clientAuth: a member"
                    + " presents it as its client certificate when it forwards to the leader. Re-read every"
                    + " --tls-reload-interval-ms (rotation without restart). Default: plaintext.")
    Path tlsCertFile;

    @Option(names = "--tls-key-file", paramLabel = "PEM",
            description = "The private key of --tls-cert-file: unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----;"
                    + " convert others with openssl pkcs8 -topk8 -nocrypt).")
    Path tlsKeyFile;

    @Option(names = "--tls-client-ca-file", paramLabel = "PEM",
            description = "Require a client certificate on the gRPC API port (mutual TLS), signed by a CA of this"
                    + " PEM file (or of --tls-ca-file). Default: no client certificate asked for.")
    Path tlsClientCaFile;

    @Option(names = "--tls-ca-file", paramLabel = "PEM",
            description = "The CA(s) that signed the members' API certificates, PEM: this node verifies the leader"
                    + " against them when it forwards writes. Default: --tls-client-ca-file. Required with"
                    + " --tls-cert-file on a node of a cluster (--peers of more than one node, or --join) that has"
                    + " no --tls-client-ca-file.")
    Path tlsCaFile;

    @Option(names = "--tls-reload-interval-ms", converter = Durations.Millis.class, defaultValue = "60000",
            description = "How often the TLS files are read again; changed files are checked and used for new"
                    + " connections, bad ones logged (WARN) and ignored (default: ${DEFAULT-VALUE}).")
    long tlsReloadIntervalMs;

    // ---- bearer tokens on the gRPC API port ----
    @Option(names = "--auth-token-file", paramLabel = "FILE",
            description = "Require a bearer token on every call of the gRPC API port (but the members-only"
                    + " Forward service) and of the HTTP admin API: one caller per line,"
                    + " '<sha256-hex-of-token> <name> <roles> [<key-prefixes>]', roles a comma list of client, read,"
                    + " admin; key prefixes (client only) a comma list such as enwiki:,dewiki:; '-' instead of the"
                    + " hash: a caller with a client certificate whose CN is <name> (--tls-client-ca-file). Make a"
                    + " line with: baton token new NAME ROLES [PREFIXES]. Re-read when it changes. Default: no"
                    + " tokens asked for.")
    Path authTokenFile;

    @Option(names = "--auth-reload-interval-ms", converter = Durations.Millis.class, defaultValue = "10000",
            description = "How often --auth-token-file is read again; a changed file that parses replaces the"
                    + " tokens, a malformed one is logged (WARN) and ignored (default: ${DEFAULT-VALUE}).")
    long authReloadIntervalMs;

    @Option(names = "--insecure",
            description = "Start even though a port listens beyond this machine (not on a loopback address)"
                    + " unprotected: the gRPC API port without TLS or without tokens/client certificates, the Raft"
                    + " port without --peer-tls-*, the HTTP port without --auth-token-file, the PoolCounter port"
                    + " without --line-allow. Without it such a node refuses to start; with it, it warns at every"
                    + " start.")
    boolean insecure;

    @Option(names = "--election-timeout-ms", converter = Durations.IntMillis.class, defaultValue = "1000",
            description = "Follower election timeout (default: ${DEFAULT-VALUE}).")
    int electionTimeoutMs;

    @Option(names = "--snapshot-interval", converter = Durations.Seconds.class, defaultValue = "3600",
            description = "Seconds between periodic snapshots; 0 for on demand only (default: ${DEFAULT-VALUE}).")
    int snapshotIntervalSecs;

    @Option(names = "--restore", paramLabel = "FILE",
            description = "Start a new cluster whose state is the backup FILE's (baton admin backup). Only on an"
                    + " empty --data-dir; the node starts as the new cluster's only member: start the others empty"
                    + " with --join and add them (baton admin add-member). Not needed again on later starts.")
    Path restore;

    // ---- the leader's batcher: how it packs commands into log entries ----
    @Option(names = "--batch-fill-wait", paramLabel = "DURATION", converter = Durations.Of.class, defaultValue = "1ms",
            description = "While this node leads and the log is busy (an entry of 8 or more commands just"
                    + " completed), how long the next entry may wait until as many commands are queued: fewer,"
                    + " bigger entries, less CPU per command; 0 never waits; at most 10ms (default: ${DEFAULT-VALUE}).")
    Duration batchFillWait;

    @Option(names = "--batch-hold-wait", paramLabel = "DURATION", converter = Durations.Of.class, defaultValue = "2ms",
            description = "While this node leads, how long acquires that will most likely wait (their key's last"
                    + " acquire did) may be held for a release to share their entry (one hot key: one sync per"
                    + " hand-over); 0 never holds; at most 100ms (default: ${DEFAULT-VALUE}).")
    Duration batchHoldWait;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    // ---- time: the cluster time that wall-clock steps cannot bend ----
    @Option(names = "--clock-skew-warn-ms", converter = Durations.Millis.class, defaultValue = "5000",
            description = "Warn (log, dashboard; metric baton_clock_skew_seconds) when the cluster time differs from"
                    + " this node's wall clock by more than this, ms (default: ${DEFAULT-VALUE}).")
    long clockSkewWarnMs;

    @Override
    public Integer call() throws Exception {
        StartupWarmup.awaitLogging();
        String defaultsProblem = spec.defaultValueProvider() instanceof ConfigFile file ? file.problem(spec)
                : spec.defaultValueProvider() instanceof EnvOptions env ? env.problem(spec) : null;
        if (defaultsProblem != null) {
            System.err.println("baton server: " + defaultsProblem);
            return 2;
        }
        if (engineLog != null) {
            try {
                StartupChecks.engineLogLevel(engineLog);
            } catch (IllegalArgumentException e) {
                System.err.println("baton server: " + e.getMessage());
                return 2;
            }
        } else {
            StartupChecks.quietEngineStartup();
        }
        BatonNode.Options options;
        try {
            options = options();
        } catch (IllegalArgumentException e) {
            System.err.println("baton server: " + e.getMessage());
            return 2;
        }
        ApiServer.Config config;
        ApiTls tls;
        try {
            // Read here, so that a missing or bad file is named before anything is written.
            ApiTls.Config tlsConfig = tlsConfig();
            tls = tlsConfig == null ? null : ApiTls.load(tlsConfig);
            ClusterSecret secret = clusterSecret(System.getenv(ClusterSecret.ENV));
            config = new ApiServer.Config(options, options.host(), apiPort, sessionTtlMs, LimitOptions.parse(
                    limits, sessionTtlMinMs, sessionTtlMaxMs), join, noLine ? null : new LineDoor.Config(
                    lineHost == null ? options.host() : lineHost, linePort, lineMaxBytes, lineMaxConnections,
                    sessionTtlMs, lineMaxConnectionsPerAddress, lineIdleTimeoutMs, linePartialLineTimeoutMs,
                    lineMaxBufferedBytes, AddressAllowList.parse(lineAllow, "--line-allow")), noHttp ? null : new HttpDoor.Config(httpHost == null ? options.host() : httpHost,
                    httpPort, httpThreads, new BatonMetrics.Limits(metricsTopKeys, metricsMaxTargets, 200), 2_000, 300,
                    httpRequestTimeoutMs, httpIdleTimeoutMs, httpMaxConnections, httpMaxBodyBytes, httpMaxQueued)
                    .withTls(httpTls()).withOpen(httpOpen()).withApiBounds(httpMaxApiCalls, httpMaxApiBodyBytes),
                    secret, clockSkewWarnMs, tls, authTokens()).withBatching(batching());
        } catch (IllegalArgumentException e) {
            System.err.println("baton server: " + e.getMessage());
            return 2;
        }
        List<String> insecurePorts = StartupChecks.insecurePorts(exposure(options, config));
        if (!insecurePorts.isEmpty() && !insecure) {
            System.err.println("baton server: refusing to start: " + String.join("; ", insecurePorts)
                    + ". Protect them, listen on 127.0.0.1 only (--host), or start with --insecure to run like"
                    + " this anyway.");
            return 2;
        }
        for (String problem : insecurePorts) {
            log().warn("--insecure: {}", problem);
        }
        if (config.http() != null && config.auth() != null && config.http().tls() == null
                && StartupChecks.beyondLoopback(config.http().host())) {
            log().warn("the HTTP port {}:{} takes tokens without TLS: they cross the network in clear text"
                    + " (--http-tls-cert-file, --http-tls-key-file)", config.http().host(), httpPort);
        }
        Restore.Checked backup = null;
        if (restore != null) {
            String problem = restoreProblem(options);
            if (problem == null) {
                try {
                    backup = Restore.check(restore);
                } catch (java.io.IOException e) {
                    problem = "cannot restore: " + e.getMessage();
                }
            }
            if (problem != null) {
                System.err.println("baton server: " + problem);
                return 2;
            }
        }
        // A replica that cannot apply an entry ends the process (a supervisor restarts it) rather
        // than staying up half-alive.
        BatonStateMachine.haltProcessOnApplyFailure(true);
        // Every port is bound once before anything is written, so that a port in use is named
        // with its option and leaves no data directory behind.
        List<StartupChecks.Port> ports = ports(options);
        String busy = StartupChecks.portProblem(ports);
        if (busy != null) {
            System.err.println("baton server: " + busy);
            return 1;
        }
        Path created = StartupChecks.firstMissing(options.dataDir());
        if (backup != null) {
            try {
                Restore.install(backup, options);
            } catch (java.io.IOException | RuntimeException e) {
                System.err.println("baton server: cannot restore " + restore + ": " + e.getMessage());
                StartupChecks.deleteCreated(created);
                Restore.undo(options.dataDir());
                return 1;
            }
            System.err.println("baton server: restored " + restore + " (applied index " + backup.index()
                    + ", taken on node " + backup.header().nodeId() + " at "
                    + java.time.Instant.ofEpochMilli(backup.header().createdMillis()) + "); this node starts the new"
                    + " cluster alone: start the other members with --join and add them with baton admin add-member");
        }
        ApiServer server = new ApiServer(config);
        server.node().namePeers(peerNames());
        try {
            server.start();
        } catch (RuntimeException e) {
            // A port taken between the check and the bind, or a locked or unreadable data directory.
            String nowBusy = StartupChecks.portProblem(ports);
            System.err.println("baton server: " + (nowBusy != null ? nowBusy : e.getMessage()));
            StartupChecks.deleteCreated(created);
            if (backup != null) {
                Restore.undo(options.dataDir()); // a later --restore on this directory must not find it used
            }
            return 1;
        }
        BatonNode node = server.node();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            System.err.println("baton server: node " + options.nodeId() + " stopped");
            stopped.countDown();
        }, "baton-shutdown"));
        LineDoor door = server.lineDoor();
        System.err.println("baton server: node " + options.nodeId() + " serving gRPC on " + server.apiEndpoint()
                + (tls == null ? "" : " (TLS: " + tls.summary() + ")")
                + (config.auth() == null ? "" : " (tokens required: " + config.auth().size() + " in "
                        + config.auth().file() + ")")
                + (door == null ? "" : ", PoolCounter on " + door.config().host() + ":" + door.port())
                + (server.httpDoor() == null ? "" : ", HTTP on " + server.httpDoor().endpoint()
                        + " (dashboard " + server.httpDoor().scheme() + "://" + server.httpDoor().endpoint() + "/dashboard/)")
                + " and Raft on " + options.endpoint() + ", data in " + options.dataDir().toAbsolutePath());
        node.waitForLeader(Duration.ofSeconds(30)).ifPresentOrElse(
                l -> System.err.println("baton server: leader is " + l + (node.isLeader() ? " (this node)" : "")),
                () -> System.err.println("baton server: no leader yet; waiting for the other peers"));
        stopped.await();
        return 0;
    }

    /**
     * The batcher's configuration from {@code --batch-fill-wait} and {@code --batch-hold-wait}.
     *
     * @throws IllegalArgumentException naming the option whose value is out of range
     */
    ProposalBatcher.Config batching() {
        long fill = micros("--batch-fill-wait", batchFillWait, ProposalBatcher.Config.MAX_FILL_MICROS);
        long hold = micros("--batch-hold-wait", batchHoldWait, ProposalBatcher.Config.MAX_HOLD_WAITING_MICROS);
        return ProposalBatcher.Config.defaults().withFillMicros(fill).withHoldWaitingMicros(hold);
    }

    /** {@code d} in whole microseconds, checked against {@code 0..maxMicros}. */
    private static long micros(String option, Duration d, long maxMicros) {
        if (d.isNegative() || d.compareTo(Duration.ofNanos(maxMicros * 1_000)) > 0) {
            throw new IllegalArgumentException(option + " must be between 0 and " + maxMicros / 1_000 + "ms, got "
                    + (d.isNegative() ? "a negative duration" : d.toNanos() % 1_000_000 == 0 ? d.toMillis() + "ms"
                    : d.toNanos() / 1_000 + "us"));
        }
        return d.toNanos() / 1_000;
    }

    /** Why {@code --restore} cannot be used with these options or this data directory, or null. */
    private String restoreProblem(BatonNode.Options options) {
        if (join) {
            return "--restore starts a new cluster; --join joins a running one: give one of them";
        }
        try {
            String used = Restore.usedBy(options.dataDir());
            if (used != null) {
                return "--restore needs an empty data directory, and " + used + " is not empty: restore into a new"
                        + " --data-dir (a restore would lose the state there)";
            }
        } catch (java.io.IOException e) {
            return "cannot read the data directory " + options.dataDir() + ": " + e.getMessage();
        }
        return null;
    }

    /**
     * The configured cluster secret: {@code --cluster-secret-file}, else {@code env} (the value of
     * {@code BATON_CLUSTER_SECRET}) if set, else null (see {@link ApiServer.Config}).
     */
    ClusterSecret clusterSecret(String env) {
        if (clusterSecretFile != null) {
            return ClusterSecret.readFile(clusterSecretFile);
        }
        if (env != null && !env.isBlank()) {
            try {
                return ClusterSecret.of(env);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(ClusterSecret.ENV + ": " + e.getMessage(), e);
            }
        }
        return null;
    }

    /** {@code --http-open}, checked; only with {@code --auth-token-file} (without it every path is open). */
    java.util.Set<HttpDoor.OpenPath> httpOpen() {
        if (httpOpen == null) {
            return HttpDoor.OpenPath.DEFAULT;
        }
        if (authTokenFile == null) {
            // Refused rather than ignored: "--http-open none" must not look like a protection it is not.
            throw new IllegalArgumentException("--http-open needs --auth-token-file: without tokens every path of"
                    + " the HTTP port is open");
        }
        return HttpDoor.OpenPath.parse(httpOpen, "--http-open");
    }

    /** The tokens of {@code --auth-token-file}, read now; null without it. */
    AuthTokens authTokens() {
        return authTokenFile == null ? null : AuthTokens.load(authTokenFile, authReloadIntervalMs);
    }

    /** The TLS options, checked for one another; null: plaintext. */
    ApiTls.Config tlsConfig() {
        if (tlsCertFile == null || tlsKeyFile == null) {
            if (tlsCertFile != null) {
                throw new IllegalArgumentException("--tls-cert-file needs --tls-key-file (its private key, PKCS#8 PEM)");
            }
            if (tlsKeyFile != null) {
                throw new IllegalArgumentException("--tls-key-file needs --tls-cert-file (the certificate of that key)");
            }
            if (tlsClientCaFile != null || tlsCaFile != null) {
                throw new IllegalArgumentException((tlsClientCaFile != null ? "--tls-client-ca-file" : "--tls-ca-file")
                        + " needs --tls-cert-file and --tls-key-file (TLS on the gRPC API port)");
            }
            return null;
        }
        if (tlsReloadIntervalMs <= 0) {
            throw new IllegalArgumentException("--tls-reload-interval-ms must be positive, got " + tlsReloadIntervalMs);
        }
        return new ApiTls.Config(tlsCertFile, tlsKeyFile, tlsClientCaFile, tlsCaFile, tlsReloadIntervalMs);
    }

    /** How each port is exposed and protected (for the --insecure check). */
    private StartupChecks.Exposure exposure(BatonNode.Options options, ApiServer.Config config) {
        return new StartupChecks.Exposure(options.host(), apiPort, config.tls() != null,
                config.auth() != null || tlsClientCaFile != null,
                options.host(), options.port(), options.peerTls() != null,
                config.http() == null ? null : config.http().host(), httpPort, config.auth() != null,
                config.line() == null ? null : config.line().host(), linePort, lineAllow != null);
    }

    /** The ports this node binds, each with the option that sets it. */
    private List<StartupChecks.Port> ports(BatonNode.Options options) {
        List<StartupChecks.Port> ports = new ArrayList<>();
        ports.add(new StartupChecks.Port(peers.isEmpty() ? "--raft-port" : "--peers " + nodeId + "=" + options.endpoint()
                + ": Raft port", options.host(), options.port()));
        ports.add(new StartupChecks.Port("--api-port", options.host(), apiPort));
        if (!noLine) {
            ports.add(new StartupChecks.Port("--line-port", lineHost == null ? options.host() : lineHost, linePort));
        }
        if (!noHttp) {
            ports.add(new StartupChecks.Port("--http-port", httpHost == null ? options.host() : httpHost, httpPort));
        }
        return ports;
    }

    /** {@code host:port -> id} from {@code --peers}, to name peers in log lines. */
    private Map<String, String> peerNames() {
        Map<String, String> names = new LinkedHashMap<>();
        for (String p : peers) {
            int eq = p.indexOf('=');
            if (eq > 0) {
                names.put(p.substring(eq + 1), p.substring(0, eq));
            }
        }
        return names;
    }

    /** HTTPS files from their options (both or neither), read once here so a bad file stops the start early. */
    private PemCredentials.Files3 httpTls() {
        if (httpTlsCertFile == null && httpTlsKeyFile == null) {
            return null;
        }
        if (httpTlsCertFile == null || httpTlsKeyFile == null) {
            throw new IllegalArgumentException("HTTPS needs both --http-tls-cert-file and --http-tls-key-file");
        }
        PemCredentials.Files3 files = new PemCredentials.Files3(httpTlsCertFile, "--http-tls-cert-file",
                httpTlsKeyFile, "--http-tls-key-file", null, null);
        PemCredentials.load(files).close();
        return files;
    }

    BatonNode.Options options() {
        PeerTls.Config tls = PeerTls.Config.of(peerTlsCertFile, peerTlsKeyFile, peerTlsCaFile, peerTlsReloadIntervalMs);
        if (tls != null) {
            PeerTls.check(tls); // before anything is created on disk
        }
        return raftOptions().withPeerTls(tls);
    }

    private BatonNode.Options raftOptions() {
        BatonNode.Options o = new BatonNode.Options(nodeId, "baton", dataDir, host, raftPort, List.of(),
                electionTimeoutMs, snapshotIntervalSecs, true);
        if (peers.isEmpty()) {
            return o;
        }
        Map<String, String> byId = new LinkedHashMap<>();
        for (String p : peers) {
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1 || byId.put(p.substring(0, eq), p.substring(eq + 1)) != null) {
                throw new IllegalArgumentException("--peers wants distinct ID=HOST:PORT entries, got " + p);
            }
        }
        String self = byId.get(nodeId);
        if (self == null) {
            throw new IllegalArgumentException("--node-id " + nodeId + " is not among --peers " + byId.keySet());
        }
        int colon = self.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("peer " + nodeId + " needs HOST:PORT, got " + self);
        }
        int port;
        try {
            port = Integer.parseInt(self.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("peer " + nodeId + " has a bad port: " + self);
        }
        return new BatonNode.Options(nodeId, "baton", dataDir, self.substring(0, colon), port,
                List.copyOf(byId.values()), electionTimeoutMs, snapshotIntervalSecs, true);
    }
}
