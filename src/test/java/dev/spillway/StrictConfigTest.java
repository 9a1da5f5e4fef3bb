package dev.spillway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.config.ConfigLoader;
import dev.spillway.config.Durations;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Duplicate keys and out-of-range durations are refused with the key, the rule and the value. */
class StrictConfigTest {
  @TempDir Path dir;

  private Path yaml(String text) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, text);
    return p;
  }

  @Test
  void load_duplicateKey_refusedNamingKeyAndLine() throws IOException {
    Path p = yaml("keys:\n  stripes: 16\n  prefix: \"a:\"\n  stripes: 32\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "config file " + p + " sets keys.stripes twice (the second time on line 4); keep one");
  }

  @Test
  void load_duplicateSection_refused() throws IOException {
    Path p = yaml("flush:\n  interval: 1s\nredis:\n  timeout: 2s\nflush:\n  enabled: true\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .hasMessageContaining("sets flush twice (the second time on line 5)");
  }

  @Test
  void load_duplicateKeyInDelegatedSectionOrList_refused() throws IOException {
    assertThatThrownBy(
            () -> ConfigLoader.load(yaml("cache:\n  l1:\n    ttl: 1s\n    ttl: 2s\n"), Map.of()))
        .hasMessageContaining("sets cache.l1.ttl twice (the second time on line 4)");
    assertThatThrownBy(
            () ->
                ConfigLoader.load(
                    yaml("adopt:\n  - name: a\n    match: 'v:*'\n  - name: b\n    name: c\n"),
                    Map.of()))
        .hasMessageContaining("sets adopt[1].name twice (the second time on line 5)");
  }

  @Test
  void load_hugeDuration_refusedWithBoundAndValue() throws IOException {
    assertThatThrownBy(
            () -> ConfigLoader.load(yaml("client:\n  block-timeout: 999999999999d\n"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("client.block-timeout must be at most 1d but was 999999999999d");
    assertThatThrownBy(
            () ->
                ConfigLoader.load(
                    yaml("client:\n  block-timeout: PT2562047788015215H\n"), Map.of()))
        .hasMessage("client.block-timeout must be at most 1d but was 2562047788015215h");
  }

  @Test
  void load_durationsOutOfRange_eachRefusedNamingSetting() throws IOException {
    Map<String, String> cases =
        Map.ofEntries(
            Map.entry("redis:\n  timeout: 2m\n", "redis.timeout must be at most 1m but was 2m"),
            Map.entry(
                "client:\n  drain-interval: 5ms\n",
                "client.drain-interval must be at least 10ms but was 5ms"),
            Map.entry(
                "client:\n  close-timeout: 2h\n",
                "client.close-timeout must be at most 1h but was 2h"),
            Map.entry("flush:\n  interval: 2d\n", "flush.interval must be at most 1d but was 2d"),
            Map.entry(
                "postgres:\n  connect-timeout: 100ms\n",
                "postgres.connect-timeout must be at least 250ms but was 100ms"),
            Map.entry(
                "postgres:\n  connect-timeout: 5m\n",
                "postgres.connect-timeout must be at most 1m but was 5m"),
            Map.entry(
                "worker:\n  shutdown-timeout: 1d\n",
                "worker.shutdown-timeout must be at most 1h but was 1d"),
            Map.entry(
                "worker:\n  ledger:\n    retention: 36526d\n",
                "worker.ledger.retention must be at most 36525d but was 36526d"),
            Map.entry(
                "worker:\n  flush:\n    schedule: 2d\n",
                "worker.flush.schedule must be at most 1d but was 2d"),
            Map.entry("cache:\n  ttl: 400d\n", "cache.ttl must be at most 366d but was 400d"),
            Map.entry(
                "cache:\n  redis-timeout: 90s\n",
                "cache.redis-timeout must be at most 1m but was 90s"),
            Map.entry(
                "reporting:\n  lock-timeout: 2h\n",
                "reporting.lock-timeout must be at most 1h but was 2h"),
            Map.entry(
                "reporting:\n"
                    + "  default-retention:\n"
                    + "    minute: 2d\n"
                    + "    hour: 90d\n"
                    + "    day: 99999d\n",
                "reporting.default-retention.day must be at most 36525d (or the word forever) but"
                    + " was 99999d"));
    for (var c : cases.entrySet()) {
      Path p = yaml(c.getKey());
      assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
          .as(c.getKey())
          .isInstanceOf(ConfigException.class)
          .hasMessage(c.getValue());
    }
  }

  @Test
  void load_durationsAtTheirBounds_accepted() throws IOException {
    SpillwayConfig c =
        ConfigLoader.load(
            yaml(
                """
                client:
                  block-timeout: 1d
                  close-timeout: 0ms
                worker:
                  ledger:
                    retention: 36525d
                reporting:
                  default-retention: {minute: 2d, hour: 90d, day: 36525d}
                """),
            Map.of());
    assertThat(c.blockTimeout()).isEqualTo(Duration.ofDays(1));
    assertThat(c.worker().ledgerRetention()).isEqualTo(Duration.ofDays(36_525));
    assertThat(c.toString()).contains("client.block-timeout=1d", "ledger.retention=36525d");
  }

  @Test
  void builder_hugeDuration_refused() {
    assertThatThrownBy(
            () -> SpillwayConfig.builder().blockTimeout(Duration.ofDays(999_999_999_999L)).build())
        .hasMessage("client.block-timeout must be at most 1d but was 999999999999d");
  }

  @Test
  void format_neverOverflows() {
    assertThat(Durations.format(Duration.ofDays(999_999_999_999L))).isEqualTo("999999999999d");
    assertThat(Durations.format(Duration.ofSeconds(Long.MAX_VALUE)))
        .isEqualTo("9223372036854775807s");
    assertThat(Durations.format(Duration.ofSeconds(Long.MAX_VALUE, 1_000_000)))
        .isEqualTo(Duration.ofSeconds(Long.MAX_VALUE, 1_000_000).toString());
    assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(Durations.format(Duration.ZERO)).isEqualTo("0ms");
    assertThat(Durations.format(Duration.ofSeconds(-5))).isEqualTo("-5s");
    assertThat(Durations.format(Duration.ofNanos(500_000))).isEqualTo("PT0.0005S");
  }
}
