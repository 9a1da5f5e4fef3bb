package dev.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.embedded.LocalServices;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(ServicesExtension.class)
class TestServicesTest {

  private static final Duration PROBE = Duration.ofSeconds(2);

  private static TestEnv fromBeforeAll;
  private final TestEnv fromConstructor;
  private TestEnv fromBeforeEach;

  TestServicesTest(TestEnv env) {
    this.fromConstructor = env;
  }

  @BeforeAll
  static void rememberBeforeAll(TestEnv env) {
    fromBeforeAll = env;
  }

  @BeforeEach
  void rememberBeforeEach(TestEnv env) {
    fromBeforeEach = env;
  }

  @Test
  void resolve_findsRedisAndPostgres(TestEnv env) {
    assertThat(LocalServices.redisAnswers(TestServices.redisUri(), PROBE)).isTrue();
    assertThat(
            LocalServices.postgresAnswers(
                TestServices.jdbcUrl(),
                TestServices.jdbcUser(),
                TestServices.jdbcPassword(),
                PROBE))
        .isTrue();
    assertThat(env.redisUri()).isEqualTo(TestServices.redisUri());
    assertThat(env.jdbcUrl()).isEqualTo(TestServices.jdbcUrl());
    assertThat(env.queryLong("SELECT 1")).isEqualTo(1);
  }

  @Test
  void servicesExtension_injectsOneEnvPerClass(TestEnv env) {
    assertThat(env).isSameAs(fromConstructor).isSameAs(fromBeforeEach).isSameAs(fromBeforeAll);
    assertThat(env.schema()).matches("sw_t_testservicestest_[a-z0-9]{6}");
    assertThat(env.keyPrefix()).matches("swt:[a-z0-9]{8}:");
  }

