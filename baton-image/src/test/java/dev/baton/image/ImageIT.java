package dev.baton.image;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.server.ServerCommand;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The image Jib wrote to target/baton-image.tar (docker-save format: manifest.json, the config, one
 * tar.gz per layer): its configuration, its layers, and the image run without a container engine
 * (its layers unpacked in order into a directory, its entrypoint started there with chroot, as its
 * user, with its environment), plus the compose file next to it.
 */
class ImageIT {
    private static final String VERSION = System.getProperty("baton.image.version");
    private static final boolean FROM_SCRATCH = "scratch".equals(System.getProperty("baton.image.base", "scratch"));

    @TempDir
    static Path tmp;
    private static JsonObject config;
    private static List<Path> layers;

    @BeforeAll
    static void openTheTarball() throws Exception {
        Path tar = Path.of(System.getProperty("baton.image.tar"));
        assertThat(tar).exists();
        Path image = Files.createDirectories(tmp.resolve("image"));
        run("tar", "-xf", tar.toString(), "-C", image.toString());
        JsonArray manifest = JsonParser.parseString(Files.readString(image.resolve("manifest.json"))).getAsJsonArray();
        assertThat(manifest).hasSize(1);
        JsonObject entry = manifest.get(0).getAsJsonObject();
        assertThat(strings(entry.getAsJsonArray("RepoTags"))).containsExactly("baton:" + VERSION);
        config = JsonParser.parseString(Files.readString(image.resolve(entry.get("Config").getAsString())))
                .getAsJsonObject();
        layers = new ArrayList<>();
        for (String layer : strings(entry.getAsJsonArray("Layers"))) {
            layers.add(image.resolve(layer));
        }
    }

    @Test
    void theConfigurationRunsTheNodeAsANonRootUserWithItsDataInAVolume() {
        JsonObject c = config.getAsJsonObject("config");
        assertThat(config.get("os").getAsString()).isEqualTo("linux");
        assertThat(c.get("User").getAsString()).isEqualTo("10001:0");
        assertThat(c.getAsJsonObject("Volumes").keySet()).containsExactly("/var/lib/baton");
        assertThat(c.get("WorkingDir").getAsString()).isEqualTo("/var/lib/baton");
        assertThat(c.getAsJsonObject("ExposedPorts").keySet())
                .containsExactlyInAnyOrder("7530/tcp", "7531/tcp", "7532/tcp", "7533/tcp");
        assertThat(strings(c.getAsJsonArray("Entrypoint"))).containsExactly("java", "-XX:MaxRAMPercentage=75",
                "-XX:+ExitOnOutOfMemoryError", "-cp", "@/app/jib-classpath-file", "dev.baton.server.ServerCommand",
                "--options-from-env");
        assertThat(env()).containsEntry("BATON_DATA_DIR", "/var/lib/baton/data")
                .hasEntrySatisfying("PATH", p -> assertThat(p).startsWith("/opt/java/openjdk/bin:"));
        assertThat(c.getAsJsonObject("Labels").get("org.opencontainers.image.version").getAsString())
                .isEqualTo(VERSION);
        assertThat(serverVariables()).containsAll(env().keySet().stream()
                .filter(k -> k.startsWith("BATON_")).toList());
    }

    @Test
    void theLayersHoldTheJarsAndFromScratchTheRuntimeAndTheUser() throws Exception {
        Map<String, String> modes = new HashMap<>();
        for (Path layer : layers) {
            for (String line : run("tar", "--warning=no-unknown-keyword", "-tvzf", layer.toString()).split("\n")) {
                String[] f = line.trim().split("\\s+");
                modes.put(f[f.length - 1].replaceFirst("/$", ""), f[0] + " " + f[1]);
            }
        }
        assertThat(modes).containsKeys("app/jib-classpath-file", "app/libs/baton-server-" + VERSION + ".jar",
                "app/libs/baton-cli-" + VERSION + ".jar");
        assertThat(modes.keySet()).anyMatch(p -> p.matches("app/libs/rocksdbjni-.*\\.jar"));
        if (!FROM_SCRATCH) {
            return;
        }
        assertThat(modes.get("opt/java/openjdk/bin/java")).startsWith("-rwxr-xr-x");
        assertThat(modes.get("lib64/ld-linux-x86-64.so.2") != null
                || modes.keySet().stream().anyMatch(p -> p.startsWith("lib/ld-linux"))).isTrue();
        assertThat(modes.keySet()).anyMatch(p -> p.endsWith("/libstdc++.so.6"))
                .anyMatch(p -> p.endsWith("/libc.so.6"));
        assertThat(modes.get("tmp")).startsWith("drwxrwxrwx");
        // The volume's directory, root's: the node's group (0) may write it, other users not even read it.
        assertThat(modes.get("var/lib/baton")).isEqualTo("drwxrwx--- 0/0");
        assertThat(modes.keySet()).noneMatch(p -> p.startsWith("opt/java/openjdk/include")
                || p.startsWith("opt/java/openjdk/man"));
        Path root = unpacked();
        assertThat(Files.readAllLines(root.resolve("etc/passwd"))).contains(
                "baton:x:10001:0:Baton:/var/lib/baton:/sbin/nologin");
        assertThat(Files.readAllLines(root.resolve("etc/group"))).contains("baton:x:10001:");
        assertThat(Files.readString(root.resolve("app/jib-classpath-file"))).contains("/app/libs/baton-server-");
    }

