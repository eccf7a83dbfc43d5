package dev.baton.server.http;

import dev.baton.client.BatonClient;
import dev.baton.core.command.Query;
import dev.baton.server.TestWaits;
import dev.baton.server.node.ApiServer;
import dev.baton.server.security.AuthTokens;
import dev.baton.server.cluster.DashboardBrowserTest;
import dev.baton.server.raft.BatonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard in a real browser against one node with {@code --auth-token-file}: the page loads
 * without a token and says that it needs one; with a read token it shows the node, and its close
 * button is refused with a message naming the missing admin role; with an admin token the session
 * is closed. The token is kept in sessionStorage, never in the URL.
 */
class DashboardTokenBrowserTest {
    @TempDir
    Path dir;

    @Test
    void theDashboardAsksForATokenAndSendsIt() throws Exception {
        assumeTrue(Files.isExecutable(DashboardBrowserTest.CHROMIUM) && Files.isExecutable(DashboardBrowserTest.CHROMEDRIVER),
                "SKIPPED: Debian packages chromium and chromium-driver are not installed (./test installs them;"
                        + " apt-get install chromium chromium-driver)");
        String clientToken = AuthTokens.newToken();
        String readToken = AuthTokens.newToken();
        String adminToken = AuthTokens.newToken();
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, AuthTokens.fileLine(clientToken, "app", "client") + "\n"
                + AuthTokens.fileLine(readToken, "monitor", "read") + "\n"
                + AuthTokens.fileLine(adminToken, "ops", "admin") + "\n");
        BatonNode.Options o = BatonNode.Options.defaults(dir.resolve("data")).withPort(TestWaits.freePort());
        try (ApiServer server = new ApiServer(new ApiServer.Config(o, "127.0.0.1", 0, 10_000, UnaryOperator.identity())
                .withHttp(HttpDoor.Config.defaults("127.0.0.1", 0)).withAuth(AuthTokens.load(tokens, 10_000))).start();
             BatonClient victim = BatonClient.builder().endpoints(server.apiEndpoint()).authToken(clientToken).build()) {
            assertThat(server.node().waitForLeader(Duration.ofSeconds(20))).isPresent();
            victim.locks().acquire("held-by-victim", Duration.ZERO);
            long session = victim.sessionId();
            String base = "http://127.0.0.1:" + server.httpDoor().port();

            WebDriver browser = DashboardBrowserTest.startBrowser();
            try {
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(200));
                browser.get(base + "/dashboard/");
                WebElement banner = wait.until(d -> {
                    WebElement b = d.findElement(By.id("auth-banner"));
                    return b.isDisplayed() ? b : null;
                });
                assertThat(banner.getAttribute("data-status")).isEqualTo("401");
                assertThat(banner.getText()).contains("asks for a token");
                assertThat(browser.findElement(By.id("banner")).isDisplayed()).as("not 'unreachable'").isFalse();
                assertThat(browser.findElement(By.tagName("body")).getAttribute("data-loaded")).isEqualTo("false");

                useToken(browser, readToken);
                wait.until(d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-loaded")));
                wait.until(d -> !d.findElement(By.id("auth-banner")).isDisplayed());
                assertThat(browser.getCurrentUrl()).doesNotContain(readToken).isEqualTo(base + "/dashboard/");
                assertThat(((JavascriptExecutor) browser).executeScript("return sessionStorage.getItem('baton.token')"))
                        .isEqualTo(readToken);

                // The read token may look, not close: the alert says which role is missing.
                clickClose(browser, session);
                wait.until(ExpectedConditions.alertIsPresent()).accept(); // "Close session #...?"
                Alert refused = wait.until(ExpectedConditions.alertIsPresent());
                assertThat(refused.getText()).contains("lacks the role admin").contains("'monitor'");
                refused.accept();
                assertThat(server.node().readLocal(new Query.GetSession(session))).as("still open").isNotNull();

                useToken(browser, adminToken);
                clickClose(browser, session);
                wait.until(ExpectedConditions.alertIsPresent()).accept();
                TestWaits.await("session " + session + " closed from the dashboard with the admin token", () -> {
                    Alert failed = ExpectedConditions.alertIsPresent().apply(browser);
                    if (failed != null) {
                        throw new AssertionError("the dashboard could not close the session: " + failed.getText());
                    }
                    return server.node().readLocal(new Query.GetSession(session)) == null;
                });

                // A reload keeps the token (same tab); "forget" drops it and the node asks again.
                browser.navigate().refresh();
                wait.until(d -> "true".equals(d.findElement(By.tagName("body")).getAttribute("data-loaded")));
                browser.findElement(By.id("token-forget")).click();
                wait.until(d -> d.findElement(By.id("auth-banner")).isDisplayed());
                assertThat(((JavascriptExecutor) browser).executeScript("return sessionStorage.getItem('baton.token')"))
                        .isNull();
            } finally {
                browser.quit();
            }
        }
    }

    private static void useToken(WebDriver browser, String token) {
        WebElement input = browser.findElement(By.id("token-input"));
        input.clear();
        input.sendKeys(token);
        browser.findElement(By.id("token-use")).click();
    }

    private static void clickClose(WebDriver browser, long session) {
        new WebDriverWait(browser, Duration.ofSeconds(60), Duration.ofMillis(200))
                .ignoring(StaleElementReferenceException.class).until(d -> {
                    d.findElement(By.cssSelector("#sessions button.close[data-session='" + session + "']")).click();
                    return true;
                });
    }
}
