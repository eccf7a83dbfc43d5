package dev.baton.client.internal;

import com.google.protobuf.Message;
import dev.baton.api.v1.CallReply;
import dev.baton.api.v1.CallRequest;
import io.grpc.MethodDescriptor;

/** For fake nodes in tests: how a call travels on the call stream. */
public final class CallStreamForms {
    private CallStreamForms() {}

    /** The unary method a streamed request stands for. */
    public static MethodDescriptor<?, ?> method(CallRequest request) {
        return CallStreamMethods.of(request).method();
    }

    /** The unary request inside a streamed request. */
    public static Message request(CallRequest request) {
        return (Message) CallStreamMethods.of(request).request().apply(request);
    }

    /** A streamed reply carrying a unary reply. */
    public static CallReply.Builder reply(Message reply) {
        return CallStreamMethods.reply(reply);
    }
}
