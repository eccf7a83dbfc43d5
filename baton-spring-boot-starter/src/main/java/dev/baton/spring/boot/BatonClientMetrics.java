package dev.baton.spring.boot;

import dev.baton.client.BatonClient;
import dev.baton.client.ClientStats;
import dev.baton.client.SessionState;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;

/**
 * A {@link BatonClient}'s figures ({@link BatonClient#stats()}) as Micrometer meters, read when the
 * registry is scraped:
 * <ul>
 *   <li>{@code baton.client.sessions} (gauge): sessions the client has open;</li>
 *   <li>{@code baton.client.sessions.kept} (gauge): closed sessions holding nothing, kept for the next
 *       {@code newSession()};</li>
 *   <li>{@code baton.client.calls.inflight} (gauge): calls sent and not answered yet, waiting acquires
 *       included;</li>
 *   <li>{@code baton.client.retries} (counter): failed attempts that were sent again, which grows during
 *       fail-overs and while nodes are unreachable;</li>
 *   <li>{@code baton.client.session.alive} (gauge): 1 while the client's first session is alive, 0 when
 *       it is suspect (no keep-alive acknowledged within its lease), lost or closed.</li>
 * </ul>
 */
public final class BatonClientMetrics implements MeterBinder {
    private final BatonClient client;
    private final Iterable<Tag> tags;

    public BatonClientMetrics(BatonClient client) {
        this(client, Tags.empty());
    }

    /** With {@code tags} on every meter, e.g. to tell several clients apart. */
    public BatonClientMetrics(BatonClient client, Iterable<Tag> tags) {
        this.client = Objects.requireNonNull(client, "client");
        this.tags = Objects.requireNonNull(tags, "tags");
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        ClientStats stats = client.stats();
        Gauge.builder("baton.client.sessions", stats, ClientStats::openSessions)
                .description("Sessions the Baton client has open")
                .tags(tags)
                .register(registry);
        Gauge.builder("baton.client.sessions.kept", stats, ClientStats::keptSessions)
                .description("Closed sessions holding nothing that the Baton client keeps for its next newSession()")
                .tags(tags)
                .register(registry);
        Gauge.builder("baton.client.calls.inflight", stats, ClientStats::callsInFlight)
                .description("Baton calls sent and not answered yet, waiting acquires included")
                .tags(tags)
                .register(registry);
        Gauge.builder("baton.client.acquires.indoubt", stats, ClientStats::acquiresInDoubt)
                .description("Pool and lock acquires that got no answer, being settled in the background (sent again, released if granted)")
                .tags(tags)
                .register(registry);
        FunctionCounter.builder("baton.client.retries", stats, ClientStats::retries)
                .description("Failed Baton call attempts that were sent again")
                .tags(tags)
                .register(registry);
        Gauge.builder("baton.client.session.alive", stats, s -> s.sessionState() == SessionState.ALIVE ? 1 : 0)
                .description("1 while the Baton client's session is alive")
                .tags(tags)
                .register(registry);
    }
}
