package dev.baton.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A token for a node that requires one ({@code baton server --auth-token-file}): sent with every call
 * as the metadata {@code authorization: Bearer <token>}. See {@link BatonClient.Builder#authToken(String)}.
 */
public final class BearerToken {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private BearerToken() {}

    /**
     * The token in the first line of {@code file}, surrounding white space trimmed.
     *
     * @throws IllegalArgumentException if the file cannot be read or its first line is blank
     */
    public static String readFile(Path file) {
        Objects.requireNonNull(file, "file");
        String first;
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            int nl = text.indexOf('\n');
            first = (nl < 0 ? text : text.substring(0, nl)).strip();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the token file " + file + ": " + e, e);
        } catch (RuntimeException e) { // not UTF-8
            throw new IllegalArgumentException("the token file " + file + " is not text: " + e, e);
        }
        try {
            return check(first);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the token file " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code token}, if it can travel in a header: printable ASCII without spaces. */
    static String check(String token) {
        Objects.requireNonNull(token, "token");
        if (token.isEmpty()) {
            throw new IllegalArgumentException("the token is empty");
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c <= ' ' || c > '~') {
                throw new IllegalArgumentException("a token is printable ASCII without spaces (baton token new makes"
                        + " one); this one has a character " + (int) c + " at " + i);
            }
        }
        return token;
    }

    /** Adds {@code authorization: Bearer <token>} to every call through it. */
    public static ClientInterceptor interceptor(String token) {
        Metadata m = new Metadata();
        m.put(AUTHORIZATION, "Bearer " + check(token));
        return MetadataUtils.newAttachHeadersInterceptor(m);
    }

    /**
     * Adds {@code authorization: Bearer <token>} with the token {@code tokens} gives at the start of
     * each call, so a rotated token is used from the next call on. A supplier that throws, or gives a
     * token that cannot travel in a header, fails that call (its exception, or an
     * IllegalArgumentException), before anything is sent.
     */
    public static ClientInterceptor interceptor(Supplier<String> tokens) {
        Objects.requireNonNull(tokens, "tokens");
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> responseListener, Metadata headers) {
                        headers.put(AUTHORIZATION, "Bearer " + check(tokens.get()));
                        super.start(responseListener, headers);
                    }
                };
            }
        };
    }
}
