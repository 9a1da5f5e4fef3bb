package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ExportSettings.Kind;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import dev.spillway.store.Database;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Rollup and retention over eight and a half days of generated bucket rows (247,825), in order:
 *
 * <ol>
 *   <li>the rows land in DEFAULT (no partitions yet); upkeep gives each day a partition and moves
 *       them out, DEFAULT ends empty;
 *   <li>a rollup moves expired minute rows of the rolled-up counter into hours and old hours into
 *       days: every per-day sum (and every report) is unchanged; a second run moves nothing;
 *   <li>two rollups at once, while a third session keeps flushing late increments into the very
 *       buckets being moved: per-day sums are exactly the old ones plus the late increments;
 *   <li>retention truncates expired minute leaves, deletes what expired inside a leaf, keeps day
 *       rows, leaves the rolled-up counter to the rollup; future partitions are in place;
 *   <li>a client writing a level the configuration says is rolled up is detected; the rollup skips
 *       that counter rather than count twice.
 * </ol>
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RollupRetentionTest {
  private static final String START = "2026-03-12T00:00:00Z";
  private final ReportFixtures.TestClock clock =
      new ReportFixtures.TestClock("2026-03-20T12:34:00Z");
  private TestEnv env;
  private SpillwayConfig config;
  private Database db;
  private Map<String, Long> rolledDays;
  private Map<String, Long> writtenDays;

  @BeforeAll
  void generate(TestEnv env) {
    this.env = env;
    ReportSettings r =
        ReportSettings.defaults()
            .withRetention("rolled", Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(1)))
            .withRetention("rolled", Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(3)))
            .withRetention("rolled", Granularity.DAY, RetentionPeriod.FOREVER)
            .withRetention("written", Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(1)))
            .withRetention("written", Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(3)));
    config =
        ReportFixtures.config(
            env,
            b ->
                b.counter("rolled", Granularity.MINUTE) // hour and day filled by the rollup
                    .counter("written", Granularity.MINUTE, Granularity.HOUR, Granularity.DAY)
                    .reporting(r));
    db = ReportFixtures.migrated(config);
    for (String counter : List.of("rolled", "written")) {
      env.exec(
          "INSERT INTO counter_buckets (counter, key, granularity, bucket_start, value) SELECT ?,"
              + " 'k' || k, 'm', t, k + (extract(minute FROM t)::int % 7) + 1 FROM"
              + " generate_series(0, 9) AS k, generate_series(?::timestamptz, ?::timestamptz -"
              + " interval '1 minute', interval '1 minute') AS t",
          counter, START, "2026-03-20T12:34:00Z");
    }
    // what the flusher writes for a counter keeping all three: the same events at each level
    for (String g : List.of("hour", "day")) {
      env.exec(
          "INSERT INTO counter_buckets (counter, key, granularity, bucket_start, value) SELECT"
              + " counter, key, ?::\"char\", date_trunc(?, bucket_start, 'UTC'), sum(value) FROM"
              + " counter_buckets WHERE counter = 'written' AND granularity = 'm' GROUP BY 1, 2, 3,"
              + " 4",
          g.substring(0, 1),
          g);
    }
    // a counter no configuration defines
    env.exec(
        "INSERT INTO counter_buckets SELECT 'legacy', 'x', 'h', t, 1 FROM generate_series("
            + "?::timestamptz, ?::timestamptz, interval '1 hour') AS t",
        START,
        "2026-03-20T12:00:00Z");
  }

  @AfterAll
  void close() {
    db.close();
  }

  @Test
  @Order(1)
  void upkeep_rowsInDefault_movedIntoNewPartitions() {
    assertThat(new PartitionUpkeep(db.dataSource(), config, clock).defaultPartitionRows())
        .isEqualTo(
            2 * 10 * (8 * 1440 + 12 * 60 + 34) + 10 * (8 * 24 + 13) + 10 * 9 + (8 * 24 + 13));
    PartitionUpkeep.Result r = PartitionUpkeep.run(db.dataSource(), config, clock);
    // Mar 12..Mar 27: nine days of data plus seven ahead
    assertThat(r.created()).hasSize(16);
    assertThat(r.rowsMoved()).isEqualTo(247_825);
    assertThat(r.defaultRows()).isZero();
    rolledDays = perDay("rolled", "m", "h", "d");
    writtenDays = perDay("written", "d");
    assertThat(rolledDays).hasSize(9).isEqualTo(perDay("written", "m"));
    assertThat(writtenDays).isEqualTo(perDay("written", "h")).isEqualTo(rolledDays);
  }

  @Test
  @Order(2)
  void rollup_movesExpiredRows_perDaySumsAndReportsUnchanged() {
    List<Long> reportBefore = dailyReport("rolled");
    List<Long> hourlyBefore = hourlyReport("rolled");
    Rollup.Result r = Rollup.run(db.dataSource(), config, clock);
    assertThat(r.skipped()).isEmpty();
    assertThat(r.rowsMoved()).isGreaterThan(100_000);
    // minutes before Mar 19 12:00 became hours; hours before Mar 17 became days
    assertThat(count("rolled", "m", "2026-03-19T12:00:00Z")).isZero();
    assertThat(count("rolled", "h", "2026-03-17T00:00:00Z")).isZero();
    assertThat(count("rolled", "d", "2026-03-17T00:00:00Z")).isEqualTo(5 * 10);
    assertThat(perDay("rolled", "m", "h", "d")).isEqualTo(rolledDays);
    assertThat(dailyReport("rolled")).isEqualTo(reportBefore);
    // the SQL view in db/ sums the same levels (bucket_levels was published by upkeep)
    assertThat(viewPerDay("rolled")).isEqualTo(rolledDays);
    assertThat(hourlyReport("rolled")).isEqualTo(hourlyBefore);
    // the counter whose coarser levels the flusher writes is not the rollup's business
    assertThat(perDay("written", "m")).isEqualTo(writtenDays);

    Rollup.Result again = Rollup.run(db.dataSource(), config, clock);
    assertThat(again.rowsMoved()).isZero();
    assertThat(perDay("rolled", "m", "h", "d")).isEqualTo(rolledDays);
  }

  @Test
  @Order(3)
  void rollup_twoAtOnceWithLateFlushes_exact() throws Exception {
    clock.set(
        "2026-03-21T12:34:00Z"); // another day of minutes (Mar 19 12:00 to Mar 20 12:00) expires
    int late = 400;
    CountDownLatch go = new CountDownLatch(1);
    CompletableFuture<Rollup.Result> a =
        CompletableFuture.supplyAsync(
            () -> {
              await(go);
              return Rollup.run(db.dataSource(), config, clock);
            });
    CompletableFuture<Rollup.Result> b =
        CompletableFuture.supplyAsync(
            () -> {
              await(go);
              return Rollup.run(db.dataSource(), config, clock);
            });
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              await(go);
              // as the flusher does it: one upsert per cell, in its own transaction
              for (int i = 0; i < late; i++) {
                Instant t =
                    Instant.parse("2026-03-20T00:00:00Z")
                        .plusSeconds(60L * ThreadLocalRandom.current().nextInt(0, 12 * 60));
                env.exec(
                    "INSERT INTO counter_buckets VALUES ('rolled', 'k0', 'm', ?::timestamptz, 1)"
                        + " ON CONFLICT (counter, key, granularity, bucket_start)"
                        + " DO UPDATE SET value = counter_buckets.value + excluded.value",
                    t.toString());
              }
            });
    go.countDown();
    CompletableFuture.allOf(a, b, writer).get();
    assertThat(a.get().rowsMoved() + b.get().rowsMoved()).isGreaterThan(10 * 12 * 60);
    Rollup.run(db.dataSource(), config, clock); // late rows that arrived after the move
    Map<String, Long> expected = new TreeMap<>(rolledDays);
    expected.merge("2026-03-20", (long) late, Long::sum);
    assertThat(perDay("rolled", "m", "h", "d")).isEqualTo(expected);
    assertThat(count("rolled", "m", "2026-03-20T12:00:00Z")).isZero();
    rolledDays = expected;
  }

  @Test
  @Order(4)
  void retention_truncatesAndDeletesExpired_keepsDaysAndFuturePartitions() {
    PartitionUpkeep.run(db.dataSource(), config, clock);
    Retention.Result r = Retention.run(db.dataSource(), config, clock);
    assertThat(r.skipped()).isEmpty();
    assertThat(r.dropped()).isEmpty(); // day rows are kept forever
    // minute leaves of Mar 12..19 held only expired "written" rows: truncated whole
    assertThat(r.truncated()).filteredOn(n -> n.endsWith("_m")).hasSize(8);
    assertThat(r.rowsDeleted()).isGreaterThan(0); // Mar 20 before 12:00 (minutes), hours in leaves
    assertThat(count("written", "m", "2026-03-20T12:00:00Z")).isZero();
    assertThat(count("written", "m", "2026-03-21T12:34:00Z")).isEqualTo(34 * 10); // 12:00 to 12:34
    assertThat(count("written", "h", "2026-03-18T00:00:00Z")).isZero();
    assertThat(perDay("written", "d")).isEqualTo(writtenDays);
    // the unknown counter: hours within the default 90 days stay
    assertThat(count("legacy", "h", "2026-03-21T00:00:00Z")).isEqualTo(8 * 24 + 13);
    // the rolled-up counter is not retention's to touch
    assertThat(perDay("rolled", "m", "h", "d")).isEqualTo(rolledDays);
    assertThat(partitions()).contains("counter_buckets_p20260321", "counter_buckets_p20260327");
    assertThat(new PartitionUpkeep(db.dataSource(), config, clock).defaultPartitionRows()).isZero();
    Retention.Result again = Retention.run(db.dataSource(), config, clock);
    assertThat(again.rowsDeleted()).isZero();
  }

  @Test
  @Order(5)
  void rollup_targetWrittenByAClient_skippedNotDoubleCounted() {
    // at or after the minute horizon (Mar 21 13:00), where the rollup never writes hours
    env.exec("INSERT INTO counter_buckets VALUES ('rolled', 'k0', 'h', '2026-03-22T12:00:00Z', 5)");
    clock.set("2026-03-22T13:00:00Z");
    try {
      Rollup.Result r = Rollup.run(db.dataSource(), config, clock);
      assertThat(r.skipped())
          .singleElement()
          .asString()
          .contains("rolled: not rolled up into HOUR")
          .contains("the flusher writes HOUR buckets of rolled");
      assertThat(perDay("rolled", "m", "h", "d"))
          .containsEntry("2026-03-20", rolledDays.get("2026-03-20"));
    } finally {
      env.exec(
          "DELETE FROM counter_buckets WHERE counter = 'rolled' AND granularity = 'h'"
              + " AND bucket_start = '2026-03-22T12:00:00Z'");
      clock.set("2026-03-21T12:34:00Z");
    }
  }

  private List<Long> dailyReport(String counter) {
    Report r =
        new Reports(db.dataSource(), config, clock)
            .run(
                new ReportRequest(
                    Kind.SERIES,
                    counter,
                    Optional.empty(),
                    Optional.of(Granularity.DAY),
                    new Window.Between(Instant.parse(START), Instant.parse("2026-03-21T00:00:00Z")),
                    ZoneOffset.UTC,
                    10));
    return ReportGoldenTest.values(r);
  }

  private List<Long> hourlyReport(String counter) {
    Report r =
        new Reports(db.dataSource(), config, clock)
            .run(
                new ReportRequest(
                    Kind.SERIES,
                    counter,
                    Optional.of("k3"),
                    Optional.of(Granularity.HOUR),
                    new Window.Between(
                        Instant.parse("2026-03-18T00:00:00Z"),
                        Instant.parse("2026-03-20T12:00:00Z")),
                    ZoneOffset.UTC,
                    10));
    return ReportGoldenTest.values(r);
  }

  /** Sum per UTC day over the given granularities. */
  private Map<String, Long> perDay(String counter, String... granularities) {
    Map<String, Long> out = new TreeMap<>();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT (bucket_start AT TIME ZONE 'UTC')::date::text, sum(value) FROM \""
                    + env.schema()
                    + "\".counter_buckets WHERE counter = ?"
                    + " AND granularity::text = ANY (?) GROUP BY 1 ORDER BY 1")) {
      ps.setString(1, counter);
      ps.setArray(2, c.createArrayOf("text", granularities));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  private Map<String, Long> viewPerDay(String counter) {
    Map<String, Long> out = new TreeMap<>();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT day::text, sum(value) FROM \""
                    + env.schema()
                    + "\".report_daily_utc WHERE counter = ? GROUP BY 1 ORDER BY 1")) {
      ps.setString(1, counter);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  private long count(String counter, String g, String before) {
    return env.queryLong(
        "SELECT count(*) FROM counter_buckets WHERE counter = ?"
            + " AND granularity = ?::\"char\" AND bucket_start < ?::timestamptz",
        counter,
        g,
        before);
  }

  private List<String> partitions() {
    List<String> out = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection()) {
      for (Partitions.Range r : Partitions.read(c, env.schema()).ranges()) {
        out.add(r.name().substring(r.name().indexOf('.') + 1));
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
