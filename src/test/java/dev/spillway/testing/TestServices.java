package dev.spillway.testing;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.spillway.config.Redactor;
import dev.spillway.embedded.LocalServices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * The Redis and PostgreSQL that tests talk to, found once per JVM in the order DESIGN.md gives:
 *
 * <ol>
 *   <li>{@code SPILLWAY_TEST_REDIS_URI} / {@code SPILLWAY_TEST_JDBC_URL} (with {@code
 *       SPILLWAY_TEST_JDBC_USER}, default {@code postgres}, and {@code
 *       SPILLWAY_TEST_JDBC_PASSWORD}, default empty); a variable that is set but does not answer
 *       fails every test that asks, rather than quietly testing against something else;
 *   <li>servers already on localhost: {@value #LOCAL_REDIS} and {@value #LOCAL_JDBC};
 *   <li>Testcontainers ({@code redis:7-alpine}, {@code postgres:16-alpine}) when a Docker engine
 *       answers; looking for one costs at most {@link #DOCKER_CHECK_LIMIT};
 *   <li>embedded servers from {@link LocalServices}.
 * </ol>
 *
 * <p>Each service is resolved on its own, so a local PostgreSQL can pair with an embedded Redis.
 * Servers are shared by all test classes; {@link ServicesExtension} keeps their data apart with a
 * schema and a key prefix per class. Started servers stop when the JVM exits.
 */
public final class TestServices {

  static final String LOCAL_REDIS = "redis://127.0.0.1:6379";
  static final String LOCAL_JDBC = "jdbc:postgresql://127.0.0.1:5432/test";
  static final Duration DOCKER_CHECK_LIMIT = Duration.ofSeconds(2);
  private static final Duration PROBE = Duration.ofSeconds(2);
  private static final int POOL_SIZE = 8;
  private static final Logger LOG = LoggerFactory.getLogger(TestServices.class);

  private record Endpoints(String redisUri, String jdbcUrl, String jdbcUser, String jdbcPassword) {}

  // Per-JVM state on purpose: starting servers per test class would cost seconds each. Guarded
  // by the class lock; a failure is kept so every later caller sees the same first cause.
  private static Endpoints endpoints;
  private static RuntimeException failure;
  private static HikariDataSource dataSource;

  private TestServices() {}

  public static String redisUri() {
    return endpoints().redisUri();
  }

  public static String jdbcUrl() {
    return endpoints().jdbcUrl();
  }

  public static String jdbcUser() {
    return endpoints().jdbcUser();
  }

  public static String jdbcPassword() {
    return endpoints().jdbcPassword();
  }

  /** A small pool (at most {@value #POOL_SIZE} connections) shared by tests for assertions. */
  public static synchronized DataSource dataSource() {
    if (dataSource == null) {
      Endpoints e = endpoints();
      HikariConfig config = new HikariConfig();
      config.setPoolName("spillway-test-assertions");
      config.setJdbcUrl(e.jdbcUrl());
      config.setUsername(e.jdbcUser());
      config.setPassword(e.jdbcPassword());
      config.setMaximumPoolSize(POOL_SIZE);
      config.setMinimumIdle(1);
      dataSource = new HikariDataSource(config);
    }
    return dataSource;
  }

  private static synchronized Endpoints endpoints() {
    if (endpoints == null && failure == null) {
      try {
        endpoints = resolve();
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    if (failure != null) {
      throw new IllegalStateException(
          "Test services are unavailable: " + failure.getMessage(), failure);
    }
    return endpoints;
  }

  private static Endpoints resolve() {
    String user = env("SPILLWAY_TEST_JDBC_USER", "postgres");
    String password = env("SPILLWAY_TEST_JDBC_PASSWORD", "");
    List<String> sources = new ArrayList<>();

    String redis = fromEnvironment("SPILLWAY_TEST_REDIS_URI", sources);
    if (redis != null && !LocalServices.redisAnswers(redis, PROBE)) {
      throw new IllegalStateException(
          "SPILLWAY_TEST_REDIS_URI="
              + masked(redis)
              + " does not answer PING within 2 s; fix or unset it");
    }
    if (redis == null && LocalServices.redisAnswers(LOCAL_REDIS, PROBE)) {
      redis = LOCAL_REDIS;
      sources.add("Redis on localhost");
    }
    String jdbc = fromEnvironment("SPILLWAY_TEST_JDBC_URL", sources);
    if (jdbc != null && !LocalServices.postgresAnswers(jdbc, user, password, PROBE)) {
      throw new IllegalStateException(
          "SPILLWAY_TEST_JDBC_URL="
              + masked(jdbc)
              + " does not accept a connection as "
              + user
              + " within 2 s; fix or unset it");
    }
    if (jdbc == null && LocalServices.postgresAnswers(LOCAL_JDBC, user, password, PROBE)) {
      jdbc = LOCAL_JDBC;
      sources.add("PostgreSQL on localhost");
    }

    if ((redis == null || jdbc == null) && dockerAvailable()) {
      try {
        if (redis == null) {
          redis = startRedisContainer();
          sources.add("Redis in Testcontainers");
        }
        if (jdbc == null) {
          jdbc = startPostgresContainer();
          user = "postgres";
          password = "";
          sources.add("PostgreSQL in Testcontainers");
        }
      } catch (RuntimeException e) {
        LOG.warn("Testcontainers failed ({}); falling back to embedded servers", e.getMessage());
      }
    }

    if (redis == null || jdbc == null) {
      // Passing what was found keeps it; LocalServices starts only the missing ones.
      LocalServices local = LocalServices.resolve(redis, jdbc, user, password, LOG::info);
      if (local.startedRedis()) {
        sources.add("embedded Redis");
      }
      if (local.startedPostgres()) {
        sources.add("embedded PostgreSQL");
      }
      redis = local.redisUri();
      jdbc = local.jdbcUrl();
      user = local.jdbcUser();
      password = local.jdbcPassword();
    }
    LOG.info(
        "Test services: {} and {} as {} ({})",
        masked(redis),
        masked(jdbc),
        user,
        String.join(", ", sources));
    return new Endpoints(redis, jdbc, user, password);
  }

  private static String fromEnvironment(String name, List<String> sources) {
    String value = env(name, null);
    if (value != null) {
      sources.add(name);
    }
    return value;
  }

  /** Keeps passwords in URIs and JDBC URLs out of logs and messages. */
  static String masked(String endpoint) {
    return Redactor.maskUri(endpoint);
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value.strip();
  }

  /**
   * Asks Testcontainers only where an engine may plausibly be, and gives it {@link
   * #DOCKER_CHECK_LIMIT}: without that, a machine with a Docker client but no engine pays for every
   * discovery strategy and logs an error page.
   */
  private static boolean dockerAvailable() {
    if (!dockerEndpointLikely()) {
      return false;
    }
    CompletableFuture<Boolean> check =
        CompletableFuture.supplyAsync(() -> DockerClientFactory.instance().isDockerAvailable());
    try {
      return check.get(DOCKER_CHECK_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static boolean dockerEndpointLikely() {
    if (System.getenv("DOCKER_HOST") != null) {
      return true;
    }
    String home = System.getProperty("user.home");
    String runtime = System.getenv("XDG_RUNTIME_DIR");
    List<Path> candidates = new ArrayList<>();
    candidates.add(Path.of("/var/run/docker.sock"));
    candidates.add(Path.of(home, ".testcontainers.properties"));
    candidates.add(Path.of(home, ".docker", "run", "docker.sock"));
    candidates.add(Path.of(home, ".docker", "desktop", "docker.sock"));
    candidates.add(Path.of(home, ".colima", "default", "docker.sock"));
    if (runtime != null) {
      candidates.add(Path.of(runtime, "docker.sock"));
      candidates.add(Path.of(runtime, "podman", "podman.sock"));
    }
    return candidates.stream().anyMatch(Files::exists);
  }

  private static String startRedisContainer() {
    GenericContainer<?> redis =
        new GenericContainer<>(DockerImageName.parse("redis:7-alpine"))
            .withExposedPorts(6379)
            .withCommand("redis-server", "--save", "", "--appendonly", "no");
    redis.start(); // Testcontainers' reaper removes it when the JVM exits.
    return "redis://" + redis.getHost() + ":" + redis.getMappedPort(6379);
  }

  private static String startPostgresContainer() {
    GenericContainer<?> postgres =
        new GenericContainer<>(DockerImageName.parse("postgres:16-alpine"))
            .withEnv("POSTGRES_HOST_AUTH_METHOD", "trust")
            .withExposedPorts(5432)
            // The entrypoint starts the server twice (init, then for real); wait for the second.
            .waitingFor(
                Wait.forLogMessage(".*database system is ready to accept connections.*\\s", 2));
    postgres.start();
    return "jdbc:postgresql://"
        + postgres.getHost()
        + ":"
        + postgres.getMappedPort(5432)
        + "/postgres";
  }
}
