package dev.baton.server.route;

import dev.baton.server.security.AuthTokens;

import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Query;
import dev.baton.core.command.View;
import dev.baton.server.security.AuthTokens.Principal;
import dev.baton.server.security.AuthTokens.Role;
import dev.baton.server.route.BatonException.Code;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What a caller may touch: key prefixes checked for every kind of session request and keyed query,
 * sessions tagged with their opener and usable by it alone (a session this node has not applied is
 * looked up linearizably; one that does not exist is UNKNOWN_SESSION), listings cut down.
 */
class CallerAccessTest {
    private static final Principal TENANT_A = new Principal("tenant-a", Set.of(Role.CLIENT), List.of("a:"));
    private static final Principal APP = new Principal("app", Set.of(Role.CLIENT));
    private static final Principal OPS = new Principal("ops", Set.of(Role.ADMIN, Role.READ));
    private static final Principal MONITOR = new Principal("monitor", Set.of(Role.READ, Role.CLIENT));

    /** Sessions as this node has applied them, and as a linearizable read would see them. */
    private final Map<Long, String> local = new HashMap<>();
    private final Map<Long, String> committed = new HashMap<>();
    private final List<Query<?>> linearizableReads = new ArrayList<>();
    private final CallerAccess access = new CallerAccess(new CallerAccess.Reader() {
        @Override
        @SuppressWarnings("unchecked")
        public <R> R readLocal(Query<R> q) {
            return (R) local.get(((Query.GetSessionToken) q).session());
        }

        @Override
        @SuppressWarnings("unchecked")
        public <R> CompletableFuture<R> read(Query<R> q) {
            linearizableReads.add(q);
            return CompletableFuture.completedFuture((R) committed.get(((Query.GetSessionToken) q).session()));
        }
    });

    private void session(long id, String token) {
        local.put(id, token);
        committed.put(id, token);
    }

    /** Every kind of session request, each naming {@code name} (and a queue item gated by {@code gate}). */
    private static List<Command.SessionRequest> everyRequestOn(long session, String name, String gate) {
        return List.of(
                new Command.PoolAcquire(session, 1, name, 1, 1, 0, false),
                new Command.PoolRelease(session, 1, name, 0),
                new Command.LockAcquire(session, 1, name, 0),
                new Command.LockRelease(session, 1, name, 0),
                new Command.DispatchInit(session, 1, name, Map.of("t", "t"), null),
                new Command.DispatchAdvance(session, 1, name, 1),
                new Command.DispatchSelect(session, 1, name),
                new Command.DispatchLock(session, 1, name, "t"),
                new Command.DispatchRelease(session, 1, name, "t", 0, 0),
                new Command.DispatchSetDisabled(session, 1, name, "t", true),
                new Command.EventBegin(session, 1, name),
                new Command.EventComplete(session, 1, name),
                new Command.QueueEnqueue(session, 1, name, "item", Bytes.EMPTY, List.of(gate)),
                new Command.QueueClaim(session, 1, name, 1),
                new Command.QueueDone(session, 1, name, "item", 0),
                new Command.QueueRetry(session, 1, name, "item", 0));
    }

    private static Code refusal(CompletableFuture<?> f) {
        assertThat(f).isCompletedExceptionally();
        try {
            f.join();
        } catch (CompletionException e) {
            return ((BatonException) e.getCause()).code();
        }
        throw new AssertionError("not refused");
    }

    @Test
    void aTokenLimitedToPrefixesIsRefusedEveryRequestOutsideThemAndAllowedInside() {
        session(7, "tenant-a/c1");
        for (Command.SessionRequest r : everyRequestOn(7, "b:x", "a:gate")) {
            assertThat(refusal(access.authorize(TENANT_A, r))).as("%s", r).isEqualTo(Code.PERMISSION_DENIED);
        }
        for (Command.SessionRequest r : everyRequestOn(7, "a:x", "a:gate")) {
            assertThat(access.authorize(TENANT_A, r).join()).as("%s", r).isSameAs(r);
        }
        // The prerequisite event of a queue item is a name too.
        assertThat(refusal(access.authorize(TENANT_A,
                new Command.QueueEnqueue(7, 2, "a:q", "i", Bytes.EMPTY, List.of("b:robots"))))).isEqualTo(Code.PERMISSION_DENIED);
        // RELEASE without a key releases the session's own newest slot: nothing else to check.
        assertThat(access.authorize(TENANT_A, new Command.PoolRelease(7, 3, "", 0)).join()).isNotNull();
        assertThat(access.refusedOutsidePrefixes()).isEqualTo(everyRequestOn(7, "b:x", "a:gate").size() + 1);
    }

