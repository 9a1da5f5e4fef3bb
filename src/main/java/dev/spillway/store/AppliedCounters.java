package dev.spillway.store;

import java.util.function.BiConsumer;

/**
 * The counter keys of the batches one flush step committed, handed from the flusher to the cache
 * runtime (which invalidates cached counter reads) without copying: a view over the batches the
 * flusher already holds, so a flush of 200,000 cells allocates nothing per cell for it, and a
 * consumer that has no room drops the whole view at once.
 *
 * <p>Hazard: a view keeps its batches reachable; whoever queues it must bound what it queues by
 * {@link #cells()}.
 */
public interface AppliedCounters {
  /**
   * Cells behind this view: an upper bound of its distinct (counter, key) pairs, without iterating.
   */
  int cells();

  /**
   * Calls {@code action} with the (counter, key) of every cell; a key with several bucket cells
   * comes once per cell.
   */
  void forEach(BiConsumer<String, String> action);
}
