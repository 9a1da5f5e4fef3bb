package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.runtime.Errors;

/**
 * One adopt run's hand-over to PostgreSQL: what the run has claimed is read and handed to an apply
 * lane ({@link ApplyLanes}) while the run goes on scanning and claiming, up to {@code
 * flush.apply-connections} transactions at once, as {@link Flusher} does for native counters. A
 * transaction's worth ({@code flush.max-cells-per-transaction}) goes at once; a quarter of one goes
 * early when a lane would otherwise idle, so that PostgreSQL starts while Redis is still scanned.
 *
 * <p>Each batch still goes claim, read, apply, ack, in that order; reads and acks stay on the run's
 * thread (the Redis connections are pipelined), applies touch no Redis. Closing waits for every
 * apply still running and acknowledges what it committed, so a run never ends with a transaction
 * behind its back. The lanes live for one run.
 */
final class AdoptPipeline implements AutoCloseable {
  private final AdoptMapping mapping;
  private final AdoptFlusher.Run run;
  private final AdoptApplier applier;
  private final int max;
  private final ApplyLanes<Finished> lanes;
  private boolean healthy = true;

  /** What an apply yields to its acknowledgement. */
  private record Finished(AdoptApplier.Read read, AdoptApplier.Applied applied) {}

  AdoptPipeline(
      AdoptMapping mapping, AdoptFlusher.Run run, AdoptApplier applier, SpillwayConfig config) {
    this.mapping = mapping;
    this.run = run;
    this.applier = applier;
    this.max = config.flushMaxCellsPerTransaction();
    this.lanes = new ApplyLanes<>("spillway-adopt-apply-", config.flushApplyConnections());
  }

  /** After a round of claims: hands over what is pending when it is time; false once PG failed. */
  boolean offer() {
    if (healthy && (run.pendingCells >= max || (run.pendingCells >= max / 4 && lanes.idle()))) {
      handOver();
    }
    return healthy;
  }

  /** Reads what is pending and hands it to a lane (waiting for one to be free). */
  void handOver() {
    if (!healthy) {
      return; // PostgreSQL failed: what is claimed waits in Redis for the next run
    }
    AdoptApplier.Read r = applier.read(mapping, run);
    if (r == null) {
      return;
    }
    if (lanes.full()) {
      finish(lanes.awaitOldest());
    }
    if (healthy) {
      lanes.submit(() -> new Finished(r, applier.apply(mapping, r)));
    } // else read, not applied: the batches stay claimed in Redis for the next run
  }

  /** Waits for every apply handed over and acknowledges what each committed. */
  void finishAll() {
    while (!lanes.isEmpty()) {
      finish(lanes.awaitOldest());
    }
  }

  private void finish(Finished f) {
    healthy &= applier.ack(mapping, f.read(), f.applied(), run);
  }

  /**
   * Ends the run's hand-over: waits for the applies still running (acknowledging what they
   * committed, as far as Redis lets it), then stops the lanes.
   */
  @Override
  public void close() {
    try {
      while (!lanes.isEmpty()) {
        try {
          finish(lanes.awaitOldest());
        } catch (RuntimeException e) {
          run.errors.add(Errors.rootMessage(e));
        }
      }
    } finally {
      try {
        lanes.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
