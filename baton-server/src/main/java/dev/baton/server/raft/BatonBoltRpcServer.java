package dev.baton.server.raft;

import com.alipay.remoting.AsyncContext;
import com.alipay.remoting.BizContext;
import com.alipay.remoting.rpc.protocol.AsyncUserProcessor;
import com.alipay.sofa.jraft.rpc.Connection;
import com.alipay.sofa.jraft.rpc.RpcContext;
import com.alipay.sofa.jraft.rpc.RpcProcessor;
import com.alipay.sofa.jraft.rpc.RpcRequests.AppendEntriesRequest;
import com.alipay.sofa.jraft.rpc.impl.BoltRpcServer;

/**
 * SOFAJRaft's bolt server, with Raft's replication requests (AppendEntries: entries, heartbeats and
 * probes) handled on the connection's own I/O thread instead of being handed to another thread.
 *
 * <p>Why: on the small VMs Baton runs on, every hand-over between threads costs some 30-200 µs of
 * CPU (the woken thread's scheduling, its cold caches), and a replicated entry already crosses some
 * twenty of them on three nodes. SOFAJRaft hands every AppendEntries request from bolt's I/O thread to
 * a thread of its own per leader ({@code AppendEntriesThread}), which only keeps the requests of one
 * leader in order and off the I/O thread. The I/O thread of one connection already keeps them in order,
 * and Baton runs one Raft group per process, so nothing else waits behind them on that thread. Handled
 * there, an entry is one wake-up shorter on each follower, and a heartbeat two (its answer is written
 * by the thread that read it, without waking the I/O thread again): about half of an idle cluster's
 * CPU goes to heartbeats.
 *
 * <p>What it does not change: the request is handled by SOFAJRaft's own processor, which still numbers
 * the pipelined requests and answers them in order; an entry's answer is still written after the
 * follower's log write (from the log's thread). The handler only takes the node's lock briefly and
 * queues the entries for the log writer; when the writer's queue is full it waits, and the reading of
 * that connection waits with it (back-pressure on the leader, as a full queue of the old thread was).
 * Every other request (votes, snapshots, membership) goes to SOFAJRaft's executors as before.
 */
final class BatonBoltRpcServer extends BoltRpcServer {
    static final String APPEND_ENTRIES = AppendEntriesRequest.class.getName();

    BatonBoltRpcServer(com.alipay.remoting.rpc.RpcServer server) {
        super(server);
    }

    @Override
    public void registerProcessor(RpcProcessor processor) {
        if (!APPEND_ENTRIES.equals(processor.interest())) {
            super.registerProcessor(processor);
            return;
        }
        getServer().registerUserProcessor(new OnIoThread(processor));
    }

    /** Runs its processor on the I/O thread that read the request. */
    static final class OnIoThread extends AsyncUserProcessor<Object> {
        private final RpcProcessor<Object> processor;

        @SuppressWarnings("unchecked")
        OnIoThread(RpcProcessor<?> processor) {
            this.processor = (RpcProcessor<Object>) processor;
        }

        @Override
        public boolean processInIOThread() {
            return true;
        }

        @Override
        public String interest() {
            return processor.interest();
        }

        @Override
        public void handleRequest(BizContext biz, AsyncContext async, Object request) {
            processor.handleRequest(new Context(biz, async), request);
        }
    }

    private record Context(BizContext biz, AsyncContext async) implements RpcContext {
        @Override
        public void sendResponse(Object response) {
            async.sendResponse(response);
        }

        @Override
        public Connection getConnection() {
            com.alipay.remoting.Connection c = biz.getConnection();
            return c == null ? null : new BoltConnection(c);
        }

        @Override
        public String getRemoteAddress() {
            return biz.getRemoteAddress();
        }
    }

    /** SOFAJRaft's view of a bolt connection: its attributes (the leader's request numbering lives there). */
    private record BoltConnection(com.alipay.remoting.Connection connection) implements Connection {
        @Override
        public Object getAttribute(String key) {
            return connection.getAttribute(key);
        }

        @Override
        public void setAttribute(String key, Object value) {
            connection.setAttribute(key, value);
        }

        @Override
        public Object setAttributeIfAbsent(String key, Object value) {
            return connection.setAttributeIfAbsent(key, value);
        }

        @Override
        public void close() {
            connection.close();
        }
    }
}
