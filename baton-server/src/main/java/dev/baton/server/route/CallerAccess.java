package dev.baton.server.route;

import dev.baton.core.command.Command;
import dev.baton.core.command.ErrorCode;
import dev.baton.core.command.Query;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import dev.baton.server.security.AuthTokens;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * What an authenticated caller of the gRPC API port may touch, beyond the role of the method
 * (the door checked that): the names its token is limited to, and the sessions it owns.
 * {@link Router} asks here for every write and read made on behalf of a caller, so no service can
 * forget to.
 *
 * <ul>
 *   <li><b>Key prefixes.</b> A caller limited to prefixes ({@link Principal#keyPrefixes()}) may only
 *       send requests, and ask about things, whose names start with one of them: every
 *       {@link Command.SessionRequest} lists its names ({@code resourceNames}), every keyed query is a
 *       {@link Query.Named}. Listings are filtered; pool totals, which add up every tenant's pools,
 *       are refused.</li>
 *   <li><b>Own sessions.</b> A session opened by a caller is its own: the client token it is opened
 *       with is stored as {@code <caller>/<client token>} (a random one when the client sent none).
 *       A caller without the {@code admin} role may send requests only for its own sessions, and
 *       without the {@code read} role may only look at (and list) its own. Token names cannot
 *       contain {@code /}, and the line protocol's session tokens have none, so no caller owns
 *       another's sessions or a line connection's.</li>
 * </ul>
 *
 * <p>A session this node has not applied yet (opened a moment ago through another node) is looked
 * up again with a linearizable read before a request for it is refused; one that does not exist
 * then is answered UNKNOWN_SESSION, as the core would, so that guessing the next session id never
 * lets a request act on a session another caller opens a moment later.
 */
final class CallerAccess {
    /** Between the caller's name and the client's own token in an owned session's client token. */
    static final char OWNER_SEPARATOR = '/';

    /** How this class reads: locally (may lag) and linearizably. */
    interface Reader {
        <R> R readLocal(Query<R> q);

        <R> CompletableFuture<R> read(Query<R> q);
    }

    private final Reader reader;
    private final AtomicLong outsidePrefixes = new AtomicLong();
    private final AtomicLong notOwner = new AtomicLong();

    CallerAccess(Reader reader) {
        this.reader = reader;
    }

    /** True if {@code caller} may do anything its method allows: no caller (the node asks for no tokens), or a member. */
    static boolean unlimited(Principal caller) {
        return caller == null || caller == AuthTokens.MEMBER;
    }

    /** Requests and reads refused because a name was outside the caller's key prefixes (for metrics). */
    long refusedOutsidePrefixes() {
        return outsidePrefixes.get();
    }

    /** Requests and reads refused because the session was another caller's (for metrics). */
    long refusedNotOwner() {
        return notOwner.get();
    }

    /**
     * The command to run for {@code caller}: {@code c} itself, or an {@link Command.OpenSession} with
     * the caller's name put in front of its client token; fails with PERMISSION_DENIED if the caller
     * may not send it, or UNKNOWN_SESSION if its session does not exist.
     */
    CompletableFuture<Command.ClientCommand> authorize(Principal caller, Command.ClientCommand c) {
        if (unlimited(caller)) {
            return CompletableFuture.completedFuture(c);
        }
        if (c instanceof Command.OpenSession open) {
            String own = open.clientToken() == null ? UUID.randomUUID().toString() : open.clientToken();
            return CompletableFuture.completedFuture(new Command.OpenSession(ownerPrefix(caller) + own, open.ttlMs()));
        }
        if (c instanceof Command.OpenSessionThen then) {
            for (String name : then.first().resourceNames()) {
                if (!caller.mayTouch(name)) {
                    return CompletableFuture.failedFuture(outsidePrefixes(caller, name));
                }
            }
            // the first command runs on the session this opens, which is the caller's own
            return authorize(caller, then.open()).thenApply(open ->
                    new Command.OpenSessionThen((Command.OpenSession) open, then.first()));
        }
        Command.SessionRequest request = (Command.SessionRequest) c; // ClientCommand is sealed: an open or a request
        for (String name : request.resourceNames()) {
            if (!caller.mayTouch(name)) {
                return CompletableFuture.failedFuture(outsidePrefixes(caller, name));
            }
        }
        if (caller.has(Role.ADMIN) || request.session() == 0) {
            return CompletableFuture.completedFuture(c);
        }
        return checkOwner(caller, request.session()).thenApply(ok -> c);
    }

    /** Completes if {@code caller} owns {@code session}; else fails (PERMISSION_DENIED or UNKNOWN_SESSION). */
    private CompletableFuture<Void> checkOwner(Principal caller, long session) {
        String token = reader.readLocal(new Query.GetSessionToken(session));
        if (token != null) {
            return owns(caller, token) ? CompletableFuture.completedFuture(null)
                    : CompletableFuture.failedFuture(notOwner(caller, session));
        }
        // Not applied here yet (opened through another node a moment ago), or gone.
        return reader.read(new Query.GetSessionToken(session)).thenApply(t -> {
            if (t == null) {
                throw BatonException.rejected(new Result.Rejected(ErrorCode.UNKNOWN_SESSION,
                        "no session " + Long.toUnsignedString(session)));
            }
            if (!owns(caller, t)) {
                throw notOwner(caller, session);
            }
            return null;
        });
    }

    /**
     * Runs {@code q} for {@code caller} through {@code read} (a linearizable read): refused if it
     * names something outside the caller's prefixes or another caller's session (to a caller without
     * the read role), and listings cut down to what the caller may see.
     */
    @SuppressWarnings("unchecked")
    <R> CompletableFuture<R> read(Principal caller, Query<R> q, Function<Query<R>, CompletableFuture<R>> read) {
        if (unlimited(caller)) {
            return read.apply(q);
        }
        if (q instanceof Query.Named<R> named) {
            if (!caller.mayTouch(named.resourceName())) {
                return CompletableFuture.failedFuture(outsidePrefixes(caller, named.resourceName()));
            }
            return read.apply(q);
        }
        if (q instanceof Query.GetPoolTotals && caller.limitedToPrefixes()) {
            outsidePrefixes.incrementAndGet();
            return CompletableFuture.failedFuture(BatonException.permissionDenied("'" + caller.name()
                    + "' is limited to key prefixes, and pool totals add up every key"));
        }
        if (q instanceof Query.ListEvents && caller.limitedToPrefixes()) {
            return read.apply(q).thenApply(list -> (R) ((List<View.Event>) list).stream()
                    .filter(e -> caller.mayTouch(e.name())).toList());
        }
        if (caller.has(Role.READ)) {
            return read.apply(q); // may look at every session
        }
        if (q instanceof Query.GetSession g) {
            return read.apply(q).thenApply(s -> {
                if (s != null && !owns(caller, ((View.Session) s).token())) {
                    throw notOwner(caller, g.session());
                }
                return s;
            });
        }
        if (q instanceof Query.ListSessionLeases) {
            // The linearizable read came first, so this node's state is at least as new for the lookups.
            return read.apply(q).thenApply(list -> {
                List<View.SessionLease> own = new ArrayList<>();
                for (View.SessionLease lease : (List<View.SessionLease>) list) {
                    String token = reader.readLocal(new Query.GetSessionToken(lease.id()));
                    if (token != null && owns(caller, token)) {
                        own.add(lease);
                    }
                }
                return (R) List.copyOf(own);
            });
        }
        return read.apply(q);
    }

    static String ownerPrefix(Principal caller) {
        return caller.name() + OWNER_SEPARATOR;
    }

    static boolean owns(Principal caller, String clientToken) {
        return clientToken != null && clientToken.startsWith(ownerPrefix(caller));
    }

    private BatonException outsidePrefixes(Principal caller, String name) {
        outsidePrefixes.incrementAndGet();
        return BatonException.permissionDenied("'" + caller.name() + "' may only touch names starting with "
                + String.join(" or ", caller.keyPrefixes()) + ", not '" + name + "'");
    }

    private BatonException notOwner(Principal caller, long session) {
        notOwner.incrementAndGet();
        return BatonException.permissionDenied("session " + Long.toUnsignedString(session)
                + " was not opened by '" + caller.name() + "' (a token without the admin role acts only on its own sessions)");
    }
}
