package dev.spillway.schedule;

import dev.spillway.flush.FlushReport;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits the stripes into contiguous groups, one flush task each, so that clustered workers flush
 * different stripes at the same time. Task names carry the stripe range ({@code flush-0-256}), so
 * changing {@code keys.stripes} or the group count replaces the tasks instead of silently changing
 * what an existing task covers.
 *
 * <p>One process flushes one group at a time (its flusher owns one pipelined Redis connection), so
 * the tasks of one process take turns on a lock, and interval schedules are phased over the
 * interval so that they rarely have to wait. A task waiting for its turn gives up as soon as the
 * worker is stopping: at shutdown only the flush in progress has to finish.
 */
public final class FlushGroups {
  private static final Logger log = LoggerFactory.getLogger(FlushGroups.class);

  /** Flushes stripes {@code [from, to)} once. */
  @FunctionalInterface
  public interface RangeFlusher {
    FlushReport flush(int from, int to);
  }

  /** A half-open stripe range. */
  public record Range(int from, int to) {
    public String taskName() {
      return "flush-" + from + "-" + to;
    }
  }

  private FlushGroups() {}

  /** {@code groups} near-equal ranges covering {@code [0, stripes)}; at most one per stripe. */
  public static List<Range> ranges(int stripes, int groups) {
    if (stripes < 1 || groups < 1) {
      throw new IllegalArgumentException(
          "stripes and groups must be at least 1 but were " + stripes + " and " + groups);
    }
    int g = Math.min(groups, stripes);
    List<Range> out = new ArrayList<>(g);
    for (int i = 0; i < g; i++) {
      out.add(new Range((int) ((long) i * stripes / g), (int) ((long) (i + 1) * stripes / g)));
    }
    return List.copyOf(out);
  }

  /**
   * One task per range, all on {@code schedule}; {@code stopping} tells a task waiting for its turn
   * to give up.
   */
  public static List<ScheduledTask> tasks(
      int stripes, int groups, Schedule schedule, RangeFlusher flusher, BooleanSupplier stopping) {
    if (groups > stripes) {
      log.warn(
          "event=config_clamped key=worker.flush.groups value={} used={} reason=\"more groups than"
              + " keys.stripes\"",
          groups,
          stripes);
    }
    List<Range> ranges = ranges(stripes, groups);
    ReentrantLock turn = new ReentrantLock();
    List<ScheduledTask> out = new ArrayList<>();
    for (int i = 0; i < ranges.size(); i++) {
      Range r = ranges.get(i);
      Schedule s =
          schedule instanceof Schedule.Every e
              ? new Schedule.Every(
                  e.interval(), e.interval().multipliedBy(i).dividedBy(ranges.size()))
              : schedule;
      out.add(new ScheduledTask(r.taskName(), s, () -> flushInTurn(r, flusher, turn, stopping)));
    }
    return out;
  }

  private static void flushInTurn(
      Range r, RangeFlusher flusher, ReentrantLock turn, BooleanSupplier stopping) {
    try {
      while (!turn.tryLock(50, TimeUnit.MILLISECONDS)) {
        if (stopping.getAsBoolean()) {
          log.debug("event=flush_skipped group={} reason=stopping", r.taskName());
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    try {
      if (stopping.getAsBoolean()) {
        return;
      }
      FlushReport report = flusher.flush(r.from(), r.to());
      if (!report.ok()) {
        // Flusher logs the failure itself; the batches wait in Redis for the next run.
        log.debug("event=flush_group_incomplete group={} {}", r.taskName(), report);
      }
    } finally {
      turn.unlock();
    }
  }
}
