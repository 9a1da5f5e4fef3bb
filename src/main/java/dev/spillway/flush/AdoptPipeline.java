package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.runtime.Errors;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * One adopt run's hand-over to PostgreSQL: what the run has claimed is read and handed to an apply
 * thread while the run goes on scanning and claiming, up to {@code flush.apply-connections}
 * transactions at once (as {@link Flusher} does for native counters). A transaction's worth ({@code
 * flush.max-cells-per-transaction}) goes at once; a quarter of one goes early when an apply thread
 * would otherwise idle, so that PostgreSQL starts while Redis is still being scanned.
 *
 * <p>Each batch still goes claim, read, apply, ack, in that order; reads and acks stay on the run's
 * thread (the Redis connections are pipelined), applies touch no Redis. Closing waits for every
 * apply still running and acknowledges what it committed, so a run never ends with a transaction
 * behind its back. The threads live for one run.
 */
final class AdoptPipeline implements AutoCloseable {
  private final AdoptMapping mapping;
  private final AdoptFlusher.Run run;
  private final AdoptApplier applier;
  private final int max;
  private final int connections;
  private final ExecutorService threads;
  private final ArrayDeque<Inflight> inflight = new ArrayDeque<>();
  private boolean healthy = true;

  private record Inflight(AdoptApplier.Read read, Future<AdoptApplier.Applied> applied) {}

  AdoptPipeline(
      AdoptMapping mapping, AdoptFlusher.Run run, AdoptApplier applier, SpillwayConfig config) {
    this.mapping = mapping;
    this.run = run;
    this.applier = applier;
    this.max = config.flushMaxCellsPerTransaction();
    this.connections = config.flushApplyConnections();
    this.threads =
        Executors.newFixedThreadPool(
            connections, Thread.ofPlatform().name("spillway-adopt-apply-", 0).daemon().factory());
  }

  /** After a round of claims: hands over what is pending when it is time; false once PG failed. */
  boolean offer() {
    boolean idle = inflight.size() < connections || inflight.peekFirst().applied().isDone();
    if (healthy && (run.pendingCells >= max || (run.pendingCells >= max / 4 && idle))) {
      handOver();
    }
    return healthy;
  }

  /** Reads what is pending and hands it to an apply thread (waiting for one to be free). */
  void handOver() {
    if (!healthy) {
      return; // PostgreSQL failed: what is claimed waits in Redis for the next run
    }
    AdoptApplier.Read r = applier.read(mapping, run);
    if (r == null) {
      return;
    }
    if (inflight.size() >= connections) {
      finish(inflight.removeFirst());
    }
    if (!healthy) {
      // Read, not applied: the batches stay in Redis (claimed) for the next run.
      return;
    }
    inflight.addLast(new Inflight(r, threads.submit(() -> applier.apply(mapping, r))));
  }

  /** Waits for every apply handed over and acknowledges what each committed. */
  void finishAll() {
    while (!inflight.isEmpty()) {
      finish(inflight.removeFirst());
    }
  }

  private void finish(Inflight i) {
    AdoptApplier.Applied a;
    try {
      a = i.applied().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while applying", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    }
    healthy &= applier.ack(mapping, i.read(), a, run);
  }

  /**
   * Ends the run's hand-over: waits for the applies still running (acknowledging what they
   * committed, as far as Redis lets it), then stops the threads.
   */
  @Override
  public void close() {
    try {
      while (!inflight.isEmpty()) {
        try {
          finish(inflight.removeFirst());
        } catch (RuntimeException e) {
          run.errors.add(Errors.rootMessage(e));
        }
      }
    } finally {
      threads.shutdown();
      try {
        threads.awaitTermination(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
