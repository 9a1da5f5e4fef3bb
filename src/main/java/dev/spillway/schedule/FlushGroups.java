package dev.spillway.schedule;

import dev.spillway.flush.FlushReport;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits the stripes into contiguous groups, one flush task each, so that clustered workers flush
 * different stripes at the same time. Task names carry the stripe range ({@code flush-0-256}), so
 * changing {@code keys.stripes} or the group count replaces the tasks instead of silently
 * changing what an existing task covers.
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

  /** One task per range, all on {@code schedule}. */
  public static List<ScheduledTask> tasks(
      int stripes, int groups, Schedule schedule, RangeFlusher flusher) {
    if (groups > stripes) {
      log.warn(
          "event=config_clamped key=worker.flush.groups value={} used={} reason=\"more groups than"
              + " keys.stripes\"",
          groups,
          stripes);
    }
    List<ScheduledTask> out = new ArrayList<>();
    for (Range r : ranges(stripes, groups)) {
      out.add(
          new ScheduledTask(
              r.taskName(),
              schedule,
              () -> {
                FlushReport report = flusher.flush(r.from(), r.to());
                if (!report.ok()) {
                  // Flusher logs the failure itself; the batches wait in Redis for the next run.
                  log.debug("event=flush_group_incomplete group={} {}", r.taskName(), report);
                }
              }));
    }
    return out;
  }
}
