package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.flush.FlushReport;
import dev.spillway.store.DeadLetterKind;
import dev.spillway.store.DeadLetters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import io.lettuce.core.RestoreArgs;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spillway dead-letter} run in-process against real Redis and PostgreSQL: the class of a row
 * decides what a plain replay does, and every decision is recorded and final. Each test uses its
 * own counter names, so they share the class's schema without seeing each other's totals.
 */
@ExtendWith(ServicesExtension.class)
class DeadLetterCliTest {
  @TempDir static Path dir;
  static String config;

  @BeforeAll
  static void writeConfig(TestEnv env) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(
        p,
        """
        redis:
          uri: %s
        postgres:
          jdbc-url: %s
          user: %s
          schema: %s
        keys:
          prefix: "%s"
          stripes: 1
        """
            .formatted(
                env.redisUri(), env.jdbcUrl(), env.jdbcUser(), env.schema(), env.keyPrefix()));
    config = p.toString();
  }

  record Run(int exitCode, String out, String err) {
    String all() {
      return out + err;
    }
  }

  private static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] withConfig = new String[args.length + 2];
    System.arraycopy(args, 0, withConfig, 0, args.length);
    withConfig[args.length] = "--config";
    withConfig[args.length + 1] = config;
    int code = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), withConfig);
    return new Run(code, out.toString(), err.toString());
  }

  /** Every key under the class's prefix, as DUMPed (what an AOF or a replica would hold). */
  private static Map<String, byte[]> snapshot(TestRedis redis, String prefix) {
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (String k : redis.keys(prefix + "*")) {
      out.put(k, redis.sync().dump(k));
    }
    return out;
  }

  /** Redis "rolls back": everything under the prefix is as it was at the snapshot. */
  private static void restore(TestRedis redis, String prefix, Map<String, byte[]> snap) {
    redis.deleteMatching(prefix + "*");
    snap.forEach((k, v) -> redis.sync().restore(k, v, RestoreArgs.Builder.ttl(0).replace()));
  }

  private static long total(TestEnv env, String counter, String key) {
    return env.queryLong(
        "SELECT total FROM counter_totals WHERE counter = ? AND key = ?", counter, key);
  }

  @Test
  void replay_rowOfAResurrectedBatch_onlyByIdAndOnlyOnce(TestEnv env) {
    long id;
    try (Spillway sw = Spillways.builder(env).stripes(1).build();
        TestRedis redis = env.redis()) {
      var c = sw.counters();
      c.increment("rb", "a", 1);
      c.flush();
      assertThat(sw.flushOnce().batchesApplied()).isEqualTo(1); // claim 1: the stripe has a history
      c.increment("rb", "a", 99);
      c.flush();
      Map<String, byte[]> before = snapshot(redis, env.keyPrefix()); // live a=99, one claim so far
      assertThat(sw.flushOnce().batchesApplied()).isEqualTo(1); // claim 2: a = 100
      assertThat(total(env, "rb", "a")).isEqualTo(100);

      restore(redis, env.keyPrefix(), before); // claim 2 never happened, its 99 are back
      FlushReport after = sw.flushOnce(); // reissues claim 2
      assertThat(after.ok()).as(after.toString()).isTrue();
      assertThat(after.deadLetters()).isEqualTo(1);
      assertThat(total(env, "rb", "a")).as("resurrected cells not counted").isEqualTo(100);
      DeadLetters.Row row =
          sw.deadLetters().list(null, 10).stream()
              .filter(r -> "rb".equals(r.counter()))
              .findFirst()
              .orElseThrow();
      assertThat(row.kind()).isEqualTo(DeadLetterKind.MAYBE_COUNTED);
      assertThat(row.delta()).isEqualByComparingTo("99");
      id = row.id();
    }

    Run list = cli("dead-letter", "list");
    assertThat(list.exitCode()).as(list.all()).isZero();
    assertThat(list.out())
        .containsPattern(id + "\\s+maybe_counted\\s+rb\\s+a\\s+99\\s+Redis rolled back");

    Run plain = cli("dead-letter", "replay");
    assertThat(plain.exitCode()).as(plain.all()).isZero();
    assertThat(plain.out())
        .contains("replayed 0, still failing 0")
        .contains(
            "1 row left: its cells may already be counted (Redis rollback); review them, then"
                + " `dead-letter replay --id N` or `dead-letter discard --id N --reason ...`");
    assertThat(total(env, "rb", "a"))
        .as("a plain replay leaves maybe_counted rows alone")
        .isEqualTo(100);
    assertThat(
            env.queryLong("SELECT count(*) FROM dead_letter WHERE id = ? AND decision IS NULL", id))
        .isOne();

    Run one =
        cli(
            "dead-letter",
            "replay",
            "--id",
            Long.toString(id),
            "--by",
            "alice",
            "--reason",
            "the 99 never reached the total");
    assertThat(one.exitCode()).as(one.all()).isZero();
    assertThat(one.out())
        .contains(
            "replayed dead letter " + id + " (maybe_counted, rb a, delta 99), decided by alice");
    assertThat(total(env, "rb", "a")).isEqualTo(199);

    Run again = cli("dead-letter", "replay", "--id", Long.toString(id));
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err())
        .contains("dead letter " + id + " was already replayed by alice at")
        .contains("a closed row is never replayed or discarded again");
    assertThat(cli("dead-letter", "discard", "--id", Long.toString(id), "--reason", "x").exitCode())
        .isEqualTo(1);
    assertThat(total(env, "rb", "a")).as("applied exactly once").isEqualTo(199);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE id = ? AND decision = 'replayed' AND"
                    + " decided_by = 'alice' AND decided_at IS NOT NULL AND replayed_at ="
                    + " decided_at AND decision_reason = 'the 99 never reached the total'",
                id))
        .isOne();
  }

  @Test
  void discard_unappliedRow_recordsWhoWhenWhyAndNeverApplies(TestEnv env) {
    long id;
    try (Spillway sw = Spillways.builder(env).stripes(1).build()) {
      var c = sw.counters();
      c.increment("ov", "k", Long.MAX_VALUE - 5);
      c.flush();
      sw.flushOnce();
      c.increment("ov", "k", 10); // would overflow the stored total: an unapplied dead letter
      c.flush();
      assertThat(sw.flushOnce().deadLetters()).isEqualTo(1);
      DeadLetters.Row row =
          sw.deadLetters().list(null, 10).stream()
              .filter(r -> "ov".equals(r.counter()))
              .findFirst()
              .orElseThrow();
      assertThat(row.kind()).isEqualTo(DeadLetterKind.UNAPPLIED);
      id = row.id();
    }
    String n = Long.toString(id);

    Run noReason = cli("dead-letter", "discard", "--id", n);
    assertThat(noReason.exitCode()).isEqualTo(2);
    assertThat(noReason.err()).contains("dead-letter discard needs --reason TEXT");

    Run discard =
        cli(
            "dead-letter",
            "discard",
            "--id",
            n,
            "--by",
            "bob",
            "--reason",
            "double-sent by the importer");
    assertThat(discard.exitCode()).as(discard.all()).isZero();
    assertThat(discard.out())
        .contains("discarded dead letter " + id + " (unapplied, ov k, delta 10), decided by bob");
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE id = ? AND decision = 'discarded' AND"
                    + " decided_by = 'bob' AND decided_at > now() - interval '5 minutes' AND"
                    + " replayed_at IS NULL AND decision_reason = 'double-sent by the importer'",
                id))
        .isOne();

    env.exec(
        "UPDATE counter_totals SET total = 0 WHERE counter = 'ov' AND key = 'k'"); // would fit now
    Run plain = cli("dead-letter", "replay");
    assertThat(plain.exitCode()).as(plain.all()).isZero();
    Run byId = cli("dead-letter", "replay", "--id", n);
    assertThat(byId.exitCode()).isEqualTo(1);
    assertThat(byId.err()).contains("dead letter " + id + " was already discarded by bob");
    Run twice = cli("dead-letter", "discard", "--id", n, "--reason", "again");
    assertThat(twice.exitCode()).isEqualTo(1);
    assertThat(total(env, "ov", "k")).as("a discarded row is never applied").isZero();

    Run show = cli("dead-letter", "show", "--id", n);
    assertThat(show.out())
        .contains("decision    discarded by bob at")
        .contains("double-sent by the importer");
    Run missing = cli("dead-letter", "replay", "--id", "987654321");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("there is no dead letter 987654321");
  }

  @Test
  void list_controlCharactersInKeyAndReason_escaped(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).stripes(1).build();
        TestRedis redis = env.redis()) {
      sw.counters().increment("esc", "fine", 1);
      sw.counters().flush();
      // Foreign garbage in the stripe: a key that clears the screen, a value that sets the title.
      redis
          .sync()
          .hset(env.keyPrefix() + "{0}:live", "esc||k\u001b[2J\u202e", "1\u001b]0;pwned\u0007");
      for (int i = 0; i < 5 && sw.flushOnce().batchesClaimed() > 0; i++) {
        // drain
      }
    }
    Run list = cli("dead-letter", "list");
    assertThat(list.exitCode()).as(list.all()).isZero();
    assertThat(list.out())
        .contains("esc")
        .contains("k\\x1b[2J\\u202e")
        .doesNotContain("\u001b")
        .doesNotContain("\u0007")
        .doesNotContain("\u202e");
  }
}
