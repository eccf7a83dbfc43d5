package dev.baton.client;

import dev.baton.api.v1.GetSessionRequest;
import dev.baton.api.v1.ListSessionsRequest;
import dev.baton.api.v1.SessionsGrpc;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.Errors;
import dev.baton.client.internal.SessionSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Reads about sessions. Get it with {@link BatonClient#sessions()} or {@link BatonSession#sessions()}. */
public final class Sessions {
    private final ClientCore core;
    private final SessionSet sessions;

    Sessions(ClientCore core, SessionSet sessions) {
        this.core = core;
        this.sessions = sessions;
    }

    /** What a session holds and waits for (a linearizable read). */
    public CompletableFuture<SessionInfo> getAsync(long sessionId) {
        return core.forCaller(ClientCore.map(core.run(SessionsGrpc.getGetMethod(),
                GetSessionRequest.newBuilder().setSession(sessionId).build(), core.policy("Sessions.Get", null)),
                Wire::session));
    }

    /** Blocking {@link #getAsync(long)}. */
    public SessionInfo get(long sessionId) {
        return ClientCore.await(() -> getAsync(sessionId));
    }

    /**
     * {@link #getAsync(long)} for the client's own (first) session, or the {@link BatonSession}'s. A
     * {@link NotFoundException} with error code {@code UNKNOWN_SESSION} also marks the session lost.
     */
    public CompletableFuture<SessionInfo> getAsync() {
        ClientSession own = sessions.primary();
        CompletableFuture<SessionInfo> f = getAsync(own.sessionId());
        return ClientCore.afterBookkeeping(f, (r, t) -> {
            if (ClientCore.unwrap(t) instanceof NotFoundException nf && Errors.UNKNOWN_SESSION.equals(nf.errorCode())) {
                own.sessionLost(new SessionLostException(own.sessionId(), "session "
                        + Long.toUnsignedString(own.sessionId()) + " is not known to the cluster", nf));
            }
        });
    }

    /** Blocking {@link #getAsync()}. */
    public SessionInfo get() {
        return ClientCore.await(() -> getAsync());
    }

    /** Every open session and its TTL. */
    public CompletableFuture<List<SessionLease>> listAsync() {
        return core.forCaller(ClientCore.map(core.run(SessionsGrpc.getListMethod(),
                ListSessionsRequest.getDefaultInstance(), core.policy("Sessions.List", null)), Wire::sessions));
    }

    /** Blocking {@link #listAsync}. */
    public List<SessionLease> list() {
        return ClientCore.await(() -> listAsync());
    }
}
