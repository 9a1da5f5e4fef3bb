package dev.spillway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.config.ConfigLoader;
import dev.spillway.redis.RedisSeeds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;

  private Path yaml(String text) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, text);
    return p;
  }

  @Test
  void load_noFile_defaults() {
    SpillwayConfig c = ConfigLoader.load(null, Map.of());
    assertThat(c.redisUri()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(c.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:5432/test");
    assertThat(c.keyPrefix()).isEqualTo("sw:");
    assertThat(c.schema()).isEqualTo("spillway");
    assertThat(c.drainInterval()).isEqualTo(Duration.ofMillis(100));
    assertThat(c.overflowPolicy()).isEqualTo(OverflowPolicy.BLOCK);
  }

  @Test
  void load_fullFile() throws IOException {
    SpillwayConfig c =
        ConfigLoader.load(
            yaml(
                """
                redis:
                  uri: redis://10.0.0.1:6380
                  timeout: 2s
                postgres:
                  jdbc-url: jdbc:postgresql://db:5432/app
                  user: app
                  schema: counters
                  pool-size: 8
                keys:
                  prefix: "app:"
                  stripes: 4096
                client:
                  drain-interval: 250ms
                  max-pending-cells: 50000
                  overflow: direct
                flush:
                  enabled: true
                  interval: 2s
                counters:
                  page_views: {buckets: [HOUR, DAY]}
                  api_calls:
                """),
            Map.of());
    assertThat(c.redisUri()).isEqualTo("redis://10.0.0.1:6380");
    assertThat(c.redisTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.jdbcUser()).isEqualTo("app");
    assertThat(c.schema()).isEqualTo("counters");
    assertThat(c.stripes()).isEqualTo(4096);
    assertThat(c.drainInterval()).isEqualTo(Duration.ofMillis(250));
    assertThat(c.overflowPolicy()).isEqualTo(OverflowPolicy.DIRECT);
    assertThat(c.flushEnabled()).isTrue();
    assertThat(c.bucketsOf("page_views")).isEqualTo(Set.of(Granularity.HOUR, Granularity.DAY));
    assertThat(c.bucketsOf("api_calls")).isEmpty();
  }

  @Test
  void load_envOverridesFile() throws IOException {
    SpillwayConfig c =
        ConfigLoader.load(
            yaml("redis:\n  uri: redis://file:6379\nkeys:\n  prefix: 'file:'\n"),
            Map.of(
                "SPILLWAY_REDIS_URI", "redis://env:6379",
                "SPILLWAY_JDBC_URL", "jdbc:postgresql://env/db",
                "SPILLWAY_JDBC_USER", "envuser",
                "SPILLWAY_JDBC_PASSWORD", "s3cret",
                "SPILLWAY_KEY_PREFIX", "env:"));
    assertThat(c.redisUri()).isEqualTo("redis://env:6379");
    assertThat(c.jdbcUrl()).isEqualTo("jdbc:postgresql://env/db");
    assertThat(c.jdbcUser()).isEqualTo("envuser");
    assertThat(c.jdbcPassword()).isEqualTo("s3cret");
    assertThat(c.keyPrefix()).isEqualTo("env:");
  }

  @Test
  void toString_masksSecrets() {
    SpillwayConfig c =
        ConfigLoader.load(
            null,
            Map.of(
                "SPILLWAY_REDIS_URI", "redis://user:hunter2@host:6379",
                "SPILLWAY_JDBC_PASSWORD", "s3cret",
                "SPILLWAY_JDBC_URL", "jdbc:postgresql://h/db?password=pw123"));
    assertThat(c.toString())
        .doesNotContain("hunter2")
        .doesNotContain("s3cret")
        .doesNotContain("pw123")
        .contains("<masked>");
  }

  @Test
  void load_unknownKey_namesIt() throws IOException {
    Path p = yaml("flush:\n  intreval: 1s\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("flush.intreval is not a known setting");
  }

  @Test
  void load_unknownTopLevelSection() throws IOException {
    Path p = yaml("redsi:\n  uri: x\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .hasMessageStartingWith("redsi is not a known setting");
  }

  @Test
  void load_wrongType_namesKeyAndValue() throws IOException {
    Path p = yaml("keys:\n  stripes: many\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("keys.stripes must be a whole number but was 'many'");
  }

  @Test
  void load_applyConnections_boundedByPoolSize() throws IOException {
    assertThat(ConfigLoader.load(null, Map.of()).flushApplyConnections()).isEqualTo(2);
    Path ok = yaml("postgres:\n  pool-size: 2\nflush:\n  apply-connections: 2\n");
    assertThat(ConfigLoader.load(ok, Map.of()).flushApplyConnections()).isEqualTo(2);
    Path tooMany = yaml("postgres:\n  pool-size: 2\nflush:\n  apply-connections: 3\n");
    assertThatThrownBy(() -> ConfigLoader.load(tooMany, Map.of()))
        .hasMessage(
            "flush.apply-connections (3) must not exceed postgres.pool-size (2): each"
                + " transaction applied at once holds a pooled connection");
    Path zero = yaml("flush:\n  apply-connections: 0\n");
    assertThatThrownBy(() -> ConfigLoader.load(zero, Map.of()))
        .hasMessage("flush.apply-connections must be between 1 and 16 but was 0");
  }

  @Test
  void load_impossibleValue_namesRuleAndUnit() throws IOException {
    Path p = yaml("client:\n  drain-interval: 0ms\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .hasMessage("client.drain-interval must be at least 10ms but was 0ms");
  }

  @Test
  void load_badDuration() throws IOException {
    Path p = yaml("flush:\n  interval: soon\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .hasMessageContaining("flush.interval must be a duration like 250ms");
  }

  @Test
  void load_badEnum() throws IOException {
    Path p = yaml("client:\n  overflow: drop\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .hasMessage("client.overflow must be one of [BLOCK, DIRECT, FAIL] but was 'drop'");
  }

  @Test
  void load_badSchemaOrPrefix_refused() throws IOException {
    assertThatThrownBy(() -> ConfigLoader.load(yaml("postgres:\n  schema: 'x; drop'\n"), Map.of()))
        .hasMessageContaining("postgres.schema must match");
    assertThatThrownBy(() -> ConfigLoader.load(null, Map.of("SPILLWAY_KEY_PREFIX", "a b")))
        .hasMessageContaining("keys.prefix must match");
  }

  @Test
  void load_badCounter() throws IOException {
    assertThatThrownBy(
            () -> ConfigLoader.load(yaml("counters:\n  Page: {buckets: [HOUR]}\n"), Map.of()))
        .hasMessageContaining("counter name 'Page' must match");
    assertThatThrownBy(
            () -> ConfigLoader.load(yaml("counters:\n  page: {buckets: [WEEK]}\n"), Map.of()))
        .hasMessage("counters.page.buckets must be one of [MINUTE, HOUR, DAY] but was 'WEEK'");
  }

  @Test
  void load_missingFile() {
    assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("nope.yaml"), Map.of()))
        .hasMessageEndingWith("nope.yaml does not exist");
  }

  @Test
  void load_badUri() {
    assertThatThrownBy(() -> ConfigLoader.load(null, Map.of("SPILLWAY_REDIS_URI", "http://x")))
        .hasMessageContaining("redis.uri must be a URI like redis://host:6379");
    assertThatThrownBy(() -> ConfigLoader.load(null, Map.of("SPILLWAY_JDBC_URL", "jdbc:mysql://x")))
        .hasMessageContaining("postgres.jdbc-url must start with jdbc:postgresql:");
  }

  @Test
  void redisCluster_fromYamlOrEnv_parsesSeedList() throws Exception {
    Path p =
        yaml(
            "redis:\n"
                + "  cluster: true\n"
                + "  uri: redis://:pw@127.0.0.1:7101, 127.0.0.1:7102,127.0.0.1:7103\n");
    SpillwayConfig c = ConfigLoader.load(p, Map.of());
    assertThat(c.redisCluster()).isTrue();
    var seeds = RedisSeeds.parse(c.redisUri(), true, Duration.ofSeconds(2));
    assertThat(seeds)
        .extracting(u -> u.getHost() + ":" + u.getPort())
        .containsExactly("127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103");
    assertThat(seeds)
        .allSatisfy(
            u ->
                assertThat(
                        new String(
                            u.getCredentialsProvider().resolveCredentials().block().getPassword()))
                    .isEqualTo("pw"));
    assertThat(c.toString()).contains("redis.cluster=true").doesNotContain("pw@");

    SpillwayConfig fromEnv =
        ConfigLoader.load(
            null,
            Map.of(
                "SPILLWAY_REDIS_CLUSTER",
                "TRUE",
                "SPILLWAY_REDIS_URI",
                "redis://127.0.0.1:7101,127.0.0.1:7102"));
    assertThat(fromEnv.redisCluster()).isTrue();
    assertThat(ConfigLoader.load(null, Map.of()).redisCluster()).isFalse();
  }

  @Test
  void redisCluster_badValues_areRefusedWithTheRule() throws Exception {
    assertThatThrownBy(() -> ConfigLoader.load(null, Map.of("SPILLWAY_REDIS_CLUSTER", "yes")))
        .hasMessage("SPILLWAY_REDIS_CLUSTER must be true or false but was 'yes'");
    assertThatThrownBy(() -> ConfigLoader.load(yaml("redis:\n  cluster: 1\n"), Map.of()))
        .hasMessage("redis.cluster must be true or false but was '1'");
    assertThatThrownBy(
            () -> ConfigLoader.load(null, Map.of("SPILLWAY_REDIS_URI", "redis://a:1,b:2")))
        .hasMessageContaining("comma-separated seed list is only allowed with redis.cluster: true");
    assertThatThrownBy(
            () ->
                ConfigLoader.load(
                    null,
                    Map.of(
                        "SPILLWAY_REDIS_CLUSTER",
                        "true",
                        "SPILLWAY_REDIS_URI",
                        "redis://a:1,,b:2")))
        .hasMessageContaining("redis.uri has an empty entry at position 2");
  }
}
