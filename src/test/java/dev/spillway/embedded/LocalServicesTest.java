package dev.spillway.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.testing.TestServices;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class LocalServicesTest {

  private static final Duration PROBE = Duration.ofSeconds(1);

  @Test
  @Timeout(120) // a cold zonky cache extracts ~40 MB of binaries before initdb
  void resolve_startsEmbeddedWhenNothingAnswers() throws SQLException {
    List<String> log = new CopyOnWriteArrayList<>();
    LocalServices services =
        LocalServices.resolve(
            "redis://127.0.0.1:1", "jdbc:postgresql://127.0.0.1:1/x", "postgres", "", log::add);
    try (services) {
      assertThat(services.startedRedis()).isTrue();
      assertThat(services.startedPostgres()).isTrue();
      assertThat(services.redisUri()).matches("redis://127\\.0\\.0\\.1:\\d+");
      assertThat(services.jdbcUrl()).matches("jdbc:postgresql://127\\.0\\.0\\.1:\\d+/postgres");
      assertThat(services.jdbcUser()).isEqualTo("postgres");
      assertThat(LocalServices.redisAnswers(services.redisUri(), PROBE)).isTrue();
      try (Connection connection =
              DriverManager.getConnection(services.jdbcUrl(), services.jdbcUser(), "");
          Statement statement = connection.createStatement();
          ResultSet rows = statement.executeQuery("SELECT 40 + 2")) {
        rows.next();
        assertThat(rows.getInt(1)).isEqualTo(42);
      }
      assertThat(log).hasSize(2);
      assertThat(log.get(0)).startsWith("Redis: nothing answered at redis://127.0.0.1:1;");
      assertThat(log.get(1)).startsWith("PostgreSQL: nothing answered at").contains("started");
    }
    assertThat(LocalServices.redisAnswers(services.redisUri(), PROBE)).isFalse();
    assertThat(LocalServices.postgresAnswers(services.jdbcUrl(), "postgres", "", PROBE)).isFalse();
    services.close(); // idempotent
  }

  @Test
  void resolve_usesServersThatAnswer() {
    List<String> log = new CopyOnWriteArrayList<>();
    try (LocalServices services =
        LocalServices.resolve(
            TestServices.redisUri(),
            TestServices.jdbcUrl(),
            TestServices.jdbcUser(),
            TestServices.jdbcPassword(),
            log::add)) {
      assertThat(services.startedRedis()).isFalse();
      assertThat(services.startedPostgres()).isFalse();
      assertThat(services.redisUri()).isEqualTo(TestServices.redisUri());
      assertThat(services.jdbcUrl()).isEqualTo(TestServices.jdbcUrl());
      assertThat(log).hasSize(2).allMatch(line -> line.contains(": using "));
    }
    assertThat(LocalServices.redisAnswers(TestServices.redisUri(), PROBE))
        .as("close() leaves servers it did not start alone")
        .isTrue();
  }

  @Test
  void redisAnswers_closedPort_isFalse() {
    assertThat(LocalServices.redisAnswers("redis://127.0.0.1:1", PROBE)).isFalse();
  }

  @Test
  void redisAnswers_notARedisUri_throws() {
    assertThatThrownBy(() -> LocalServices.redisAnswers("http://127.0.0.1:6379", PROBE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("redis://host:port");
  }

  @Test
  void postgresAnswers_closedPort_isFalse() {
    assertThat(
            LocalServices.postgresAnswers("jdbc:postgresql://127.0.0.1:1/x", "postgres", "", PROBE))
        .isFalse();
  }

  @Test
  void postgresAnswers_notAPostgresUrl_throws() {
    assertThatThrownBy(() -> LocalServices.postgresAnswers("jdbc:mysql://h/db", "u", "", PROBE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jdbc:postgresql:");
  }

  @Test
  void mask_hidesPasswords() {
    assertThat(LocalServices.mask("redis://:s3cret@host:6379/0"))
        .isEqualTo("redis://<masked>@host:6379/0");
    assertThat(LocalServices.mask("redis://app:s3cret@host:6379"))
        .isEqualTo("redis://<masked>@host:6379");
    assertThat(LocalServices.mask("jdbc:postgresql://h/db?user=a&password=s3cret&ssl=true"))
        .isEqualTo("jdbc:postgresql://h/db?user=a&password=<masked>&ssl=true");
  }
}
