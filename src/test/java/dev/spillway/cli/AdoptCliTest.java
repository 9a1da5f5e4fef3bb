package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * `flush --once` with an adopt mapping, then `dead-letter list` and `replay`, as a real process.
 */
@ExtendWith(ServicesExtension.class)
class AdoptCliTest {
  @TempDir Path dir;

  @Test
  void flushOnce_listAndReplayDeadLetters(TestEnv env) throws Exception {
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".pages (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)");
    env.exec("INSERT INTO " + env.schema() + ".pages (id) VALUES (1), (2)");
    String ns = env.keyPrefix().replace(":", "") + "-cli:";
    Path config = dir.resolve("spillway.yaml");
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
          stripes: 8
        adopt:
          - name: page-views
            match: "%sviews:*"
            key-regex: "%sviews:(?<page_id>[0-9]+)"
            type: string
            sql: "UPDATE %s.pages SET view_count = view_count + :delta WHERE id = CAST(:page_id AS bigint)"
        """
            .formatted(
                env.redisUri(),
                env.jdbcUrl(),
                env.jdbcUser(),
                env.schema(),
                env.keyPrefix(),
                ns,
                ns,
                env.schema()));
    try (RedisClient rc = RedisClient.create(env.redisUri());
        StatefulRedisConnection<String, String> c = rc.connect()) {
      c.sync().incrby(ns + "views:1", 5);
      c.sync().incrby(ns + "views:2", 2);
      c.sync().incrby(ns + "views:3", 7); // no page 3 yet
      c.sync().set(ns + "views:abc", "1"); // someone else's: left alone, reported
      c.sync().rpush(ns + "views:9", "job"); // a list named like a counter: left alone, reported
    }
    String cfg = config.toString();
    JvmProcess.Result flush =
        JvmProcess.run(Main.class, Duration.ofSeconds(60), "flush", "--once", "-c", cfg);
    assertThat(flush.output())
        .contains(
            "adopt page-views: moved 3 value(s) in 1 batch(es), 2 row(s) written, 1 dead"
                + " letter(s)");
    assertThat(flush.output())
        .contains(
            "adopt page-views: 2 keys under "
                + ns
                + "views:* left alone: 1 does not match"
                + " key-regex, 1 is a list");
    assertThat(flush.exitCode()).as(flush.output()).isZero();
    try (RedisClient rc = RedisClient.create(env.redisUri());
        StatefulRedisConnection<String, String> c = rc.connect()) {
      assertThat(c.sync().get(ns + "views:abc")).isEqualTo("1");
      assertThat(c.sync().lrange(ns + "views:9", 0, -1)).containsExactly("job");
      c.sync().del(ns + "views:abc", ns + "views:9");
    }
    assertThat(env.queryLong("SELECT sum(view_count) FROM pages")).isEqualTo(7);

    JvmProcess.Result list =
        JvmProcess.run(Main.class, Duration.ofSeconds(60), "dead-letter", "list", "-c", cfg);
    assertThat(list.exitCode()).as(list.output()).isZero();
    assertThat(list.output())
        .contains(ns + "views:3")
        .contains("updated no row")
        .contains("1 waiting in all");

    env.exec("INSERT INTO " + env.schema() + ".pages (id) VALUES (3)");
    JvmProcess.Result replay =
        JvmProcess.run(
            Main.class,
            Duration.ofSeconds(60),
            "dead-letter",
            "replay",
            "--mapping",
            "page-views",
            "-c",
            cfg);
    assertThat(replay.exitCode()).as(replay.output()).isZero();
    assertThat(replay.output()).contains("replayed 1, still failing 0");
    assertThat(env.queryLong("SELECT view_count FROM pages WHERE id = 3")).isEqualTo(7);

    JvmProcess.Result unknown =
        JvmProcess.run(
            Main.class,
            Duration.ofSeconds(60),
            "dead-letter",
            "replay",
            "--mapping",
            "nope",
            "-c",
            cfg);
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.output()).contains("no adopt mapping named 'nope'");
  }
}
