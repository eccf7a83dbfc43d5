package dev.baton.spring.boot;

import dev.baton.client.BatonClient;
import dev.baton.shedlock.BatonLockProvider;
import dev.baton.spring.integration.BatonLockRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import net.javacrumbs.shedlock.core.LockProvider;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.integration.support.locks.LockRegistry;

/**
 * A {@link BatonClient} from the {@code baton.*} properties ({@link BatonProperties}), unless the
 * application defines its own; its meters for Micrometer; and, when their modules are on the class path,
 * a Spring Integration {@link BatonLockRegistry} and a ShedLock {@link BatonLockProvider} on it.
 *
 * <p>The client connects while the context starts (retrying for {@code baton.retry-for}), so an
 * unreachable cluster fails the start-up; it is closed with the context, which ends its sessions and
 * frees what they held.
 */
@AutoConfiguration
@ConditionalOnClass(BatonClient.class)
@EnableConfigurationProperties(BatonProperties.class)
public class BatonAutoConfiguration {

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public BatonClient batonClient(BatonProperties properties, ObjectProvider<BatonClientBuilderCustomizer> customizers) {
        BatonClient.Builder builder = BatonClient.builder()
                .endpoints(properties.getEndpoints())
                .sessionTtl(properties.getSessionTtl())
                .requestTimeout(properties.getRequestTimeout())
                .retryFor(properties.getRetryFor())
                .idleSessionClose(properties.getIdleSessionClose())
                .slotsPerSession(properties.getSlotsPerSession())
                .callStream(properties.isCallStream());
        if (properties.getClientToken() != null) {
            builder.clientToken(properties.getClientToken());
        }
        BatonProperties.Tls tls = properties.getTls();
        if (tls.getCaFile() != null) {
            builder.tls(tls.getCaFile());
        }
        if (tls.getCertFile() != null || tls.getKeyFile() != null) {
            if (tls.getCertFile() == null || tls.getKeyFile() == null) {
                throw new IllegalStateException("baton.tls.cert-file and baton.tls.key-file go together");
            }
            builder.tlsClientCertificate(tls.getCertFile(), tls.getKeyFile());
        }
        if (properties.getToken() != null && properties.getTokenFile() != null) {
            throw new IllegalStateException("baton.token and baton.token-file both set: set one");
        }
        if (properties.getToken() != null) {
            builder.authToken(properties.getToken());
        } else if (properties.getTokenFile() != null) {
            builder.authTokenFile(properties.getTokenFile());
        }
        customizers.orderedStream().forEach(c -> c.customize(builder));
        return builder.build();
    }

    /** The client's meters; Spring Boot's metrics support binds every MeterBinder bean to its registries. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(MeterBinder.class)
    @ConditionalOnProperty(prefix = "baton.metrics", name = "enabled", matchIfMissing = true)
    static class MetricsConfiguration {
        @Bean
        @ConditionalOnMissingBean
        BatonClientMetrics batonClientMetrics(BatonClient client) {
            return new BatonClientMetrics(client);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({BatonLockRegistry.class, LockRegistry.class})
    @ConditionalOnProperty(prefix = "baton.lock-registry", name = "enabled", matchIfMissing = true)
    static class LockRegistryConfiguration {
        @Bean
        @ConditionalOnMissingBean(LockRegistry.class)
        BatonLockRegistry batonLockRegistry(BatonClient client, BatonProperties properties) {
            return new BatonLockRegistry(client, properties.getLockRegistry().getPrefix());
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({BatonLockProvider.class, LockProvider.class})
    @ConditionalOnProperty(prefix = "baton.shedlock", name = "enabled", matchIfMissing = true)
    static class ShedLockConfiguration {
        @Bean
        @ConditionalOnMissingBean(LockProvider.class)
        BatonLockProvider batonLockProvider(BatonClient client, BatonProperties properties) {
            return new BatonLockProvider(client, properties.getShedlock().getPrefix());
        }
    }
}
