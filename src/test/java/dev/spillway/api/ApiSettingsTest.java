package dev.spillway.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ApiSettings;
import dev.spillway.config.ConfigLoader;
import dev.spillway.config.Redactor;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The api: section, the API tokens from the environment, and the anonymous rate limit. */
class ApiSettingsTest {

  private static ApiSettings parse(String yaml) throws Exception {
    return ApiSettings.parse(new YAMLMapper().readTree(yaml));
  }

  private static void assertRefused(String yaml, String sentence) {
    assertThatThrownBy(() -> parse(yaml)).isInstanceOf(ConfigException.class).hasMessage(sentence);
  }

  @Test
  void parse_everyKey() throws Exception {
    ApiSettings a =
        parse(
            """
            enabled: true
            bind: 0.0.0.0
            port: 8181
            max-age: 10s
            stale-while-revalidate: 5m
            public-increments: [page_views, likes]
            anonymous-rate: 3
            cors-origins: ["https://example.com", "http://localhost:3000"]
            """);

    assertThat(a.enabled()).isTrue();
    assertThat(a.bind()).isEqualTo("0.0.0.0");
    assertThat(a.port()).isEqualTo(8181);
    assertThat(a.maxAge()).isEqualTo(Duration.ofSeconds(10));
    assertThat(a.staleWhileRevalidate()).isEqualTo(Duration.ofMinutes(5));
    assertThat(a.publicIncrements()).containsExactly("page_views", "likes");
    assertThat(a.anonymousRate()).isEqualTo(3);
    assertThat(a.corsOrigins()).containsExactly("https://example.com", "http://localhost:3000");
    assertThat(a.cacheControl()).isEqualTo("public, max-age=10, stale-while-revalidate=300");
    assertThat(a.isPublic("likes")).isTrue();
    assertThat(a.isPublic("hits")).isFalse();
    assertThat(a.allowedOrigin("http://localhost:3000")).isEqualTo("http://localhost:3000");
    assertThat(a.allowedOrigin("http://localhost:3001")).isNull();
  }

  @Test
  void missing_givesDefaults_disabledOnLoopback() throws Exception {
    ApiSettings a = parse("{}");

    assertThat(a).isEqualTo(ApiSettings.defaults());
    assertThat(a.enabled()).isFalse();
    assertThat(a.bind()).isEqualTo("127.0.0.1");
    assertThat(a.port()).isEqualTo(8080);
    assertThat(a.cacheControl()).isEqualTo("public, max-age=5, stale-while-revalidate=60");
    assertThat(a.anonymousRate()).isEqualTo(10);
    assertThat(a.publicIncrements()).isEmpty();
    assertThat(a.corsOrigins()).isEmpty();
    assertThat(ApiSettings.parse(null)).isEqualTo(ApiSettings.defaults());
  }

  @Test
  void maxAgeZero_isAccepted_andTheHandlerBuildsWithIt() throws Exception {
    ApiSettings a = parse("max-age: 0s\nstale-while-revalidate: 0s");

    assertThat(a.cacheControl()).isEqualTo("public, max-age=0, stale-while-revalidate=0");
    new ApiHandler(
        a,
        ApiTokens.none(),
        null,
        null,
        r -> null,
        InstantSource.system(),
        new SimpleMeterRegistry(),
        s -> s);
  }

  @Test
  void corsWildcard_allowsAnyOrigin() throws Exception {
    assertThat(parse("cors-origins: ['*']").allowedOrigin("https://any.test")).isEqualTo("*");
    assertThat(parse("{}").allowedOrigin("https://any.test")).isNull();
  }

