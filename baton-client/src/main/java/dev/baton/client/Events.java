package dev.baton.client;

import dev.baton.api.v1.EventBeginRequest;
import dev.baton.api.v1.EventCompleteRequest;
import dev.baton.api.v1.EventsGrpc;
import dev.baton.api.v1.GetEventRequest;
import dev.baton.api.v1.ListEventsRequest;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Named events that gate queue items: an item waits while one of its prerequisite events is pending.
 * Get it with {@link BatonClient#events()} or {@link BatonSession#events()}. Through a
 * {@link BatonClient}, events are owned by the client's own (first) session.
 */
public final class Events {
    private final ClientCore core;
    private final SessionSet sessions;

    Events(ClientCore core, SessionSet sessions) {
        this.core = core;
        this.sessions = sessions;
    }

    /**
     * Begins event {@code name}, owned by the session (items gated on it stay unclaimable until it
     * completes or the session ends). Replies {@link EventStatus#BEGUN} or
     * {@link EventStatus#ALREADY_PENDING}.
     */
    public CompletableFuture<EventReply> beginAsync(String name) {
        Objects.requireNonNull(name, "name");
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(EventsGrpc.getBeginMethod(), id -> EventBeginRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setName(name).build(), core.policy("Events.Begin", s)),
                Wire::event));
    }

    /** Blocking {@link #beginAsync}. */
    public EventReply begin(String name) {
        return ClientCore.await(() -> beginAsync(name));
    }

    /** Completes event {@code name}. Replies {@link EventStatus#COMPLETED} or {@link EventStatus#NOT_PENDING}. */
    public CompletableFuture<EventReply> completeAsync(String name) {
        Objects.requireNonNull(name, "name");
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(EventsGrpc.getCompleteMethod(), id -> EventCompleteRequest
                .newBuilder().setSession(s.sessionId()).setRequestId(id).setName(name).build(),
                core.policy("Events.Complete", s)), Wire::event));
    }

    /** Blocking {@link #completeAsync}. */
    public EventReply complete(String name) {
        return ClientCore.await(() -> completeAsync(name));
    }

    /** An event's state (a linearizable read). */
    public CompletableFuture<EventInfo> getAsync(String name) {
        Objects.requireNonNull(name, "name");
        return core.forCaller(ClientCore.map(core.run(EventsGrpc.getGetMethod(),
                GetEventRequest.newBuilder().setName(name).build(), core.policy("Events.Get", null)), Wire::event));
    }

    /** Blocking {@link #getAsync}. */
    public EventInfo get(String name) {
        return ClientCore.await(() -> getAsync(name));
    }

    /** All pending events. */
    public CompletableFuture<List<EventInfo>> listAsync() {
        return core.forCaller(ClientCore.map(core.run(EventsGrpc.getListMethod(),
                ListEventsRequest.getDefaultInstance(), core.policy("Events.List", null)), Wire::events));
    }

    /** Blocking {@link #listAsync}. */
    public List<EventInfo> list() {
        return ClientCore.await(() -> listAsync());
    }
}
