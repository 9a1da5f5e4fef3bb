package dev.spillway.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 15: table-mode adopt mappings go through the set-based path (values summed per row, binary
 * COPY, one upsert), and whatever that path cannot take still ends exactly where the row-by-row
 * path put it: values of one row from several batches add up, a sum beyond bigint and a key value
 * the column type refuses each dead-letter exactly their own value, and every other row of the
 * transaction is applied.
 */
@ExtendWith(ServicesExtension.class)
class AdoptTableModeTest {
  private static final String NS = "atm:";

  private AdoptMapping mapping(TestEnv env) {
    return new AdoptMapping(
        "stats",
        NS + "stats:*",
        KeyRegex.compile(Pattern.quote(NS) + "stats:(?<day>[0-9-]{10})"),
        AdoptMapping.Type.HASH,
        null,
        env.schema() + ".stats",
        Map.of("day", "day", "field", "metric"),
        "value",
        null,
        100);
  }

  @BeforeEach
  void tables(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).build()) {
      // built once so that the schema (ledger, dead_letter) is migrated
    }
    env.exec("DROP TABLE IF EXISTS " + env.schema() + ".stats");
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".stats (day date NOT NULL, metric text NOT NULL,"
            + " value bigint NOT NULL, PRIMARY KEY (day, metric))");
    env.exec("DELETE FROM " + env.schema() + ".dead_letter");
  }

  private static AdoptedCell cell(String day, String field, String value) {
    return new AdoptedCell(NS + "stats:" + day, field, value, null);
  }

  @Test
  void sameRowInTwoBatches_addsUp_newAndExistingRows(TestEnv env) {
    env.exec("INSERT INTO " + env.schema() + ".stats VALUES ('2026-11-10', 'logins', 100)");
    AdoptStore store = new AdoptStore(env.dataSource(), env.schema());
    ApplyResult r =
        store.apply(
            mapping(env),
            List.of(
                new AdoptBatch(
                    "tm-a",
                    List.of(cell("2026-11-10", "logins", "5"), cell("2026-11-11", "orders", "2"))),
                new AdoptBatch("tm-b", List.of(cell("2026-11-10", "logins", "6")))),
            null);

    assertThat(r.applied()).containsExactlyInAnyOrder("tm-a", "tm-b");
    assertThat(r.deadLetters()).isZero();
    assertThat(value(env, "2026-11-10", "logins")).isEqualTo(111);
    assertThat(value(env, "2026-11-11", "orders")).isEqualTo(2);
  }

  @Test
  void overflowAndBadKeyValue_deadLetterExactlyThoseValues(TestEnv env) {
    env.exec(
        "INSERT INTO " + env.schema() + ".stats VALUES ('2026-11-10', 'big', ?)",
        Long.MAX_VALUE - 5);
    AdoptStore store = new AdoptStore(env.dataSource(), env.schema());
    ApplyResult r =
        store.apply(
            mapping(env),
            List.of(
                new AdoptBatch(
                    "tm-c",
                    List.of(
                        cell("2026-11-10", "big", "10"), // the stored total would overflow
                        cell("2026-11-10", "ok", "7"),
                        cell(
                            "2026-13-45",
                            "x",
                            "1"))), // no such date: PostgreSQL refuses the key value
                new AdoptBatch(
                    "tm-d",
                    List.of(
                        cell("2026-11-12", "sum", Long.toString(Long.MAX_VALUE)),
                        cell("2026-11-11", "ok", "3")))),
            null);

    assertThat(r.applied()).containsExactlyInAnyOrder("tm-c", "tm-d");
    assertThat(r.deadLetters()).isEqualTo(2);
    assertThat(value(env, "2026-11-10", "big")).isEqualTo(Long.MAX_VALUE - 5);
    assertThat(value(env, "2026-11-10", "ok")).isEqualTo(7);
    assertThat(value(env, "2026-11-11", "ok")).isEqualTo(3);
    assertThat(value(env, "2026-11-12", "sum")).isEqualTo(Long.MAX_VALUE);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM "
                    + env.schema()
                    + ".dead_letter WHERE key = ?"
                    + " AND field = 'big' AND delta = 10 AND reason LIKE 'statement failed%'",
                NS + "stats:2026-11-10"))
        .isOne();
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM "
                    + env.schema()
                    + ".dead_letter WHERE key = ?"
                    + " AND field = 'x' AND delta = 1 AND reason LIKE 'statement failed%'",
                NS + "stats:2026-13-45"))
        .isOne();
  }

  @Test
  void sumOfOneRowBeyondBigint_deadLettersTheValueThatOverflows(TestEnv env) {
    AdoptStore store = new AdoptStore(env.dataSource(), env.schema());
    ApplyResult r =
        store.apply(
            mapping(env),
            List.of(
                new AdoptBatch(
                    "tm-e",
                    List.of(
                        cell("2026-11-10", "n", Long.toString(Long.MAX_VALUE)),
                        cell("2026-11-10", "m", "4"))),
                new AdoptBatch("tm-f", List.of(cell("2026-11-10", "n", "1")))),
            null);

    assertThat(r.applied()).containsExactlyInAnyOrder("tm-e", "tm-f");
    assertThat(r.deadLetters()).isOne();
    assertThat(value(env, "2026-11-10", "n")).isEqualTo(Long.MAX_VALUE);
    assertThat(value(env, "2026-11-10", "m")).isEqualTo(4);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM "
                    + env.schema()
                    + ".dead_letter WHERE batch_id = 'tm-f'"
                    + " AND field = 'n' AND delta = 1"))
        .isOne();
  }

  private static long value(TestEnv env, String day, String metric) {
    return env.queryLong(
        "SELECT value FROM "
            + env.schema()
            + ".stats WHERE day = CAST(? AS date)"
            + " AND metric = ?",
        day,
        metric);
  }
}
