package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The report queries on a big table use partition pruning and an index, checked on their EXPLAIN
 * plans (the plan shape is asserted; times are printed, never asserted).
 *
 * <p>Rows: {@code -Dspillway.report.explainRows=N} (default 1,000,000; the figure is
 * 10,000,000, which takes minutes to generate on a 2-core machine). Four counters of 1,000 keys,
 * one hour row per key and hour, as many hours as that makes, in daily partitions.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExplainTest {
  static final int COUNTERS = 4;
  static final int KEYS = 1000;
  static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
  private final long rows = Long.getLong("spillway.report.explainRows", 1_000_000L);
  private final long hours = Math.max(48, rows / (COUNTERS * KEYS));
  private final Instant end = START.plus(Duration.ofHours(hours));
  private final ReportFixtures.TestClock clock = new ReportFixtures.TestClock(START.toString());
  private TestEnv env;
  private SpillwayConfig config;
  private Database db;
  private Reports reports;

  @BeforeAll
  void generate(TestEnv env) {
    this.env = env;
    ReportSettings r =
        ReportSettings.defaults()
            .withPartitions(
                ReportSettings.PartitionInterval.DAY,
                Duration.ofHours(hours).plusDays(1).compareTo(Duration.ofDays(366)) > 0
                    ? Duration.ofDays(366)
                    : Duration.ofHours(hours).plusDays(1));
    for (int c = 0; c < COUNTERS; c++) {
      r = r.withRetention("c" + c, Granularity.HOUR, RetentionPeriod.FOREVER);
    }
    ReportSettings settings = r;
    config =
        ReportFixtures.config(
            env,
            b -> {
              for (int c = 0; c < COUNTERS; c++) {
                b.counter("c" + c, Granularity.HOUR);
              }
              return b.reporting(settings);
            });
    db = ReportFixtures.migrated(config);
    long t0 = System.nanoTime();
    PartitionUpkeep.run(db.dataSource(), config, clock);
    long t1 = System.nanoTime();
    // One statement per counter, two at a time (two cores); values skewed so k999 leads.
    var pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> loads = new ArrayList<>();
      for (int c = 0; c < COUNTERS; c++) {
        String counter = "c" + c;
        loads.add(
            pool.submit(
                () ->
                    env.exec(
                        "INSERT INTO counter_buckets (counter, key, granularity, bucket_start,"
                            + " value) SELECT ?, 'k' || k, 'h', ?::timestamptz + h * interval '1"
                            + " hour', k + (h % 5) FROM generate_series(0, ? - 1) AS h,"
                            + " generate_series(0, ? - 1) AS k",
                        counter, START.toString(), hours, KEYS)));
      }
      for (var f : loads) {
        f.get();
      }
    } catch (Exception e) {
      throw new IllegalStateException("generating rows failed", e);
    } finally {
      pool.shutdownNow();
    }
    long t2 = System.nanoTime();
    env.exec("ANALYZE counter_buckets");
    long t3 = System.nanoTime();
    System.out.printf(
        "explain-test: %,d rows (%d counters x %d keys x %d hours) in %d daily partitions;"
            + " upkeep %.1f s, insert %.1f s, analyze %.1f s%n",
        hours * COUNTERS * KEYS,
        COUNTERS,
        KEYS,
        hours,
        partitions(),
        secs(t1 - t0),
        secs(t2 - t1),
        secs(t3 - t2));
    assertThat(new PartitionUpkeep(db.dataSource(), config, clock).defaultPartitionRows()).isZero();
    clock.set(end.minus(Duration.ofMinutes(30)).toString());
    reports = new Reports(db.dataSource(), config, clock);
  }

  @AfterAll
  void close() {
    db.close();
  }

  @Test
  void topN_last24h_prunesToTwoDaysAndUsesWindowIndex() throws Exception {
    Instant from = Granularity.HOUR.truncate(clock.instant().minus(Duration.ofHours(24)));
    JsonNode plan =
        explain(reports.topSql(List.of(Granularity.HOUR)), "c1", from, clock.instant(), 10);
    Set<String> scanned = relations(plan);
    assertThat(scanned)
        .as("pruned to the hour leaves of the window's days")
        .isNotEmpty()
        .allMatch(n -> n.endsWith("_h"))
        .hasSizeLessThanOrEqualTo(2);
    assertThat(nodes(plan))
        .as("index use")
        .anyMatch(n -> n.startsWith("Index") || n.startsWith("Bitmap Index"));
    // counter_buckets_window on each partition, named by PostgreSQL (cut to 63 characters)
    assertThat(indexNames(plan)).anyMatch(n -> n.contains("counter_granularity_bucket"));
    assertThat(nodes(plan)).noneMatch(n -> n.equals("Seq Scan"));

    Report r =
        timed(
            "top --since 24h",
            () ->
                reports.run(
                    new ReportRequest(
                        Kind.TOP,
                        "c1",
                        Optional.empty(),
                        Optional.empty(),
                        new Window.Since(Duration.ofHours(24)),
                        ZoneOffset.UTC,
                        10)));
    assertThat(r.rows().get(0).get(1)).isEqualTo("k999");
    printAnalyze(reports.topSql(List.of(Granularity.HOUR)), "c1", from, clock.instant(), 10);
  }

  @Test
  void series_oneKeyWeek_prunesToItsDaysAndUsesPrimaryKey() throws Exception {
    Instant from = Granularity.HOUR.truncate(clock.instant().minus(Duration.ofDays(7)));
    String sql = reports.seriesSql(true, List.of(Granularity.HOUR));
    JsonNode plan;
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("EXPLAIN (FORMAT JSON) " + sql)) {
      ps.setArray(
          1, c.createArrayOf("text", new String[] {from.toString(), clock.instant().toString()}));
      ps.setString(2, "c2");
      ps.setString(3, "k42");
      ps.setObject(4, Sql.utc(from));
      ps.setObject(5, Sql.utc(clock.instant()));
      plan = json(ps);
    }
    Set<String> scanned = relations(plan);
    assertThat(scanned).allMatch(n -> n.endsWith("_h")).hasSizeBetween(7, 8);
    assertThat(indexNames(plan)).anyMatch(n -> n.endsWith("pkey"));
    assertThat(nodes(plan)).noneMatch(n -> n.equals("Seq Scan"));

    Report r =
        timed(
            "series --key k42 --granularity hour --since 7d",
            () ->
                reports.run(
                    new ReportRequest(
                        Kind.SERIES,
                        "c2",
                        Optional.of("k42"),
                        Optional.of(Granularity.HOUR),
                        new Window.Since(Duration.ofDays(7)),
                        ZoneOffset.UTC,
                        10)));
    assertThat(r.rows()).hasSize(7 * 24 + 1);
  }

  @Test
  void series_allKeysDailyBerlin_prunesAndUsesWindowIndex() throws Exception {
    Report r =
        timed(
            "series (all keys) --granularity day --since 7d --tz Europe/Berlin",
            () ->
                reports.run(
                    new ReportRequest(
                        Kind.SERIES,
                        "c3",
                        Optional.empty(),
                        Optional.of(Granularity.DAY),
                        new Window.Since(Duration.ofDays(7)),
                        ZoneId.of("Europe/Berlin"),
                        10)));
    assertThat(r.parameters()).containsEntry("source", "hour rows");
    printAnalyzeSeries(clock.instant().minus(Duration.ofDays(7)), clock.instant());
    timed(
        "total --since 24h (all keys)",
        () ->
            reports.run(
                new ReportRequest(
                    Kind.TOTAL,
                    "c0",
                    Optional.empty(),
                    Optional.empty(),
                    new Window.Since(Duration.ofHours(24)),
                    ZoneOffset.UTC,
                    10)));
    timed(
        "top all-time (counter_totals, empty here)",
        () ->
            reports.run(
                new ReportRequest(
                    Kind.TOP,
                    "c0",
                    Optional.empty(),
                    Optional.empty(),
                    new Window.AllTime(),
                    ZoneOffset.UTC,
                    10)));
  }

  private JsonNode explain(String sql, String counter, Instant from, Instant to, int limit)
      throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("EXPLAIN (FORMAT JSON) " + sql)) {
      ps.setString(1, counter);
      ps.setObject(2, Sql.utc(from));
      ps.setObject(3, Sql.utc(to));
      ps.setInt(4, limit);
      return json(ps);
    }
  }

  private void printAnalyze(String sql, String counter, Instant from, Instant to, int limit)
      throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)) {
      ps.setString(1, counter);
      ps.setObject(2, Sql.utc(from));
      ps.setObject(3, Sql.utc(to));
      ps.setInt(4, limit);
      StringBuilder b = new StringBuilder("explain-test: EXPLAIN ANALYZE of top-N:\n");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          b.append("  ").append(rs.getString(1)).append('\n');
        }
      }
      System.out.print(b);
    }
  }

  private void printAnalyzeSeries(Instant from, Instant to) throws SQLException {
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                    + reports.seriesSql(false, List.of(Granularity.HOUR)))) {
      ps.setArray(1, c.createArrayOf("text", new String[] {from.toString(), to.toString()}));
      ps.setString(2, "c3");
      ps.setObject(3, Sql.utc(from));
      ps.setObject(4, Sql.utc(to));
      StringBuilder b =
          new StringBuilder("explain-test: EXPLAIN ANALYZE of a 7-day all-keys series:\n");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          b.append("  ").append(rs.getString(1)).append('\n');
        }
      }
      System.out.print(b);
    }
  }

  private static JsonNode json(PreparedStatement ps) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      rs.next();
      return new ObjectMapper().readTree(rs.getString(1));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Set<String> relations(JsonNode plan) {
    Set<String> out = new TreeSet<>();
    plan.findValues("Relation Name").forEach(n -> out.add(n.asText()));
    return out;
  }

  private static List<String> nodes(JsonNode plan) {
    return plan.findValues("Node Type").stream().map(JsonNode::asText).toList();
  }

  private static List<String> indexNames(JsonNode plan) {
    return plan.findValues("Index Name").stream().map(JsonNode::asText).toList();
  }

  private long partitions() {
    return env.queryLong(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'counter_buckets'::regclass")
        - 1;
  }

  /** Runs {@code body} five times and prints the median, for the closing note. */
  private static Report timed(String what, Supplier<Report> body) {
    long[] t = new long[5];
    Report last = null;
    for (int i = 0; i < t.length; i++) {
      long s = System.nanoTime();
      last = body.get();
      t[i] = System.nanoTime() - s;
    }
    Arrays.sort(t);
    System.out.printf(
        "explain-test: %-60s median %.1f ms (min %.1f, max %.1f) over 5 runs%n",
        what, t[2] / 1e6, t[0] / 1e6, t[4] / 1e6);
    return last;
  }

  private static double secs(long nanos) {
    return nanos / 1e9;
  }
}
