package dev.spillway.schedule;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A named piece of work and when it runs. Names are job keys in Quartz (and, with a clustered job
 * store, rows in PostgreSQL shared by every worker), so they must be stable across restarts and
 * identical on every worker of a cluster.
 *
 * <p>No two runs of one task overlap, in one worker or across a cluster; a run that could not start
 * on time (the previous one was still running, or the process was paused) is skipped, not replayed,
 * so runs never pile up. The body runs on a scheduler thread; an exception it throws is logged and
 * counted, and the next run happens as scheduled.
 *
 * @param name {@code [a-z][a-z0-9_.-]{0,79}}
 * @param schedule when it runs
 * @param body what it does
 */
public record ScheduledTask(String name, Schedule schedule, Runnable body) {
  public static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_.-]{0,79}");

  public ScheduledTask {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("task name '" + name + "' must match " + NAME);
    }
    Objects.requireNonNull(schedule, "schedule");
    Objects.requireNonNull(body, "body");
  }

  /** A task on a cron expression, e.g. from a (name, cron, runnable) triple. */
  public static ScheduledTask cron(String name, String cronExpression, Runnable body) {
    return new ScheduledTask(name, Schedule.cron(cronExpression), body);
  }

  @Override
  public String toString() {
    return name + " (" + schedule + ")";
  }
}
