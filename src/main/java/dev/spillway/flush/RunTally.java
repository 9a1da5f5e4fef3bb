package dev.spillway.flush;

import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.runtime.Errors;
import dev.spillway.store.ApplyResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one run of a flusher counted, native ({@link Flusher}) or adopted ({@link AdoptFlusher}):
 * batches claimed, applied, duplicate and failed, cells, rows and dead letters, and the errors met,
 * turned into a {@link FlushReport} at the end. Each flusher extends it with what is its own.
 *
 * <p>Each apply counts into a tally of its own on its lane; the run's thread adds it to the run's
 * ({@link #add}) when it takes the apply's result, so no counter is written by two threads. The
 * errors list is synchronized all the same.
 */
class RunTally {
  int claimed;
  int applied;
  int duplicate;
  int failed;
  long cells;
  long rows;
  long deadLetters;
  final List<String> errors = Collections.synchronizedList(new ArrayList<>());

  /** Adds what {@code part} counted (a concurrent apply's own tally) to this run. */
  final void add(RunTally part) {
    claimed += part.claimed;
    applied += part.applied;
    duplicate += part.duplicate;
    failed += part.failed;
    cells += part.cells;
    rows += part.rows;
    deadLetters += part.deadLetters;
    errors.addAll(part.errors);
  }

  /** Counts a committed apply, here and in the meters. */
  final void committed(ApplyResult r, SpillwayMetrics meters) {
    applied += r.applied().size();
    duplicate += r.duplicates().size();
    rows += r.totalRows() + r.bucketRows();
    deadLetters += r.deadLetters();
    meters.applied(
        r.applied().size(), r.duplicates().size(), r.totalRows() + r.bucketRows(), r.deadLetters());
  }

  /** Counts batches whose apply failed (they stay pending in Redis), here and in the meters. */
  final void failed(int batches, RuntimeException e, SpillwayMetrics meters) {
    failed += batches;
    meters.batchesFailed(batches);
    errors.add(Errors.rootMessage(e));
  }

  /** The run's report; {@code leftAlone} null for a native run. */
  final FlushReport report(
      int stripes, Duration took, Duration oldestPendingAge, LeftAlone leftAlone) {
    return new FlushReport(
        stripes,
        claimed,
        applied,
        duplicate,
        failed,
        cells,
        rows,
        deadLetters,
        took,
        oldestPendingAge,
        List.copyOf(errors),
        leftAlone);
  }
}
