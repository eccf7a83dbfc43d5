package dev.baton.server.grpc;

import com.google.protobuf.ByteString;
import dev.baton.api.v1.*;
import dev.baton.core.command.Bytes;
import dev.baton.core.command.Command;
import dev.baton.core.command.Effect;
import dev.baton.core.command.Result;
import dev.baton.core.command.View;
import io.grpc.Status;

import java.util.List;
import java.util.Map;

/**
 * Translation between the gRPC messages of {@code baton.v1} and the core's commands, results and
 * views. Pure functions; no I/O. Requests become commands as they are (the core validates them and
 * refuses bad input with a result that changes nothing); replies are built from results.
 */
final class Convert {
    private Convert() {}

    // ---- requests -> commands -------------------------------------------------------------------

    /** An empty proto string means "none" where the core takes a nullable name. */
    static String orNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    static Command.PoolAcquire command(PoolAcquireRequest r) {
        return new Command.PoolAcquire(r.getSession(), r.getRequestId(), r.getKey(), r.getWorkers(), r.getMaxQueue(),
                r.getTimeoutMs(), r.getForAnyone());
    }

    static Command.PoolRelease command(PoolReleaseRequest r) {
        return new Command.PoolRelease(r.getSession(), r.getRequestId(), orNull(r.getKey()), r.getFence());
    }

    static Command.LockAcquire command(LockAcquireRequest r) {
        return new Command.LockAcquire(r.getSession(), r.getRequestId(), r.getName(), r.getTimeoutMs());
    }

    static Command.LockRelease command(LockReleaseRequest r) {
        return new Command.LockRelease(r.getSession(), r.getRequestId(), r.getName(), r.getFence());
    }

    static Command.DispatchInit command(DispatchInitRequest r) {
        dev.baton.core.command.DispatchSettings settings = null;
        if (r.hasSettings()) {
            DispatchSettings s = r.getSettings();
            try {
                settings = new dev.baton.core.command.DispatchSettings(s.getIntervalMs(), s.getBatchSize(),
                        s.getRandomness());
            } catch (IllegalArgumentException e) {
                throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException(
                        ApiErrors.trailers("INVALID_ARGUMENT", null));
            }
        }
        return new Command.DispatchInit(r.getSession(), r.getRequestId(), r.getGroup(), Map.copyOf(r.getTargetsMap()),
                settings);
    }

    static Command.DispatchAdvance command(DispatchAdvanceRequest r) {
        return new Command.DispatchAdvance(r.getSession(), r.getRequestId(), r.getGroup(), r.getHead());
    }

    static Command.DispatchSelect command(DispatchSelectRequest r) {
        return new Command.DispatchSelect(r.getSession(), r.getRequestId(), r.getGroup());
    }

    static Command.DispatchLock command(DispatchLockRequest r) {
        return new Command.DispatchLock(r.getSession(), r.getRequestId(), r.getGroup(), r.getTarget());
    }

    static Command.DispatchRelease command(DispatchReleaseRequest r) {
        return new Command.DispatchRelease(r.getSession(), r.getRequestId(), r.getGroup(), r.getTarget(), r.getFence(),
                r.getNewSeen());
    }

    static Command.DispatchSetDisabled command(DispatchSetDisabledRequest r) {
        return new Command.DispatchSetDisabled(r.getSession(), r.getRequestId(), r.getGroup(), r.getTarget(),
                r.getDisabled());
    }

    static Command.EventBegin command(EventBeginRequest r) {
        return new Command.EventBegin(r.getSession(), r.getRequestId(), r.getName());
    }

    static Command.EventComplete command(EventCompleteRequest r) {
        return new Command.EventComplete(r.getSession(), r.getRequestId(), r.getName());
    }

    static Command.QueueEnqueue command(QueueEnqueueRequest r) {
        return new Command.QueueEnqueue(r.getSession(), r.getRequestId(), r.getQueue(), r.getItem(),
                Bytes.wrap(r.getPayload().toByteArray()), List.copyOf(r.getPrerequisitesList()));
    }

