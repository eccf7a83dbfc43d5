package dev.baton.client;

/**
 * A reply together with the request id the client gave its request: what the {@code ...Queued}
 * acquires return, so that the {@code PoolWaitEnded} or {@code LockWaitEnded} event that later ends
 * a {@code QUEUED} wait can be matched to its request.
 *
 * @param requestId the request id the call carried (on every attempt)
 * @param reply     the server's reply
 * @param <T>       the reply message type
 */
public record RequestReply<T>(long requestId, T reply) {}