    /**
     * The evidence that the image works: its layers unpacked into a directory and its entrypoint
     * started there as a container engine would (own mount and process namespaces, /proc and /dev,
     * chroot, the image's user and environment, a directory of this machine as the volume),
     * configured by BATON_* variables. The chroot shares this machine's network: the node listens
     * on 127.0.0.1, where a node needs neither TLS nor --insecure.
     */
    @Test
    void theImageRunsANodeConfiguredByItsEnvironmentAndStopsOnSigterm() throws Exception {
        assumeTrue(FROM_SCRATCH, "the image is FROM " + System.getProperty("baton.image.base")
                + ": its base's layers are not in the tarball, so it is not run here");
        assumeTrue(run("id", "-u").trim().equals("0"), "not root: cannot chroot into the image to run it");
        for (String tool : List.of("unshare", "chroot", "mount")) {
            assumeTrue(onPath(tool), tool + " is missing: cannot run the image");
        }
        // Inside a container without CAP_SYS_ADMIN even root cannot make namespaces.
        assumeTrue(succeeds("unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"),
                "unshare --mount --pid is not permitted here: cannot run the image");
        Path root = unpacked();
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev"));
        // A new named volume starts as a copy of the image's directory, owner (root, this test's
        // user) and mode included.
        Path volume = Files.createDirectories(tmp.resolve("volume"));
        Files.setPosixFilePermissions(volume, PosixFilePermissions.fromString("rwxrwx---"));

        int[] ports = freePorts(4);
        Map<String, String> env = new LinkedHashMap<>(env());
        env.put("BATON_NODE_ID", "img1");
        env.put("BATON_HOST", "127.0.0.1");
        env.put("BATON_API_PORT", Integer.toString(ports[0]));
        env.put("BATON_LINE_PORT", Integer.toString(ports[1]));
        env.put("BATON_HTTP_PORT", Integer.toString(ports[2]));
        env.put("BATON_RAFT_PORT", Integer.toString(ports[3]));
        // Small: the test shares a loaded machine (the image's MaxRAMPercentage would take 75% of it).
        env.put("JAVA_TOOL_OPTIONS", "-Xmx256m");

        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--pid", "--fork", "--kill-child",
                "--mount-proc=" + root.resolve("proc"), "sh", "-c",
                "mount --rbind /dev \"$0/dev\" && mount --bind \"$1\" \"$0/var/lib/baton\" && shift"
                        + " && exec chroot --userspec=10001:0 \"$0\" \"$@\"",
                root.toString(), volume.toString()));
        command.addAll(strings(config.getAsJsonObject("config").getAsJsonArray("Entrypoint")));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("node.log").toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process container = pb.start();
        try {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            URI ready = URI.create("http://127.0.0.1:" + ports[2] + "/health/ready");
            Instant deadline = Instant.now().plusSeconds(120);
            int status = 0;
            while (status != 200 && container.isAlive() && Instant.now().isBefore(deadline)) {
                try {
                    status = http.send(HttpRequest.newBuilder(ready).timeout(Duration.ofSeconds(5)).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (IOException refusedWhileStarting) {
                    status = 0;
                }
                if (status != 200) {
                    container.waitFor(250, TimeUnit.MILLISECONDS);
                }
            }
            assertThat(status).as("/health/ready of the node in the image; its output:\n%s", log()).isEqualTo(200);
            // The node writes its data into the volume, as the image's user.
            Path data = volume.resolve("data");
            assertThat(data).isDirectory();
            assertThat(Files.getAttribute(data, "unix:uid")).isEqualTo(10001);

            ProcessHandle java = container.toHandle().descendants()
                    .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
                    .findFirst().orElseThrow(() -> new AssertionError("no java process under " + command));
            java.destroy(); // SIGTERM, as `docker stop` sends
            assertThat(container.waitFor(60, TimeUnit.SECONDS)).as("the node exits on SIGTERM; its output:\n%s", log())
                    .isTrue();
            assertThat(log()).contains("baton server: node img1 stopped");
        } finally {
            container.destroyForcibly(); // --kill-child: the node goes with it
            container.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void theComposeFileStartsThreeNodesOfThisImageWithRealOptions() throws Exception {
        Map<String, Object> compose;
        try (InputStream in = Files.newInputStream(Path.of(System.getProperty("baton.compose.file")))) {
            compose = new Yaml().load(in);
        }
        Map<String, Map<String, Object>> services = map(compose.get("services"));
        assertThat(services).hasSize(3);
        Set<String> volumes = new TreeSet<>();
        Set<String> ids = new TreeSet<>();
        Set<String> peers = new TreeSet<>();
        for (Map.Entry<String, Map<String, Object>> s : services.entrySet()) {
            Map<String, Object> service = s.getValue();
            assertThat(service.get("image")).as(s.getKey()).isEqualTo("baton:" + VERSION);
            Map<String, Object> env = map(service.get("environment"));
            assertThat(serverVariables()).as("every BATON_ variable of %s is an option's", s.getKey())
                    .containsAll(env.keySet().stream().filter(k -> k.startsWith("BATON_")).toList());
            ids.add(String.valueOf(env.get("BATON_NODE_ID")));
            peers.add(String.valueOf(env.get("BATON_PEERS")));
            assertThat(String.valueOf(env.get("BATON_CLUSTER_SECRET_FILE"))).startsWith("/run/secrets/");
            List<String> mounts = list(service.get("volumes"));
            assertThat(mounts).hasSize(1).allMatch(v -> v.endsWith(":/var/lib/baton"));
            volumes.add(mounts.get(0).substring(0, mounts.get(0).indexOf(':')));
            assertThat(list(service.get("ports"))).isNotEmpty().allMatch(p -> p.startsWith("127.0.0.1:"));
        }
        assertThat(volumes).as("each node its own volume").hasSize(3);
        assertThat(map(compose.get("volumes")).keySet()).containsAll(volumes);
        assertThat(peers).as("one cluster").hasSize(1);
        for (String id : ids) {
            assertThat(peers.iterator().next()).contains(id + "=" + id + ":7533");
        }
        assertThat(map(compose.get("secrets"))).containsKey("cluster-secret");
    }

    /** The BATON_ variable of every option of {@code baton server} (the rule of --options-from-env). */
    private static Set<String> serverVariables() {
        return new CommandLine(new ServerCommand()).getCommandSpec().options().stream()
                .map(o -> "BATON_" + o.longestName().replaceFirst("^-+", "").replace('-', '_')
                        .toUpperCase(Locale.ROOT))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static Path unpackedRoot;

    /** The image's file system: its layers unpacked in order (as root: owners and modes kept). */
    private static synchronized Path unpacked() throws Exception {
        if (unpackedRoot == null) {
            Path root = Files.createDirectories(tmp.resolve("rootfs"));
            for (Path layer : layers) {
                run("tar", "--warning=no-unknown-keyword", "-xzpf", layer.toString(), "-C", root.toString());
            }
            unpackedRoot = root;
        }
        return unpackedRoot;
    }

    private static Map<String, String> env() {
        Map<String, String> env = new LinkedHashMap<>();
        for (String e : strings(config.getAsJsonObject("config").getAsJsonArray("Env"))) {
            int eq = e.indexOf('=');
            env.put(e.substring(0, eq), e.substring(eq + 1));
        }
        return env;
    }

    private static String log() throws IOException {
        Path log = tmp.resolve("node.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    private static int[] freePorts(int n) throws IOException {
        ServerSocket[] sockets = new ServerSocket[n];
        int[] ports = new int[n];
        try {
            for (int i = 0; i < n; i++) {
                sockets[i] = new ServerSocket(0); // all open at once: distinct
                ports[i] = sockets[i].getLocalPort();
            }
        } finally {
            for (ServerSocket s : sockets) {
                if (s != null) {
                    s.close();
                }
            }
        }
        return ports;
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
    }

    private static boolean succeeds(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("%s: %s", String.join(" ", command), out).isZero();
        return out;
    }

    private static List<String> strings(JsonArray array) {
        List<String> out = new ArrayList<>();
        for (JsonElement e : array) {
            out.add(e.getAsString());
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static <V> Map<String, V> map(Object o) {
        assertThat(o).isInstanceOf(Map.class);
        return (Map<String, V>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<String> list(Object o) {
        assertThat(o).isInstanceOf(List.class);
        return (List<String>) o;
    }
}
