package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The command line, run as a real child process the way an operator runs it. */
@ExtendWith(ServicesExtension.class)
class MainTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void writeConfig(TestEnv env) throws IOException {
    config = dir.resolve("spillway.yaml");
    Files.writeString(
        config,
        """
        redis:
          uri: %s
        postgres:
          jdbc-url: %s
          user: %s
          schema: %s
        keys:
          prefix: "%s"
          stripes: 16
        """
            .formatted(
                env.redisUri(), env.jdbcUrl(), env.jdbcUser(), env.schema(), env.keyPrefix()));
  }

  private static JvmProcess.Result cli(String... args) {
    return JvmProcess.run(Main.class, TIMEOUT, args);
  }

  @Test
  void incrGetFlush_roundTrip(TestEnv env) {
    String cfg = config.toString();
    JvmProcess.Result migrate = cli("migrate", "--config", cfg);
    assertThat(migrate.exitCode()).as(migrate.output()).isZero();
    assertThat(migrate.output()).containsPattern("(applied \\d+ migration|is up to date)");

    JvmProcess.Result incr = cli("incr", "page_views", "42", "--by", "5", "--config", cfg);
    assertThat(incr.exitCode()).as(incr.output()).isZero();
    assertThat(incr.output()).contains("page_views/42 +5 (acknowledged by Redis)");
    assertThat(cli("incr", "page_views", "42", "--config", cfg).exitCode()).isZero();

    JvmProcess.Result get = cli("get", "page_views", "42", "--config", cfg);
    assertThat(get.exitCode()).as(get.output()).isZero();
    assertThat(get.output().lines()).contains("6");

    JvmProcess.Result flush = cli("flush", "--once", "--config", cfg);
    assertThat(flush.exitCode()).as(flush.output()).isZero();
    assertThat(flush.output()).contains("applied=1");
    assertThat(
            env.queryLong(
                "SELECT total FROM counter_totals WHERE counter='page_views' AND key='42'"))
        .isEqualTo(6);

    JvmProcess.Result after = cli("get", "page_views", "42", "--config", cfg);
    assertThat(after.output().lines()).contains("6");
  }

  @Test
  void invalidCounterName_exit2WithRuleAndNoStackTrace() {
    JvmProcess.Result r = cli("incr", "Page Views", "1", "--config", config.toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.output())
        .contains("spillway: counter name 'Page Views' must match [a-z][a-z0-9_.-]{0,63}")
        .doesNotContain("\tat ");
  }

  @Test
  void badConfig_exit2NamingTheKey() throws IOException {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "flush:\n  intreval: 1s\n");
    JvmProcess.Result r = cli("flush", "--once", "--config", bad.toString());
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.output())
        .contains("flush.intreval is not a known setting")
        .doesNotContain("\tat ");
  }

  @Test
  void unknownOption_exit2WithHint() {
    JvmProcess.Result r = cli("get", "c", "k", "--nope");
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.output()).contains("Unknown option").contains("--help");
  }

  @Test
  void help_listsCommandsWithExamples() {
    JvmProcess.Result r = cli("--help");
    assertThat(r.exitCode()).isZero();
    assertThat(r.output()).contains("demo", "migrate", "incr", "get", "flush", "Examples:");
    JvmProcess.Result sub = cli("incr", "--help");
    assertThat(sub.output()).contains("--by", "Examples:");
  }
}
