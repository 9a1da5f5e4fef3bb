package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import dev.spillway.store.Database;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * With every level of every counter on a finite retention, whole partitions past it are dropped,
 * the DEFAULT partition stays, and a late flush into a dropped range still succeeds: it lands in
 * DEFAULT, upkeep gives it a partition again, retention removes it once more.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetentionDropTest {
  private final ReportFixtures.TestClock clock =
      new ReportFixtures.TestClock("2026-03-20T12:34:00Z");
  private TestEnv env;
  private SpillwayConfig config;
  private Database db;

  @BeforeAll
  void generate(TestEnv env) {
    this.env = env;
    ReportSettings r =
        new ReportSettings(
            Map.of(
                Granularity.MINUTE,
                RetentionPeriod.of(Duration.ofDays(1)),
                Granularity.HOUR,
                RetentionPeriod.of(Duration.ofDays(2)),
                Granularity.DAY,
                RetentionPeriod.of(Duration.ofDays(3))),
            Map.of(),
            ReportSettings.PartitionInterval.DAY,
            Duration.ofDays(2),
            Duration.ofSeconds(5),
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            Map.of());
    config =
        ReportFixtures.config(
            env,
            b ->
                b.counter("short", Granularity.MINUTE, Granularity.HOUR, Granularity.DAY)
                    .reporting(r));
    db = ReportFixtures.migrated(config);
    for (String g : List.of("m", "h", "d")) {
      String unit = g.equals("m") ? "minute" : g.equals("h") ? "hour" : "day";
      env.exec(
          "INSERT INTO counter_buckets SELECT 'short', 'k', ?::\"char\", t, 1"
              + " FROM generate_series(?::timestamptz, ?::timestamptz, ('1 ' || ?)::interval) AS t",
          g,
          "2026-03-10T00:00:00Z",
          "2026-03-20T12:00:00Z",
          unit);
    }
    PartitionUpkeep.run(db.dataSource(), config, clock);
  }

  @AfterAll
  void close() {
    db.close();
  }

  @Test
  void retention_allLevelsFinite_dropsWholePartitions_keepsDefault() {
    assertThat(partitions()).contains("counter_buckets_p20260310", "counter_buckets_p20260316");
    Retention.Result r = Retention.run(db.dataSource(), config, clock);
    // day rows expire before Mar 17 (3 d, whole days): Mar 10..16 hold nothing worth keeping
    assertThat(r.dropped()).hasSize(7);
    assertThat(partitions())
        .doesNotContain("counter_buckets_p20260316")
        .contains("counter_buckets_p20260317", "counter_buckets_p20260322");
    assertThat(env.queryLong("SELECT count(*) FROM counter_buckets WHERE granularity = 'd'"))
        .isEqualTo(4);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM counter_buckets WHERE granularity = 'h'"
                    + " AND bucket_start < '2026-03-18T00:00:00Z'"))
        .isZero();
    assertThat(new PartitionUpkeep(db.dataSource(), config, clock).defaultPartitionRows()).isZero();

    // a late flush into a dropped day: lands in DEFAULT instead of failing
    env.exec(
        "INSERT INTO counter_buckets VALUES ('short', 'k', 'h', '2026-03-12T05:00:00Z', 9)"
            + " ON CONFLICT (counter, key, granularity, bucket_start)"
            + " DO UPDATE SET value = counter_buckets.value + excluded.value");
    PartitionUpkeep upkeep = new PartitionUpkeep(db.dataSource(), config, clock);
    assertThat(upkeep.defaultPartitionRows()).isEqualTo(1);
    PartitionUpkeep.Result u = upkeep.run();
    assertThat(u.created()).singleElement().asString().endsWith("counter_buckets_p20260312");
    assertThat(u.rowsMoved()).isEqualTo(1);
    assertThat(u.defaultRows()).isZero();
    assertThat(Retention.run(db.dataSource(), config, clock).dropped()).hasSize(1);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM counter_buckets WHERE bucket_start < '2026-03-17T00:00:00Z'"))
        .isZero();
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
}
