package dev.baton.server.http;

import dev.baton.server.metrics.BatonMetrics;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Bearer tokens on the HTTP port, with the same token file and roles as the gRPC API port
 * ({@code --auth-token-file}, {@link AuthTokens}): every endpoint of the admin JSON API needs
 * {@code Authorization: Bearer <token>} with the role {@link #ACCESS} gives it. Missing or unknown
 * token: 401 with {@code WWW-Authenticate: Bearer}; a known token without the role: 403. Without a
 * token file nothing is checked.
 *
 * <p>The dashboard's static files are open (the page holds no data; its JSON calls carry the token),
 * and so are {@code /metrics} and {@code /health/*} unless the operator closes them with
 * {@code --http-open}: scrapers and load balancers usually cannot send a token.
 *
 * <p>The HTTP/JSON API under {@code /v1/} is not an {@link Endpoint} and not checked here: each of
 * its calls is a call of the gRPC services behind the gRPC port's own token check, with the role
 * its method needs there ({@link JsonApi}).
 */
final class HttpAuth {
    /** Who may call an endpoint: anyone ({@code role} null), or a token with {@code role}. */
    record Access(Role role, HttpDoor.OpenPath openable) {
        static final Access ANYONE = new Access(null, null);

        static Access role(Role role) {
            return new Access(Objects.requireNonNull(role, "role"), null);
        }

        /** Needs {@code role}, unless the operator left {@code path} open ({@code --http-open}). */
        static Access roleUnlessOpen(Role role, HttpDoor.OpenPath path) {
            return new Access(Objects.requireNonNull(role, "role"), Objects.requireNonNull(path, "path"));
        }
    }

    /**
     * What each endpoint needs when the node has tokens. The one place where this is decided, and
     * exhaustive on purpose: an endpoint missing here is refused to everybody ({@link #refusal}), and
     * a test fails for every {@link Endpoint} without an entry, so a new endpoint cannot ship without
     * its role decided. Whatever changes something needs {@code admin}.
     */
    static final Map<Endpoint, Access> ACCESS = access();

    private static Map<Endpoint, Access> access() {
        EnumMap<Endpoint, Access> m = new EnumMap<>(Endpoint.class);
        // The page and its script hold no data: a browser must load them to be asked for a token.
        m.put(Endpoint.ROOT_REDIRECT, Access.ANYONE);
        m.put(Endpoint.DASHBOARD_REDIRECT, Access.ANYONE);
        m.put(Endpoint.DASHBOARD_FILE, Access.ANYONE);
        m.put(Endpoint.METRICS, Access.roleUnlessOpen(Role.READ, HttpDoor.OpenPath.METRICS));
        m.put(Endpoint.HEALTH_LIVE, Access.roleUnlessOpen(Role.READ, HttpDoor.OpenPath.HEALTH));
        m.put(Endpoint.HEALTH_READY, Access.roleUnlessOpen(Role.READ, HttpDoor.OpenPath.HEALTH));
        m.put(Endpoint.HEALTH_LEADER, Access.roleUnlessOpen(Role.READ, HttpDoor.OpenPath.HEALTH));
        // What only looks (session tokens, pool keys and queue names are the clients' data: read, not anyone).
        m.put(Endpoint.API_CLUSTER, Access.role(Role.READ));
        m.put(Endpoint.API_POOLS, Access.role(Role.READ));
        m.put(Endpoint.API_POOL, Access.role(Role.READ));
        m.put(Endpoint.API_SESSIONS, Access.role(Role.READ));
        m.put(Endpoint.API_LOCKS, Access.role(Role.READ));
        m.put(Endpoint.API_DISPATCH, Access.role(Role.READ));
        m.put(Endpoint.API_DISPATCH_HISTORY, Access.role(Role.READ));
        m.put(Endpoint.API_DISPATCH_GROUP, Access.role(Role.READ));
        m.put(Endpoint.API_EVENTS, Access.role(Role.READ));
        m.put(Endpoint.API_QUEUES, Access.role(Role.READ));
        m.put(Endpoint.API_QUEUE, Access.role(Role.READ));
        // What changes the cluster.
        m.put(Endpoint.API_SESSION_CLOSE, Access.role(Role.ADMIN));
        return Map.copyOf(m);
    }

    /** The tag that tells this port's refusals from the gRPC API port's in {@code baton_auth_refused_total}. */
    static final String PORT_TAG = "http";

    private final AuthTokens tokens;
    private final Set<HttpDoor.OpenPath> open;
    private final Map<Endpoint, Access> access;
    private final Counter unauthenticated;
    private final Counter permissionDenied;

    /**
     * @param tokens the node's tokens; null: nothing is checked (no {@code --auth-token-file})
     * @param open   the endpoints {@code --http-open} leaves open to anyone
     */
    HttpAuth(AuthTokens tokens, Set<HttpDoor.OpenPath> open, MeterRegistry registry) {
        this(tokens, open, registry, ACCESS);
    }

    /** With another table (a test's, to see what an endpoint without an entry gets). */
    HttpAuth(AuthTokens tokens, Set<HttpDoor.OpenPath> open, MeterRegistry registry, Map<Endpoint, Access> access) {
        this.tokens = tokens;
        this.open = Set.copyOf(open);
        this.access = Map.copyOf(access);
        if (tokens == null) {
            // zero-config stays zero-config: not even a counter that can only show 0
            unauthenticated = null;
            permissionDenied = null;
        } else {
            // Counter.builder(...).register returns the one already there: doors on one registry share it.
            unauthenticated = refusedCounter(registry, "unauthenticated");
            permissionDenied = refusedCounter(registry, "permission_denied");
        }
    }

    private static Counter refusedCounter(MeterRegistry registry, String reason) {
        return Counter.builder(BatonMetrics.AUTH_REFUSED_METRIC).tag("port", PORT_TAG).tag("reason", reason)
                .description("Calls refused for their token, by port (api: gRPC, http: admin JSON API)")
                .register(registry);
    }

    /** True if the node asks for tokens. */
    boolean enabled() {
        return tokens != null;
    }

    /**
     * The answer refusing a request for {@code endpoint} with the header value {@code authorization},
     * or null if it may proceed.
     */
    HttpDoor.Reply refusal(Endpoint endpoint, String authorization) {
        if (tokens == null) {
            return null;
        }
        Access needs = access.get(endpoint);
        if (needs == null) {
            // Fail closed: an endpoint nobody gave a role to is not served to anyone.
            permissionDenied.increment();
            return HttpDoor.Reply.error(403, "PERMISSION_DENIED", endpoint.label + " has no role assigned on this node");
        }
        if (needs.role() == null || (needs.openable() != null && open.contains(needs.openable()))) {
            return null;
        }
        String token = AuthTokens.bearerToken(authorization);
        if (token == null) {
            unauthenticated.increment();
            return HttpDoor.Reply.error(401, "UNAUTHENTICATED", "a token is required: send the header"
                    + " 'Authorization: Bearer <token>' (this node has --auth-token-file)")
                    .with("WWW-Authenticate", "Bearer realm=\"baton\"");
        }
        Principal principal = tokens.lookup(token);
        if (principal == null) {
            unauthenticated.increment();
            return HttpDoor.Reply.error(401, "UNAUTHENTICATED", "unknown token")
                    .with("WWW-Authenticate", "Bearer realm=\"baton\", error=\"invalid_token\"");
        }
        if (!principal.has(needs.role())) {
            permissionDenied.increment();
            return HttpDoor.Reply.error(403, "PERMISSION_DENIED", "the token '" + principal.name() + "' lacks the role '"
                    + needs.role().name().toLowerCase(Locale.ROOT) + "' that " + endpoint.label + " needs");
        }
        return null;
    }
}
