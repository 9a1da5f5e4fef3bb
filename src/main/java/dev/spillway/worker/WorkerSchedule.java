package dev.spillway.worker;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.WorkerSettings;
import dev.spillway.flush.FlushReport;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.schedule.DeadLetterMonitor;
import dev.spillway.schedule.FlushGroups;
import dev.spillway.schedule.JobScheduler;
import dev.spillway.schedule.LedgerPruner;
import dev.spillway.schedule.Schedule;
import dev.spillway.schedule.ScheduledTask;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the worker schedules and on which scheduler: the task list built from the configuration (the
 * flush groups on {@code worker.flush.schedule} or {@code flush.interval}, one task per adopt
 * mapping, ledger pruning and dead-letter checks, each on its configured schedule) and the {@link
 * JobScheduler} that runs it, in memory or clustered on PostgreSQL, with the advice to raise {@code
 * postgres.pool-size} when cluster mode would starve the job threads. {@link Worker} adds its extra
 * tasks, starts the scheduler and stops it.
 */
final class WorkerSchedule {
  // The worker's logger: these lines keep the name they have always been logged under.
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  private WorkerSchedule() {}

  /** The configured tasks, before the builder's extra ones. */
  static List<ScheduledTask> tasks(
      SpillwayConfig config,
      WorkerSettings settings,
      Spillway sw,
      DeadLetterMonitor deadLetters,
      LedgerPruner pruner,
      BooleanSupplier stopping) {
    List<ScheduledTask> tasks = new ArrayList<>();
    Schedule flushEvery =
        settings.flushSchedule() != null
            ? Schedule.parse("worker.flush.schedule", settings.flushSchedule())
            : Schedule.every(config.flushInterval());
    tasks.addAll(
        FlushGroups.tasks(
            config.stripes(), settings.flushGroups(), flushEvery, sw::flushOnce, stopping));
    for (AdoptMapping m : config.adopt()) {
      Schedule s =
          m.schedule() != null
              ? Schedule.cron(m.schedule())
              : Schedule.every(AdoptMapping.DEFAULT_INTERVAL);
      tasks.add(
          new ScheduledTask(
              "adopt-" + m.name(),
              s,
              () -> {
                FlushReport r = sw.adoptOnce(m.name());
                if (r.batchesApplied() > 0) {
                  log.debug("event=adopted mapping={} {}", m.name(), r);
                }
              }));
    }
    tasks.add(
        new ScheduledTask(
            "ledger-prune",
            Schedule.parse("worker.ledger.prune-schedule", settings.ledgerPruneSchedule()),
            pruner::prune));
    tasks.add(
        new ScheduledTask(
            "dead-letters",
            Schedule.parse(
                "worker.dead-letters.check-schedule", settings.deadLetterCheckSchedule()),
            deadLetters::check));
    return tasks;
  }

  /** The scheduler of {@code tasks}, built but not started. */
  static JobScheduler scheduler(
      SpillwayConfig config,
      WorkerSettings settings,
      DataSource dataSource,
      MeterRegistry registry,
      RuntimeFailure failure,
      List<ScheduledTask> tasks) {
    JobScheduler.Builder jb =
        JobScheduler.builder()
            .threads(settings.threads())
            .instanceId(settings.instanceId())
            .meterRegistry(registry)
            .failure(failure)
            .tasks(tasks);
    if (settings.cluster()) {
      int wanted = settings.threads() + 3;
      if (config.poolSize() < wanted) {
        log.warn(
            "event=config_advice key=postgres.pool-size value={} advice={} reason=\"in cluster"
                + " mode Quartz takes connections from the same pool as {} job threads\"",
            config.poolSize(),
            wanted,
            settings.threads());
      }
      jb.clustered(dataSource, config.schema(), settings.clusterCheckinInterval());
    }
    return jb.build();
  }
}
