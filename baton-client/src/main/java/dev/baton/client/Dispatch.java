package dev.baton.client;

import dev.baton.api.v1.DispatchAdvanceRequest;
import dev.baton.api.v1.DispatchGrpc;
import dev.baton.api.v1.DispatchInitRequest;
import dev.baton.api.v1.DispatchLockRequest;
import dev.baton.api.v1.DispatchReleaseRequest;
import dev.baton.api.v1.DispatchSelectRequest;
import dev.baton.api.v1.DispatchSetDisabledRequest;
import dev.baton.api.v1.GetGroupRequest;
import dev.baton.client.internal.ClientCore;
import dev.baton.client.internal.ClientSession;
import dev.baton.client.internal.SessionSet;
import io.grpc.MethodDescriptor;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;

/**
 * Change dispatch groups (Wikibase's {@code dispatchChanges}): targets with cursors, selected and
 * locked one at a time. Get it with {@link BatonClient#dispatch()} or {@link BatonSession#dispatch()}.
 * Through a {@link BatonClient}, targets are locked by the client's own (first) session.
 */
public final class Dispatch {
    private final ClientCore core;
    private final SessionSet sessions;

    Dispatch(ClientCore core, SessionSet sessions) {
        this.core = core;
        this.sessions = sessions;
    }

    private <Req, Resp> CompletableFuture<DispatchReply> write(String what, MethodDescriptor<Req, Resp> method,
            BiFunction<ClientSession, Long, Req> build, java.util.function.Function<Resp, DispatchReply> convert) {
        ClientSession s = sessions.primaryForUntrackedWrite();
        return core.forCaller(ClientCore.map(s.write(method, id -> build.apply(s, id), core.policy(what, s)),
                convert));
    }

