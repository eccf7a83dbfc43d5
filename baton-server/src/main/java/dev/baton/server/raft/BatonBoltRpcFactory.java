package dev.baton.server.raft;

import com.alipay.remoting.ExtendedNettyChannelHandler;
import com.alipay.remoting.config.BoltGenericOption;
import com.alipay.sofa.jraft.option.RpcOptions;
import com.alipay.sofa.jraft.rpc.RpcClient;
import com.alipay.sofa.jraft.rpc.impl.BoltRaftRpcFactory;
import com.alipay.sofa.jraft.rpc.impl.BoltRpcClient;
import com.alipay.sofa.jraft.util.SPI;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * SOFAJRaft's bolt transport, with {@link PeerTls} on the RPC client of the nodes that use it.
 *
 * <p>Why a factory: SOFAJRaft builds each node's RPC client itself (all Raft traffic: entries, votes,
 * snapshots) and offers no way to hand it one; it does ask the factory for a configuration step,
 * passing the node's own options object. So {@link BatonNode} registers its TLS handlers under its
 * {@code NodeOptions} before it starts, and this factory puts them on that node's client; a node that
 * registered nothing gets bolt's plain client, as before. Found by SOFAJRaft's service loader (the
 * higher priority wins over its own bolt factory; {@code META-INF/services}).
 */
@SPI(priority = 100)
public class BatonBoltRpcFactory extends BoltRaftRpcFactory {
    private static final Map<RpcOptions, ExtendedNettyChannelHandler> CLIENT_HANDLERS =
            Collections.synchronizedMap(new IdentityHashMap<>());

    /** Puts {@code handlers} on the RPC client of the node started with {@code options}. */
    static void register(RpcOptions options, ExtendedNettyChannelHandler handlers) {
        CLIENT_HANDLERS.put(options, handlers);
    }

    static void unregister(RpcOptions options) {
        CLIENT_HANDLERS.remove(options);
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
}