    static Command.QueueClaim command(QueueClaimRequest r) {
        return new Command.QueueClaim(r.getSession(), r.getRequestId(), r.getQueue(), r.getMax());
    }

    static Command.QueueDone command(QueueDoneRequest r) {
        return new Command.QueueDone(r.getSession(), r.getRequestId(), r.getQueue(), r.getItem(), r.getFence());
    }

    static Command.QueueRetry command(QueueRetryRequest r) {
        return new Command.QueueRetry(r.getSession(), r.getRequestId(), r.getQueue(), r.getItem(), r.getFence());
    }

    // ---- results -> replies ---------------------------------------------------------------------

    static PoolStatus status(Result.PoolStatus s) {
        return switch (s) {
            case LOCKED -> PoolStatus.POOL_LOCKED;
            case QUEUED -> PoolStatus.POOL_QUEUED;
            case QUEUE_FULL -> PoolStatus.POOL_QUEUE_FULL;
            case TIMEOUT -> PoolStatus.POOL_TIMEOUT;
            case LOCK_HELD -> PoolStatus.POOL_LOCK_HELD;
            case RELEASED -> PoolStatus.POOL_RELEASED;
            case NOT_LOCKED -> PoolStatus.POOL_NOT_LOCKED;
            case DONE -> PoolStatus.POOL_DONE;
        };
    }

    static LockStatus status(Result.LockStatus s) {
        return switch (s) {
            case LOCKED -> LockStatus.LOCK_LOCKED;
            case QUEUED -> LockStatus.LOCK_QUEUED;
            case BUSY -> LockStatus.LOCK_BUSY;
            case ALREADY_HELD -> LockStatus.LOCK_ALREADY_HELD;
            case TIMEOUT -> LockStatus.LOCK_TIMEOUT;
            case UNLOCKED -> LockStatus.LOCK_UNLOCKED;
            case CANCELLED -> LockStatus.LOCK_CANCELLED;
            case NOT_HELD -> LockStatus.LOCK_NOT_HELD;
        };
    }

    static DispatchStatus status(Result.DispatchStatus s) {
        return switch (s) {
            case INITIALIZED -> DispatchStatus.DISPATCH_INITIALIZED;
            case ADVANCED -> DispatchStatus.DISPATCH_ADVANCED;
            case SELECTED -> DispatchStatus.DISPATCH_SELECTED;
            case NONE -> DispatchStatus.DISPATCH_NONE;
            case LOCKED -> DispatchStatus.DISPATCH_LOCKED;
            case BUSY -> DispatchStatus.DISPATCH_BUSY;
            case RELEASED -> DispatchStatus.DISPATCH_RELEASED;
            case UPDATED -> DispatchStatus.DISPATCH_UPDATED;
        };
    }

    static EventStatus status(Result.EventStatus s) {
        return switch (s) {
            case BEGUN -> EventStatus.EVENT_BEGUN;
            case ALREADY_PENDING -> EventStatus.EVENT_ALREADY_PENDING;
            case COMPLETED -> EventStatus.EVENT_COMPLETED;
            case NOT_PENDING -> EventStatus.EVENT_NOT_PENDING;
        };
    }

    static QueueStatus status(Result.QueueStatus s) {
        return switch (s) {
            case ENQUEUED -> QueueStatus.QUEUE_ENQUEUED;
            case REPLACED -> QueueStatus.QUEUE_REPLACED;
            case CLAIMED -> QueueStatus.QUEUE_CLAIMED;
            case DONE -> QueueStatus.QUEUE_DONE;
            case REQUEUED -> QueueStatus.QUEUE_REQUEUED;
        };
    }

    static PoolReply reply(Result.PoolReply r) {
        return PoolReply.newBuilder().setStatus(status(r.status())).setKey(nz(r.key())).setFence(r.fence()).build();
    }