  @Test
  void exec_runsInTheClassSchema(TestEnv env) {
    env.exec("CREATE TABLE answer (n bigint)");
    env.exec("INSERT INTO answer VALUES (?)", 41L);

    assertThat(env.queryLong("SELECT n + 1 FROM answer")).isEqualTo(42);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM pg_tables WHERE schemaname = ? AND tablename = 'answer'",
                env.schema()))
        .isEqualTo(1);
  }

  @Test
  void schemaName_longClassName_isTruncatedToAValidIdentifier() {
    String name =
        ServicesExtension.schemaName(
            AClassNameSoLongThatTheSchemaNameMustBeCutShortToFitPostgresIdentifierLimit.class);

    assertThat(name).hasSizeLessThanOrEqualTo(63).matches(TestEnv.SCHEMA.pattern());
    assertThat(name).startsWith("sw_t_aclassnamesolong");
  }

  @Test
  void cleanUp_dropsSchemaAndPrefixedKeysOnly() {
    TestEnv other =
        ServicesExtension.newEnv(
            AClassNameSoLongThatTheSchemaNameMustBeCutShortToFitPostgresIdentifierLimit.class,
            null);
    other.exec("CREATE TABLE doomed (n int)");
    RedisClient client = RedisClient.create(other.redisUri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      String survivor = "swt-survivor:" + other.keyPrefix();
      redis.set(other.keyPrefix() + "a", "1");
      redis.hset(other.keyPrefix() + "{s}:live", "c", "2");
      redis.set(survivor, "3");

      ServicesExtension.cleanUp(other);

      assertThat(redis.keys(other.keyPrefix() + "*")).isEmpty();
      assertThat(redis.get(survivor)).isEqualTo("3");
      redis.del(survivor);
    } finally {
      client.shutdown();
    }
    assertThat(
            other.queryLong(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
                other.schema()))
        .isZero();
  }

  @Test
  void redisServerProcess_startStopRestart() {
    RedisServerProcess server = RedisServerProcess.start();
    try (server) {
      assertThat(LocalServices.redisAnswers(server.uri(), PROBE)).isTrue();
      set(server.uri(), "k", "v");
      assertThat(get(server.uri(), "k")).isEqualTo("v");

      server.stop();
      assertThat(server.isRunning()).isFalse();
      assertThat(LocalServices.redisAnswers(server.uri(), PROBE)).isFalse();

      server.restart();
      assertThat(server.isRunning()).isTrue();
      assertThat(server.uri()).endsWith(":" + server.port());
      assertThat(get(server.uri(), "k")).as("no persistence across restarts").isNull();

      set(server.uri(), "k", "v2");
      server.kill();
      assertThat(LocalServices.redisAnswers(server.uri(), PROBE)).isFalse();
      server.restart();
      assertThat(get(server.uri(), "k")).isNull();
    }
    assertThat(LocalServices.redisAnswers(server.uri(), PROBE)).isFalse();
  }

  @Test
  void tcpProxy_cutAndRestore() throws SQLException {
    URI target = URI.create(TestServices.jdbcUrl().substring("jdbc:".length()));
    int targetPort = target.getPort() == -1 ? 5432 : target.getPort();
    try (TcpProxy proxy = TcpProxy.start(target.getHost(), targetPort)) {
      String viaProxy = "jdbc:postgresql://127.0.0.1:" + proxy.port() + target.getRawPath();
      try (Connection connection = DriverManager.getConnection(viaProxy, credentials())) {
        assertThat(selectOne(connection)).isEqualTo(1);

        proxy.cut();

        assertThatThrownBy(() -> selectOne(connection)).isInstanceOf(SQLException.class);
      }
      assertThat(postgresAnswers(viaProxy)).isFalse();

      proxy.restore();

      assertThat(postgresAnswers(viaProxy)).isTrue();
    }
  }

  @Test
  void tcpProxy_cutAndRestore_redis() {
    URI target = URI.create(TestServices.redisUri());
    try (TcpProxy proxy = TcpProxy.start(target.getHost(), target.getPort())) {
      String viaProxy = "redis://127.0.0.1:" + proxy.port();
      assertThat(LocalServices.redisAnswers(viaProxy, PROBE)).isTrue();

      proxy.cut();
      assertThat(LocalServices.redisAnswers(viaProxy, PROBE)).isFalse();

      proxy.restore();
      assertThat(LocalServices.redisAnswers(viaProxy, PROBE)).isTrue();
    }
  }

  @Test
  void jvmProcess_run_reportsExitCodeAndOutput() {
    JvmProcess.Result result = JvmProcess.run(Child.class, Duration.ofSeconds(30), "exit", "3");

    assertThat(result.timedOut()).isFalse();
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.output()).contains("child out: exit 3").contains("child err");
  }

  @Test
  void jvmProcess_run_killsAChildThatOutlivesItsTimeout() {
    JvmProcess.Result result = JvmProcess.run(Child.class, Duration.ofSeconds(3), "hang");

    assertThat(result.timedOut()).isTrue();
    assertThat(result.exitCode()).isNotZero();
  }

  /** Entry point for the child JVM in the {@code jvmProcess_*} tests. */
  public static final class Child {
    public static void main(String[] args) throws InterruptedException {
      System.out.println("child out: " + String.join(" ", args));
      System.err.println("child err");
      if (args.length > 0 && args[0].equals("hang")) {
        Thread.sleep(Duration.ofMinutes(10));
      }
      System.exit(args.length > 1 ? Integer.parseInt(args[1]) : 0);
    }
  }

  /** Only its name matters: long enough to force truncation of the schema name. */
  static final class AClassNameSoLongThatTheSchemaNameMustBeCutShortToFitPostgresIdentifierLimit {}

  private static Properties credentials() {
    Properties properties = new Properties();
    properties.setProperty("user", TestServices.jdbcUser());
    properties.setProperty("password", TestServices.jdbcPassword());
    properties.setProperty("connectTimeout", "2");
    properties.setProperty("socketTimeout", "5");
    return properties;
  }

  private static boolean postgresAnswers(String url) {
    return LocalServices.postgresAnswers(
        url, TestServices.jdbcUser(), TestServices.jdbcPassword(), PROBE);
  }

  private static long selectOne(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        var rows = statement.executeQuery("SELECT 1")) {
      rows.next();
      return rows.getLong(1);
    }
  }

  private static void set(String uri, String key, String value) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set(key, value);
    } finally {
      client.shutdown();
    }
  }

  private static String get(String uri, String key) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      return connection.sync().get(key);
    } finally {
      client.shutdown();
    }
  }
}
