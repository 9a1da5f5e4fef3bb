package dev.spillway.schedule;

import dev.spillway.SpillwayException;
import dev.spillway.flush.FlushReport;
import dev.spillway.flush.Flusher;
import java.time.Duration;
import java.util.Properties;
import java.util.UUID;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link Flusher#flushOnce()} on an interval with Quartz (RAM job store). The job is
 * {@code @DisallowConcurrentExecution}, and a run that misfires after a pause (GC, suspended VM)
 * is not replayed: the next run flushes everything anyway, so runs never pile up.
 *
 * <p>Each instance has its own uniquely named scheduler, so several Spillway runtimes can live in
 * one JVM (Quartz keeps schedulers in a static repository keyed by name).
 */
public final class FlushScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FlushScheduler.class);
  static final String FLUSHER = "flusher";

  private final Scheduler scheduler;

  public FlushScheduler(Flusher flusher, Duration interval) {
    Properties p = new Properties();
    p.setProperty("org.quartz.scheduler.instanceName", "spillway-" + UUID.randomUUID());
    p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
    p.setProperty("org.quartz.threadPool.threadCount", "1");
    p.setProperty("org.quartz.threadPool.threadNamePrefix", "spillway-flush");
    p.setProperty("org.quartz.threadPool.makeThreadsDaemons", "true");
    p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
    p.setProperty("org.quartz.jobStore.misfireThreshold", "1000");
    try {
      scheduler = new StdSchedulerFactory(p).getScheduler();
      JobDetail job =
          JobBuilder.newJob(FlushJob.class).withIdentity("flush", "spillway").build();
      job.getJobDataMap().put(FLUSHER, flusher);
      Trigger trigger =
          TriggerBuilder.newTrigger()
              .withIdentity("flush-every", "spillway")
              .startNow()
              .withSchedule(
                  SimpleScheduleBuilder.simpleSchedule()
                      .withIntervalInMilliseconds(interval.toMillis())
                      .repeatForever()
                      .withMisfireHandlingInstructionNextWithRemainingCount())
              .build();
      scheduler.scheduleJob(job, trigger);
      scheduler.start();
    } catch (SchedulerException e) {
      throw new SpillwayException("starting the flush scheduler failed: " + e.getMessage(), e);
    }
  }

  /** Stops firing, then waits for a running flush to finish (it leaves no half-done state). */
  @Override
  public void close() {
    try {
      scheduler.shutdown(true);
    } catch (SchedulerException e) {
      log.warn("event=scheduler_shutdown_failed error=\"{}\"", e.getMessage());
    }
  }

  /** The Quartz job: one flush run over every stripe. */
  @DisallowConcurrentExecution
  public static final class FlushJob implements Job {
    @Override
    public void execute(JobExecutionContext context) {
      Flusher flusher = (Flusher) context.getMergedJobDataMap().get(FLUSHER);
      FlushReport r = flusher.flushOnce();
      if (!r.ok()) {
        log.debug("event=scheduled_flush_incomplete {}", r);
      }
    }
  }
}