    static LockReply reply(Result.LockReply r) {
        return LockReply.newBuilder().setStatus(status(r.status())).setName(nz(r.name())).setFence(r.fence()).build();
    }

    static DispatchReply reply(Result.DispatchReply r) {
        DispatchReply.Builder b = DispatchReply.newBuilder().setStatus(status(r.status())).setValue(r.value());
        if (r.target() != null) {
            b.setTarget(target(r.target()));
        }
        return b.build();
    }

    static EventReply reply(Result.EventReply r) {
        return EventReply.newBuilder().setStatus(status(r.status())).setName(nz(r.name())).build();
    }

    static QueueReply reply(Result.QueueReply r) {
        QueueReply.Builder b = QueueReply.newBuilder().setStatus(status(r.status()));
        if (r.items() != null) {
            for (dev.baton.core.command.ClaimedItem i : r.items()) {
                b.addItems(ClaimedItem.newBuilder().setQueue(i.queue()).setItem(i.item())
                        .setPayload(bytes(i.payload())).setFence(i.fence()).setAttempts(i.attempts()));
            }
        }
        return b.build();
    }

    static Target target(dev.baton.core.command.TargetView t) {
        return Target.newBuilder().setGroup(nz(t.group())).setId(nz(t.id())).setName(nz(t.name())).setSeen(t.seen())
                .setTouched(t.touched()).setDisabled(t.disabled()).setHolder(t.holder()).setFence(t.fence()).build();
    }

    // ---- effects -> stream events ---------------------------------------------------------------

    /** The stream event for an effect. */
    static SessionEvent event(Effect e) {
        SessionEvent.Builder b = SessionEvent.newBuilder();
        if (e instanceof Effect.PoolWaitEnded p) {
            b.setPoolWaitEnded(dev.baton.api.v1.PoolWaitEnded.newBuilder().setSession(p.session())
                    .setRequestId(p.requestId()).setKey(nz(p.key())).setStatus(status(p.status())).setFence(p.fence()));
        } else if (e instanceof Effect.LockWaitEnded l) {
            b.setLockWaitEnded(dev.baton.api.v1.LockWaitEnded.newBuilder().setSession(l.session())
                    .setRequestId(l.requestId()).setName(nz(l.name())).setStatus(status(l.status())).setFence(l.fence()));
        } else if (e instanceof Effect.SessionEnded s) {
            b.setSessionEnded(dev.baton.api.v1.SessionEnded.newBuilder().setSession(s.session()).setExpired(s.expired()));
        } else if (e instanceof Effect.EventCompleted c) {
            b.setEventCompleted(dev.baton.api.v1.EventCompleted.newBuilder().setName(nz(c.name())));
        } else if (e instanceof Effect.QueueClaimable q) {
            b.setQueueClaimable(dev.baton.api.v1.QueueClaimable.newBuilder().setQueue(nz(q.queue())));
        } else {
            throw new IllegalArgumentException("unknown effect " + e);
        }
        return b.build();
    }

    // ---- views -> infos -------------------------------------------------------------------------

    static SessionInfo info(View.Session s) {
        SessionInfo.Builder b = SessionInfo.newBuilder().setSession(s.id()).setClientToken(nz(s.token()))
                .setTtlMs(s.ttlMs()).setOpenedAt(s.openedAt());
        for (View.PoolSlot p : s.slots()) {
            b.addPoolSlots(PoolSlot.newBuilder().setKey(nz(p.key())).setState(nz(p.state())).setId(p.id())
                    .setRequestId(p.requestId()).setSince(p.since()));
        }
        b.putAllLocksHeld(s.locksHeld());
        b.addAllLockWaits(s.lockWaits());
        b.addAllDispatchTargets(s.dispatchTargets());
        b.addAllEvents(s.events());
        b.addAllClaimedItems(s.claimedItems());
        return b.build();
    }