    /**
     * Creates dispatch group {@code group} if needed and adds the targets not yet tracked (Wikibase's
     * {@code initState}); idempotent. Replies {@link DispatchStatus#INITIALIZED} with the number of
     * targets added in {@code value}.
     *
     * @param targets  target id to name (Wikibase: site id to database name)
     * @param settings the group's settings, or {@code null} to keep the current ones (new groups get
     *                 Wikibase's defaults)
     */
    public CompletableFuture<DispatchReply> initAsync(String group, Map<String, String> targets,
            DispatchSettings settings) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(targets, "targets");
        return write("Dispatch.Init", DispatchGrpc.getInitMethod(), (s, id) -> {
            DispatchInitRequest.Builder b = DispatchInitRequest.newBuilder()
                    .setSession(s.sessionId())
                    .setRequestId(id)
                    .setGroup(group)
                    .putAllTargets(targets);
            if (settings != null) {
                b.setSettings(Wire.settings(settings));
            }
            return b.build();
        }, Wire::dispatch);
    }

    /** Blocking {@link #initAsync(String, Map, DispatchSettings)}. */
    public DispatchReply init(String group, Map<String, String> targets, DispatchSettings settings) {
        return ClientCore.await(() -> initAsync(group, targets, settings));
    }

    /** {@link #initAsync(String, Map, DispatchSettings)} keeping the group's settings. */
    public CompletableFuture<DispatchReply> initAsync(String group, Map<String, String> targets) {
        return initAsync(group, targets, null);
    }

    /** Blocking {@link #initAsync(String, Map)}. */
    public DispatchReply init(String group, Map<String, String> targets) {
        return ClientCore.await(() -> initAsync(group, targets));
    }

    /** Raises the group's head (newest change id); never lowers it. Replies {@link DispatchStatus#ADVANCED}. */
    public CompletableFuture<DispatchReply> advanceAsync(String group, long head) {
        Objects.requireNonNull(group, "group");
        Args.nonNegative(head, "head");
        return write("Dispatch.Advance", DispatchGrpc.getAdvanceMethod(), (s, id) -> DispatchAdvanceRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setGroup(group).setHead(head).build(), Wire::dispatch);
    }

    /** Blocking {@link #advanceAsync}. */
    public DispatchReply advance(String group, long head) {
        return ClientCore.await(() -> advanceAsync(group, head));
    }

    /**
     * Picks a stale target at random among the most lagged and locks it for the session (Wikibase's
     * {@code selectClient} + {@code lockClient}). Replies {@link DispatchStatus#SELECTED} with the target
     * (and its fence) or {@link DispatchStatus#NONE}.
     */
    public CompletableFuture<DispatchReply> selectAsync(String group) {
        Objects.requireNonNull(group, "group");
        return write("Dispatch.Select", DispatchGrpc.getSelectMethod(), (s, id) -> DispatchSelectRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setGroup(group).build(), Wire::dispatch);
    }

    /** Blocking {@link #selectAsync}. */
    public DispatchReply select(String group) {
        return ClientCore.await(() -> selectAsync(group));
    }

    /** Locks a given target. Replies {@link DispatchStatus#LOCKED} (with the fence) or {@link DispatchStatus#BUSY}. */
    public CompletableFuture<DispatchReply> lockAsync(String group, String target) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        return write("Dispatch.Lock", DispatchGrpc.getLockMethod(), (s, id) -> DispatchLockRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setGroup(group).setTarget(target).build(), Wire::dispatch);
    }

    /** Blocking {@link #lockAsync}. */
    public DispatchReply lock(String group, String target) {
        return ClientCore.await(() -> lockAsync(group, target));
    }

    /**
     * Stores the target's new cursor (never moved backwards), touches and unlocks it (Wikibase's
     * {@code releaseClient}). Replies {@link DispatchStatus#RELEASED}.
     *
     * @param fence the fence the target was locked with
     * @throws StaleFenceException (blocking) if the lock was lost since
     */
    public CompletableFuture<DispatchReply> releaseAsync(String group, String target, long fence, long newSeen) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        Args.nonNegative(newSeen, "newSeen");
        return write("Dispatch.Release", DispatchGrpc.getReleaseMethod(), (s, id) -> DispatchReleaseRequest.newBuilder()
                .setSession(s.sessionId()).setRequestId(id).setGroup(group).setTarget(target).setFence(fence)
                .setNewSeen(newSeen).build(), Wire::dispatch);
    }

    /** Blocking {@link #releaseAsync}. */
    public DispatchReply release(String group, String target, long fence, long newSeen) {
        return ClientCore.await(() -> releaseAsync(group, target, fence, newSeen));
    }

    /** Disables or re-enables a target for selection. Replies {@link DispatchStatus#UPDATED}. */
    public CompletableFuture<DispatchReply> setDisabledAsync(String group, String target, boolean disabled) {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(target, "target");
        return write("Dispatch.SetDisabled", DispatchGrpc.getSetDisabledMethod(),
                (s, id) -> DispatchSetDisabledRequest.newBuilder().setSession(s.sessionId()).setRequestId(id)
                        .setGroup(group).setTarget(target).setDisabled(disabled).build(), Wire::dispatch);
    }

    /** Blocking {@link #setDisabledAsync}. */
    public DispatchReply setDisabled(String group, String target, boolean disabled) {
        return ClientCore.await(() -> setDisabledAsync(group, target, disabled));
    }

    /** A dispatch group's head, settings and targets (a linearizable read). */
    public CompletableFuture<DispatchGroup> getAsync(String group) {
        Objects.requireNonNull(group, "group");
        return core.forCaller(ClientCore.map(core.run(DispatchGrpc.getGetGroupMethod(),
                GetGroupRequest.newBuilder().setGroup(group).build(), core.policy("Dispatch.GetGroup", null)),
                Wire::group));
    }

    /** Blocking {@link #getAsync}. */
    public DispatchGroup get(String group) {
        return ClientCore.await(() -> getAsync(group));
    }
}
