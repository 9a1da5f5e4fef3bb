package dev.spillway.flush;

import java.time.Duration;
import java.util.List;

/**
 * What one flush run did. {@code batchesFailed > 0} means some batches could not be applied (most
 * often PostgreSQL was unreachable); they stay pending in Redis and the next run retries them.
 * {@code leftAlone} is for adopt runs: the keys under the mapping's pattern that were not touched
 * ({@link LeftAlone#NONE} for native flushes).
 */
public record FlushReport(
    int stripes,
    int batchesClaimed,
    int batchesApplied,
    int batchesDuplicate,
    int batchesFailed,
    long cells,
    long rowsUpserted,
    long deadLetters,
    Duration duration,
    Duration oldestPendingAge,
    List<String> errors,
    LeftAlone leftAlone) {

  public FlushReport {
    leftAlone = leftAlone == null ? LeftAlone.NONE : leftAlone;
  }

  public FlushReport(
      int stripes,
      int batchesClaimed,
      int batchesApplied,
      int batchesDuplicate,
      int batchesFailed,
      long cells,
      long rowsUpserted,
      long deadLetters,
      Duration duration,
      Duration oldestPendingAge,
      List<String> errors) {
    this(
        stripes,
        batchesClaimed,
        batchesApplied,
        batchesDuplicate,
        batchesFailed,
        cells,
        rowsUpserted,
        deadLetters,
        duration,
        oldestPendingAge,
        errors,
        LeftAlone.NONE);
  }

  /** A run that did nothing, for {@code reason} (the runtime stopped after an Error). */
  public static FlushReport refused(int stripes, String reason) {
    return new FlushReport(
        stripes, 0, 0, 0, 0, 0, 0, 0, Duration.ZERO, Duration.ZERO, List.of(reason));
  }

  public boolean ok() {
    return batchesFailed == 0 && errors.isEmpty();
  }

  @Override
  public String toString() {
    return "stripes="
        + stripes
        + " claimed="
        + batchesClaimed
        + " applied="
        + batchesApplied
        + " duplicate="
        + batchesDuplicate
        + " failed="
        + batchesFailed
        + " cells="
        + cells
        + " rows="
        + rowsUpserted
        + " dead_letters="
        + deadLetters
        + " duration_ms="
        + duration.toMillis()
        + (leftAlone.total() == 0 ? "" : " left_alone=" + leftAlone.total())
        + (errors.isEmpty() ? "" : " errors=" + errors);
  }
}
