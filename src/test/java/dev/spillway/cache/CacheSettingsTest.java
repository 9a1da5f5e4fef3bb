package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.CacheSettings;
import dev.spillway.config.ConfigLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code cache:} section of the YAML file. */
class CacheSettingsTest {
  @TempDir Path dir;

  private SpillwayConfig load(String yaml) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, yaml);
    return ConfigLoader.load(p, Map.of());
  }

  @Test
  void parse_missing_defaultsDerivedFromKeyPrefix() throws IOException {
    SpillwayConfig c = load("keys:\n  prefix: \"app:\"\n");
    CacheSettings s = c.cache();
    assertThat(s).isEqualTo(CacheSettings.defaults());
    assertThat(s.prefixFor(c.keyPrefix())).isEqualTo("app:c:");
    assertThat(s.channelFor(c.keyPrefix())).isEqualTo("app:c:bus");
    assertThat(s.ttl()).isEqualTo(Duration.ofMinutes(5));
    assertThat(s.maxValueBytes()).isEqualTo(1 << 20);
    assertThat(c.toString()).contains(" cache.prefix=<keys.prefix>c: ");
  }

  @Test
  void parse_fullSection() throws IOException {
    CacheSettings s =
        load("""
        cache:
          prefix: "x:cache:"
          channel: "x:invalidations"
          ttl: 10m
          negative-ttl: 5s
          ttl-jitter-percent: 20
          stale-while-revalidate: 30s
          early-refresh-beta: 2.5
          max-value-bytes: 65536
          lease-time: 2s
          lease-wait: 1s
          redis-timeout: 100ms
          redis-retry-after: 2s
          l1:
            max-size: 500
            ttl: 3s
          counters-ttl: 2s
          tag-ttl: 2d
          max-load-time: 30s
          encryption-keys-env: MY_KEYS
          listen-database: true
          heartbeat: 1s
        """)
            .cache();
    assertThat(s.prefixFor("sw:")).isEqualTo("x:cache:");
    assertThat(s.channelFor("sw:")).isEqualTo("x:invalidations");
    assertThat(s.ttl()).isEqualTo(Duration.ofMinutes(10));
    assertThat(s.negativeTtl()).isEqualTo(Duration.ofSeconds(5));
    assertThat(s.ttlJitterPercent()).isEqualTo(20);
    assertThat(s.staleWhileRevalidate()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.earlyRefreshBeta()).isEqualTo(2.5);
    assertThat(s.maxValueBytes()).isEqualTo(65536);
    assertThat(s.leaseTime()).isEqualTo(Duration.ofSeconds(2));
    assertThat(s.leaseWait()).isEqualTo(Duration.ofSeconds(1));
    assertThat(s.redisTimeout()).isEqualTo(Duration.ofMillis(100));
    assertThat(s.redisRetryAfter()).isEqualTo(Duration.ofSeconds(2));
    assertThat(s.l1MaxSize()).isEqualTo(500);
    assertThat(s.l1Ttl()).isEqualTo(Duration.ofSeconds(3));
    assertThat(s.countersTtl()).isEqualTo(Duration.ofSeconds(2));
    assertThat(s.tagTtl()).isEqualTo(Duration.ofDays(2));
    assertThat(s.maxLoadTime()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.encryptionKeysEnv()).isEqualTo("MY_KEYS");
    assertThat(s.listenDatabase()).isTrue();
    assertThat(s.heartbeat()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void parse_badValues_refusedNamingTheKey() {
    assertThatThrownBy(() -> load("cache:\n  ttl: 0s\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("cache.ttl must be at least 10ms but was 0ms");
    assertThatThrownBy(() -> load("cache:\n  tll: 5m\n"))
        .hasMessageStartingWith("cache.tll is not a known setting");
    assertThatThrownBy(() -> load("cache:\n  l1:\n    size: 5\n"))
        .hasMessageStartingWith("cache.l1.size is not a known setting");
    assertThatThrownBy(() -> load("cache:\n  early-refresh-beta: lots\n"))
        .hasMessage("cache.early-refresh-beta must be a number like 1.0 but was 'lots'");
    assertThatThrownBy(() -> load("cache:\n  prefix: \"has space\"\n"))
        .hasMessageStartingWith("cache.prefix must match");
    assertThatThrownBy(() -> load("cache:\n  lease-time: 2m\n"))
        .hasMessage("cache.max-load-time must be at least cache.lease-time (2m) but was 1m");
    assertThatThrownBy(() -> load("cache:\n  listen-database: maybe\n"))
        .hasMessage("cache.listen-database must be true or false but was 'maybe'");
  }

  @Test
  void toBuilder_roundTrips() {
    CacheSettings s =
        CacheSettings.builder().ttl(Duration.ofSeconds(7)).listenDatabase(true).build();
    assertThat(s.toBuilder().build()).isEqualTo(s);
  }
}
