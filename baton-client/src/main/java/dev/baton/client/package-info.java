/**
 * The Baton Java client: {@link dev.baton.client.BatonClient} holds one session on a Baton cluster,
 * keeps it alive, follows the leader, retries writes with the same request id, and offers every
 * primitive of the {@code baton.v1} gRPC API as blocking and {@code CompletableFuture} calls. Failures
 * are unchecked {@link dev.baton.client.BatonException}s. See {@code docs/client.md}.
 */
package dev.baton.client;
