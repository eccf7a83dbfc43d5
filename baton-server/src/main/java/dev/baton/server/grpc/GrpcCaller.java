package dev.baton.server.grpc;

import dev.baton.server.route.Caller;
import io.grpc.Context;
import io.grpc.Deadline;

import java.util.concurrent.TimeUnit;

/** The caller of the gRPC call being handled, as the routing layer sees callers. */
final class GrpcCaller {
    private GrpcCaller() {}

    /** The current call's: its token's principal ({@link TokenAuth#PRINCIPAL}), deadline and cancellation. */
    static Caller current() {
        Context context = Context.current();
        Deadline deadline = context.getDeadline();
        return new Caller(TokenAuth.PRINCIPAL.get(context), deadline != null,
                deadline == null ? 0 : System.nanoTime() + deadline.timeRemaining(TimeUnit.NANOSECONDS),
                context::isCancelled);
    }
}
