package dev.baton.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What {@code baton server} checks before it writes anything: that every port it is about to serve
 * can be bound (so that a port in use is reported with the option that set it, and no data
 * directory is left behind), and how the engine's loggers are set.
 */
final class StartupChecks {
    private StartupChecks() {
    }

    /** A port the server binds, named by the option that sets it. */
    record Port(String option, String host, int port) {
    }

    /**
     * Binds and releases each port in turn; the first that cannot be bound, or two options on one
     * port, is described, e.g. {@code --api-port 7530 is in use on 127.0.0.1 (Address already in use)}.
     * Port 0 (any free port) is not checked. Returns null if every port is free.
     */
    static String portProblem(List<Port> ports) {
        for (int i = 0; i < ports.size(); i++) {
            Port a = ports.get(i);
            for (int j = 0; j < i; j++) {
                Port b = ports.get(j);
                if (a.port() != 0 && a.port() == b.port() && overlap(a.host(), b.host())) {
                    return a.option() + " " + a.port() + " is also " + b.option() + " " + b.port()
                            + "; give each port its own number";
                }
            }
        }
        for (Port p : ports) {
            if (p.port() == 0) {
                continue;
            }
            InetAddress address;
            try {
                address = InetAddress.getByName(p.host());
            } catch (UnknownHostException e) {
                return p.option() + " " + p.port() + ": unknown host " + p.host();
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(true); // as the servers themselves bind: a closed connection's TIME_WAIT is no conflict
                s.bind(new InetSocketAddress(address, p.port()), 1);
            } catch (IOException e) {
                String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                boolean inUse = why.contains("in use");
                return p.option() + " " + p.port() + (inUse ? " is in use on " : " cannot be bound on ") + p.host()
                        + " (" + why + ")";
            }
        }
        return null;
    }

    private static boolean overlap(String a, String b) {
        Set<String> wildcards = Set.of("0.0.0.0", "::", "[::]", "*");
        return a.equals(b) || wildcards.contains(a) || wildcards.contains(b);
    }

    /**
     * How the node's ports are exposed and secured, for {@link #insecurePorts}.
     *
     * @param httpHost null without an HTTP port
     * @param lineHost null without a PoolCounter port
     */
    record Exposure(String apiHost, int apiPort, boolean apiTls, boolean apiAuthentication,
                    String raftHost, int raftPort, boolean peerTls,
                    String httpHost, int httpPort, boolean httpAuthentication,
                    String lineHost, int linePort, boolean lineAllowList) {
    }

    /**
     * Why this node is not safe to run as configured: one line per port that listens beyond this
     * machine (not on a loopback address) without what protects it. Empty if every such port is
     * protected, or every port listens on loopback only (the zero-config single node).
     * {@code baton server} refuses to start with any of these unless told {@code --insecure}.
     */
    static List<String> insecurePorts(Exposure e) {
        List<String> problems = new java.util.ArrayList<>();
        if (beyondLoopback(e.apiHost())) {
            String where = "the gRPC API port " + e.apiHost() + ":" + e.apiPort();
            if (!e.apiTls()) {
                problems.add(where + " has no TLS (--tls-cert-file, --tls-key-file)");
            }
            if (!e.apiAuthentication()) {
                problems.add(where + " asks for no token or client certificate (--auth-token-file, --tls-client-ca-file)");
            }
        }
        if (beyondLoopback(e.raftHost()) && !e.peerTls()) {
            problems.add("the Raft port " + e.raftHost() + ":" + e.raftPort() + " lets anyone join, vote and change the"
                    + " membership: give the members certificates (--peer-tls-cert-file, --peer-tls-key-file,"
                    + " --peer-tls-ca-file)");
        }
        if (e.httpHost() != null && beyondLoopback(e.httpHost()) && !e.httpAuthentication()) {
            problems.add("the HTTP port " + e.httpHost() + ":" + e.httpPort() + " serves its admin API and the"
                    + " HTTP/JSON client API to anyone (--auth-token-file)");
        }
        if (e.lineHost() != null && beyondLoopback(e.lineHost()) && !e.lineAllowList()) {
            problems.add("the PoolCounter port " + e.lineHost() + ":" + e.linePort() + ", whose protocol has no"
                    + " authentication, accepts any address (name the client networks with --line-allow)");
        }
        return problems;
    }

    /** True unless {@code host} resolves to a loopback address (a wildcard such as 0.0.0.0 is beyond). */
    static boolean beyondLoopback(String host) {
        try {
            return !InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return true; // the port check names the unknown host
        }
    }

    /**
     * The outermost directory of {@code dir} (itself included) that does not exist yet, or null if
     * it exists: what a failed start must delete to leave the disk as it found it.
     */
    static Path firstMissing(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        if (Files.exists(abs)) {
            return null;
        }
        Path missing = abs;
        for (Path p = abs.getParent(); p != null && !Files.exists(p); p = p.getParent()) {
            missing = p;
        }
        return missing;
    }

    /** Deletes what a failed start created under {@code created} (null: nothing). Best effort. */
    static void deleteCreated(Path created) {
        if (created == null || !Files.exists(created)) {
            return;
        }
        try (Stream<Path> s = Files.walk(created)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("baton server: could not remove " + created + " after the failed start: " + e.getMessage());
        }
    }

    // ---- engine loggers -------------------------------------------------------------------------

    /** slf4j-simple's per-logger level keys for SOFAJRaft and for bolt (logged through sofa-common-tools). */
    static final String JRAFT_LOGGER = "org.slf4j.simpleLogger.log.com.alipay.sofa.jraft";
    /** SOFAJRaft's loggers of connection attempts, off by default (simplelogger.properties). */
    static final List<String> JRAFT_CONNECTION_LOGGERS = List.of(
            JRAFT_LOGGER + ".rpc.impl.AbstractClientService", JRAFT_LOGGER + ".core.Replicator",
            JRAFT_LOGGER + ".core.ReplicatorGroupImpl");
    static final String BOLT_LOGGER = "org.slf4j.simpleLogger.log.com.alipay.sofa.common.log";
    /** sofa-common-tools' own console messages ("No log util is usable, ..."): DEBUG, INFO, WARN or ERROR. */
    static final String SOFA_INTERNAL_LEVEL = "sofa.middleware.log.internal.level";

    /**
     * Silences sofa-common-tools' start-up notice that it found no logging backend of its own (it
     * then logs through slf4j, which is what Baton wants), unless the operator set the property.
     */
    static void quietEngineStartup() {
        System.getProperties().putIfAbsent(SOFA_INTERNAL_LEVEL, "ERROR");
    }

    /** {@code --engine-log LEVEL}: sets SOFAJRaft's and bolt's loggers (before either logs anything). */
    static void engineLogLevel(String level) {
        String l = level.toLowerCase(Locale.ROOT);
        if (!Set.of("off", "error", "warn", "info", "debug", "trace").contains(l)) {
            throw new IllegalArgumentException("--engine-log wants off, error, warn, info, debug or trace, got " + level);
        }
        System.setProperty(JRAFT_LOGGER, l);
        for (String quietByDefault : JRAFT_CONNECTION_LOGGERS) {
            System.setProperty(quietByDefault, l);
        }
        System.setProperty(BOLT_LOGGER, l);
        System.setProperty(SOFA_INTERNAL_LEVEL, switch (l) {
            case "trace", "debug" -> "DEBUG";
            case "info" -> "INFO";
            case "warn" -> "WARN";
            default -> "ERROR";
        });
    }
}
