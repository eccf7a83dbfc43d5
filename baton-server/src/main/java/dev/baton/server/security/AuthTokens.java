package dev.baton.server.security;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Who may call the gRPC API port and the HTTP admin API ({@code --auth-token-file}): one caller per line,
 * {@code <sha256-hex-of-token> <name> <roles> [<key-prefixes>]}, roles a comma list of
 * {@code client}, {@code read} and {@code admin} ({@code admin} implies {@code read}); {@code #}
 * starts a comment line, blank lines are ignored. The file holds only hashes, so reading it does
 * not reveal a token.
 *
 * <ul>
 *   <li>{@code <key-prefixes>}, a comma list such as {@code enwiki:,dewiki:}, limits the caller to
 *       pool keys, locks, dispatch groups, events and queues whose names start with one of them
 *       (tenants sharing a cluster). Only a {@code client} caller may be limited: {@code read} and
 *       {@code admin} see every key.</li>
 *   <li>A hash of {@code -} names a caller who has no token and proves itself with a client
 *       certificate instead (mutual TLS, {@code --tls-client-ca-file}): a certificate whose subject's
 *       common name (CN) is {@code <name>}.</li>
 * </ul>
 *
 * <p>The file is read again every reload interval; a changed file that parses replaces the tokens,
 * one that does not is logged once (WARN) and the tokens in use stay.
 */
public final class AuthTokens {
    /** The caller of a request that carries the cluster secret: another member, every role. */
    public static final Principal MEMBER = new Principal("(cluster member)", java.util.EnumSet.allOf(Role.class));
    private static final String BEARER = "bearer ";

    private static final Logger LOG = LoggerFactory.getLogger(AuthTokens.class);
    public static final long DEFAULT_RELOAD_INTERVAL_MS = 10_000;
    /** Random bytes in a token made by {@link #newToken()}. */
    static final int TOKEN_BYTES = 32;
    private static final Pattern HASH = Pattern.compile("[0-9a-fA-F]{64}");
    /** The hash field of a caller who proves itself with a client certificate, not a token. */
    static final String CERTIFICATE_ONLY = "-";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@:+-]{1,128}");

    /** What a token allows. */
    public enum Role {
        /** The client services: sessions, pools, locks, dispatch, events, queues. */
        CLIENT,
        /** The read-only methods of the Admin service (status, dump). */
        READ,
        /** Every Admin method: membership, leadership transfer, snapshots. Implies {@link #READ}. */
        ADMIN;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Who a call's token (or certificate) belongs to, and what it may do.
     *
     * @param keyPrefixes the names it may touch start with one of these; empty: every name
     */
    public record Principal(String name, Set<Role> roles, List<String> keyPrefixes) {
        public Principal {
            Objects.requireNonNull(name, "name");
            roles = Set.copyOf(roles);
            keyPrefixes = List.copyOf(keyPrefixes);
        }

        public Principal(String name, Set<Role> roles) {
            this(name, roles, List.of());
        }

        public boolean has(Role role) {
            return roles.contains(role);
        }

        /** True if this caller may act on the pool, lock, group, event or queue called {@code name}. */
        public boolean mayTouch(String name) {
            if (keyPrefixes.isEmpty()) {
                return true;
            }
            for (String prefix : keyPrefixes) {
                if (name.startsWith(prefix)) {
                    return true;
                }
            }
            return false;
        }

        /** True if some names are out of this caller's reach. */
        public boolean limitedToPrefixes() {
            return !keyPrefixes.isEmpty();
        }
    }

    /** What the file says: callers by token hash, and callers by certificate name. */
    record Callers(Map<String, Principal> byHash, Map<String, Principal> byCertificate) {
        int size() {
            return byHash.size() + byCertificate.size();
        }
    }

    private final Path file;
    private final long reloadIntervalMs;
    private volatile Callers callers;
    // Touched by the reload thread only (and the constructor).
    private String loadedText;
    private String rejectedText;

    private AuthTokens(Path file, long reloadIntervalMs, String text, Callers callers) {
        this.file = file;
        this.reloadIntervalMs = reloadIntervalMs;
        this.loadedText = text;
        this.callers = callers;
    }

    /**
     * Reads {@code file} now (so a bad file stops the start before anything is written).
     *
     * @throws IllegalArgumentException naming the file, and the line, if it cannot be read or a line is malformed
     */
    public static AuthTokens load(Path file, long reloadIntervalMs) {
        Objects.requireNonNull(file, "file");
        if (reloadIntervalMs <= 0) {
            throw new IllegalArgumentException("--auth-reload-interval-ms must be positive, got " + reloadIntervalMs);
        }
        String text = read(file);
        return new AuthTokens(file, reloadIntervalMs, text, parse(text, file));
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the token file " + file + ": " + e, e);
        } catch (RuntimeException e) { // not UTF-8
            throw new IllegalArgumentException("the token file " + file + " is not UTF-8 text: " + e, e);
        }
    }

    /** The callers of a file's text; {@code file} names it in errors. */
    static Callers parse(String text, Path file) {
        Map<String, Principal> byHash = new HashMap<>();
        Map<String, Principal> byCertificate = new HashMap<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = file + " line " + (i + 1) + ": ";
            String[] fields = line.split("\\s+");
            if (fields.length != 3 && fields.length != 4) {
                throw new IllegalArgumentException(where + "want '<sha256-hex-of-token> <name> <roles> [<key-prefixes>]',"
                        + " got " + fields.length + " field(s)");
            }
            boolean certificate = fields[0].equals(CERTIFICATE_ONLY);
            if (!certificate && !HASH.matcher(fields[0]).matches()) {
                throw new IllegalArgumentException(where + "the first field must be the SHA-256 of the token, 64 hex"
                        + " digits (baton token new NAME ROLES prints the line), or '-' for a caller with a client"
                        + " certificate, got " + fields[0].length() + " characters");
            }
            Principal p;
            try {
                p = new Principal(checkName(fields[1]), parseRoles(fields[2]),
                        fields.length == 4 ? parsePrefixes(fields[3]) : List.of());
                checkPrefixesOnlyForClients(p);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + e.getMessage(), e);
            }
            if (certificate) {
                if (byCertificate.put(p.name(), p) != null) {
                    throw new IllegalArgumentException(where + "the certificate name '" + p.name()
                            + "' is already on an earlier line");
                }
            } else if (byHash.put(fields[0].toLowerCase(Locale.ROOT), p) != null) {
                throw new IllegalArgumentException(where + "this token hash is already on an earlier line");
            }
        }
        return new Callers(Map.copyOf(byHash), Map.copyOf(byCertificate));
    }

    /** {@code a:,b:} (each non-empty). */
    static List<String> parsePrefixes(String list) {
        List<String> prefixes = new ArrayList<>();
        for (String prefix : list.split(",", -1)) {
            if (prefix.isEmpty()) {
                throw new IllegalArgumentException("an empty key prefix in '" + list
                        + "' (key prefixes: a comma list such as enwiki:,dewiki:; leave the field out for every key)");
            }
            if (!prefixes.contains(prefix)) {
                prefixes.add(prefix);
            }
        }
        return prefixes;
    }

    private static void checkPrefixesOnlyForClients(Principal p) {
        if (p.limitedToPrefixes() && (p.has(Role.READ) || p.has(Role.ADMIN))) {
            throw new IllegalArgumentException("'" + p.name() + "' is limited to key prefixes, so it may have only the"
                    + " client role: read and admin see every key (status, dumps, listings)");
        }
    }

    static String checkName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a token name is 1 to 128 of A-Z a-z 0-9 . _ @ : + -, got '" + name + "'");
        }
        return name;
    }

    /** {@code client,read,admin} (any of them, in any order); {@code admin} brings {@code read}. */
    static Set<Role> parseRoles(String list) {
        EnumSet<Role> roles = EnumSet.noneOf(Role.class);
        for (String r : list.split(",", -1)) {
            Role role = switch (r.strip().toLowerCase(Locale.ROOT)) {
                case "client" -> Role.CLIENT;
                case "read" -> Role.READ;
                case "admin" -> Role.ADMIN;
                default -> throw new IllegalArgumentException("unknown role '" + r
                        + "' (roles: a comma list of client, read, admin)");
            };
            roles.add(role);
        }
        if (roles.contains(Role.ADMIN)) {
            roles.add(Role.READ);
        }
        return roles;
    }

    /** The holder of {@code token}, or null if no line of the file has its hash. */
    /**
     * Looks {@code token} up again at every {@code get()}, as the file is when it is asked (it may
     * have been reloaded since): for a call stream, whose token was checked when it opened.
     */
    public java.util.function.Supplier<Principal> lookupLater(String token) {
        String hash = sha256Hex(token);
        return () -> callers.byHash().get(hash);
    }

    public Principal lookup(String token) {
        // A map lookup by the hash: tokens are high-entropy, so timing reveals nothing about one.
        return token == null ? null : callers.byHash().get(sha256Hex(token));
    }

    /**
     * The caller whose verified client certificate has the common name {@code name} (a {@code -}
     * line of the file), or null.
     */
    public Principal lookupCertificate(String name) {
        return name == null ? null : callers.byCertificate().get(name);
    }

    /** How many callers (tokens and certificate names) are loaded. */
    public int size() {
        return callers.size();
    }

    public Path file() {
        return file;
    }

    /** Reads the file again every reload interval on {@code executor}. */
    public void startReloading(ScheduledExecutorService executor) {
        executor.scheduleWithFixedDelay(this::reloadNow, reloadIntervalMs, reloadIntervalMs, TimeUnit.MILLISECONDS);
    }

    /** Reads the file; takes its tokens if its text changed and parses. Never throws. */
    public synchronized void reloadNow() {
        String text;
        try {
            text = read(file);
        } catch (IllegalArgumentException e) {
            warnOnce("<unreadable>" + e.getMessage(), e.getMessage());
            return;
        }
        if (text.equals(loadedText)) {
            rejectedText = null;
            return;
        }
        try {
            callers = parse(text, file);
            loadedText = text;
            rejectedText = null;
            LOG.info("token file {} reloaded: {} caller(s)", file, callers.size());
        } catch (IllegalArgumentException e) {
            warnOnce(text, e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("reading the token file {} failed; the tokens in use stay", file, e);
        }
    }

    private void warnOnce(String text, String problem) {
        if (!text.equals(rejectedText)) {
            rejectedText = text;
            LOG.warn("token file not taken, the {} caller(s) in use stay: {}", callers.size(), problem);
        }
    }

    /** A fresh token: {@value #TOKEN_BYTES} random bytes, base64url without padding. */
    public static String newToken() {
        byte[] b = new byte[TOKEN_BYTES];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The line of the token file for {@code token}; checks name and roles. */
    public static String fileLine(String token, String name, String roles) {
        return fileLine(token, name, roles, null);
    }

    /**
     * The line of the token file for {@code token}, limited to {@code keyPrefixes} (a comma list;
     * null or empty: every key); checks name, roles and prefixes.
     */
    public static String fileLine(String token, String name, String roles, String keyPrefixes) {
        List<String> prefixes = keyPrefixes == null || keyPrefixes.isEmpty() ? List.of() : parsePrefixes(keyPrefixes);
        checkPrefixesOnlyForClients(new Principal(checkName(name), parseRoles(roles), prefixes));
        for (String prefix : prefixes) {
            if (prefix.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("a key prefix cannot contain white space: '" + prefix + "'");
            }
        }
        String list = java.util.Arrays.stream(roles.split(",")).map(r -> r.strip().toLowerCase(Locale.ROOT)).distinct()
                .collect(java.util.stream.Collectors.joining(","));
        return sha256Hex(token) + " " + name + " " + list + (prefixes.isEmpty() ? "" : " " + String.join(",", prefixes));
    }

    /** SHA-256 of the token's UTF-8 bytes, lower-case hex. */
    public static String sha256Hex(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    @Override
    public String toString() {
        return "AuthTokens(" + file + ", " + callers.size() + " caller(s))"; // never a hash
    }

    /** The token of an {@code Authorization: Bearer <token>} header value, or null. */
    public static String bearerToken(String authorization) {
        if (authorization == null || authorization.length() <= BEARER.length()
                || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return null;
        }
        String token = authorization.substring(BEARER.length()).strip();
        return token.isEmpty() ? null : token;
    }
}
