package dev.spillway.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.layout.CellDelta;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 15: the set-based upsert checks the bigint range in bigint arithmetic (no numeric cast per
 * row). At both ends of the range, a new value that lands exactly on the bound is written and one
 * past it is refused and dead-lettered with its delta, for totals and for buckets alike; every
 * other row of the transaction is written.
 */
@ExtendWith(ServicesExtension.class)
class OverflowBoundaryTest {
  private static final long MINUTE = 29_000_000L; // an epoch minute in 2025

  @Test
  void exactlyOnTheBound_written_onePast_deadLettered(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).build()) {
      // built once so that the schema is migrated
    }
    long hour = Math.floorDiv(MINUTE, 60) * 3600;
    env.exec(
        "INSERT INTO counter_totals (counter, key, total) VALUES ('b', 'max-hit', ?), ('b',"
            + " 'max-past', ?), ('b', 'min-hit', ?), ('b', 'min-past', ?)",
        Long.MAX_VALUE - 5,
        Long.MAX_VALUE - 5,
        Long.MIN_VALUE + 5,
        Long.MIN_VALUE + 5);
    env.exec(
        "INSERT INTO counter_buckets (counter, key, granularity, bucket_start, value) VALUES ('b',"
            + " 'max-hit', 'h', to_timestamp(?), ?), ('b', 'max-past', 'h', to_timestamp(?), ?)",
        hour,
        Long.MAX_VALUE - 5,
        hour,
        Long.MAX_VALUE - 5);
    CounterStore store = new CounterStore(env.dataSource(), env.schema());
    ApplyResult r =
        store.apply(
            List.of(
                new BatchContent(
                    "ob-1",
                    0,
                    List.of(
                        new CellDelta("b", "max-hit", "", MINUTE, 5),
                        new CellDelta("b", "max-past", "", MINUTE, 6),
                        new CellDelta("b", "min-hit", "", MINUTE, -5),
                        new CellDelta("b", "min-past", "", MINUTE, -6),
                        new CellDelta("b", "fresh", "", MINUTE, 9)),
                    List.of())),
            "counter",
            null);

    assertThat(r.applied()).containsExactly("ob-1");
    assertThat(r.deadLetters()).isEqualTo(2);
    assertThat(total(env, "max-hit")).isEqualTo(Long.MAX_VALUE);
    assertThat(total(env, "max-past")).isEqualTo(Long.MAX_VALUE - 5);
    assertThat(total(env, "min-hit")).isEqualTo(Long.MIN_VALUE);
    assertThat(total(env, "min-past")).isEqualTo(Long.MIN_VALUE + 5);
    assertThat(total(env, "fresh")).isEqualTo(9);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE batch_id = 'ob-1'"
                    + " AND ((key = 'max-past' AND delta = 6) OR (key = 'min-past' AND delta = -6))"
                    + " AND reason LIKE '%would overflow bigint%' AND granularity IS NULL"))
        .isEqualTo(2);

    // Buckets: the same rule on counter_buckets.value (cells counted per hour).
    env.exec("DELETE FROM counter_totals WHERE key IN ('max-hit', 'max-past')");
    ApplyResult b =
        store.apply(
            List.of(
                new BatchContent(
                    "ob-2",
                    0,
                    List.of(
                        new CellDelta("b", "max-hit", "h", MINUTE, 5),
                        new CellDelta("b", "max-past", "h", MINUTE, 6)),
                    List.of())),
            "counter",
            null);
    assertThat(b.deadLetters()).isOne();
    assertThat(env.queryLong("SELECT value FROM counter_buckets WHERE key = 'max-hit'"))
        .isEqualTo(Long.MAX_VALUE);
    assertThat(env.queryLong("SELECT value FROM counter_buckets WHERE key = 'max-past'"))
        .isEqualTo(Long.MAX_VALUE - 5);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE batch_id = 'ob-2'"
                    + " AND key = 'max-past' AND granularity = 'h' AND delta = 6"
                    + " AND bucket_start = to_timestamp(?)",
                hour))
        .isOne();
  }

  private static long total(TestEnv env, String key) {
    return env.queryLong("SELECT total FROM counter_totals WHERE counter = 'b' AND key = ?", key);
  }
}
