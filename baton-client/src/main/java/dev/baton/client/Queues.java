package dev.baton.client;

import com.google.protobuf.ByteString;
import dev.baton.api.v1.GetQueueRequest;
import dev.baton.api.v1.QueueClaimRequest;
import dev.baton.api.v1.QueueDoneRequest;
import dev.baton.api.v1.QueueEnqueueRequest;
import dev.baton.api.v1.QueueRetryRequest;
import dev.baton.api.v1.QueuesGrpc;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Work queues whose items may wait for events ({@link Events}). Get it with {@link BatonClient#queues()}
 * or {@link BatonSession#queues()}. Through a {@link BatonClient}, items are claimed by the client's own
 * (first) session.
 */
public final class Queues {
    private final ClientCore core;
    private final SessionSet sessions;

    Queues(ClientCore core, SessionSet sessions) {
        this.core = core;
        this.sessions = sessions;
    }

    /**
     * Adds {@code item} to {@code queue}, claimable once none of {@code prerequisites} (event names) is
     * pending. Enqueuing an existing item replaces its payload and prerequisites. Replies
     * {@link QueueStatus#ENQUEUED} or {@link QueueStatus#REPLACED}.
     *
     * @param payload the item's bytes ({@code null}: empty)
     */
    public CompletableFuture<QueueReply> enqueueAsync(String queue, String item, byte[] payload,
            List<String> prerequisites) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        Objects.requireNonNull(prerequisites, "prerequisites");
        ByteString bytes = payload == null ? ByteString.EMPTY : ByteString.copyFrom(payload);
        List<String> prereqs = List.copyOf(prerequisites);
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(QueuesGrpc.getEnqueueMethod(), id -> QueueEnqueueRequest
                .newBuilder().setSession(s.sessionId()).setRequestId(id).setQueue(queue).setItem(item)
                .setPayload(bytes).addAllPrerequisites(prereqs).build(), core.policy("Queues.Enqueue", s)),
                Wire::queue));
    }

    /** Blocking {@link #enqueueAsync}. */
    public QueueReply enqueue(String queue, String item, byte[] payload, List<String> prerequisites) {
        return ClientCore.await(() -> enqueueAsync(queue, item, payload, prerequisites));
    }

    /**
     * Claims up to {@code max} claimable items, oldest first, for the session. Never waits: replies
     * {@link QueueStatus#CLAIMED} with the items (possibly none), each with its fence. To wait, listen
     * for {@link BatonEvent.QueueClaimable} events.
     */
    public CompletableFuture<QueueReply> claimAsync(String queue, int max) {
        Objects.requireNonNull(queue, "queue");
        Args.unsigned(max, "max");
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(QueuesGrpc.getClaimMethod(), id -> QueueClaimRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setQueue(queue).setMax(max).build(),
                core.policy("Queues.Claim", s)), Wire::queue));
    }

    /** Blocking {@link #claimAsync}. */
    public QueueReply claim(String queue, int max) {
        return ClientCore.await(() -> claimAsync(queue, max));
    }

    /**
     * Removes a claimed item for good. Replies {@link QueueStatus#DONE}.
     *
     * @throws StaleFenceException (blocking) if the claim with {@code fence} was lost
     * @throws NotFoundException   (blocking) if the item does not exist
     */
    public CompletableFuture<QueueReply> doneAsync(String queue, String item, long fence) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(QueuesGrpc.getDoneMethod(), id -> QueueDoneRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setQueue(queue).setItem(item).setFence(fence).build(),
                core.policy("Queues.Done", s)), Wire::queue));
    }

    /** Blocking {@link #doneAsync}. */
    public QueueReply done(String queue, String item, long fence) {
        return ClientCore.await(() -> doneAsync(queue, item, fence));
    }

    /** Gives a claimed item back, at the back of the queue. Replies {@link QueueStatus#REQUEUED}. */
    public CompletableFuture<QueueReply> retryAsync(String queue, String item, long fence) {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(item, "item");
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(QueuesGrpc.getRetryMethod(), id -> QueueRetryRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setQueue(queue).setItem(item).setFence(fence).build(),
                core.policy("Queues.Retry", s)), Wire::queue));
    }

    /** Blocking {@link #retryAsync}. */
    public QueueReply retry(String queue, String item, long fence) {
        return ClientCore.await(() -> retryAsync(queue, item, fence));
    }

    /** A queue's items (a linearizable read). */
    public CompletableFuture<QueueInfo> getAsync(String queue) {
        Objects.requireNonNull(queue, "queue");
        return core.forCaller(ClientCore.map(core.run(QueuesGrpc.getGetMethod(),
                GetQueueRequest.newBuilder().setQueue(queue).build(), core.policy("Queues.Get", null)), Wire::queue));
    }

    /** Blocking {@link #getAsync}. */
    public QueueInfo get(String queue) {
        return ClientCore.await(() -> getAsync(queue));
    }
}
