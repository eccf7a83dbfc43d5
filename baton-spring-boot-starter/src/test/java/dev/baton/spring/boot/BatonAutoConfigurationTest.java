package dev.baton.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.client.BatonClient;
import dev.baton.client.BatonUnavailableException;
import dev.baton.client.PoolReply;
import dev.baton.client.PoolStatus;
import dev.baton.client.SessionState;
import dev.baton.shedlock.BatonLockProvider;
import dev.baton.spring.integration.BatonLock;
import dev.baton.spring.integration.BatonLockRegistry;
import dev.baton.server.testing.InProcessNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import net.javacrumbs.shedlock.core.LockProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The auto-configuration in Spring Boot's context runner, against one real node. */
class BatonAutoConfigurationTest {
    private static InProcessNode node;

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(BatonAutoConfiguration.class));

    @BeforeAll
    static void start() {
        node = InProcessNode.start();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void buildsAConnectedClientFromPropertiesAndClosesItWithTheContext() {
        AtomicReference<BatonClient> made = new AtomicReference<>();
        runner.withPropertyValues("baton.endpoints=" + node.endpoint(), "baton.session-ttl=8s",
                        "baton.request-timeout=4s", "baton.lock-registry.prefix=boot/")
                .withBean(BatonClientBuilderCustomizer.class, () -> b -> b.clientToken("boot-test-client"))
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(BatonClient.class);
                    BatonClient client = context.getBean(BatonClient.class);
                    made.set(client);
                    assertThat(client.sessionAlive()).isTrue();
                    assertThat(client.sessionTtl()).isEqualTo(Duration.ofSeconds(8));

                    PoolReply slot = client.pools().acquire("boot-pool", 2, 1, Duration.ZERO, false);
                    assertThat(slot.status()).isEqualTo(PoolStatus.LOCKED);
                    client.pools().release(slot);

                    BatonLockRegistry registry = context.getBean(BatonLockRegistry.class);
                    BatonLock lock = registry.obtain("job");
                    assertThat(lock.name()).isEqualTo("boot/job");
                    lock.lock();
                    try {
                        assertThat(lock.fence()).isPositive();
                    } finally {
                        lock.unlock();
                    }
                    assertThat(context).hasSingleBean(BatonLockProvider.class);
                    assertThat(context.getBean(BatonLockProvider.class).prefix()).isEqualTo("shedlock/");

                    SimpleMeterRegistry meters = new SimpleMeterRegistry();
                    context.getBean(BatonClientMetrics.class).bindTo(meters);
                    assertThat(meters.get("baton.client.sessions").gauge().value()).isGreaterThanOrEqualTo(1);
                    assertThat(meters.get("baton.client.session.alive").gauge().value()).isEqualTo(1);
                    assertThat(meters.get("baton.client.sessions.kept").gauge().value()).isGreaterThanOrEqualTo(0);
                    assertThat(meters.get("baton.client.calls.inflight").gauge().value()).isGreaterThanOrEqualTo(0);
                    assertThat(meters.get("baton.client.acquires.indoubt").gauge().value()).isZero();
                    assertThat(meters.get("baton.client.retries").functionCounter().count()).isGreaterThanOrEqualTo(0);
                });
        assertThat(made.get().sessionState()).isEqualTo(SessionState.CLOSED);
    }

    @Test
    void backsOffForTheApplicationsOwnBeans() {
        try (BatonClient own = node.client()) {
            LockProvider ownProvider = c -> Optional.empty();
            runner.withPropertyValues("baton.endpoints=127.0.0.1:1")
                    .withBean("myClient", BatonClient.class, () -> own, d -> d.setDestroyMethodName(""))
                    .withBean("myProvider", LockProvider.class, () -> ownProvider)
                    .run(context -> {
                        assertThat(context).hasNotFailed();
                        assertThat(context.getBean(BatonClient.class)).isSameAs(own);
                        assertThat(context.getBean(LockProvider.class)).isSameAs(ownProvider);
                        assertThat(context.getBean(BatonLockRegistry.class).client()).isSameAs(own);
                    });
            assertThat(own.sessionAlive()).as("the application's own client is not closed").isTrue();
        }
    }

    @Test
    void propertiesTurnTheExtraBeansOff() {
        runner.withPropertyValues("baton.endpoints=" + node.endpoint(), "baton.metrics.enabled=false",
                        "baton.lock-registry.enabled=false", "baton.shedlock.enabled=false")
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(BatonClient.class);
                    assertThat(context).doesNotHaveBean(BatonClientMetrics.class)
                            .doesNotHaveBean(BatonLockRegistry.class).doesNotHaveBean(BatonLockProvider.class);
                });
    }

    @Test
    void anUnreachableClusterOrContradictorySettingsFailTheStart() {
        runner.withPropertyValues("baton.endpoints=127.0.0.1:1", "baton.retry-for=0s")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(causes(context.getStartupFailure()))
                            .anyMatch(BatonUnavailableException.class::isInstance);
                });
        runner.withPropertyValues("baton.endpoints=" + node.endpoint(), "baton.token=abc", "baton.token-file=/nonexistent")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(causes(context.getStartupFailure()))
                            .anyMatch(t -> String.valueOf(t.getMessage()).contains("baton.token and baton.token-file"));
                });
    }

    private static List<Throwable> causes(Throwable t) {
        List<Throwable> chain = new ArrayList<>();
        for (; t != null && !chain.contains(t); t = t.getCause()) {
            chain.add(t);
        }
        return chain;
    }
}
