package dev.baton.spring.boot;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code baton.*} properties: how the auto-configured {@code BatonClient} connects, and which
 * beans are made on top of it. The defaults are those of {@code BatonClient.Builder}.
 */
@ConfigurationProperties(prefix = "baton")
public class BatonProperties {
    /** Addresses of some or all nodes, host:port (port 7530 when left out). Any node will do. */
    private List<String> endpoints = new ArrayList<>(List.of("localhost:7530"));
    /** The session lease to ask for; the server clamps it to its bounds. Zero: the server's default. */
    private Duration sessionTtl = Duration.ofSeconds(10);
    /** The deadline of each attempt of a call; a waiting acquire gets its wait on top. */
    private Duration requestTimeout = Duration.ofSeconds(5);
    /** How long a call keeps retrying unreachable nodes; also bounds connecting at start-up. */
    private Duration retryFor = Duration.ofSeconds(30);
    /** How long a session opened for extra acquires stays open with nothing on it. */
    private Duration idleSessionClose = Duration.ofSeconds(30);
    /** Pool slots the server allows one session (its maxSlotsPerSession). */
    private int slotsPerSession = 4;
    /** Names the client's session, so that a restarted process takes over its predecessor's session; one live client per token. */
    private String clientToken;
    /** Whether writes travel over one long-lived stream per node rather than one call each. */
    private boolean callStream = true;
    /** The bearer token for nodes that require one (prefer token-file). */
    private String token;
    /** A file whose first line is the bearer token. */
    private Path tokenFile;
    private final Tls tls = new Tls();
    private final Metrics metrics = new Metrics();
    private final LockRegistry lockRegistry = new LockRegistry();
    private final Shedlock shedlock = new Shedlock();

    /** TLS to the nodes' API port. */
    public static class Tls {
        /** The CA certificate(s), PEM, that signed the nodes' certificates; set it to speak TLS. */
        private Path caFile;
        /** This client's certificate, PEM, for nodes that require client certificates. */
        private Path certFile;
        /** The key of cert-file, unencrypted PKCS#8 PEM. */
        private Path keyFile;

        public Path getCaFile() {
            return caFile;
        }

        public void setCaFile(Path caFile) {
            this.caFile = caFile;
        }

        public Path getCertFile() {
            return certFile;
        }

        public void setCertFile(Path certFile) {
            this.certFile = certFile;
        }

        public Path getKeyFile() {
            return keyFile;
        }

        public void setKeyFile(Path keyFile) {
            this.keyFile = keyFile;
        }
    }

    /** The client's meters in Micrometer. */
    public static class Metrics {
        /** Whether to bind the client's meters (baton.client.*) to the MeterRegistry. */
        private boolean enabled = true;

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }
    }

    /** The Spring Integration LockRegistry bean (with baton-spring-integration on the class path). */
    public static class LockRegistry {
        /** Whether to make a BatonLockRegistry bean when no LockRegistry bean is defined. */
        private boolean enabled = true;
        /** Put before every key to form the lock's name on the cluster. */
        private String prefix = "";

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public String getPrefix() {
            return prefix;
        }

        public void setPrefix(String prefix) {
            this.prefix = prefix;
        }
    }

    /** The ShedLock LockProvider bean (with baton-shedlock on the class path). */
    public static class Shedlock {
        /** Whether to make a BatonLockProvider bean when no LockProvider bean is defined. */
        private boolean enabled = true;
        /** Put before every ShedLock lock name to form the lock's name on the cluster. */
        private String prefix = "shedlock/";

        public boolean isEnabled() {
            return enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public String getPrefix() {
            return prefix;
        }

        public void setPrefix(String prefix) {
            this.prefix = prefix;
        }
    }

    public List<String> getEndpoints() {
        return endpoints;
    }

    public void setEndpoints(List<String> endpoints) {
        this.endpoints = endpoints;
    }

    public Duration getSessionTtl() {
        return sessionTtl;
    }

    public void setSessionTtl(Duration sessionTtl) {
        this.sessionTtl = sessionTtl;
    }

    public Duration getRequestTimeout() {
        return requestTimeout;
    }

    public void setRequestTimeout(Duration requestTimeout) {
        this.requestTimeout = requestTimeout;
    }

    public Duration getRetryFor() {
        return retryFor;
    }

    public void setRetryFor(Duration retryFor) {
        this.retryFor = retryFor;
    }

    public Duration getIdleSessionClose() {
        return idleSessionClose;
    }

    public void setIdleSessionClose(Duration idleSessionClose) {
        this.idleSessionClose = idleSessionClose;
    }

    public int getSlotsPerSession() {
        return slotsPerSession;
    }

    public void setSlotsPerSession(int slotsPerSession) {
        this.slotsPerSession = slotsPerSession;
    }

    public String getClientToken() {
        return clientToken;
    }

    public void setClientToken(String clientToken) {
        this.clientToken = clientToken;
    }

    public boolean isCallStream() {
        return callStream;
    }

    public void setCallStream(boolean callStream) {
        this.callStream = callStream;
    }

    public String getToken() {
        return token;
    }

    public void setToken(String token) {
        this.token = token;
    }

    public Path getTokenFile() {
        return tokenFile;
    }

    public void setTokenFile(Path tokenFile) {
        this.tokenFile = tokenFile;
    }

    public Tls getTls() {
        return tls;
    }

    public Metrics getMetrics() {
        return metrics;
    }

    public LockRegistry getLockRegistry() {
        return lockRegistry;
    }

    public Shedlock getShedlock() {
        return shedlock;
    }
}
