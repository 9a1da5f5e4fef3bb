package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import dev.spillway.store.Database;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A counter's HOUR level changes from written by the flusher to rolled up, and back: the rollup
 * refuses until the cut-over is marked as the README describes, then counts exactly; retention
 * keeps minute rows that were never rolled into a level the flusher writes again.
 */
@ExtendWith(ServicesExtension.class)
class LevelChangeTest {
  private static final String CUTOVER = "2026-03-19T00:00:00Z";

  @Test
  void writtenToRolledAndBack_neverCountedTwiceNorLost(TestEnv env) {
    ReportFixtures.TestClock clock = new ReportFixtures.TestClock("2026-03-21T06:00:00Z");
    SpillwayConfig written =
        ReportFixtures.config(
            env,
            b ->
                b.counter("c", Granularity.MINUTE, Granularity.HOUR)
                    .reporting(
                        ReportSettings.defaults()
                            .withRetention(
                                "c", Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(1)))));
    SpillwayConfig rolled =
        ReportFixtures.config(
            env,
            b ->
                b.counter("c", Granularity.MINUTE)
                    .reporting(
                        ReportSettings.defaults()
                            .withRetention(
                                "c", Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(1)))
                            .withRetention(
                                "c", Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(30)))));
    try (Database db = ReportFixtures.migrated(written)) {
      // Mar 18: clients wrote minutes and hours (fan-out); from Mar 19 on, minutes only.
      env.exec(
          "INSERT INTO counter_buckets SELECT 'c', 'k', 'm', t, 1 FROM"
              + " generate_series('2026-03-18T00:00:00Z'::timestamptz, '2026-03-20T23:59:00Z',"
              + " interval '1 minute') t");
      env.exec(
          "INSERT INTO counter_buckets SELECT 'c', 'k', 'h', t, 60 FROM"
              + " generate_series('2026-03-18T00:00:00Z'::timestamptz, '2026-03-18T23:00:00Z',"
              + " interval '1 hour') t");
      long events = 3 * 24 * 60;

      Rollup.Result refused = Rollup.run(db.dataSource(), rolled, clock);
      assertThat(refused.skipped())
          .singleElement()
          .asString()
          .contains("the rollup has never written HOUR rows of c");
      assertThat(refused.rowsMoved()).isZero();

      // the README's procedure: drop the duplicated minutes, mark the cut-over
      env.exec(
          "DELETE FROM counter_buckets WHERE counter = 'c' AND granularity = 'm'"
              + " AND bucket_start < ?::timestamptz",
          CUTOVER);
      env.exec(
          "INSERT INTO rollup_marks (counter, granularity, rolled_before) VALUES ('c', 'h',"
              + " ?::timestamptz)",
          CUTOVER);
      Rollup.Result r = Rollup.run(db.dataSource(), rolled, clock);
      assertThat(r.skipped()).isEmpty();
      assertThat(r.rowsMoved()).isEqualTo(24 * 60 + 6 * 60); // Mar 19 and Mar 20 until 06:00
      assertThat(env.queryLong("SELECT sum(value) FROM counter_buckets WHERE counter = 'c'"))
          .isEqualTo(events);

      // and back: HOUR written again. Minutes from the mark on were never rolled into it.
      clock.set("2026-03-22T06:00:00Z");
      Retention.Result kept = Retention.run(db.dataSource(), written, clock);
      assertThat(kept.skipped())
          .anyMatch(
              s ->
                  s.contains(
                      "MINUTE rows from 2026-03-20T06:00:00Z on"
                          + " are kept past their retention"));
      assertThat(env.queryLong("SELECT sum(value) FROM counter_buckets WHERE counter = 'c'"))
          .isEqualTo(events);
    }
  }
}
