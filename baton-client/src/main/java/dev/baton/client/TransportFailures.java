package dev.baton.client;

import io.grpc.Status;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * Explains a call's transport failure where gRPC's own status says little: a TLS handshake that
 * failed (gRPC: {@code UNAVAILABLE: io exception} or {@code ssl exception}, the reason deep in its
 * causes), or a plaintext connection that a TLS-only port closed at once (gRPC: {@code UNAVAILABLE:
 * Network closed for unknown reason}, no cause at all). The client adds it to its
 * {@link BatonUnavailableException}s; the {@code baton} command line to what it prints.
 */
public final class TransportFailures {
    /**
     * What gRPC reports when the server closed the connection before any HTTP/2 frame: over Netty
     * (this client's transport), and over OkHttp (the {@code baton} command's).
     */
    private static final List<String> CLOSED_AT_ONCE = List.of("Network closed for unknown reason",
            "End of stream or IOException");

    private static final String TLS_ONLY =
            "the node closed the connection at once: is its API port TLS-only? A plaintext client cannot use it";

    private TransportFailures() {}

    /**
     * A short explanation of {@code status}, or null if it is not such a failure.
     *
     * @param plaintext whether the failed call was made without TLS
     */
    public static String explain(Status status, boolean plaintext) {
        SSLException ssl = null;
        Throwable root = null;
        boolean untrusted = false;
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (ssl == null && t instanceof SSLException s) {
                ssl = s;
            }
            if (t instanceof CertificateException || t instanceof CertPathBuilderException) {
                untrusted = true;
            }
            root = t;
        }
        if (ssl != null) {
            String why = String.valueOf(root.getMessage());
            if (untrusted) {
                return "TLS: the node's certificate is not trusted (" + why + "): is it signed by a CA of the given"
                        + " CA file, and does it name the address connected to?";
            }
            String upper = why.toUpperCase(java.util.Locale.ROOT); // BoringSSL's names, or the JDK's alerts
            if (upper.contains("CERTIFICATE_REQUIRED")) {
                // Also when the client has one, but of a CA the node does not name as accepted: then
                // the TLS library sends none.
                return "TLS: the node requires a client certificate of a CA it accepts, and none was sent";
            }
            if (upper.contains("UNKNOWN_CA") || upper.contains("BAD_CERTIFICATE") || upper.contains("CERTIFICATE_UNKNOWN")) {
                return "TLS: the node refused the client certificate (" + why + ")";
            }
            if (why.startsWith("not an SSL/TLS record") || why.startsWith("Unsupported or unrecognized SSL message")) {
                return "TLS: the node does not speak TLS on this port";
            }
            return "TLS: " + why;
        }
        if (plaintext && status.getCode() == Status.Code.UNAVAILABLE && status.getDescription() != null
                && CLOSED_AT_ONCE.contains(status.getDescription())) {
            return TLS_ONLY;
        }
        return null;
    }

    /**
     * The explanation of a plaintext call that a node ended at once, if {@code message} (a failure's
     * message, which quotes gRPC's status) tells of one, else null: for failures of a client whose
     * channels someone else made, which cannot know whether they were plaintext.
     */
    public static String closedAtOnce(String message) {
        if (message != null && message.contains("UNAVAILABLE")) {
            for (String closed : CLOSED_AT_ONCE) {
                if (message.contains(closed)) {
                    return TLS_ONLY;
                }
            }
        }
        return null;
    }
}
