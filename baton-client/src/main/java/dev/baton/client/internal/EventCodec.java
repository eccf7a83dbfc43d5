package dev.baton.client.internal;

import dev.baton.api.v1.SessionEvent;
import dev.baton.client.BatonEvent;
import dev.baton.client.LockStatus;
import dev.baton.client.PoolStatus;

/** Turns the server's session events into {@link BatonEvent}s. */
public final class EventCodec {
    private EventCodec() {}

    /** The event, or {@code null} for an ack or a kind this client does not know. */
    static BatonEvent of(SessionEvent e) {
        switch (e.getKindCase()) {
            case POOL_WAIT_ENDED: {
                var p = e.getPoolWaitEnded();
                return new BatonEvent.PoolWaitEnded(p.getSession(), p.getRequestId(), p.getKey(),
                        poolStatus(p.getStatus()), p.getFence());
            }
            case LOCK_WAIT_ENDED: {
                var l = e.getLockWaitEnded();
                return new BatonEvent.LockWaitEnded(l.getSession(), l.getRequestId(), l.getName(),
                        lockStatus(l.getStatus()), l.getFence());
            }
            case SESSION_ENDED:
                return new BatonEvent.SessionEnded(e.getSessionEnded().getSession(), e.getSessionEnded().getExpired());
            case EVENT_COMPLETED:
                return new BatonEvent.EventCompleted(e.getEventCompleted().getName());
            case QUEUE_CLAIMABLE:
                return new BatonEvent.QueueClaimable(e.getQueueClaimable().getQueue());
            default:
                return null;
        }
    }

    static PoolStatus poolStatus(Enum<?> wire) {
        return fromWire(PoolStatus.class, wire, "POOL_", PoolStatus.UNKNOWN);
    }

    static LockStatus lockStatus(Enum<?> wire) {
        return fromWire(LockStatus.class, wire, "LOCK_", LockStatus.UNKNOWN);
    }

    /**
     * The Baton enum constant named like a wire constant without its prefix ({@code POOL_LOCKED} is
     * {@code LOCKED}), or {@code unknown} for a constant this client does not know.
     */
    public static <E extends Enum<E>> E fromWire(Class<E> type, Enum<?> wire, String prefix, E unknown) {
        String name = wire.name();
        if (!name.startsWith(prefix)) {
            return unknown;
        }
        try {
            return Enum.valueOf(type, name.substring(prefix.length()));
        } catch (IllegalArgumentException e) {
            return unknown;
        }
    }
}
