package dev.spillway.flush;

import dev.spillway.layout.CellDelta;
import dev.spillway.runtime.Errors;
import dev.spillway.store.AppliedCounters;
import dev.spillway.store.BatchContent;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Flusher#onApplied} notice: the committed batches' cells, as {@link AppliedCounters}.
 */
final class AppliedNotice {
  // Logged under Flusher's name, as before these steps had their own class.
  private static final Logger log = LoggerFactory.getLogger(Flusher.class);

  private AppliedNotice() {}

  /**
   * Tells the cache runtime which (counter, key) pairs the committed batches of {@code contents}
   * changed; see {@link Flusher#onApplied}. A failing callback is logged, never fails the flush.
   */
  static void send(
      Consumer<AppliedCounters> callback, List<BatchContent> contents, Set<Pending> done) {
    if (callback == null) {
      return;
    }
    // One reference per committed batch, none per cell: the cells are already in memory.
    List<List<CellDelta>> committed = new ArrayList<>();
    int cells = 0;
    for (BatchContent b : contents) {
      if (!b.cells().isEmpty() && done.contains(new Pending(b.stripe(), b.batchId()))) {
        committed.add(b.cells());
        cells += b.cells().size();
      }
    }
    if (cells == 0) {
      return;
    }
    try {
      callback.accept(new Committed(List.copyOf(committed), cells));
    } catch (RuntimeException e) {
      log.warn("event=on_applied_failed error=\"{}\"", Errors.rootMessage(e));
    }
  }

  /** {@link AppliedCounters} over the cell lists of committed batches. */
  private record Committed(List<List<CellDelta>> batches, int cells) implements AppliedCounters {
    @Override
    public void forEach(BiConsumer<String, String> action) {
      for (List<CellDelta> b : batches) {
        for (CellDelta c : b) {
          action.accept(c.counter(), c.key());
        }
      }
    }
  }
}
