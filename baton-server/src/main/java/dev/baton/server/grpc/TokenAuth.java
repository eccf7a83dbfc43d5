package dev.baton.server.grpc;

import dev.baton.server.security.AuthTokens;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.CallsGrpc;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.LocksGrpc;
import dev.baton.api.v1.PoolsGrpc;
import dev.baton.api.v1.QueuesGrpc;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bearer tokens on the gRPC API port: every call of the client services and of {@code Admin} must
 * carry {@code authorization: Bearer <token>} with a token of {@link AuthTokens} that has the role
 * the method needs ({@link #REQUIRED_ROLES}), or come over mutual TLS with a client certificate whose
 * common name is a certificate caller ({@code -} line) of the file; a token, when sent, wins. Missing or unknown token: {@code UNAUTHENTICATED};
 * known but without the role: {@code PERMISSION_DENIED}. The caller is then in {@link #PRINCIPAL}
 * for the handler.
 *
 * <p>A call carrying the cluster secret is a member's ({@link #MEMBER}, every role): a follower
 * passes an admin change on to the leader, and asks the other members for their status, over the
 * Admin service after it checked its own caller's token. The members-only {@code Forward} service
 * is not behind this interceptor at all: the cluster secret guards it.
 */
public final class TokenAuth implements ServerInterceptor {
    /** The authenticated caller of the current call. */
    public static final Context.Key<Principal> PRINCIPAL = Context.key("baton.principal");
    /**
     * The caller of the current call as the token file says now (null once its token or certificate
     * line is gone): a long-lived call stream checks each of its calls with it, so a token removed
     * or changed in the file takes effect on open streams too.
     */
    static final Context.Key<java.util.function.Supplier<Principal>> CALLER_NOW = Context.key("baton.caller-now");
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** Another member of the cluster, proven by the cluster secret. */
    public static final Principal MEMBER = AuthTokens.MEMBER;

    /**
     * The role each method of the port needs, by full method name. Exhaustive on purpose: a method
     * missing here is refused ({@link #interceptCall}), and a test fails for every method of a service
     * on the port that is missing, so a new RPC cannot ship without its role decided.
     */
    static final Map<String, Role> REQUIRED_ROLES = requiredRoles();

    private static Map<String, Role> requiredRoles() {
        Map<String, Role> m = new LinkedHashMap<>();
        put(m, Role.CLIENT, SessionsGrpc.getOpenMethod(), SessionsGrpc.getKeepAliveMethod(), SessionsGrpc.getCloseMethod(),
                SessionsGrpc.getGetMethod(), SessionsGrpc.getListMethod());
        put(m, Role.CLIENT, PoolsGrpc.getAcquireMethod(), PoolsGrpc.getReleaseMethod(), PoolsGrpc.getGetMethod(),
                PoolsGrpc.getTotalsMethod());
        put(m, Role.CLIENT, LocksGrpc.getAcquireMethod(), LocksGrpc.getReleaseMethod(), LocksGrpc.getGetMethod());
        put(m, Role.CLIENT, DispatchGrpc.getInitMethod(), DispatchGrpc.getAdvanceMethod(), DispatchGrpc.getSelectMethod(),
                DispatchGrpc.getLockMethod(), DispatchGrpc.getReleaseMethod(), DispatchGrpc.getSetDisabledMethod(),
                DispatchGrpc.getGetGroupMethod());
        put(m, Role.CLIENT, EventsGrpc.getBeginMethod(), EventsGrpc.getCompleteMethod(), EventsGrpc.getGetMethod(),
                EventsGrpc.getListMethod());
        put(m, Role.CLIENT, QueuesGrpc.getEnqueueMethod(), QueuesGrpc.getClaimMethod(), QueuesGrpc.getDoneMethod(),
                QueuesGrpc.getRetryMethod(), QueuesGrpc.getGetMethod());
        put(m, Role.CLIENT, CallsGrpc.getStreamMethod());
        // Admin: what only looks...
        put(m, Role.READ, AdminGrpc.getStatusMethod(), AdminGrpc.getDumpMethod());
        // ...and what changes the cluster or costs the node work on demand.
        put(m, Role.ADMIN, AdminGrpc.getAddMemberMethod(), AdminGrpc.getRemoveMemberMethod(),
                AdminGrpc.getTransferLeaderMethod(), AdminGrpc.getSnapshotMethod(),
                AdminGrpc.getBackupMethod());
        return Map.copyOf(m);
    }

    private static void put(Map<String, Role> m, Role role, MethodDescriptor<?, ?>... methods) {
        for (MethodDescriptor<?, ?> method : methods) {
            if (m.put(method.getFullMethodName(), role) != null) {
                throw new IllegalStateException("two roles for " + method.getFullMethodName());
            }
        }
    }

    private final AuthTokens tokens;
    private final ClusterSecret members;
    private final AtomicLong unauthenticated = new AtomicLong();
    private final AtomicLong permissionDenied = new AtomicLong();

    public TokenAuth(AuthTokens tokens, ClusterSecret members) {
        this.tokens = Objects.requireNonNull(tokens, "tokens");
        this.members = Objects.requireNonNull(members, "members");
    }

    /** Calls refused for a missing or unknown token. */
    public long unauthenticatedCalls() {
        return unauthenticated.get();
    }

    /** Calls refused because the token lacks the method's role. */
    public long permissionDeniedCalls() {
        return permissionDenied.get();
    }

    public AuthTokens tokens() {
        return tokens;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Principal principal;
        java.util.function.Supplier<Principal> callerNow;
        if (members.matches(headers.get(ClusterSecret.HEADER))) {
            principal = MEMBER;
            callerNow = () -> MEMBER;
        } else {
            String token = bearerToken(headers.get(AUTHORIZATION));
            if (token != null) {
                principal = tokens.lookup(token);
                callerNow = principal == null ? null : tokens.lookupLater(token);
                if (principal == null) {
                    return refuse(call, unauthenticated, Status.UNAUTHENTICATED.withDescription("unknown token"),
                            "UNAUTHENTICATED");
                }
            } else {
                String certificateName = clientCertificateName(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                principal = tokens.lookupCertificate(certificateName);
                callerNow = () -> tokens.lookupCertificate(certificateName);
                if (principal == null) {
                    return refuse(call, unauthenticated, Status.UNAUTHENTICATED.withDescription(certificateName == null
                            ? "a token is required: send the metadata 'authorization: Bearer <token>' (this node has"
                              + " --auth-token-file)"
                            : "the client certificate's name '" + certificateName + "' is not in the token file, and"
                              + " the call has no 'authorization: Bearer <token>'"), "UNAUTHENTICATED");
                }
            }
        }
        Role needed = REQUIRED_ROLES.get(method);
        if (needed == null) {
            // Fail closed: a method nobody gave a role to is not served to anyone.
            return refuse(call, permissionDenied, Status.PERMISSION_DENIED.withDescription(method
                    + " has no role assigned on this node"), "PERMISSION_DENIED");
        }
        if (!principal.has(needed)) {
            return refuse(call, permissionDenied, Status.PERMISSION_DENIED.withDescription("the token '" + principal.name()
                    + "' lacks the role '" + needed.name().toLowerCase(java.util.Locale.ROOT) + "' that " + method
                    + " needs"), "PERMISSION_DENIED");
        }
        return Contexts.interceptCall(Context.current().withValues(PRINCIPAL, principal, CALLER_NOW, callerNow),
                call, headers, next);
    }

    /**
     * The common name (CN) of the subject of the client certificate of a TLS session, or null (no
     * TLS, no client certificate, no CN). The TLS layer verified the certificate against the API
     * port's client CA ({@code --tls-client-ca-file}) before any call reaches this interceptor.
     */
    static String clientCertificateName(SSLSession session) {
        if (session == null) {
            return null;
        }
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
                return null;
            }
            return commonName(leaf.getSubjectX500Principal().getName());
        } catch (SSLPeerUnverifiedException e) {
            return null; // the client sent no certificate
        }
    }

    /** The last CN of an RFC 2253 distinguished name (the most specific), or null. */
    static String commonName(String distinguishedName) {
        try {
            String cn = null;
            for (Rdn rdn : new LdapName(distinguishedName).getRdns()) { // most significant first
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = rdn.getValue().toString();
                }
            }
            return cn;
        } catch (InvalidNameException e) {
            return null;
        }
    }

    /** The token of an {@code authorization} value {@code Bearer <token>} (scheme in any case), or null. */
    public static String bearerToken(String authorization) {
        return AuthTokens.bearerToken(authorization);
    }

    private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, AtomicLong counter, Status status,
                                                        String code) {
        counter.incrementAndGet();
        call.close(status, ApiErrors.trailers(code, null));
        return new ServerCall.Listener<>() {};
    }
}
