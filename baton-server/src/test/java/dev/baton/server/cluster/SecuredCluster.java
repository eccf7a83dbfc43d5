package dev.baton.server.cluster;

import dev.baton.client.BatonClient;
import dev.baton.server.TlsFiles;
import dev.baton.server.security.AuthTokens;
import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What a secured {@link ProcessCluster} runs with (docs/security.md): TLS on the API port with a
 * certificate of an API CA (clients verify it; the members verify each other's when they forward,
 * {@code --tls-ca-file}), mutual TLS on the Raft port with a separate members-only CA, and a token
 * file holding an admin token ({@code client,admin}) and a client token ({@code client}).
 *
 * <p>Each node reads its own copies of the certificate files ({@code <id>-api.pem}, ...), made when
 * it first starts, so a test can rotate one node's files in place, or give a node another CA's
 * certificate before it starts.
 */
final class SecuredCluster {
    private final Path dir;
    private final TlsFiles files;
    private final TlsFiles.Ca apiCa;
    private final TlsFiles.Ca peerCa;
    private final TlsFiles.Leaf apiLeaf;
    private final TlsFiles.Leaf peerLeaf;
    private final Path apiCaFile;
    private final Path tokenFile;
    private final String adminToken = AuthTokens.newToken();
    private final String clientToken = AuthTokens.newToken();
    private List<String> extraTokenLines = List.of();

    private SecuredCluster(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.files = new TlsFiles(dir.resolve("made"));
        this.apiCa = files.ca("api-ca");
        this.peerCa = files.ca("members-ca");
        this.apiLeaf = files.node(apiCa, "baton-node");
        this.peerLeaf = files.node(peerCa, "baton-member");
        this.apiCaFile = dir.resolve("api-cas.pem");
        replace(apiCaFile, Files.readString(apiCa.cert(), StandardCharsets.US_ASCII));
        this.tokenFile = dir.resolve("tokens");
        writeTokenFile();
    }

    /** New CAs, certificates and tokens in {@code dir}; skips the calling test if {@code openssl} is missing. */
    static SecuredCluster create(Path dir) throws IOException {
        return new SecuredCluster(dir);
    }

    /** The security options of node {@code id}'s {@code baton server}, its certificate files made if new. */
    List<String> serverArgs(String id) throws IOException {
        if (!Files.exists(apiKey(id))) {
            install(apiLeaf, apiCert(id), apiKey(id));
        }
        if (!Files.exists(peerKey(id))) {
            install(peerLeaf, peerCert(id), peerKey(id));
        }
        return List.of("--tls-cert-file", apiCert(id).toString(), "--tls-key-file", apiKey(id).toString(),
                "--tls-ca-file", apiCaFile.toString(),
                "--peer-tls-cert-file", peerCert(id).toString(), "--peer-tls-key-file", peerKey(id).toString(),
                "--peer-tls-ca-file", peerCa.cert().toString(),
                "--auth-token-file", tokenFile.toString());
    }

    /** Makes {@code leaf} node {@code id}'s API certificate and key (a rotation while it runs), key first. */
    void useApiCertificate(String id, TlsFiles.Leaf leaf) throws IOException {
        install(leaf, apiCert(id), apiKey(id));
    }

    /** Makes {@code leaf} node {@code id}'s Raft certificate and key (before it starts). */
    void usePeerCertificate(String id, TlsFiles.Leaf leaf) throws IOException {
        install(leaf, peerCert(id), peerKey(id));
    }

    /** Replaces the members' API CA file (every node's {@code --tls-ca-file}) by these CAs. */
    void useApiCas(TlsFiles.Ca... cas) throws IOException {
        StringBuilder pem = new StringBuilder();
        for (TlsFiles.Ca ca : cas) {
            pem.append(Files.readString(ca.cert(), StandardCharsets.US_ASCII));
        }
        replace(apiCaFile, pem.toString());
    }

    /** Rewrites the token file: the admin and client tokens, then {@code lines} (token file lines). */
    synchronized void useExtraTokenLines(List<String> lines) throws IOException {
        extraTokenLines = List.copyOf(lines);
        writeTokenFile();
    }

    private void writeTokenFile() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(AuthTokens.fileLine(adminToken, "ops", "client,admin"));
        lines.add(AuthTokens.fileLine(clientToken, "app", "client"));
        lines.addAll(extraTokenLines);
        replace(tokenFile, String.join("\n", lines) + "\n");
    }

    /** Key first, then certificate, each by a rename: how docs/security.md says to rotate. */
    private static void install(TlsFiles.Leaf leaf, Path cert, Path key) throws IOException {
        replace(key, Files.readString(leaf.key(), StandardCharsets.US_ASCII));
        replace(cert, Files.readString(leaf.cert(), StandardCharsets.US_ASCII));
    }

    /** Writes {@code target} by a rename, so a reload never reads half a file. */
    private static void replace(Path target, String text) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".new");
        Files.writeString(tmp, text, StandardCharsets.US_ASCII);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    Path apiCert(String id) {
        return dir.resolve(id + "-api.pem");
    }

    Path apiKey(String id) {
        return dir.resolve(id + "-api.key");
    }

    Path peerCert(String id) {
        return dir.resolve(id + "-peer.pem");
    }

    Path peerKey(String id) {
        return dir.resolve(id + "-peer.key");
    }

    /** Makes more certificates (e.g. of another CA) in this cluster's directory. */
    TlsFiles files() {
        return files;
    }

    TlsFiles.Ca apiCa() {
        return apiCa;
    }

    TlsFiles.Ca peerCa() {
        return peerCa;
    }

    /** The API certificate and key every node starts with. */
    TlsFiles.Leaf apiLeaf() {
        return apiLeaf;
    }

    /** A certificate and key of the members' Raft CA (what every member presents). */
    TlsFiles.Leaf peerLeaf() {
        return peerLeaf;
    }

    /** A token with the roles {@code client} and {@code admin}. */
    String adminToken() {
        return adminToken;
    }

    /** A token with the role {@code client} only. */
    String clientToken() {
        return clientToken;
    }

    /** TLS trusting the API CA, no client certificate: how the test's own channels connect. */
    ChannelCredentials channelCredentials() {
        try {
            return TlsChannelCredentials.newBuilder().trustManager(apiCa.cert().toFile()).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A client of {@code endpoints} that trusts the API CA and carries {@code token}. */
    BatonClient.Builder client(List<String> endpoints, String token) {
        return BatonClient.builder().endpoints(endpoints).tls(apiCa.cert()).authToken(token);
    }
}
