package dev.baton.server.cluster;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.baton.client.BatonClient;
import dev.baton.server.TestWaits;
import dev.baton.server.cluster.ProcessCluster.NodeProc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard in a real browser: Debian's headless Chromium, driven through chromedriver, opens
 * the dashboard of a follower of a running 3-process cluster under a small load (a hot pool key with
 * one holder and two waiters, a dispatch group whose targets are dispatched to while its head moves,
 * a pending event, a gated queue) and must show the leader, the pool with its waiter count and a
 * dispatch lag chart with data; then, with a little pool traffic (a key acquired and released in a
 * loop, acquires that time out) and a fenced lock with a waiter, the panels over time: rates from
 * successive /metrics samples, the hot key's wait and hold p99, the lock with its holder, fence
 * and waiter, and Raft health for every member; then its force-close button must close the holder's
 * session (the browser's own POST passes the node's same-origin rule). A screenshot goes to
 * {@code target/dashboard-3-nodes.png}.
 *
 * <p>{@code ./test} installs the {@code chromium} and {@code chromium-driver} packages when they are
 * missing; this test is skipped, saying so, only if they are still not there.
 */
public class DashboardBrowserTest {
    public static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    public static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private JsonObject json(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(url + ": " + r.body()).isEqualTo(200);
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    @Test
    void dashboardOfAFollowerShowsLeaderPoolWaitersAndALagChart() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "SKIPPED: Debian packages chromium and chromium-driver are not installed (./test installs them;"
                        + " apt-get install chromium chromium-driver)");
        List<BatonClient> clients = new ArrayList<>();
        AtomicBoolean loading = new AtomicBoolean(true);
        Thread feeder = null;
        Thread poolFeeder = null;
        try (ProcessCluster c = new ProcessCluster(tmp, 3).startAll()) {
            NodeProc leader = c.awaitLeader(180_000).orElseThrow(() -> new AssertionError("no leader\n" + c.logs()));
            NodeProc follower = c.nodes().stream().filter(n -> n != leader).findFirst().orElseThrow();
            for (NodeProc n : c.nodes()) {
                c.awaitStatus(n);
            }
            String[] endpoints = c.apiEndpoints().toArray(String[]::new);
            for (int i = 0; i < 7; i++) {
                clients.add(BatonClient.builder().endpoints(endpoints).retryFor(Duration.ofSeconds(60)).build());
            }
            // A hot key: one holder, two waiters (they wait for minutes; the test ends first).
            assertThat(clients.get(0).pools().acquire("page:Main_Page", 1, 10, Duration.ZERO, false).status())
                    .isEqualTo(dev.baton.client.PoolStatus.LOCKED);
            List<CompletableFuture<?>> waits = List.of(
                    clients.get(1).pools().acquireAsync("page:Main_Page", 1, 10, Duration.ofMinutes(5), false),
                    clients.get(2).pools().acquireAsync("page:Main_Page", 1, 10, Duration.ofMinutes(5), true));
            // A pending event and a queue gated on it.
            BatonClient worker = clients.get(3);
            worker.events().begin("robots:example.org");
            for (int i = 0; i < 5; i++) {
                worker.queues().enqueue("fetch", "doc-" + i, new byte[0], i < 2 ? List.of("robots:example.org") : List.of());
            }
            // Dispatch: the head moves and targets are dispatched to one at a time, so lag rises and falls.
            BatonClient dispatcher = clients.get(4);
            Map<String, String> targets = new HashMap<>();
            for (int i = 0; i < 6; i++) {
                targets.put("site" + i, "db" + i);
            }
            dispatcher.dispatch().init("feed", targets);
            feeder = new Thread(() -> {
                long head = 0;
                int next = 0;
                while (loading.get()) {
                    try {
                        head += 7;
                        dispatcher.dispatch().advance("feed", head);
                        String t = "site" + (next++ % 6);
                        var locked = dispatcher.dispatch().lock("feed", t);
                        dispatcher.dispatch().release("feed", t, locked.target().fence(), head - 3);
                        Thread.sleep(250);
                    } catch (InterruptedException e) {
                        return;
                    } catch (RuntimeException e) {
                        if (loading.get()) {
                            System.err.println("[DashboardBrowserTest] feeder: " + e);
                        }
                    }
                }
            }, "dashboard-feeder");
            feeder.start();

            // Every node reports the same replicated pool numbers (the ones of STATS and `baton status`).
            for (NodeProc n : c.nodes()) {
                TestWaits.await("pool totals on " + n.id, () -> {
                    try {
                        JsonObject t = json(n.http() + "/api/pools").getAsJsonObject("totals");
                        return t.get("acquired").getAsLong() == 1 && t.get("waiting").getAsLong() == 2;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
            }
            // The follower has sampled lag at least twice (every 2 s) before the browser looks.
            String base = follower.http();
            TestWaits.await("two lag samples on " + follower.id, () -> {
                try {
                    var groups = json(base + "/api/dispatch-history").getAsJsonArray("groups");
                    return groups.size() == 1 && groups.get(0).getAsJsonObject().getAsJsonArray("times").size() >= 2;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // Now that the totals are checked: pool traffic for the rates and the hot key's
            // percentiles, and a fenced lock with a holder and a waiter.
            BatonClient locker = clients.get(5);
            long lockFence = locker.locks().acquire("deploy", Duration.ZERO).fence();
            CompletableFuture<?> lockWait = clients.get(6).locks().acquireAsync("deploy", Duration.ofMinutes(5));
            poolFeeder = new Thread(() -> {
                while (loading.get()) {
                    try {
                        var granted = locker.pools().acquire("page:Hot", 1, 10, Duration.ofSeconds(10), false);
                        Thread.sleep(20);
                        locker.pools().release(granted);
                        // the hot key is held by another session: this one times out at once
                        locker.pools().acquire("page:Main_Page", 1, 10, Duration.ZERO, false);
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    } catch (RuntimeException e) {
                        if (loading.get()) {
                            System.err.println("[DashboardBrowserTest] pool feeder: " + e);
                        }
                    }
                }
            }, "dashboard-pool-feeder");
            poolFeeder.start();
            String leaderId = json(base + "/api/cluster").get("leaderNodeId").getAsString();
            assertThat(leaderId).isEqualTo(leader.id);

            WebDriver browser = startBrowser();
            try {
                browser.get(base + "/dashboard/");
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(200));
                // The page replaces its rows and charts at every refresh: an element found just before
                // a redraw is stale by the time it is read, and is then looked up again.
                wait.ignoring(StaleElementReferenceException.class);
                wait.until(d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-loaded")));
                // Every read of an element happens inside a wait (which looks again after a redraw), and
                // what is asserted is the values read there, never an element kept past the wait.
                String shownLeader = wait.until(d -> {
                    WebElement e = d.findElement(By.id("leader"));
                    return e.getText().contains(leaderId) ? e.getAttribute("data-leader") : null;
                });
                assertThat(shownLeader).isEqualTo(leader.raft());
                List<String> members = wait.until(d -> List.of(
                        String.valueOf(d.findElements(By.cssSelector("#members tr.member")).size()),
                        d.findElement(By.cssSelector("#members tr.member.leader")).getAttribute("data-node-id")));
                assertThat(members).containsExactly("3", leaderId);
                List<String> pool = wait.until(d -> d.findElements(By.cssSelector("#pools tr.pool")).stream()
                        .filter(e -> "page:Main_Page".equals(e.getAttribute("data-key"))).findFirst()
                        .map(e -> List.of(e.getAttribute("data-waiters"), e.getAttribute("data-holders"), e.getText()))
                        .orElse(null));
                assertThat(pool.get(0)).isEqualTo("2");
                assertThat(pool.get(1)).isEqualTo("1");
                assertThat(pool.get(2)).contains("page:Main_Page");
                String points = wait.until(d -> {
                    WebElement chart = d.findElement(By.cssSelector("#dispatch .lag-chart[data-group='feed']"));
                    String p = chart.getAttribute("data-points");
                    if (p == null || Integer.parseInt(p) <= 0) {
                        return null;
                    }
                    assertThat(chart.findElements(By.cssSelector("svg, canvas"))).isNotEmpty();
                    assertThat(chart.isDisplayed()).isTrue();
                    return p;
                });
                List<String> eventsAndQueues = wait.until(d -> List.of(d.findElement(By.id("events")).getText(),
                        d.findElement(By.id("queues")).getText()));
                assertThat(eventsAndQueues.get(0)).contains("robots:example.org");
                assertThat(eventsAndQueues.get(1)).contains("fetch");

                // Over time: rates from two /metrics samples, percentiles of the hot key.
                long panelsFrom = System.nanoTime();
                WebDriverWait slow = new WebDriverWait(browser, Duration.ofSeconds(90), Duration.ofMillis(250));
                slow.ignoring(StaleElementReferenceException.class);
                for (String series : List.of("acquires", "timeouts", "releases")) {
                    slow.until(d -> positive(d.findElement(By.cssSelector("#rates .spark-box[data-series='" + series
                            + "']")).getAttribute("data-value")));
                }
                slow.until(d -> d.findElements(By.cssSelector("#hot-keys tr.hot-key[data-key='page:Hot']")).stream()
                        .anyMatch(e -> nonNegative(e.getAttribute("data-wait-p99"))
                                && positive(e.getAttribute("data-hold-p99"))));
                List<String> lock = slow.until(d -> d.findElements(By.cssSelector("#locks tr.lock[data-name='deploy']"))
                        .stream().filter(e -> "1".equals(e.getAttribute("data-waiters"))).findFirst()
                        .map(e -> List.of(e.getAttribute("data-holder"), e.getAttribute("data-fence"))).orElse(null));
                assertThat(lock).containsExactly(String.valueOf(locker.sessionId()), String.valueOf(lockFence));
                slow.until(d -> {
                    List<WebElement> rows = d.findElements(By.cssSelector("#raft-nodes tr.raft-node"));
                    return rows.size() == 3 && rows.stream().allMatch(r -> positive(r.getAttribute("data-commit"))
                            && positive(r.getAttribute("data-applied")));
                });
                String changes = slow.until(d -> {
                    String t = d.findElement(By.cssSelector("#raft-stats [data-stat='leader-changes'] .v")).getText();
                    return t.matches("[1-9][0-9]*.*") ? t : null;
                });
                String log = slow.until(d -> d.findElement(By.cssSelector("#raft-stats [data-stat='log-size'] .v")).getText());
                assertThat(log).matches("[0-9.]+ (B|KiB|MiB|GiB)");
                System.out.printf("[DashboardBrowserTest] leader changes seen by %s: %s, log %s; panels over time"
                        + " shown after %.1f s%n", follower.id, changes, log, (System.nanoTime() - panelsFrom) / 1e9);
                Path shot = Path.of("target", "dashboard-3-nodes.png");
                Files.createDirectories(shot.getParent());
                File png = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
                Files.copy(png.toPath(), shot, StandardCopyOption.REPLACE_EXISTING);
                System.out.println("[DashboardBrowserTest] screenshot of " + base + "/dashboard/ at "
                        + shot.toAbsolutePath() + " (" + points + " lag points)");

                // The force-close button: the browser's own same-origin POST passes the node's
                // same-origin rule (docs/http.md), and the holder's session is gone.
                long holder = clients.get(0).sessionId();
                new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(200))
                        .ignoring(StaleElementReferenceException.class).until(d -> {
                            d.findElement(By.cssSelector("#sessions button.close[data-session='" + holder + "']")).click();
                            return true;
                        });
                wait.until(ExpectedConditions.alertIsPresent()).accept(); // "Close session #...?"
                TestWaits.await("session " + holder + " closed from the dashboard", () -> {
                    try {
                        Alert failed = ExpectedConditions.alertIsPresent().apply(browser);
                        if (failed != null) {
                            throw new AssertionError("the dashboard could not close the session: " + failed.getText());
                        }
                        for (var row : json(base + "/api/sessions?limit=10000").getAsJsonArray("sessions")) {
                            if (row.getAsJsonObject().get("id").getAsLong() == holder) {
                                return false;
                            }
                        }
                        return true;
                    } catch (AssertionError e) {
                        throw e;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
            } finally {
                browser.quit();
            }
            waits.forEach(w -> w.cancel(true));
            lockWait.cancel(true);
        } finally {
            loading.set(false);
            for (Thread t : new Thread[] {feeder, poolFeeder}) {
                if (t != null) {
                    t.interrupt();
                    t.join(10_000);
                }
            }
            clients.forEach(BatonClient::close);
        }
    }

    private static boolean positive(String number) {
        return number != null && !number.isEmpty() && Double.parseDouble(number) > 0;
    }

    private static boolean nonNegative(String number) {
        return number != null && !number.isEmpty() && Double.parseDouble(number) >= 0;
    }

    /** Debian's chromium through Debian's chromedriver, with the flags a CI machine needs. */
    public static WebDriver startBrowser() {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--window-size=1440,1000");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }
}
