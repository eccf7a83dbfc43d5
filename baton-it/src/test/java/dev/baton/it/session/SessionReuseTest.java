package dev.baton.it.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonClosedException;
import dev.baton.client.BatonSession;
import dev.baton.client.EventStatus;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.SessionLease;
import dev.baton.client.SessionState;
import dev.baton.it.Nodes;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session of {@link BatonClient#newSession()} closed while it holds nothing is kept for the next
 * {@code newSession()} (no open and no close on the cluster); one that holds something, or may (a
 * dispatch, event or queue call), is closed on the cluster as before; the closed handle is done with.
 */
class SessionReuseTest {
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    private static Nodes nodes;

    @BeforeAll
    static void start() {
        nodes = Nodes.single();
    }

    @AfterAll
    static void stop() {
        if (nodes != null) {
            nodes.close();
        }
    }

    @Test
    void aSessionClosedHoldingNothingIsGivenToTheNextNewSession() {
        try (BatonClient client = nodes.client()) {
            BatonSession first = client.newSession();
            long id = first.sessionId();
            PoolReply r = first.pools().acquire("reuse-a", 1, 10, Duration.ZERO, false);
            assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
            assertThat(first.pools().release(r).status()).isEqualTo(PoolStatus.RELEASED);
            first.close();
            assertThat(client.stats().keptSessions()).isEqualTo(1);
            assertThat(live(client, id)).as("kept: not closed on the cluster").isTrue();

            BatonSession second = client.newSession();
            assertThat(second.sessionId()).as("the kept session is given again").isEqualTo(id);
            assertThat(first.sessionState()).as("the closed handle").isEqualTo(SessionState.CLOSED);
            assertThat(second.sessionState()).isEqualTo(SessionState.ALIVE);
            assertThat(client.stats().keptSessions()).isZero();
            // the closed handle may not act on the session its next user has now
            assertThatThrownBy(() -> first.pools().acquire("reuse-a", 1, 10, Duration.ZERO, false))
                    .isInstanceOf(BatonClosedException.class);
            assertThatThrownBy(() -> first.pools().release("reuse-a", 0)).isInstanceOf(BatonClosedException.class);
            PoolReply again = second.pools().acquire("reuse-a", 1, 10, Duration.ZERO, false);
            assertThat(again.status()).as("request ids carry on: a fresh acquire, not a replay").isEqualTo(PoolStatus.LOCKED);
            assertThat(again.fence()).isGreaterThan(r.fence());
            assertThat(second.pools().release(again).status()).isEqualTo(PoolStatus.RELEASED);
            second.close();
        }
    }

    @Test
    void aSessionPerUnitOfWorkIsOneSessionOnTheCluster() {
        try (BatonClient client = nodes.client()) {
            Set<Long> ids = new HashSet<>();
            for (int i = 0; i < 50; i++) {
                try (BatonSession work = client.newSession()) {
                    ids.add(work.sessionId());
                    PoolReply r = work.pools().acquire("reuse-loop", 1, 10, Duration.ZERO, false);
                    assertThat(r.status()).isEqualTo(PoolStatus.LOCKED);
                    assertThat(work.pools().release(r).status()).isEqualTo(PoolStatus.RELEASED);
                }
            }
            assertThat(ids).as("every close right after the release's answer kept the session").hasSize(1);
        }
    }

    @Test
    void aSessionClosedWhileHoldingIsClosedOnTheClusterAndReleases() {
        try (BatonClient client = nodes.client()) {
            BatonSession holder = client.newSession();
            long id = holder.sessionId();
            assertThat(holder.pools().acquire("reuse-held", 1, 10, Duration.ZERO, false).status())
                    .isEqualTo(PoolStatus.LOCKED);
            holder.close();
            assertThat(client.stats().keptSessions()).isZero();
            // close() gives up on the cluster after about 2 s (the session then lapses by its TTL):
            // on a loaded machine the close may still be on its way.
            await(() -> !live(client, id), "the session closed on the cluster");
            assertThat(client.pools().get("reuse-held").processing()).as("the close released the slot").isZero();
            try (BatonSession next = client.newSession()) {
                assertThat(next.sessionId()).isNotEqualTo(id);
            }
        }
    }

    @Test
    void aSessionThatMadeAnEventCallIsNeverHandedOn() {
        try (BatonClient client = nodes.client()) {
            BatonSession owner = client.newSession();
            long id = owner.sessionId();
            assertThat(owner.events().begin("reuse-event").status()).isEqualTo(EventStatus.BEGUN);
            owner.close();
            await(() -> !live(client, id), "the session closed on the cluster");
            assertThat(client.events().get("reuse-event").pending()).as("the session's end ended the event").isFalse();
        }
    }

    @Test
    void aKeptSessionUnusedForAMomentIsClosedAndTheClientsCloseClosesTheRest() {
        long idleId;
        long keptId;
        try (BatonClient client = nodes.client()) {
            BatonSession a = client.newSession();
            BatonSession b = client.newSession();
            idleId = a.sessionId();
            keptId = b.sessionId();
            a.close();
            await(() -> !live(client, idleId), "a kept session unused for about two seconds is closed");
            assertThat(client.stats().keptSessions()).isZero();
            b.close();
            assertThat(client.stats().keptSessions()).isEqualTo(1);
        }
        try (BatonClient other = nodes.client()) {
            assertThat(live(other, keptId)).as("closing the client closed its kept session").isFalse();
        }
    }

    private static boolean live(BatonClient client, long session) {
        return client.sessions().list().stream().mapToLong(SessionLease::session).anyMatch(s -> s == session);
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as(what).isNegative();
            try {
                TimeUnit.MILLISECONDS.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
