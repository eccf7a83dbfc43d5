package dev.baton.server.http;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Optional;

/**
 * The rule every state-changing HTTP request (POST, DELETE) must pass, so that a web page open in
 * an operator's browser cannot use the browser to act on a node (cross-site request forgery):
 *
 * <ol>
 *   <li>it must carry {@code Content-Type: application/json} or an {@value #HEADER} header. A
 *       browser sends neither cross-origin without a CORS preflight, and the node never approves a
 *       preflight (it answers {@code OPTIONS} with 405 and no {@code Access-Control-*} header). An
 *       HTML form or a "simple" {@code fetch} can only send {@code text/plain},
 *       {@code application/x-www-form-urlencoded} or {@code multipart/form-data}.</li>
 *   <li>if it has a {@code Sec-Fetch-Site} header (every current browser sends one), it must be
 *       {@code same-origin} (or {@code none}: typed by the user);</li>
 *   <li>if it has an {@code Origin} header, its host and port must be the request's {@code Host}.</li>
 * </ol>
 *
 * Tools such as curl send no {@code Origin} and no {@code Sec-Fetch-Site}; they only need the
 * header of rule 1.
 */
final class SameOrigin {
    /** The header a script (the dashboard, curl) sends to mark a deliberate write. */
    static final String HEADER = "X-Baton-Request";

    private SameOrigin() {}

    /** Why the write is refused, or empty if it may proceed. Header names are case-insensitive. */
    static Optional<String> refusal(String contentType, String batonHeader, String secFetchSite, String origin,
                                    String host) {
        if (secFetchSite != null) {
            String site = secFetchSite.trim().toLowerCase(Locale.ROOT);
            if (!site.equals("same-origin") && !site.equals("none")) {
                return Optional.of("cross-origin request refused (Sec-Fetch-Site: " + secFetchSite.trim() + ")");
            }
        }
        if (origin != null && !sameHost(origin.trim(), host)) {
            return Optional.of("cross-origin request refused (Origin " + origin.trim() + " is not this node's "
                    + (host == null ? "address" : host.trim()) + ")");
        }
        if (!isJson(contentType) && (batonHeader == null || batonHeader.isBlank())) {
            return Optional.of("a " + "write needs Content-Type: application/json or an " + HEADER
                    + " header (a web page on another site cannot send either)");
        }
        return Optional.empty();
    }

    /** True if the refusal is about the origin (rules 2 and 3), not a missing header. */
    static boolean isCrossOrigin(String reason) {
        return reason.startsWith("cross-origin");
    }

    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        int semi = contentType.indexOf(';');
        String type = (semi < 0 ? contentType : contentType.substring(0, semi)).trim();
        return type.equalsIgnoreCase("application/json");
    }

    /**
     * {@code Origin} (scheme://host[:port]) names the same host and port as {@code Host}
     * (host[:port]). The port a scheme implies may be left out on either side.
     */
    static boolean sameHost(String origin, String host) {
        if (host == null || host.isBlank() || origin.equals("null")) {
            return false;
        }
        URI o;
        URI h;
        try {
            o = new URI(origin);
            h = new URI("http://" + host.trim());
        } catch (URISyntaxException e) {
            return false;
        }
        if (o.getScheme() == null || o.getHost() == null || h.getHost() == null) {
            return false;
        }
        int dflt = o.getScheme().equalsIgnoreCase("https") ? 443 : 80;
        int op = o.getPort() < 0 ? dflt : o.getPort();
        int hp = h.getPort() < 0 ? dflt : h.getPort();
        return op == hp && o.getHost().equalsIgnoreCase(h.getHost());
    }
}
