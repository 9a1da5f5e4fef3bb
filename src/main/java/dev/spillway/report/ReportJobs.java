package dev.spillway.report;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ReportSettings;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The scheduled jobs of reporting, as (name, cron, body) triples for the worker's scheduler: it
 * needs no knowledge of what they do.
 *
 * <table>
 *   <caption>Jobs and the settings that drive them</caption>
 *   <tr><th>name</th><th>cron setting</th><th>body</th></tr>
 *   <tr><td>{@code report.partition-upkeep}</td><td>{@code reporting.schedule.partition-upkeep}</td>
 *       <td>{@link PartitionUpkeep#run()}</td></tr>
 *   <tr><td>{@code report.rollup}</td><td>{@code reporting.schedule.rollup}</td>
 *       <td>{@link Rollup#run()}</td></tr>
 *   <tr><td>{@code report.retention}</td><td>{@code reporting.schedule.retention}</td>
 *       <td>{@link Retention#run()}</td></tr>
 *   <tr><td>{@code report.export.<name>}</td><td>{@code reporting.exports.<name>.cron}</td>
 *       <td>{@link ReportExport#run(String)}</td></tr>
 * </table>
 *
 * <p>A schedule set to {@code off} yields no job. Every body is safe to run twice or from two
 * workers at once (see each class); a body throws on failure, for the scheduler to log and count,
 * and the next firing simply runs again. Cron expressions are Quartz's, evaluated by the worker's
 * scheduler in its time zone.
 */
public final class ReportJobs {
  /** One job: a stable name (the scheduler's job key), a Quartz cron expression, the work. */
  public record Job(String name, String cron, Runnable body) {
    public Job {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(cron, "cron");
      Objects.requireNonNull(body, "body");
    }
  }

  private ReportJobs() {}

  /**
   * The jobs {@code config} asks for.
   *
   * @throws dev.spillway.ConfigException when the counters and reporting sections contradict each
   *     other (checked now, at start, not at the first firing)
   */
  public static List<Job> of(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    ReportSettings s = config.reporting();
    PartitionUpkeep upkeep = new PartitionUpkeep(dataSource, config, clock);
    Rollup rollup = new Rollup(dataSource, config, clock);
    Retention retention = new Retention(dataSource, config, clock);
    ReportExport export = new ReportExport(dataSource, config, clock);
    List<Job> jobs = new ArrayList<>();
    s.upkeepCron().ifPresent(c -> jobs.add(new Job("report.partition-upkeep", c, upkeep::run)));
    s.rollupCron().ifPresent(c -> jobs.add(new Job("report.rollup", c, rollup::run)));
    s.retentionCron().ifPresent(c -> jobs.add(new Job("report.retention", c, retention::run)));
    for (ExportSettings e : s.exports().values()) {
      jobs.add(new Job("report.export." + e.name(), e.cron(), () -> export.run(e.name())));
    }
    return List.copyOf(jobs);
  }
}
