package dev.baton.cli;

import dev.baton.api.v1.AdminGrpc;
import dev.baton.api.v1.StatusRequest;
import dev.baton.api.v1.StatusResponse;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * The run from which {@code bin/baton} records the class-data sharing archive of the client commands
 * ({@code baton archive-training}, not listed in the help): {@code baton status} against a stand-in
 * node in this same process, answered, so that the archive holds the classes of a whole call (the
 * channel, HTTP/2 framing, protobuf, the printing of the answer) rather than only those up to a
 * refused connection. Those were about 260 of the 440 classes a {@code status} still read from the
 * jar. Prints nothing; the exit status is the command's.
 */
final class ArchiveTraining {
    static final String COMMAND = "archive-training";

    private ArchiveTraining() {}

    static int run() throws IOException {
        Server node = OkHttpServerBuilder
                .forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), InsecureServerCredentials.create())
                .addService(new AdminGrpc.AdminImplBase() {
                    @Override
                    public void status(StatusRequest request, StreamObserver<StatusResponse> answer) {
                        answer.onNext(StatusResponse.getDefaultInstance());
                        answer.onCompleted();
                    }
                })
                .build().start();
        PrintStream out = System.out;
        try {
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            return BatonCli.clientCommandLine("status").execute("status", "-e",
                    "127.0.0.1:" + ((InetSocketAddress) node.getListenSockets().get(0)).getPort());
        } finally {
            System.setOut(out);
            node.shutdownNow();
        }
    }
}