  @Test
  void badValues_refusedNamingKeyRuleAndValue() {
    assertRefused("port: 70000", "api.port must be between 0 and 65535 but was 70000");
    assertRefused(
        "max-age: 1500ms",
        "api.max-age must be whole seconds (HTTP caches count in seconds) but was 1500ms");
    assertRefused(
        "stale-while-revalidate: 400d",
        "api.stale-while-revalidate must be between 0ms and 365d but was 400d");
    assertRefused(
        "public-increments: [Page]",
        "api.public-increments: counter name 'Page' must match [a-z][a-z0-9_.-]{0,63}");
    assertRefused(
        "public-increments: page_views",
        "api.public-increments must be a list like [page_views] but was '\"page_views\"'");
    assertRefused(
        "anonymous-rate: 0",
        "api.anonymous-rate must be between 1 and 1000000 (per second per client) but was 0");
    assertRefused(
        "cors-origins: [example.com]",
        "api.cors-origins entries must be an origin like https://example.com (scheme, host,"
            + " optional port, no path) or * but was 'example.com'");
    assertRefused(
        "cors-origins: ['https://example.com/page']",
        "api.cors-origins entries must be an origin like https://example.com (scheme, host,"
            + " optional port, no path) or * but was 'https://example.com/page'");
    assertRefused("bind: ''", "api.bind must be an address like 127.0.0.1 but was ''");
    assertThatThrownBy(() -> parse("prot: 1"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("api.prot is not a known setting");
  }

  @Test
  void configFile_apiSection_loadsAndShowsInTheStartupLine(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("s.yaml"), "api:\n  enabled: true\n  port: 9090\n");
    SpillwayConfig c = ConfigLoader.load(file, Map.of());

    assertThat(c.api().enabled()).isTrue();
    assertThat(c.api().port()).isEqualTo(9090);
    assertThat(c.toString()).contains("api.enabled=true", "api.port=9090", "api.max-age=5s");
    assertThat(ConfigLoader.load(null, Map.of()).api()).isEqualTo(ApiSettings.defaults());
    assertThat(c.toBuilder().build().api()).isEqualTo(c.api());

    Path typo = Files.writeString(dir.resolve("t.yaml"), "api:\n  max-ages: 5s\n");
    assertThatThrownBy(() -> ConfigLoader.load(typo, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("api.max-ages is not a known setting");
  }

  @Test
  void tokens_fromEnvironment_severalCommaSeparated() {
    String a = "first-token-0123456789";
    String b = "second-token-abcdefghij";
    ApiTokens t = ApiTokens.fromEnvironment(Map.of(ApiTokens.ENV, a + ", " + b));

    assertThat(t.count()).isEqualTo(2);
    assertThat(t.valid("Bearer " + a)).isTrue();
    assertThat(t.valid("bearer " + b)).isTrue();
    assertThat(t.valid("Bearer " + a + "x")).isFalse();
    assertThat(t.valid("Basic " + a)).isFalse();
    assertThat(t.valid(a)).isFalse();
    assertThat(t.valid(null)).isFalse();
    assertThat(t.toString()).doesNotContain(a, b);
    assertThat(ApiTokens.fromEnvironment(Map.of()).count()).isZero();
    assertThat(ApiTokens.fromEnvironment(Map.of()).valid("Bearer " + a)).isFalse();
  }

  @Test
  void tokens_tooShortOrWithSpaces_refusedWithoutShowingThem() {
    assertThatThrownBy(
            () -> ApiTokens.fromEnvironment(Map.of(ApiTokens.ENV, "good-token-0123456789,short")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("SPILLWAY_API_TOKEN entry 2 of 2 must be at least 16 characters but was 5")
        .hasMessageNotContaining("short");
    assertThatThrownBy(
            () -> ApiTokens.fromEnvironment(Map.of(ApiTokens.ENV, "has space 0123456789abc")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("SPILLWAY_API_TOKEN entry 1 must be visible ASCII without spaces");
  }

  @Test
  void tokens_eachMaskedByTheRedactor() {
    String a = "first-token-0123456789";
    String b = "second-token-abcdefghij";
    Redactor r = Redactor.of(ConfigLoader.load(null, Map.of()), Map.of(ApiTokens.ENV, a + "," + b));

    assertThat(r.redact("a=" + a + " b=" + b + " both=" + a + "," + b)).doesNotContain(a, b);
  }

  @Test
  void rateLimiter_burstOfRate_thenRateRefill_perClient() {
    AtomicLong nanos = new AtomicLong();
    RateLimiter l = new RateLimiter(2, nanos::get);

    assertThat(List.of(l.tryAcquire("a"), l.tryAcquire("a"), l.tryAcquire("a")))
        .containsExactly(true, true, false);
    assertThat(l.tryAcquire("b")).as("another client has its own bucket").isTrue();
    nanos.addAndGet(Duration.ofMillis(499).toNanos());
    assertThat(l.tryAcquire("a")).isFalse();
    nanos.addAndGet(Duration.ofMillis(1).toNanos());
    assertThat(l.tryAcquire("a")).as("one token after 1/rate s").isTrue();
    assertThat(l.tryAcquire("a")).isFalse();
    nanos.addAndGet(Duration.ofSeconds(60).toNanos());
    assertThat(List.of(l.tryAcquire("a"), l.tryAcquire("a"), l.tryAcquire("a")))
        .as("a long pause refills to the burst, no further")
        .containsExactly(true, true, false);
    assertThat(l.retryAfterSeconds()).isEqualTo(1);
  }
}
