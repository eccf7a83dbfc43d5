package dev.baton.server.raft;

import com.alipay.remoting.Connection;
import com.alipay.remoting.ConnectionEventType;
import com.alipay.remoting.InvokeCallback;
import com.alipay.remoting.InvokeContext;
import com.alipay.remoting.InvokeFuture;
import com.alipay.remoting.RemotingCommand;
import com.alipay.remoting.LifeCycleException;
import com.alipay.remoting.exception.RemotingException;
import com.alipay.remoting.rpc.RpcClient;
import com.alipay.remoting.rpc.RpcClientRemoting;
import com.alipay.remoting.rpc.RpcCommandFactory;
import io.netty.channel.Channel;
import io.netty.util.Timeout;
import io.netty.util.Timer;
import io.netty.util.TimerTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Bolt's RPC client (SOFAJRaft's transport between the nodes) with the timeout of each call on the
 * event loop of the call's connection instead of on bolt's own timer.
 *
 * <p>Why: bolt times every asynchronous call on one JVM-wide timer wheel (its {@code TimerHolder}) that,
 * once the first call has started it, wakes every 10 ms for the life of the JVM, whether or not a call
 * is waiting: about a third of an idle 3-node cluster's CPU (docs/benchmark-history.md, "Tenth session").
 * Its tick and the wheel are constants of bolt, with no option. A Netty event loop wakes for a
 * scheduled task only when the task is due, and the answer that cancels the timeout arrives on the same
 * event loop (the connection's), so the timeout and the answer never race across threads.
 *
 * <p>Every call SOFAJRaft makes between nodes is an asynchronous call with a callback (entries,
 * heartbeats, votes, snapshots, read-index, membership changes), and this class handles exactly
 * that path the way bolt does (same futures, same timeout and send-failure answers, the time spent
 * connecting taken off the timeout); only the timer differs. Bolt's synchronous calls wait on their
 * future and use no timer; its calls returning a future still use bolt's timer (SOFAJRaft makes none).
 *
 * <p>The other user of bolt's wheel is its connection heartbeat: a client connection idle for 15 s
 * sends a bolt heartbeat and times its answer on the wheel. This client switches that heartbeat off on
 * the connections it makes. Raft needs none of it: a leader's connections carry its heartbeats ten
 * times a second, and a follower's connections to its peers (for votes) are idle between elections; the
 * peer closes such a connection after 90 s without traffic (bolt's server-side idle close) and the next
 * vote opens a new one.
 */
final class EventLoopTimeoutRpcClient extends RpcClient {
    private static final Logger LOG = LoggerFactory.getLogger(EventLoopTimeoutRpcClient.class);

    @Override
    public void startup() throws LifeCycleException {
        addConnectionEventProcessor(ConnectionEventType.CONNECT,
                (address, connection) -> switchOffHeartbeat(connection));
        super.startup();
        rpcRemoting = new Remoting(this);
    }

    /** Stops bolt's heartbeat on {@code connection} (it would time its answer on bolt's wheel). */
    static void switchOffHeartbeat(Connection connection) {
        if (connection != null && connection.getChannel() != null) {
            connection.getChannel().attr(Connection.HEARTBEAT_SWITCH).set(false);
        }
    }

    /**
     * Bolt's client remoting with {@link #invokeWithCallback} timed on the connection's event loop, and a
     * follower's successful answer to {@code AppendEntries} run where it is read ({@link ReplicationAnswerOnIoThread}).
     */
    private static final class Remoting extends RpcClientRemoting {
        Remoting(RpcClient client) {
            super(new RpcCommandFactory(), client.getAddressParser(), client.getConnectionManager());
        }

        @Override
        public void invokeWithCallback(Connection conn, Object request, InvokeContext invokeContext,
                                       InvokeCallback invokeCallback, int timeoutMillis) throws RemotingException {
            RemotingCommand command = toRemotingCommand(request, conn, invokeContext, timeoutMillis);
            preProcessInvokeContext(invokeContext, command, conn);
            // A connection made for this call is used at once; one made earlier got this at its CONNECT event.
            switchOffHeartbeat(conn);
            InvokeFuture future = createInvokeFuture(conn, command, command.getInvokeContext(),
                    ReplicationAnswerOnIoThread.wrap(invokeCallback));
            int remaining = remainingMillis(command, timeoutMillis);
            if (remaining <= 0) {
                future.putResponse(getCommandFactory(conn).createTimeoutResponse(conn.getRemoteAddress()));
                future.tryAsyncExecuteInvokeCallbackAbnormally();
                return;
            }
            int id = command.getId();
            conn.addInvokeFuture(future);
            Channel channel = conn.getChannel();
            try {
                EventLoopTimeout timeout = new EventLoopTimeout(() -> {
                    InvokeFuture f = conn.removeInvokeFuture(id);
                    if (f != null) {
                        f.putResponse(getCommandFactory(conn).createTimeoutResponse(conn.getRemoteAddress()));
                        f.tryAsyncExecuteInvokeCallbackAbnormally();
                    }
                });
                timeout.schedule(channel, remaining);
                future.addTimeout(timeout);
                channel.writeAndFlush(command).addListener(written -> {
                    if (!written.isSuccess()) {
                        sendFailed(conn, id, written.cause());
                    }
                });
            } catch (RuntimeException e) {
                sendFailed(conn, id, e);
            }
        }

        private void sendFailed(Connection conn, int id, Throwable cause) {
            InvokeFuture f = conn.removeInvokeFuture(id);
            if (f != null) {
                f.cancelTimeout();
                f.putResponse(getCommandFactory(conn).createSendFailedResponse(conn.getRemoteAddress(), cause));
                f.tryAsyncExecuteInvokeCallbackAbnormally();
            }
            if (cause instanceof java.nio.channels.ClosedChannelException) {
                // The peer's connection closed under the call (it went down, or is restarting): the
                // caller retries, and the peer watch says so once, in one line, for as long as it lasts.
                LOG.debug("Raft RPC to {} could not be sent: {}", conn.getRemoteAddress(), cause.toString());
            } else {
                LOG.warn("Raft RPC to {} could not be sent: {}", conn.getRemoteAddress(), cause.toString());
            }
        }

        /** The call's timeout less the time spent connecting for it, as bolt reckons it. */
        private static int remainingMillis(RemotingCommand command, int timeoutMillis) {
            InvokeContext context = command.getInvokeContext();
            Long connecting = context == null ? null : context.get(InvokeContext.CLIENT_CONN_CREATETIME);
            return connecting == null ? timeoutMillis : (int) (timeoutMillis - connecting);
        }
    }

    /**
     * A call's timeout as bolt's futures expect it ({@link InvokeFuture#addTimeout} takes a Netty
     * {@link Timeout}), scheduled on an event loop. Bolt only ever cancels it.
     */
    static final class EventLoopTimeout implements Timeout, TimerTask {
        private final Runnable onTimeout;
        private volatile ScheduledFuture<?> scheduled;

        EventLoopTimeout(Runnable onTimeout) {
            this.onTimeout = onTimeout;
        }

        void schedule(Channel channel, int millis) {
            scheduled = channel.eventLoop().schedule(() -> onTimeout.run(), millis, TimeUnit.MILLISECONDS);
        }

        @Override
        public void run(Timeout timeout) {
            onTimeout.run();
        }

        @Override
        public Timer timer() {
            throw new UnsupportedOperationException("scheduled on a Netty event loop, not on a Timer");
        }

        @Override
        public TimerTask task() {
            return this;
        }

        @Override
        public boolean isExpired() {
            ScheduledFuture<?> s = scheduled;
            return s != null && s.isDone() && !s.isCancelled();
        }

        @Override
        public boolean isCancelled() {
            ScheduledFuture<?> s = scheduled;
            return s != null && s.isCancelled();
        }

        @Override
        public boolean cancel() {
            ScheduledFuture<?> s = scheduled;
            return s != null && s.cancel(false);
        }
    }
}
