package dev.spillway.schedule;

import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.quartz.CronScheduleBuilder;
import org.quartz.CronTrigger;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.SimpleTrigger;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.TriggerKey;
import org.quartz.impl.matchers.GroupMatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How {@link JobScheduler}'s tasks become Quartz jobs and triggers: one durable job per task name
 * (run by {@link JobScheduler.TaskJob}), a trigger per {@link Schedule} with its misfire policy
 * (skip, never replay), and the registration at start, which in the shared JDBC store leaves an
 * unchanged trigger alone and removes tasks this worker does not know. Logs as {@link
 * JobScheduler}.
 */
final class QuartzJobs {
  private static final Logger log = LoggerFactory.getLogger(JobScheduler.class);

  static final String GROUP = "spillway";

  private QuartzJobs() {}

  static void register(Scheduler scheduler, Map<String, ScheduledTask> tasks, boolean clustered)
      throws SchedulerException {
    if (!clustered) {
      for (ScheduledTask t : tasks.values()) {
        scheduler.scheduleJob(job(t), trigger(t));
      }
      return;
    }
    // Shared store: every worker registers the same tasks at start. Leave a trigger that already
    // has the wanted schedule alone (replacing it would reset its timing under the others).
    List<String> changed = new ArrayList<>();
    for (ScheduledTask t : tasks.values()) {
      Trigger existing = scheduler.getTrigger(TriggerKey.triggerKey(t.name(), GROUP));
      if (existing != null && sameSchedule(existing, t.schedule())) {
        continue;
      }
      scheduler.scheduleJob(job(t), Set.of(trigger(t)), true);
      changed.add(t.name());
    }
    for (JobKey k : scheduler.getJobKeys(GroupMatcher.jobGroupEquals(GROUP))) {
      if (!tasks.containsKey(k.getName())) {
        scheduler.deleteJob(k);
        log.warn(
            "event=task_removed task={} reason=\"not in this worker's configuration\"",
            k.getName());
      }
    }
    if (!changed.isEmpty()) {
      log.info("event=tasks_registered tasks=[{}]", String.join(",", changed));
    }
  }

  private static JobDetail job(ScheduledTask t) {
    return JobBuilder.newJob(JobScheduler.TaskJob.class)
        .withIdentity(t.name(), GROUP)
        .withDescription(t.toString())
        .storeDurably()
        .requestRecovery(false) // the next scheduled run redoes the work; nothing to replay
        .build();
  }

  private static Trigger trigger(ScheduledTask t) {
    TriggerBuilder<Trigger> b =
        TriggerBuilder.newTrigger()
            .withIdentity(t.name(), GROUP)
            .forJob(t.name(), GROUP)
            .startNow();
    return switch (t.schedule()) {
      case Schedule.Every e ->
          b.startAt(new Date(System.currentTimeMillis() + e.phase().toMillis()))
              .withSchedule(
                  SimpleScheduleBuilder.simpleSchedule()
                      .withIntervalInMilliseconds(e.interval().toMillis())
                      .repeatForever()
                      .withMisfireHandlingInstructionNextWithRemainingCount())
              .build();
      case Schedule.Cron c ->
          b.withSchedule(
                  CronScheduleBuilder.cronSchedule(c.expression())
                      .withMisfireHandlingInstructionDoNothing())
              .build();
    };
  }

  private static boolean sameSchedule(Trigger t, Schedule s) {
    return switch (s) {
      case Schedule.Every e ->
          t instanceof SimpleTrigger st
              && st.getRepeatInterval() == e.interval().toMillis()
              && st.getRepeatCount() == SimpleTrigger.REPEAT_INDEFINITELY
              && st.getMisfireInstruction()
                  == SimpleTrigger.MISFIRE_INSTRUCTION_RESCHEDULE_NEXT_WITH_REMAINING_COUNT;
      case Schedule.Cron c ->
          t instanceof CronTrigger ct
              && ct.getCronExpression().equals(c.expression())
              && ct.getMisfireInstruction() == CronTrigger.MISFIRE_INSTRUCTION_DO_NOTHING;
    };
  }
}
