package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ReportSettings;
import dev.spillway.store.Database;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The jobs the worker schedules, by name and cron, and a scheduled export's file. */
@ExtendWith(ServicesExtension.class)
class ReportJobsTest {
  @TempDir Path dir;

  @Test
  void of_defaultsAndExports_namesCronsBodies(TestEnv env) throws Exception {
    ExportSettings export =
        new ExportSettings(
            "top-daily",
            "0 5 0 * * ?",
            ExportSettings.Kind.TOP,
            "page_views",
            Optional.empty(),
            Optional.empty(),
            2,
            ExportSettings.Period.DAY,
            ZoneId.of("Europe/Berlin"),
            ExportSettings.Format.CSV,
            dir.resolve("exports"));
    SpillwayConfig config =
        ReportFixtures.config(
            env,
            b ->
                b.counter("page_views", Granularity.HOUR, Granularity.DAY)
                    .reporting(ReportSettings.defaults().withExport(export)));
    ReportFixtures.TestClock clock = new ReportFixtures.TestClock("2026-03-29T00:10:00Z");
    try (Database db = ReportFixtures.migrated(config)) {
      List<ReportJobs.Job> jobs = ReportJobs.of(db.dataSource(), config, clock);
      assertThat(jobs)
          .extracting(ReportJobs.Job::name)
          .containsExactly(
              "report.partition-upkeep",
              "report.rollup",
              "report.retention",
              "report.export.top-daily");
      assertThat(jobs)
          .extracting(ReportJobs.Job::cron)
          .containsExactly("0 5 * * * ?", "0 15 * * * ?", "0 30 3 * * ?", "0 5 0 * * ?");
      jobs.get(0).body().run(); // partition upkeep
      for (String[] row :
          new String[][] {
            {"a", "2026-03-27T22:00:00Z", "7"}, // Berlin Mar 27, 23:00: the day before
            {"a", "2026-03-27T23:00:00Z", "1"}, // Berlin Mar 28, 00:00
            {"b", "2026-03-28T12:00:00Z", "3"},
            {"c", "2026-03-28T22:59:00Z", "2"}
          }) { // Berlin Mar 28, 23:59
        env.exec(
            "INSERT INTO counter_buckets VALUES ('page_views', ?, 'h',"
                + " date_trunc('hour', ?::timestamptz, 'UTC'), ?)",
            row[0],
            row[1],
            Long.parseLong(row[2]));
      }
      jobs.get(3).body().run(); // the export, at 01:10 Berlin on Mar 29: yesterday is Mar 28
      Path file = dir.resolve("exports/top-daily-2026-03-28.csv");
      assertThat(file).hasContent("rank,key,value\n1,b,3\n2,c,2\n");
      try (Stream<Path> files = Files.list(file.getParent())) {
        assertThat(files).containsExactly(file); // written under a temporary name, then renamed
      }
      jobs.get(1).body().run(); // rollup: nothing to move, must not fail
      jobs.get(2).body().run(); // retention: nothing expired
    }
  }

  @Test
  void of_scheduleOff_noJob(TestEnv env) {
    ReportSettings off =
        new ReportSettings(
            ReportSettings.DEFAULT_RETENTION,
            Map.of(),
            ReportSettings.PartitionInterval.DAY,
            ReportSettings.DEFAULT_PARTITIONS_AHEAD,
            ReportSettings.DEFAULT_LOCK_TIMEOUT,
            Optional.of("0 0 * * * ?"),
            Optional.empty(),
            Optional.empty(),
            Map.of());
    SpillwayConfig config = ReportFixtures.config(env, b -> b.reporting(off));
    try (Database db = Database.open(config)) {
      assertThat(ReportJobs.of(db.dataSource(), config, InstantSource.system()))
          .extracting(ReportJobs.Job::name)
          .containsExactly("report.partition-upkeep");
    }
  }
}
