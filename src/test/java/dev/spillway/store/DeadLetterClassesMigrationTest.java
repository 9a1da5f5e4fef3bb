package dev.spillway.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * V40 on a schema that already holds dead letters: rows a Redis rollback wrote become
 * maybe_counted, rows replayed before keep their replay as a recorded decision, and whatever still
 * writes only replayed_at is recorded as a replay, except on a maybe_counted row.
 */
@ExtendWith(ServicesExtension.class)
class DeadLetterClassesMigrationTest {
  @BeforeAll
  static void migrateWithOldRows(TestEnv env) {
    Flyway.configure(Database.class.getClassLoader())
        .dataSource(env.jdbcUrl(), env.jdbcUser(), env.jdbcPassword())
        .schemas(env.schema())
        .defaultSchema(env.schema())
        .locations(Database.MIGRATIONS)
        .placeholders(Map.of("schema", Database.quote(env.schema())))
        .target("30")
        .load()
        .migrate();
    env.exec(
        "INSERT INTO dead_letter (batch_id, source, counter, key, delta, reason) VALUES ('b1',"
            + " 'counter', 'c', 'rolled', 5, 'Redis rolled back to before claim x:2 of stripe 0,"
            + " ...'), ('b2', 'counter', 'c', 'overflow', 7, 'counter_totals.total would overflow"
            + " bigint')");
    env.exec(
        "INSERT INTO dead_letter (batch_id, source, counter, key, delta, reason, replayed_at)"
            + " VALUES ('b3', 'counter', 'c', 'done', 1, 'counter_totals.total would overflow"
            + " bigint', now())");
    try (Spillway ignored = Spillways.builder(env).build()) {
      // build() migrates the rest: V40
    }
  }

  @Test
  void migrate_rollbackRows_maybeCountedOthersUnapplied(TestEnv env) {
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key = 'rolled' AND kind = 'maybe_counted'"))
        .isOne();
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key = 'overflow' AND kind = 'unapplied'"
                    + " AND decision IS NULL"))
        .isOne();
  }

  @Test
  void migrate_rowReplayedBefore_keepsItsReplayAsADecision(TestEnv env) {
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key = 'done' AND decision = 'replayed'"
                    + " AND decided_at = replayed_at AND decided_by IS NOT NULL"))
        .isOne();
  }

  @Test
  void replayedAt_setByHandOnMaybeCountedRow_refused(TestEnv env) {
    assertThatThrownBy(
            () -> env.exec("UPDATE dead_letter SET replayed_at = now() WHERE key = 'rolled'"))
        .hasStackTraceContaining("is maybe_counted (its cells may already be counted)");
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key = 'rolled' AND decision IS NULL"))
        .isOne();
  }

  @Test
  void replayedAt_setByHandOnUnappliedRow_recordedAsReplayed(TestEnv env) {
    env.exec(
        "INSERT INTO dead_letter (batch_id, source, reason, replayed_at) VALUES ('b4', 'counter',"
            + " 'by hand', now())");
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE batch_id = 'b4' AND decision = 'replayed'"
                    + " AND decided_at = replayed_at AND decided_by = session_user"))
        .isOne();
  }

  @Test
  void replayedAt_setByHandOnDiscardedRow_refused(TestEnv env) {
    env.exec(
        "INSERT INTO dead_letter (batch_id, source, reason, decision, decided_by, decided_at,"
            + " decision_reason) VALUES ('b5', 'counter', 'x', 'discarded', 'carol', now(),"
            + " 'counted already')");
    assertThatThrownBy(
            () -> env.exec("UPDATE dead_letter SET replayed_at = now() WHERE batch_id = 'b5'"))
        .hasStackTraceContaining("dead_letter_decided");
  }

  @Test
  void discard_withoutReason_refusedByTheTable(TestEnv env) {
    assertThatThrownBy(
            () ->
                env.exec(
                    "UPDATE dead_letter SET decision = 'discarded', decided_by = 'x',"
                        + " decided_at = now() WHERE key = 'overflow'"))
        .hasStackTraceContaining("dead_letter_decided");
  }
}
