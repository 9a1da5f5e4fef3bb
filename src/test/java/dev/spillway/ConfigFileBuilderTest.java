package dev.spillway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.config.ConfigLoader;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Spillway.builder().configFile(path)}: the CLI's file and environment overrides, with
 * explicit setters on top whatever the order, and the CLI's sentences for a bad file. The first
 * test counts and flushes against the real Redis and PostgreSQL, into the schema and under the
 * prefix the file names; the others stop at the sealed configuration (nothing to connect to).
 */
@ExtendWith(ServicesExtension.class)
class ConfigFileBuilderTest {
  /** No SPILLWAY_* variables, whatever the environment running the tests holds. */
  private static final Map<String, String> NO_ENV = Map.of();

  @TempDir Path dir;

  private final TestEnv env;

  ConfigFileBuilderTest(TestEnv env) {
    this.env = env;
  }

  private Path yaml(String text) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, text);
    return p;
  }

  /** The services of this test class, as the file an operator would write. */
  private Path servicesFile(String extra) throws IOException {
    return yaml(
        """
        redis:
          uri: "%s"
          cluster: %s
          timeout: 3s
        postgres:
          jdbc-url: "%s"
          user: "%s"
          password: "%s"
          schema: "%s"
          pool-size: 2
        keys:
          prefix: "%s"
          stripes: 16
        client:
          drain-interval: 50ms
          max-pending-cells: 10000
          overflow: block
        counters:
          page_views: {buckets: [HOUR]}
        %s\
        """
            .formatted(
                env.redisUri(),
                env.redisCluster(),
                env.jdbcUrl(),
                env.jdbcUser(),
                env.jdbcPassword() == null ? "" : env.jdbcPassword(),
                env.schema(),
                env.keyPrefix(),
                extra));
  }

  @Test
  void build_configFile_countsAndFlushesToTheFilesSchemaAndPrefix() throws IOException {
    Path file = servicesFile("");
    try (Spillway sw = Spillway.builder().configFile(file).environment(NO_ENV).build()) {
      assertThat(sw.config().schema()).isEqualTo(env.schema());
      assertThat(sw.config().keyPrefix()).isEqualTo(env.keyPrefix());
      assertThat(sw.config().stripes()).isEqualTo(16);
      assertThat(sw.config().drainInterval()).isEqualTo(Duration.ofMillis(50));
      assertThat(sw.config().maxPendingCells()).isEqualTo(10_000);
      assertThat(sw.config().poolSize()).isEqualTo(2);
      assertThat(sw.config().bucketsOf("page_views")).containsExactly(Granularity.HOUR);

      for (int i = 0; i < 1_000; i++) {
        sw.counters().increment("page_views", "k" + (i % 10));
      }
      sw.counters().increment("page_views", "k0", 41);
      sw.counters().flush();
      try (TestRedis redis = env.redis()) {
        assertThat(redis.keys(env.keyPrefix() + "*")).isNotEmpty();
      }
      sw.flushOnce();

      String totals = env.schema() + ".counter_totals";
      assertThat(env.queryLong("SELECT coalesce(sum(total), 0) FROM " + totals)).isEqualTo(1_041);
      assertThat(env.queryLong("SELECT count(*) FROM " + totals)).isEqualTo(10);
      assertThat(
              env.queryLong(
                  "SELECT total FROM " + totals + " WHERE counter = 'page_views' AND key = 'k0'"))
          .isEqualTo(141);
      assertThat(
              env.queryLong(
                  "SELECT coalesce(sum(value), 0) FROM "
                      + env.schema()
                      + ".counter_buckets WHERE granularity = 'h'"))
          .as("the file's buckets for page_views are kept")
          .isEqualTo(1_041);
      assertThat(sw.counters().get("page_views", "k0")).isEqualTo(141);
    }
  }

  @Test
  void build_setterAfterConfigFile_overridesTheFile() throws IOException {
    Path file = servicesFile("flush:\n  interval: 5s\n");
    try (Spillway sw =
        Spillway.builder()
            .configFile(file)
            .environment(NO_ENV)
            .stripes(32)
            .drainInterval(Duration.ofMillis(20))
            .build()) {
      assertThat(sw.config().stripes()).isEqualTo(32);
      assertThat(sw.config().drainInterval()).isEqualTo(Duration.ofMillis(20));
      assertThat(sw.config().flushInterval())
          .as("untouched by setters")
          .isEqualTo(Duration.ofSeconds(5));
      assertThat(sw.config().schema()).isEqualTo(env.schema());
    }
  }

  @Test
  void effectiveConfig_setterBeforeConfigFile_stillOverridesTheFile() throws IOException {
    Path file = yaml("keys:\n  prefix: \"file:\"\n  stripes: 16\npostgres:\n  schema: from_file\n");
    SpillwayConfig c =
        Spillway.builder()
            .keyPrefix("setter:")
            .configFile(file)
            .environment(NO_ENV)
            .effectiveConfig();
    assertThat(c.keyPrefix()).isEqualTo("setter:");
    assertThat(c.stripes()).isEqualTo(16);
    assertThat(c.schema()).isEqualTo("from_file");
  }

  @Test
  void effectiveConfig_environmentOverride_winsOverFileButNotOverSetters() throws IOException {
    Path file = yaml("postgres:\n  schema: from_file\nkeys:\n  prefix: \"file:\"\n  stripes: 16\n");
    Map<String, String> environment =
        Map.of(
            "SPILLWAY_SCHEMA", "from_env", "SPILLWAY_KEY_PREFIX", "env:", "SPILLWAY_STRIPES", "8");

    SpillwayConfig fromEnv =
        Spillway.builder().configFile(file).environment(environment).effectiveConfig();
    assertThat(fromEnv.schema()).isEqualTo("from_env");
    assertThat(fromEnv.keyPrefix()).isEqualTo("env:");
    assertThat(fromEnv.stripes()).isEqualTo(8);

    SpillwayConfig withSetter =
        Spillway.builder()
            .configFile(file)
            .environment(environment)
            .schema("from_setter")
            .effectiveConfig();
    assertThat(withSetter.schema()).isEqualTo("from_setter");
    assertThat(withSetter.keyPrefix()).isEqualTo("env:");
  }

  @Test
  void effectiveConfig_environmentWithoutConfigFile_ignored() {
    SpillwayConfig c =
        Spillway.builder().environment(Map.of("SPILLWAY_SCHEMA", "from_env")).effectiveConfig();
    assertThat(c.schema()).isEqualTo(SpillwayConfig.builder().build().schema());
  }

  @Test
  void build_missingFile_refusedWithTheCliSentence() {
    Path missing = dir.resolve("absent.yaml");
    assertThatThrownBy(() -> Spillway.builder().configFile(missing).environment(NO_ENV).build())
        .isInstanceOf(ConfigException.class)
        .hasMessage("config file " + missing + " does not exist")
        .hasMessage(cliSentence(missing));
  }

  @Test
  void build_badFile_refusedWithTheCliSentence() throws IOException {
    Map<String, String> cases =
        Map.of(
            "keys:\n  stripes: 16\n  stripes: 32\n",
            "config file %s sets keys.stripes twice (the second time on line 3); keep one",
            "flush:\n  intreval: 1s\n",
            "flush.intreval is not a known setting",
            "keys: [a, b\n",
            "config file %s is not valid YAML",
            "client:\n  overflow: sometimes\n",
            "client.overflow must be one of [BLOCK, DIRECT, FAIL] but was 'sometimes'",
            "client:\n  block-timeout: 999999999999d\n",
            "client.block-timeout must be at most 1d but was 999999999999d");
    for (var c : cases.entrySet()) {
      Path file = yaml(c.getKey());
      assertThatThrownBy(() -> Spillway.builder().configFile(file).environment(NO_ENV).build())
          .as(c.getKey())
          .isInstanceOf(ConfigException.class)
          .hasMessageStartingWith(c.getValue().formatted(file))
          .hasMessage(cliSentence(file));
    }
  }

  @Test
  void build_badEnvironmentValue_refusedWithTheCliSentence() throws IOException {
    Path file = yaml("keys:\n  stripes: 16\n");
    assertThatThrownBy(
            () ->
                Spillway.builder()
                    .configFile(file)
                    .environment(Map.of("SPILLWAY_STRIPES", "many"))
                    .build())
        .isInstanceOf(ConfigException.class)
        .hasMessage("SPILLWAY_STRIPES must be a whole number but was 'many'");
  }

  @Test
  void build_configAndConfigFile_refused() throws IOException {
    Path file = yaml("keys:\n  stripes: 16\n");
    assertThatThrownBy(
            () ->
                Spillway.builder()
                    .config(SpillwayConfig.builder().build())
                    .configFile(file)
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("use one");
  }

  /** What {@code spillway --config file} prints for this file (the CLI loads through here). */
  private static String cliSentence(Path file) {
    try {
      ConfigLoader.load(file, NO_ENV);
    } catch (ConfigException e) {
      return e.getMessage();
    }
    throw new AssertionError("the CLI accepts " + file);
  }
}