    @Test
    void anOpenWithAFirstCommandIsTaggedWithItsOpenerAndItsFirstCommandChecked() {
        Command.OpenSessionThen then = new Command.OpenSessionThen(new Command.OpenSession("c9", 10_000),
                new Command.PoolAcquire(0, 1, "a:page", 1, 5, 1_000, false));
        Command.OpenSessionThen allowed = (Command.OpenSessionThen) access.authorize(TENANT_A, then).join();
        assertThat(allowed.open()).isEqualTo(new Command.OpenSession("tenant-a/c9", 10_000));
        assertThat(allowed.first()).isSameAs(then.first());
        assertThat(refusal(access.authorize(TENANT_A, new Command.OpenSessionThen(new Command.OpenSession("c9", 10_000),
                new Command.PoolAcquire(0, 1, "b:page", 1, 5, 1_000, false))))).isEqualTo(Code.PERMISSION_DENIED);
        assertThat(access.refusedOutsidePrefixes()).isEqualTo(1);
    }

    @Test
    void aSessionIsTaggedWithItsOpenerAndOnlyItsOpenerMayUseIt() {
        Command.OpenSession opened = (Command.OpenSession) access.authorize(APP, new Command.OpenSession("c1", 10_000)).join();
        assertThat(opened).isEqualTo(new Command.OpenSession("app/c1", 10_000));
        Command.OpenSession anonymous = (Command.OpenSession) access.authorize(APP, new Command.OpenSession(null, 10_000)).join();
        assertThat(anonymous.clientToken()).startsWith("app/").hasSizeGreaterThan("app/".length());
        assertThat(((Command.OpenSession) access.authorize(APP, new Command.OpenSession(null, 10_000)).join()).clientToken())
                .as("no token: a fresh one each time, so two opens are two sessions").isNotEqualTo(anonymous.clientToken());
        assertThat(access.authorize(null, new Command.OpenSession("c1", 10_000)).join())
                .as("a node without tokens changes nothing").isEqualTo(new Command.OpenSession("c1", 10_000));

        session(1, "app/c1");
        session(2, "tenant-a/c1");
        session(3, "line:n1:1:1"); // a PoolCounter connection's
        session(4, ""); // opened without a client token
        Command.CloseSession close1 = new Command.CloseSession(1, 1);
        assertThat(access.authorize(APP, close1).join()).isSameAs(close1);
        for (long other : new long[] {2, 3, 4}) {
            assertThat(refusal(access.authorize(APP, new Command.CloseSession(other, 1)))).as("session %d", other)
                    .isEqualTo(Code.PERMISSION_DENIED);
            assertThat(refusal(access.authorize(APP, new Command.PoolAcquire(other, 1, "k", 1, 1, 0, false))))
                    .isEqualTo(Code.PERMISSION_DENIED);
        }
        assertThat(access.refusedNotOwner()).isEqualTo(6);
        // 'app' owns "app/..." only, not the sessions of a caller whose name starts with "app".
        session(5, "app2/c1");
        assertThat(refusal(access.authorize(APP, new Command.CloseSession(5, 1)))).isEqualTo(Code.PERMISSION_DENIED);
        // An admin may end any session (force-close) but is still held to nothing else here.
        assertThat(access.authorize(OPS, new Command.CloseSession(2, 1)).join()).isNotNull();
        assertThat(access.authorize(AuthTokens.MEMBER, new Command.CloseSession(2, 1)).join()).isNotNull();
        assertThat(linearizableReads).as("every session was known locally").isEmpty();
    }

