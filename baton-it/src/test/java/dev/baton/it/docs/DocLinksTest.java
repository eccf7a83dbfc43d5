package dev.baton.it.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The documentation stands on its own inside the repository: every relative link in README.md,
 * BENCHMARKS.md and docs/ leads to a file of the repository (and, for a link with a fragment, to a
 * heading of that file), and no page sends the reader to a file outside it.
 */
class DocLinksTest {
    /** An inline link or image: {@code [text](target)} or {@code [text](target "title")}. */
    private static final Pattern LINK = Pattern.compile("!?\\[[^\\]]*\\]\\(([^)\\s]+)(?:\\s+\"[^\"]*\")?\\)");
    private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$");
    private static final Pattern FENCE = Pattern.compile("^\\s*(```|~~~)");

    private final Path root = repositoryRoot();

    @Test
    void everyRelativeLinkResolvesInsideTheRepository() {
        List<String> broken = new ArrayList<>();
        Map<Path, Set<String>> anchorsByFile = new HashMap<>();
        for (Path page : pages()) {
            for (String target : links(page)) {
                if (isExternal(target)) {
                    continue;
                }
                int hash = target.indexOf('#');
                String pathPart = hash < 0 ? target : target.substring(0, hash);
                String fragment = hash < 0 ? null : target.substring(hash + 1);
                Path resolved = pathPart.isEmpty() ? page : page.getParent().resolve(pathPart).normalize();
                String where = root.relativize(page) + ": " + target;
                if (!resolved.startsWith(root)) {
                    broken.add(where + " (outside the repository)");
                } else if (!Files.exists(resolved)) {
                    broken.add(where + " (no such file)");
                } else if (fragment != null && !fragment.isEmpty() && resolved.toString().endsWith(".md")
                        && !anchorsByFile.computeIfAbsent(resolved, DocLinksTest::anchors).contains(fragment)) {
                    broken.add(where + " (no such heading)");
                }
            }
        }
        assertThat(broken).as("links that do not resolve").isEmpty();
    }

    @Test
    void noPagePointsOutsideTheRepository() {
        List<String> found = new ArrayList<>();
        for (Path page : pages()) {
            List<String> lines = read(page);
            for (int i = 0; i < lines.size(); i++) {
                for (String outside : List.of("../shared", "seed-systems.md", "DESIGN.md", "anchors.md",
                        "engine-bakeoff.md", "/work/")) {
                    if (lines.get(i).contains(outside)) {
                        found.add(root.relativize(page) + ":" + (i + 1) + ": " + outside);
                    }
                }
            }
        }
        assertThat(found).as("references to files outside the repository").isEmpty();
    }

    @Test
    void theCheckSeesTheDocsAndTheirLinks() {
        // Guards the test itself: it must find the pages and parse links and headings as GitHub does.
        assertThat(pages()).contains(root.resolve("README.md"), root.resolve("BENCHMARKS.md"),
                root.resolve("docs/design.md"));
        assertThat(links(root.resolve("README.md"))).contains("docs/design.md", "BENCHMARKS.md");
        assertThat(anchors(root.resolve("docs/core.md")))
                .contains("the-contract-devbatoncoresmconcurrentstatemachine", "rules-the-core-keeps", "time");
        assertThat(slug("Side by side (kept, 2 vCPUs): `baton3-line` against poolcounterd, Redis and etcd"))
                .isEqualTo("side-by-side-kept-2-vcpus-baton3-line-against-poolcounterd-redis-and-etcd");
        assertThat(slug("Fences, and how to use [them](lock.md)")).isEqualTo("fences-and-how-to-use-them");
    }

    // ---- reading the pages --------------------------------------------------------------------------

    private List<Path> pages() {
        List<Path> pages = new ArrayList<>();
        for (String top : List.of("README.md", "BENCHMARKS.md")) {
            if (Files.exists(root.resolve(top))) {
                pages.add(root.resolve(top));
            }
        }
        try (Stream<Path> docs = Files.walk(root.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return pages;
    }

    /** The link targets of a page, outside fenced code blocks and inline code. */
    private static List<String> links(Path page) {
        List<String> targets = new ArrayList<>();
        boolean inFence = false;
        for (String line : read(page)) {
            if (FENCE.matcher(line).find()) {
                inFence = !inFence;
                continue;
            }
            if (inFence) {
                continue;
            }
            Matcher m = LINK.matcher(withoutInlineCode(line));
            while (m.find()) {
                String target = m.group(1);
                if (target.startsWith("<") && target.endsWith(">")) {
                    target = target.substring(1, target.length() - 1);
                }
                targets.add(target);
            }
        }
        return targets;
    }

    /** The anchors GitHub gives a page's headings, duplicates numbered as it numbers them. */
    private static Set<String> anchors(Path page) {
        Set<String> anchors = new HashSet<>();
        Map<String, Integer> seen = new HashMap<>();
        boolean inFence = false;
        for (String line : read(page)) {
            if (FENCE.matcher(line).find()) {
                inFence = !inFence;
                continue;
            }
            Matcher m = HEADING.matcher(line);
            if (inFence || !m.matches()) {
                continue;
            }
            String base = slug(m.group(1));
            int n = seen.merge(base, 1, Integer::sum) - 1;
            anchors.add(n == 0 ? base : base + "-" + n);
        }
        return anchors;
    }

    /** GitHub's heading anchor: the rendered text, lower case, punctuation dropped, spaces as hyphens. */
    static String slug(String heading) {
        String text = heading.replaceAll("\\[([^\\]]*)\\]\\([^)]*\\)", "$1").replace("`", "");
        StringBuilder b = new StringBuilder();
        text.toLowerCase(Locale.ROOT).codePoints().forEach(c -> {
            if (Character.isLetterOrDigit(c) || c == '-' || c == '_') {
                b.appendCodePoint(c);
            } else if (c == ' ') {
                b.append('-');
            }
        });
        return b.toString();
    }

    private static String withoutInlineCode(String line) {
        return line.replaceAll("`[^`]*`", "``");
    }

    private static boolean isExternal(String target) {
        return target.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*");
    }

    private static List<String> read(Path page) {
        try {
            return Files.readAllLines(page, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The repository's root: the nearest directory above the working directory with README.md and docs/. */
    private static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("README.md")) && Files.isDirectory(p.resolve("docs"))
                    && Files.exists(p.resolve("pom.xml"))) {
                return p;
            }
        }
        throw new IllegalStateException("no repository root above " + Path.of("").toAbsolutePath());
    }
}
