package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.ReportSettings.PartitionInterval;
import dev.spillway.store.Database;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Upkeep from two workers at once, a switch from daily to monthly partitions (the gaps are filled,
 * nothing overlaps), and the arithmetic of intervals and gaps.
 */
@ExtendWith(ServicesExtension.class)
class PartitionUpkeepTest {

  @Test
  void run_twoAtOnceThenMonthly_noOverlapNoError(TestEnv env) throws Exception {
    ReportFixtures.TestClock clock = new ReportFixtures.TestClock("2026-03-20T12:00:00Z");
    SpillwayConfig daily =
        ReportFixtures.config(
            env,
            b ->
                b.counter("c", Granularity.HOUR)
                    .reporting(
                        ReportSettings.defaults()
                            .withPartitions(PartitionInterval.DAY, Duration.ofDays(2))));
    SpillwayConfig monthly =
        ReportFixtures.config(
            env,
            b ->
                b.counter("c", Granularity.HOUR)
                    .reporting(
                        ReportSettings.defaults()
                            .withPartitions(PartitionInterval.MONTH, Duration.ofDays(40))));
    try (Database db = ReportFixtures.migrated(daily)) {
      var a =
          CompletableFuture.supplyAsync(() -> PartitionUpkeep.run(db.dataSource(), daily, clock));
      var b =
          CompletableFuture.supplyAsync(() -> PartitionUpkeep.run(db.dataSource(), daily, clock));
      List<String> created = new ArrayList<>(a.get().created());
      created.addAll(b.get().created());
      assertThat(created)
          .extracting(n -> n.substring(n.indexOf('.') + 1))
          .containsExactlyInAnyOrder(
              "counter_buckets_p20260320",
              "counter_buckets_p20260321",
              "counter_buckets_p20260322");

      PartitionUpkeep.Result m = PartitionUpkeep.run(db.dataSource(), monthly, clock);
      assertThat(m.created())
          .extracting(n -> n.substring(n.indexOf('.') + 1))
          .containsExactly(
              "counter_buckets_p20260301",
              "counter_buckets_p20260323",
              "counter_buckets_p20260401");
      try (Connection c = db.dataSource().getConnection()) {
        List<Partitions.Range> ranges = Partitions.read(c, env.schema()).ranges();
        assertThat(ranges).hasSize(6).allMatch(Partitions.Range::byGranularity);
        for (int i = 1; i < ranges.size(); i++) {
          assertThat(ranges.get(i).lo()).isEqualTo(ranges.get(i - 1).hi()); // contiguous
        }
        assertThat(ranges.get(0).lo()).isEqualTo(Instant.parse("2026-03-01T00:00:00Z"));
        assertThat(ranges.get(5).hi()).isEqualTo(Instant.parse("2026-05-01T00:00:00Z"));
      }
      // the flusher's write still succeeds everywhere, inside and outside the ranges
      env.exec(
          "INSERT INTO counter_buckets VALUES ('c', 'k', 'h', '2026-03-25T10:00:00Z', 1),"
              + " ('c', 'k', 'h', '2031-01-01T00:00:00Z', 1)");
      assertThat(new PartitionUpkeep(db.dataSource(), monthly, clock).defaultPartitionRows())
          .isEqualTo(1);
    }
  }

  @Test
  void uncovered_gapsBetweenExistingRanges() {
    Instant d20 = Instant.parse("2026-03-20T00:00:00Z");
    Instant d23 = Instant.parse("2026-03-23T00:00:00Z");
    var layout =
        new Partitions.Layout(
            Optional.empty(), List.of(new Partitions.Range("x", d20, d23, Map.of())));
    List<Instant[]> gaps =
        layout.uncovered(
            Instant.parse("2026-03-01T00:00:00Z"), Instant.parse("2026-04-01T00:00:00Z"));
    assertThat(gaps).hasSize(2);
    assertThat(gaps.get(0)).containsExactly(Instant.parse("2026-03-01T00:00:00Z"), d20);
    assertThat(gaps.get(1)).containsExactly(d23, Instant.parse("2026-04-01T00:00:00Z"));
    assertThat(layout.uncovered(d20, d23)).isEmpty();
    assertThat(Partitions.floor(PartitionInterval.MONTH, Instant.parse("2026-02-28T23:59:59Z")))
        .isEqualTo(Instant.parse("2026-02-01T00:00:00Z"));
    assertThat(Partitions.next(PartitionInterval.MONTH, Instant.parse("2026-02-01T00:00:00Z")))
        .isEqualTo(Instant.parse("2026-03-01T00:00:00Z"));
    assertThat(Partitions.nameFor(Instant.parse("2026-03-23T06:30:00Z")))
        .isEqualTo("counter_buckets_p20260323_0630");
  }
}