    static PoolInfo info(String key, View.Pool p) {
        PoolInfo.Builder b = PoolInfo.newBuilder().setKey(key);
        if (p == null) {
            return b.setExists(false).build();
        }
        b.setExists(true).setProcessing(p.processing()).setWaiting(p.waiting());
        for (View.PoolHolder h : p.holders()) {
            b.addHolders(PoolHolder.newBuilder().setSession(h.session()).setFence(h.fence()).setSince(h.since()));
        }
        for (View.PoolWaiter w : p.waiters()) {
            b.addWaiters(PoolWaiter.newBuilder().setSession(w.session()).setRequestId(w.requestId())
                    .setSince(w.since()).setDeadline(w.deadline()).setForAnyone(w.forAnyone()));
        }
        return b.build();
    }

    static PoolTotals info(View.PoolTotals t) {
        return PoolTotals.newBuilder().setKeys(t.keys()).setProcessing(t.processing()).setWaiting(t.waiting())
                .setAcquired(t.acquired()).setReleased(t.released()).setDone(t.done()).setTimeouts(t.timeouts())
                .setQueueFull(t.queueFull()).setLockHeld(t.lockHeld()).setWaitForResponse(t.waitForResponse())
                .setReleaseMismatch(t.releaseMismatch()).setHoldMs(t.holdMs()).setWaitMeMs(t.waitMeMs())
                .setWaitAnyMs(t.waitAnyMs()).setTimeoutWaitMs(t.timeoutWaitMs()).setDoneWaitMs(t.doneWaitMs())
                .setGainedMs(t.gainedMs()).build();
    }

    static LockInfo info(String name, View.Lock l) {
        LockInfo.Builder b = LockInfo.newBuilder().setName(name);
        if (l == null) {
            return b.setExists(false).build();
        }
        b.setExists(true).setHolder(l.holder()).setFence(l.fence()).setSince(l.since());
        for (View.LockWaiter w : l.waiters()) {
            b.addWaiters(LockWaiter.newBuilder().setSession(w.session()).setRequestId(w.requestId())
                    .setSince(w.since()).setDeadline(w.deadline()));
        }
        return b.build();
    }

    static GroupInfo info(String name, View.Group g) {
        GroupInfo.Builder b = GroupInfo.newBuilder().setName(name);
        if (g == null) {
            return b.setExists(false).build();
        }
        b.setExists(true).setHead(g.head()).setSettings(DispatchSettings.newBuilder()
                .setIntervalMs(g.settings().intervalMs()).setBatchSize(g.settings().batchSize())
                .setRandomness(g.settings().randomness()));
        for (dev.baton.core.command.TargetView t : g.targets()) {
            b.addTargets(target(t));
        }
        return b.build();
    }

    static EventInfo info(String name, View.Event e) {
        EventInfo.Builder b = EventInfo.newBuilder().setName(name);
        if (e == null) {
            return b.setPending(false).build();
        }
        return b.setPending(true).setOwner(e.owner()).setSince(e.since()).build();
    }

    static QueueInfo info(String name, View.Queue q) {
        QueueInfo.Builder b = QueueInfo.newBuilder().setName(name);
        if (q == null) {
            return b.setExists(false).build();
        }
        b.setExists(true).setReady(q.ready());
        for (View.Item i : q.items()) {
            b.addItems(QueueItem.newBuilder().setId(nz(i.id())).setSeq(i.seq()).setPayload(bytes(i.payload()))
                    .addAllPrerequisites(i.prerequisites()).setPendingPrerequisites(i.pendingPrerequisites())
                    .setClaimedBy(i.claimedBy()).setFence(i.fence()).setAttempts(i.attempts())
                    .setEnqueuedAt(i.enqueuedAt()));
        }
        return b.build();
    }

    private static ByteString bytes(Bytes b) {
        return b == null || b.size() == 0 ? ByteString.EMPTY : ByteString.copyFrom(b.unsafeArray());
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }
}