    @Test
    void aSessionNotAppliedHereIsReadLinearizablyAndOneThatDoesNotExistIsUnknown() {
        committed.put(9L, "app/c9"); // opened through another node a moment ago
        Command.PoolAcquire acquire = new Command.PoolAcquire(9, 1, "k", 1, 1, 0, false);
        assertThat(access.authorize(APP, acquire).join()).isSameAs(acquire);
        assertThat(linearizableReads).containsExactly(new Query.GetSessionToken(9));

        committed.put(10L, "tenant-a/c10");
        assertThat(refusal(access.authorize(APP, new Command.CloseSession(10, 1)))).isEqualTo(Code.PERMISSION_DENIED);

        // Guessing the next session id: refused as unknown, never let through to meet a session that
        // another caller opens a moment later.
        CompletableFuture<Command.ClientCommand> guessed = access.authorize(APP, new Command.CloseSession(11, 1));
        assertThat(refusal(guessed)).isEqualTo(Code.FAILED_PRECONDITION);
        assertThatThrownBy(guessed::join).hasMessageContaining("no session 11");
    }

    @Test
    void readsAreCheckedAndListingsCutDown() {
        session(1, "app/c1");
        session(2, "tenant-a/c1");
        assertThat(refusal(access.read(TENANT_A, new Query.GetPool("b:x"), q -> CompletableFuture.completedFuture(null))))
                .isEqualTo(Code.PERMISSION_DENIED);
        for (Query<?> q : List.of(new Query.GetLock("b:x"), new Query.GetGroup("b:x"), new Query.GetEvent("b:x"),
                new Query.GetQueue("b:x"))) {
            assertThat(refusal(readNothing(TENANT_A, q))).as("%s", q).isEqualTo(Code.PERMISSION_DENIED);
        }
        assertThat(access.read(TENANT_A, new Query.GetPool("a:x"), q -> CompletableFuture.completedFuture(null)).join())
                .isNull();
        assertThat(refusal(readNothing(TENANT_A, new Query.GetPoolTotals()))).isEqualTo(Code.PERMISSION_DENIED);

        List<View.Event> events = List.of(new View.Event("a:robots", 1, 0), new View.Event("b:robots", 2, 0));
        assertThat(access.read(TENANT_A, new Query.ListEvents(), q -> CompletableFuture.completedFuture(events)).join())
                .extracting(View.Event::name).containsExactly("a:robots");
        assertThat(access.read(APP, new Query.ListEvents(), q -> CompletableFuture.completedFuture(events)).join())
                .hasSize(2);

        List<View.SessionLease> leases = List.of(new View.SessionLease(1, 10_000), new View.SessionLease(2, 10_000));
        assertThat(access.read(APP, new Query.ListSessionLeases(), q -> CompletableFuture.completedFuture(leases)).join())
                .extracting(View.SessionLease::id).containsExactly(1L);
        assertThat(access.read(MONITOR, new Query.ListSessionLeases(), q -> CompletableFuture.completedFuture(leases))
                .join()).as("the read role sees every session").hasSize(2);

        View.Session other = new View.Session(2, "tenant-a/c1", 10_000, 0, List.of(), Map.of(), List.of(), List.of(),
                List.of(), List.of());
        assertThat(refusal(access.read(APP, new Query.GetSession(2), q -> CompletableFuture.completedFuture(other))))
                .isEqualTo(Code.PERMISSION_DENIED);
        assertThat(access.read(MONITOR, new Query.GetSession(2), q -> CompletableFuture.completedFuture(other)).join())
                .isSameAs(other);
        assertThat(access.read(TENANT_A, new Query.GetSession(2), q -> CompletableFuture.completedFuture(other)).join())
                .isSameAs(other);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private CompletableFuture<?> readNothing(Principal caller, Query<?> q) {
        return access.read(caller, (Query) q, x -> CompletableFuture.completedFuture(null));
    }
}
