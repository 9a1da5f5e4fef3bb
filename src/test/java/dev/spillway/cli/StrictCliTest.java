package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.layout.KeyLayout;
import dev.spillway.store.PostgresUnavailableException;
import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line with PostgreSQL away, with a corrupt pending cell, and at the end of {@code
 * flush --once}: child processes against the real Redis and PostgreSQL; "PostgreSQL down" is a JDBC
 * URL on a closed local port.
 */
@ExtendWith(ServicesExtension.class)
class StrictCliTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final String DEAD_JDBC_URL = "jdbc:postgresql://127.0.0.1:1/test";
  private static final String UNREACHABLE =
      "spillway: cannot reach PostgreSQL at 127.0.0.1:1 (connection refused); is it running?"
          + " (postgres.jdbc-url)";
  private static final int STRIPES = 16;

  @TempDir static Path dir;
  static String good;
  static String dead;

  @BeforeAll
  static void writeConfigs(TestEnv env) throws IOException {
    String template =
        """
        redis:
          uri: %s
        postgres:
          jdbc-url: %s
          user: %s
          password: "%s"
          schema: %s
        keys:
          prefix: "%s"
          stripes: %d
        """;
    good =
        write(
            "good.yaml",
            template.formatted(
                env.redisUri(),
                env.jdbcUrl(),
                env.jdbcUser(),
                env.jdbcPassword(),
                env.schema(),
                env.keyPrefix(),
                STRIPES));
    dead =
        write(
            "dead.yaml",
            template.formatted(
                env.redisUri(),
                DEAD_JDBC_URL,
                env.jdbcUser(),
                "s3cret-pw",
                env.schema(),
                env.keyPrefix(),
                STRIPES));
  }

  private static String write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text);
    return p.toString();
  }

  private static JvmProcess.SplitResult cli(String... args) {
    JvmProcess.SplitResult r = JvmProcess.runSplit(Main.class, TIMEOUT, args);
    assertThat(r.timedOut())
        .as("%s timed out: %s%s", List.of(args), r.stdout(), r.stderr())
        .isFalse();
    return r;
  }

  private static List<String> nonEmptyLines(String s) {
    return s.lines().filter(l -> !l.isBlank()).toList();
  }

  private static long total(TestEnv env, String counter, String key) {
    return env.queryLong(
        "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = ? AND key = ?",
        counter,
        key);
  }

  @Test
  void incr_postgresDown_succeedsAndIsFlushedOnceLater(TestEnv env) {
    for (int i = 0; i < 2; i++) {
      JvmProcess.SplitResult incr = cli("incr", "downtime", "a", "--by", "5", "--config", dead);
      assertThat(incr.exitCode()).as(incr.stdout() + incr.stderr()).isZero();
      assertThat(incr.stdout()).contains("downtime/a +5 (acknowledged by Redis)");
      assertThat(nonEmptyLines(incr.stderr())).isEmpty();
    }

    JvmProcess.SplitResult flush = cli("flush", "--once", "--config", good);
    assertThat(flush.exitCode()).as(flush.stdout() + flush.stderr()).isZero();
    assertThat(total(env, "downtime", "a")).isEqualTo(10);
    long ledger = env.queryLong("SELECT count(*) FROM flush_ledger");

    JvmProcess.SplitResult again = cli("flush", "--once", "--config", good);
    assertThat(again.exitCode()).as(again.stdout() + again.stderr()).isZero();
    assertThat(total(env, "downtime", "a")).isEqualTo(10);
    assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isEqualTo(ledger);
  }

  @Test
  void get_postgresDown_printsPendingAndOneSentence(TestEnv env) {
    assertThat(cli("incr", "partial", "k", "--by", "4", "--config", good).exitCode()).isZero();
    assertThat(cli("flush", "--once", "--config", good).exitCode()).isZero();
    assertThat(cli("incr", "partial", "k", "--by", "3", "--config", dead).exitCode()).isZero();

    JvmProcess.SplitResult down = cli("get", "partial", "k", "--config", dead);
    assertThat(down.exitCode()).as(down.stdout() + down.stderr()).isEqualTo(GetCommand.PARTIAL);
    assertThat(nonEmptyLines(down.stdout())).containsExactly("3");
    assertThat(nonEmptyLines(down.stderr()))
        .containsExactly(
            "spillway: printed only the value of partial/k pending in Redis; it cannot include the"
                + " flushed total because PostgreSQL at 127.0.0.1:1 is unreachable (connection"
                + " refused)");

    JvmProcess.SplitResult up = cli("get", "partial", "k", "--config", good);
    assertThat(up.exitCode()).as(up.stdout() + up.stderr()).isZero();
    assertThat(nonEmptyLines(up.stdout())).containsExactly("7");
  }

  @Test
  void flushOnceAndMigrate_postgresDown_oneLineAndExit1() {
    for (String command : List.of("flush", "migrate")) {
      JvmProcess.SplitResult r =
          command.equals("flush")
              ? cli("flush", "--once", "--config", dead)
              : cli("migrate", "--config", dead);
      assertThat(r.exitCode()).as(command + ": " + r.stdout() + r.stderr()).isEqualTo(1);
      assertThat(nonEmptyLines(r.stderr())).as(command).containsExactly(UNREACHABLE);
      assertThat(nonEmptyLines(r.stdout())).as(command).isEmpty();
      assertThat(r.stdout() + r.stderr()).doesNotContain("s3cret-pw");
    }
  }

  @Test
  void build_postgresDown_failsAtOnceInOneSentence(TestEnv env) {
    SpillwayConfig config =
        SpillwayConfig.builder()
            .redisUri(env.redisUri())
            .jdbcUrl(DEAD_JDBC_URL)
            .jdbcUser(env.jdbcUser())
            .jdbcPassword("s3cret-pw")
            .schema(env.schema())
            .keyPrefix(env.keyPrefix())
            .stripes(STRIPES)
            .build();
    long start = System.nanoTime();
    assertThatThrownBy(() -> Spillway.builder().config(config).build())
        .isInstanceOf(PostgresUnavailableException.class)
        .hasMessage(UNREACHABLE.substring("spillway: ".length()));
    // A refused connection is final: no wait for the pool, no Flyway retry (they took 6-8 s).
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
  }

  @Test
  void get_corruptCell_throwsNamingTheCellAndCliExits1(TestEnv env) {
    KeyLayout layout = new KeyLayout(env.keyPrefix(), STRIPES);
    String hash = layout.live(layout.stripeOf("corrupt", "c1"));
    env.redis().sync().hset(hash, "corrupt||c1", "abc");
    String expected =
        "pending cell of corrupt/c1 in Redis hash "
            + hash
            + ", field 'corrupt||c1', holds 'abc', which is not a whole number between"
            + " -9223372036854775808 and 9223372036854775807 (Spillway writes only those there,"
            + " so another client wrote it; fix or HDEL that field)";

    try (Spillway sw = Spillways.builder(env).stripes(STRIPES).build()) {
      assertThatThrownBy(() -> sw.counters().get("corrupt", "c1"))
          .isInstanceOf(SpillwayException.class)
          .hasMessage(expected);
      assertThatThrownBy(() -> sw.counters().pending("corrupt", "c1"))
          .isInstanceOf(SpillwayException.class)
          .hasMessage(expected);
    }

    JvmProcess.SplitResult r = cli("get", "corrupt", "c1", "--config", good);
    assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isEqualTo(1);
    assertThat(nonEmptyLines(r.stderr())).containsExactly("spillway: " + expected);
    env.redis().sync().hdel(hash, "corrupt||c1");
  }

  @Test
  void flushOnce_lastInvalidationsPublishedBeforeExit(TestEnv env) throws Exception {
    int keys = 3_000;
    try (Spillway sw = Spillways.builder(env).stripes(STRIPES).build()) {
      for (int i = 0; i < keys; i++) {
        sw.counters().increment("bus_check", "k" + i);
      }
      sw.counters().flush();
      // A runtime reads counters through the cache, so flushes have someone to tell (a flush
      // with no reader anywhere sends no invalidation: CachedCountersTest).
      assertThat(sw.cachedCounters().get("bus_check", "k0")).isZero();
    }
    Set<String> invalidated = ConcurrentHashMap.newKeySet();
    ObjectMapper json = new ObjectMapper();
    RedisClient client = RedisClient.create(env.redisUri());
    try (StatefulRedisPubSubConnection<String, String> sub = client.connectPubSub()) {
      sub.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String message) {
              try {
                for (JsonNode item : json.readTree(message).path("k")) {
                  invalidated.add(item.get(0).asText() + "/" + item.get(1).asText());
                }
              } catch (IOException e) {
                throw new IllegalStateException(e);
              }
            }
          });
      sub.async().subscribe(env.keyPrefix() + "c:bus").get(10, TimeUnit.SECONDS);

      JvmProcess.SplitResult flush = cli("flush", "--once", "--config", good);
      assertThat(flush.exitCode()).as(flush.stdout() + flush.stderr()).isZero();
      assertThat(flush.stdout()).contains("cells=" + keys);
      assertThat(flush.stdout() + flush.stderr())
          .doesNotContain("cache_bus_publish_error", "cache_bus_unsent", "abandoned");

      // The child published before it exited; delivery to this subscriber is all that may lag.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (invalidated.size() < keys && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      for (int i = 0; i < keys; i++) {
        assertThat(invalidated).contains("spillway.counters/bus_check|k" + i);
      }
    } finally {
      client.shutdown();
    }
  }
}
