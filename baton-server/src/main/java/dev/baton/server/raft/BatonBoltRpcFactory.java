package dev.baton.server.raft;

import com.alipay.remoting.ExtendedNettyChannelHandler;
import com.alipay.remoting.Protocol;
import com.alipay.remoting.ProtocolCode;
import com.alipay.remoting.ProtocolManager;
import com.alipay.remoting.config.BoltGenericOption;
import com.alipay.remoting.rpc.RpcConfigs;
import com.alipay.remoting.rpc.protocol.RpcCommandCode;
import com.alipay.remoting.rpc.protocol.RpcProtocol;
import com.alipay.remoting.rpc.protocol.RpcProtocolV2;
import com.alipay.remoting.rpc.protocol.RpcResponseProcessor;
import com.alipay.sofa.jraft.option.RpcOptions;
import com.alipay.sofa.jraft.rpc.RpcClient;
import com.alipay.sofa.jraft.rpc.impl.BoltRaftRpcFactory;
import com.alipay.sofa.jraft.rpc.impl.BoltRpcClient;
import com.alipay.sofa.jraft.util.SPI;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * SOFAJRaft's bolt transport, with {@link PeerTls} on the RPC client of the nodes that use it.
 *
 * <p>Why a factory: SOFAJRaft builds each node's RPC client itself (all Raft traffic: entries, votes,
 * snapshots) and offers no way to hand it one; it does ask the factory for a configuration step,
 * passing the node's own options object. So {@link BatonNode} registers its TLS handlers under its
 * {@code NodeOptions} before it starts, and this factory puts them on that node's client; a node that
 * registered nothing gets bolt's plain client, as before. Found by SOFAJRaft's service loader (the
 * higher priority wins over its own bolt factory; {@code META-INF/services}).
 *
 * <p>It also takes one thread hand-over out of every answer a node receives over bolt (see
 * {@link #answerOnIoThread()}); {@link BatonBoltRpcServer} takes the hand-overs out of the requests that
 * replicate the log; and its clients time their calls without bolt's 10 ms timer wheel
 * ({@link EventLoopTimeoutRpcClient}) and run a follower's successful answer to {@code AppendEntries}
 * where it is read ({@link ReplicationAnswerOnIoThread}).
 */
@SPI(priority = 100)
public class BatonBoltRpcFactory extends BoltRaftRpcFactory {
    static {
        answerOnIoThread();
    }

    private static final Map<RpcOptions, ExtendedNettyChannelHandler> CLIENT_HANDLERS =
            Collections.synchronizedMap(new IdentityHashMap<>());

    /** Puts {@code handlers} on the RPC client of the node started with {@code options}. */
    static void register(RpcOptions options, ExtendedNettyChannelHandler handlers) {
        CLIENT_HANDLERS.put(options, handlers);
    }

    static void unregister(RpcOptions options) {
        CLIENT_HANDLERS.remove(options);
    }

    /** Bolt's client with its calls timed on their connections' event loops ({@link EventLoopTimeoutRpcClient}). */
    @Override
    public RpcClient createRpcClient(ConfigHelper<RpcClient> helper) {
        RpcClient client = new BoltRpcClient(new EventLoopTimeoutRpcClient());
        if (helper != null) {
            helper.config(client);
        }
        return client;
    }

    @Override
    public ConfigHelper<RpcClient> defaultJRaftClientConfigHelper(RpcOptions options) {
        ExtendedNettyChannelHandler handlers = CLIENT_HANDLERS.get(options);
        if (handlers == null) {
            return super.defaultJRaftClientConfigHelper(options);
        }
        return client -> ((BoltRpcClient) client).getRpcClient()
                .option(BoltGenericOption.EXTENDED_NETTY_CHANNEL_HANDLER, handlers);
    }

    /**
     * Bolt hands every answer it reads to a shared pool ({@code Bolt-default-executor}), whose thread
     * only finds the waiting call and hands the answer on again, to the executor the caller named (for
     * Raft's answers SOFAJRaft always names one: per follower, in order). This registers bolt's own
     * answer processor again, with an executor that runs it on the I/O thread that read the answer:
     * one hand-over less per answer, the caller's executor unchanged. An answer to a caller that named
     * no executor would then run its callback on the I/O thread; SOFAJRaft names one for every call it
     * makes and Baton makes none of its own over bolt. Bolt's protocols are JVM-wide, so this is done
     * once, when SOFAJRaft loads this factory (before any node starts). It also keeps the messages
     * bolt decodes from one read on the I/O thread instead of handing the whole batch to that pool
     * first, which SOFAJRaft itself asks for as soon as a follower receives pipelined entries (its
     * {@code ensurePipeline}).
     */
    static void answerOnIoThread() {
        if (System.getProperty(RpcConfigs.DISPATCH_MSG_LIST_IN_DEFAULT_EXECUTOR) == null) {
            System.setProperty(RpcConfigs.DISPATCH_MSG_LIST_IN_DEFAULT_EXECUTOR, "false");
        }
        try {
            // bolt registers its protocols when its remoting class is first used
            Class.forName("com.alipay.remoting.rpc.RpcRemoting", true, BatonBoltRpcFactory.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("bolt is not on the class path", e);
        }
        for (ProtocolCode code : List.of(ProtocolCode.fromBytes(RpcProtocol.PROTOCOL_CODE),
                ProtocolCode.fromBytes(RpcProtocolV2.PROTOCOL_CODE))) {
            Protocol protocol = ProtocolManager.getProtocol(code);
            if (protocol != null) {
                protocol.getCommandHandler().registerProcessor(RpcCommandCode.RPC_RESPONSE,
                        new RpcResponseProcessor(CallerRuns.INSTANCE));
            }
        }
    }

    /** Runs each task at once on the thread that hands it over. */
    static final class CallerRuns extends AbstractExecutorService {
        static final CallerRuns INSTANCE = new CallerRuns();

        @Override
        public void execute(Runnable task) {
            task.run();
        }

        @Override
        public void shutdown() {
        }

        @Override
        public List<Runnable> shutdownNow() {
            return List.of();
        }

        @Override
        public boolean isShutdown() {
            return false;
        }

        @Override
        public boolean isTerminated() {
            return false;
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) {
            return false;
        }
    }
}
