package dev.baton.spring.boot;

import dev.baton.client.BatonClient;

/**
 * Changes the {@link BatonClient.Builder} of the auto-configured client after the properties were
 * applied, for what properties cannot say: listeners ({@code onSessionLost}, {@code onEvent}), a callback
 * executor, a token supplier. Every such bean is applied, in their {@code @Order}.
 */
@FunctionalInterface
public interface BatonClientBuilderCustomizer {
    void customize(BatonClient.Builder builder);
}
