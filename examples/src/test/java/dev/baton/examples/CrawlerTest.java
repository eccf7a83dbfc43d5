package dev.baton.examples;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The crawler example at a small size: nothing fetched before its site's events, everything fetched once. */
class CrawlerTest {
    @Test
    void documentsWaitForRobotsAndLoginAndAreFetchedExactlyOnce() throws Exception {
        try (OneNode node = new OneNode()) {
            Crawler.Outcome o = Crawler.run(node.endpoints(), 16, 3, true);
            assertThat(o.fetched()).isEqualTo(16);
            assertThat(o.fetchedTooEarly()).isZero();
            assertThat(o.fetchedTwice()).isZero();
            assertThat(o.retries()).isPositive();
        }
    }
}
