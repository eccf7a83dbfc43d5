package dev.baton.client.dispatch;

import dev.baton.client.DispatchReply;
import dev.baton.client.DispatchStatus;
import dev.baton.client.DispatchGroup;
import dev.baton.client.DispatchTarget;
import dev.baton.client.BatonClient;
import dev.baton.client.NotFoundException;
import dev.baton.client.StaleFenceException;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Wikibase's {@code ChangeDispatchCoordinator} over a Baton dispatch group: decides which target
 * (client wiki) to dispatch to next in a fair manner, and keeps two dispatchers from dispatching to
 * the same target at once.
 *
 * <p>The four methods of the seed, with Baton's guarantees:
 * <ul>
 *   <li>{@link #initState(Map)} adds the targets not yet tracked, with cursor 0; idempotent.</li>
 *   <li>{@link #selectClient()} picks a target at random among the most lagged eligible ones and locks
 *       it, in one replicated step (no candidate list read from a stale replica, no lock race).</li>
 *   <li>{@link #lockClient(String)} locks a given target.</li>
 *   <li>{@link #releaseClient(DispatchState)} stores the new cursor, touches and unlocks the target,
 *       quoting the lock's fence.</li>
 * </ul>
 * Locks belong to the {@link BatonClient}'s session: if the process dies or its session expires, its
 * targets are unlocked with their cursors untouched, so the changes are dispatched again by someone
 * else (at-least-once, as in Wikibase). A cursor never moves backwards: the server keeps the higher of
 * the stored and the released one.
 *
 * <p>Baton needs one thing Wikibase read from its own changes table: the group's <em>head</em>, the
 * newest change id. Whoever learns it calls {@link #advanceHead(long)} (the {@link Dispatcher} does).
 *
 * <p>Refusals are exceptions of the client: {@link NotFoundException} for a missing group or target,
 * {@link StaleFenceException} when a lock was lost, {@link dev.baton.client.SessionLostException} when
 * the session is gone, {@link dev.baton.client.BatonUnavailableException} when the outcome is unknown.
 * Thread-safe; all threads act for the client's first session.
 */
public final class ChangeDispatchCoordinator implements Coordinator {
    private final BatonClient client;
    private final String group;
    private final CoordinatorSettings settings;

    /**
     * A coordinator of {@code group} that keeps the group's settings (a new group gets Wikibase's
     * defaults, {@link CoordinatorSettings#DEFAULTS}).
     */
    public ChangeDispatchCoordinator(BatonClient client, String group) {
        this(client, group, null);
    }

    /**
     * A coordinator of {@code group} whose {@link #initState(Map)} also sets the group's selection
     * settings. The settings are the group's, shared by every coordinator of it: the last
     * {@code initState} with settings wins.
     *
     * @param settings the settings to apply, or {@code null} to keep the group's
     */
    public ChangeDispatchCoordinator(BatonClient client, String group, CoordinatorSettings settings) {
        this.client = Objects.requireNonNull(client, "client");
        this.group = Objects.requireNonNull(group, "group");
        this.settings = settings;
    }

    /** The dispatch group's name. */
    public String group() {
        return group;
    }

    /** The settings {@link #initState(Map)} applies, or {@code null} if it keeps the group's. */
    public CoordinatorSettings settings() {
        return settings;
    }

    /**
     * Creates the group if needed and adds the targets it does not track yet, with cursor 0 and never
     * touched (Wikibase's {@code initState}); targets already tracked keep their state. Also applies
     * this coordinator's settings, if it has any.
     *
     * @param clientWikiDbs target id to name (Wikibase: site id to database name); may be empty
     * @return how many targets were added
     */
    @Override
    public int initState(Map<String, String> clientWikiDbs) {
        Objects.requireNonNull(clientWikiDbs, "clientWikiDbs");
        DispatchReply r = client.dispatch().init(group, clientWikiDbs, settings == null ? null : settings.toSettings());
        return (int) r.value();
    }

    /**
     * Raises the group's head, the newest change id, which selection compares cursors with. Never
     * lowers it.
     *
     * @return the group's head after the call
     */
    @Override
    public long advanceHead(long head) {
        return client.dispatch().advance(group, head).value();
    }

    /**
     * Selects a target and locks it (Wikibase's {@code selectClient}): at random among the
     * {@code randomness} most lagged targets that are enabled, unlocked, have pending changes, and
     * rested for the dispatch interval or lag by more than the batch size.
     *
     * @return the locked target's state, with its fence; {@code null} if no target is eligible
     * @throws NotFoundException if the group does not exist (call {@link #initState(Map)} first)
     */
    @Override
    public DispatchState selectClient() {
        DispatchReply r = client.dispatch().select(group);
        if (r.status() == DispatchStatus.NONE) {
            return null;
        }
        expect(r, DispatchStatus.SELECTED, "selectClient");
        return state(r.target());
    }

    /**
     * Locks a given target (Wikibase's {@code lockClient}). Locking a target this session already
     * holds returns it again with the same fence.
     *
     * @return the locked target's state with its fence (Wikibase's row), or {@code null} if another
     *         session holds it (Wikibase's {@code false})
     * @throws NotFoundException if the group or the target does not exist (Wikibase logged
     *                           "not in the dispatch table" and returned {@code false})
     */
    public DispatchState lockClient(String siteId) {
        Objects.requireNonNull(siteId, "siteId");
        DispatchReply r = client.dispatch().lock(group, siteId);
        if (r.status() == DispatchStatus.BUSY) {
            return null;
        }
        expect(r, DispatchStatus.LOCKED, "lockClient");
        return state(r.target());
    }

    /**
     * Stores the state's cursor, touches the target and unlocks it (Wikibase's
     * {@code releaseClient}). The cursor never moves backwards: if {@code state.seen()} is below the
     * stored one, the stored one stays (the returned state shows it).
     *
     * @param state a state returned by {@link #selectClient()} or {@link #lockClient(String)},
     *              usually with {@link DispatchState#withSeen(long) a new cursor}
     * @return the target as stored after the release (fence 0)
     * @throws IllegalArgumentException if the state carries no fence (it was not locked)
     * @throws StaleFenceException      if the lock was lost (the session ended and the target was
     *                                  locked again, or it was already released): nothing was stored
     */
    @Override
    public DispatchState releaseClient(DispatchState state) {
        Objects.requireNonNull(state, "state");
        if (!state.locked()) {
            throw new IllegalArgumentException("releaseClient needs a locked state (with a fence): " + state);
        }
        DispatchReply r;
        try {
            r = client.dispatch().release(group, state.site(), state.fence(), state.seen());
        } catch (StaleFenceException e) {
            throw new StaleFenceException(e.errorCode(), "releaseClient: target " + state.site() + " of group "
                    + group + " is no longer locked with fence " + state.fence()
                    + "; cursor " + state.seen() + " was not stored (another dispatcher may hold the target)", e);
        }
        expect(r, DispatchStatus.RELEASED, "releaseClient");
        return state(r.target());
    }

    /**
     * Unlocks every target of the group that this client's session holds, with cursors unchanged.
     * For recovery after a call whose outcome is unknown (a {@code BatonUnavailableException} from
     * {@link #selectClient()} may have locked a target the caller never heard of). Only safe when no
     * other thread is dispatching with the same {@link BatonClient}: it would release their targets.
     *
     * @return how many targets were unlocked
     */
    @Override
    public int releaseHeld() {
        DispatchGroup g = client.dispatch().get(group);
        int released = 0;
        for (DispatchTarget t : g.targets()) {
            if (t.holder() == client.sessionId() && t.fence() != 0) {
                try {
                    client.dispatch().release(group, t.id(), t.fence(), t.seen());
                    released++;
                } catch (StaleFenceException e) {
                    // released meanwhile: nothing to do
                }
            }
        }
        return released;
    }

    private void expect(DispatchReply r, DispatchStatus want, String what) {
        if (r.status() != want) {
            throw new IllegalStateException(what + " on group " + group + ": unexpected reply " + r.status());
        }
    }

    static DispatchState state(DispatchTarget t) {
        return new DispatchState(t.id(), t.name(), t.seen(), Instant.ofEpochMilli(t.touched()),
                t.fence());
    }
}
