package dev.baton.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What the shaded {@code baton.jar} carries: native libraries for Linux on x86-64 and aarch64 (glibc)
 * only, and one Netty (gRPC's, bolt's and the doors' alike, no relocated copy). Run by the
 * {@code package} phase right after the jar is made (it is not a {@code *Test}, so
 * the ordinary test run, which comes before the jar, leaves it out).
 */
class BatonJarCheck {
    private static final List<String> NATIVE_SUFFIXES = List.of(".so", ".dll", ".dylib", ".jnilib", ".a");
    /** Names of other systems and processors as the libraries spell them. */
    private static final List<String> OTHER_PLATFORMS = List.of("osx", "mac", "darwin", "win", "musl", "linux32",
            "x86_32", "i386", "ppc", "s390", "riscv", "arm32", "armv7", "kqueue", "freebsd", "openbsd", "sunos", "aix",
            "mips", "loongarch", "sparc");

    /** The jar the package phase made; the run of the test phase, before it exists, skips the checks of it. */
    private static Path jar() {
        String jar = System.getProperty("baton.jar");
        assumeTrue(jar != null, "baton.jar is checked by the package phase");
        return Path.of(jar);
    }

    private static List<String> entries() throws IOException {
        assertThat(jar()).as("the shaded jar, made by this module's package phase").exists();
        List<String> names = new ArrayList<>();
        try (JarFile j = new JarFile(jar().toFile())) {
            j.stream().map(ZipEntry::getName).forEach(names::add);
        }
        return names;
    }

    static boolean forBatonsPlatforms(String nativeLibrary) {
        String n = nativeLibrary.toLowerCase(Locale.ROOT); // the path too: JNA names the platform in its folder
        for (String other : OTHER_PLATFORMS) {
            if (n.contains(other)) {
                return false;
            }
        }
        return n.contains("x86_64") || n.contains("x86-64") || n.contains("amd64") || n.contains("linux64")
                || n.contains("aarch64") || n.contains("aarch_64");
    }

    @Test
    void nativeLibrariesOnlyForLinuxOnX8664AndAarch64() throws IOException {
        List<String> natives = entries().stream()
                .filter(e -> NATIVE_SUFFIXES.stream().anyMatch(s -> e.toLowerCase(Locale.ROOT).endsWith(s))).toList();
        assertThat(natives).as("native libraries in %s", jar()).allMatch(BatonJarCheck::forBatonsPlatforms);
        assertThat(natives).as("RocksDB for both processors")
                .contains("librocksdbjni-linux64.so", "librocksdbjni-linux-aarch64.so");
    }

    @Test
    void oneNetty() throws IOException {
        List<String> entries = entries();
        assertThat(entries).as("Netty").contains("io/netty/channel/Channel.class", "io/grpc/netty/NettyServerBuilder.class");
        assertThat(entries).as("a relocated second Netty (grpc-netty-shaded's, or another library's)")
                .noneMatch(e -> e.startsWith("io/grpc/netty/shaded/") || e.matches(".+/io/netty/.+\\.class"));
    }

    @Test
    void theRuleTellsPlatformsApart() {
        assertThat(forBatonsPlatforms("librocksdbjni-linux64.so")).isTrue();
        assertThat(forBatonsPlatforms("librocksdbjni-linux-aarch64.so")).isTrue();
        assertThat(forBatonsPlatforms("META-INF/native/libnetty_transport_native_epoll_x86_64.so")).isTrue();
        assertThat(forBatonsPlatforms("META-INF/native/libnetty_transport_native_epoll_aarch_64.so")).isTrue();
        assertThat(forBatonsPlatforms("librocksdbjni-linux64-musl.so")).isFalse();
        assertThat(forBatonsPlatforms("librocksdbjni-osx-x86_64.jnilib")).isFalse();
        assertThat(forBatonsPlatforms("librocksdbjni-win64.dll")).isFalse();
        assertThat(forBatonsPlatforms("librocksdbjni-linux32.so")).isFalse();
        assertThat(forBatonsPlatforms("librocksdbjni-linux-ppc64le.so")).isFalse();
        assertThat(forBatonsPlatforms("META-INF/native/libnetty_transport_native_epoll_riscv64.so")).isFalse();
        assertThat(forBatonsPlatforms("META-INF/native/libnetty_transport_native_kqueue_aarch_64.jnilib")).isFalse();
        assertThat(forBatonsPlatforms("com/sun/jna/linux-x86-64/libjnidispatch.so")).isTrue();
        assertThat(forBatonsPlatforms("com/sun/jna/linux-aarch64/libjnidispatch.so")).isTrue();
        assertThat(forBatonsPlatforms("com/sun/jna/linux-x86/libjnidispatch.so")).isFalse();
        assertThat(forBatonsPlatforms("com/sun/jna/freebsd-x86-64/libjnidispatch.so")).isFalse();
        assertThat(forBatonsPlatforms("com/sun/jna/aix-ppc64/libjnidispatch.a")).isFalse();
    }
}
