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
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Day boundaries in Europe/Berlin, including both DST change days of 2026 (March 29 has 23 hours,
 * October 25 has 25): the CLI's reports and the SQL function in db/ agree, bucket by bucket.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DstReportTest {
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
  private final ReportFixtures.TestClock clock =
      new ReportFixtures.TestClock("2026-11-01T00:00:00Z");
  private Database db;
  private SpillwayConfig config;
  private Reports reports;
  private TestEnv env;

  @BeforeAll
  void load(TestEnv env) {
    this.env = env;
    // Hour rows kept forever here: the clock stands in November, the data is from March.
    config =
        ReportFixtures.config(
            env,
            b ->
                b.counter("views", Granularity.HOUR, Granularity.DAY)
                    .reporting(
                        ReportSettings.defaults()
                            .withRetention("views", Granularity.HOUR, RetentionPeriod.FOREVER)));
    db = ReportFixtures.migrated(config);
    PartitionUpkeep.run(db.dataSource(), config, clock);
    // Rows as the flusher writes them: one hour row and one (UTC) day row per event.
    event("2026-03-28T22:59:59Z", 1); // Berlin Mar 28, 23:59:59 (+01:00)
    event("2026-03-28T23:00:00Z", 10); // Berlin Mar 29, 00:00 (+01:00)
    event("2026-03-29T00:30:00Z", 20); // Berlin 01:30 (+01:00), the last hour before the jump
    event("2026-03-29T01:00:00Z", 40); // Berlin 03:00 (+02:00): 02:00 never happened
    event("2026-03-29T21:59:00Z", 80); // Berlin 23:59 (+02:00), still Mar 29
    event("2026-03-29T22:00:00Z", 160); // Berlin Mar 30, 00:00 (+02:00)
    event("2026-10-24T21:59:00Z", 1); // Berlin Oct 24, 23:59 (+02:00)
    event("2026-10-24T22:00:00Z", 10); // Berlin Oct 25, 00:00 (+02:00)
    event("2026-10-25T00:30:00Z", 20); // Berlin 02:30, first time (+02:00)
    event("2026-10-25T01:30:00Z", 40); // Berlin 02:30, second time (+01:00)
    event("2026-10-25T22:59:00Z", 80); // Berlin 23:59 (+01:00), still Oct 25
    event("2026-10-25T23:00:00Z", 160); // Berlin Oct 26, 00:00 (+01:00)
    PartitionUpkeep.run(db.dataSource(), config, clock); // moves the rows out of DEFAULT
    reports = new Reports(db.dataSource(), config, clock);
  }

  @AfterAll
  void close() {
    db.close();
  }

  private void event(String iso, long value) {
    Instant t = Instant.parse(iso);
    for (Granularity g : List.of(Granularity.HOUR, Granularity.DAY)) {
      env.exec(
          "INSERT INTO counter_buckets VALUES ('views', 'k', ?::\"char\", ?::timestamptz, ?)"
              + " ON CONFLICT (counter, key, granularity, bucket_start)"
              + " DO UPDATE SET value = counter_buckets.value + excluded.value",
          String.valueOf(g.code()),
          g.truncate(t).toString(),
          value);
    }
  }

  private Report daily(String from, String to) {
    return reports.run(
        new ReportRequest(
            Kind.SERIES,
            "views",
            Optional.empty(),
            Optional.of(Granularity.DAY),
            new Window.Between(
                Window.parseBound("--from", from, BERLIN), Window.parseBound("--to", to, BERLIN)),
            BERLIN,
            10));
  }

  @Test
  void dailySeries_springForward_23HourDay() {
    Report r = daily("2026-03-28", "2026-03-31");
    assertThat(ReportGoldenTest.values(r)).containsExactly(1L, 150L, 160L);
    ZonedDateTime start = (ZonedDateTime) r.rows().get(1).get(0);
    ZonedDateTime end = (ZonedDateTime) r.rows().get(1).get(1);
    assertThat(start.toString()).isEqualTo("2026-03-29T00:00+01:00[Europe/Berlin]");
    assertThat(end.toString()).isEqualTo("2026-03-30T00:00+02:00[Europe/Berlin]");
    assertThat(Duration.between(start, end)).isEqualTo(Duration.ofHours(23));
    assertThat(r.parameters()).containsEntry("source", "hour rows");
  }

  @Test
  void dailySeries_fallBack_25HourDay() {
    Report r = daily("2026-10-24", "2026-10-27");
    assertThat(ReportGoldenTest.values(r)).containsExactly(1L, 150L, 160L);
    ZonedDateTime start = (ZonedDateTime) r.rows().get(1).get(0);
    ZonedDateTime end = (ZonedDateTime) r.rows().get(1).get(1);
    assertThat(Duration.between(start, end)).isEqualTo(Duration.ofHours(25));
  }

  @Test
  void hourlySeries_dstDays_23And25Buckets() {
    Report spring =
        reports.run(
            new ReportRequest(
                Kind.SERIES,
                "views",
                Optional.of("k"),
                Optional.of(Granularity.HOUR),
                new Window.Between(
                    Window.parseBound("--from", "2026-03-29", BERLIN),
                    Window.parseBound("--to", "2026-03-30", BERLIN)),
                BERLIN,
                10));
    assertThat(spring.rows()).hasSize(23);
    assertThat(spring.rows().stream().map(row -> ((ZonedDateTime) row.get(0)).getHour()))
        .doesNotContain(2);
    Report fall =
        reports.run(
            new ReportRequest(
                Kind.SERIES,
                "views",
                Optional.of("k"),
                Optional.of(Granularity.HOUR),
                new Window.Between(
                    Window.parseBound("--from", "2026-10-25", BERLIN),
                    Window.parseBound("--to", "2026-10-26", BERLIN)),
                BERLIN,
                10));
    assertThat(fall.rows()).hasSize(25);
    // the two 02:00 buckets, +02:00 then +01:00, hold 20 and 40
    List<String> twoAm = new ArrayList<>();
    for (List<Object> row : fall.rows()) {
      ZonedDateTime s = (ZonedDateTime) row.get(0);
      if (s.getHour() == 2) {
        twoAm.add(s.getOffset() + "=" + row.get(2));
      }
    }
    assertThat(twoAm).containsExactly("+02:00=20", "+01:00=40");
  }

  @Test
  void topAndTotal_berlinDay_useLocalMidnights() {
    Report top =
        reports.run(
            new ReportRequest(
                Kind.TOP,
                "views",
                Optional.empty(),
                Optional.empty(),
                new Window.Between(
                    Window.parseBound("--from", "2026-03-29", BERLIN),
                    Window.parseBound("--to", "2026-03-30", BERLIN)),
                BERLIN,
                10));
    assertThat(ReportGoldenTest.values(top)).containsExactly(150L);
    assertThat(top.notes()).isEmpty();
    Report utc =
        reports.run(
            new ReportRequest(
                Kind.TOTAL,
                "views",
                Optional.empty(),
                Optional.empty(),
                new Window.Between(
                    Instant.parse("2026-03-29T00:00:00Z"), Instant.parse("2026-03-30T00:00:00Z")),
                ZoneOffset.UTC,
                10));
    // UTC Mar 29 from day rows: 20 + 40 + 80 + 160
    assertThat(ReportGoldenTest.values(utc)).containsExactly(300L);
    assertThat(utc.parameters()).containsEntry("source", "day rows");
  }

  @Test
  void sqlFunction_reportSeries_agreesWithCli() throws Exception {
    Report r = daily("2026-10-24", "2026-10-27");
    List<Long> sql = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT value FROM "
                    + "\""
                    + env.schema()
                    + "\".report_series('views', NULL, 'day',"
                    + " ?::timestamptz, ?::timestamptz, 'Europe/Berlin')")) {
      ps.setString(1, "2026-10-23T22:00:00Z");
      ps.setString(2, "2026-10-26T23:00:00Z");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          sql.add(rs.getLong(1));
        }
      }
    }
    assertThat(sql).isEqualTo(ReportGoldenTest.values(r));
    assertThat(r.rows().stream().map(row -> (BigInteger) row.get(2)).toList()).hasSize(3);
  }
}
