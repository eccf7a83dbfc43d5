package dev.baton.server.security;

import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLException;

/**
 * Why a call from this node to another one failed in the TLS handshake, in words an operator can
 * act on. gRPC reports such a failure as {@code UNAVAILABLE} with a vague description; the reason is
 * in the causes.
 */
public final class HandshakeFailure {
    private HandshakeFailure() {}

    /** A short explanation of the TLS failure among {@code failure}'s causes, or null if there is none. */
    public static String explain(Throwable failure) {
        boolean tls = false;
        boolean untrusted = false;
        Throwable deepest = null;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            tls |= t instanceof SSLException;
            untrusted |= t instanceof CertificateException || t instanceof CertPathBuilderException;
            deepest = t;
        }
        if (!tls) {
            return null;
        }
        String reason = String.valueOf(deepest.getMessage());
        if (untrusted) {
            return "TLS: the other node's certificate is not trusted (" + reason + ")";
        }
        if (reason.contains("CERTIFICATE_REQUIRED")) {
            return "TLS: the other node wants a client certificate of a CA it accepts, and none was sent";
        }
        if (reason.contains("UNKNOWN_CA") || reason.contains("BAD_CERTIFICATE") || reason.contains("CERTIFICATE_UNKNOWN")) {
            return "TLS: the other node refused this node's certificate (" + reason + ")";
        }
        if (reason.startsWith("not an SSL/TLS record")) {
            return "TLS: the other node does not speak TLS on this port";
        }
        return "TLS: " + reason;
    }
}
