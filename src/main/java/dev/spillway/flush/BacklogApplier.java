package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.runtime.Errors;
import dev.spillway.store.ApplyResult;
import dev.spillway.store.BatchContent;
import dev.spillway.store.CounterStore;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL side of a {@link Flusher} run, on its apply thread: applies a backlog of batches
 * read from Redis in transactions of at most flush.max-cells-per-transaction cells ({@link
 * CounterStore#apply}), isolates a batch whose data PostgreSQL refuses and dead-letters it whole,
 * and yields the batches now safe to acknowledge. It holds no Redis connection: no Redis call can
 * happen inside a transaction.
 */
final class BacklogApplier {
  // Logged under Flusher's name, as before these steps had their own class.
  private static final Logger log = LoggerFactory.getLogger(Flusher.class);

  private final CounterStore store;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final FlushListener listener;

  BacklogApplier(
      CounterStore store, SpillwayConfig config, SpillwayMetrics meters, FlushListener listener) {
    this.store = store;
    this.config = config;
    this.meters = meters;
    this.listener = listener;
  }

  /** Applies {@code backlog}; returns the batches committed (applied, duplicate, dead-lettered). */
  Set<Pending> apply(Flusher.Backlog backlog, Flusher.Run run) {
    long t0 = System.nanoTime();
    Set<Pending> done = new LinkedHashSet<>();
    List<BatchContent> group = new ArrayList<>();
    int groupCells = 0;
    List<BatchContent> contents = backlog.contents;
    // A backlog is handed over once it holds a transaction's worth, so it overshoots by at
    // most one window: apply that in one transaction rather than leave a tiny tail.
    int max = config.flushMaxCellsPerTransaction();
    int limit = backlog.cells <= 2L * max ? Math.max(max, backlog.cells) : max;
    for (int i = 0; i <= contents.size(); i++) {
      BatchContent b = i < contents.size() ? contents.get(i) : null;
      if (b != null && (group.isEmpty() || groupCells + b.size() <= limit)) {
        group.add(b);
        groupCells += b.size();
        continue;
      }
      if (!group.isEmpty() && !applyGroup(group, run, done)) {
        backlog.failed = true;
        break;
      }
      group = new ArrayList<>();
      groupCells = 0;
      if (b != null) {
        group.add(b);
        groupCells = b.size();
      }
    }
    run.applyNanos += System.nanoTime() - t0;
    return done;
  }

  private boolean applyGroup(List<BatchContent> group, RunTally run, Set<Pending> done) {
    try {
      ApplyResult r = store.apply(group, "counter", listener::beforeCommit, meters.phases());
      run.committed(r, meters);
      Set<String> committed = new LinkedHashSet<>();
      for (BatchContent b : group) {
        if (r.applied().contains(b.batchId())) {
          run.cells += b.size();
        }
        committed.add(b.batchId());
        done.add(new Pending(b.stripe(), b.batchId()));
      }
      if (r.deadLetters() > 0) {
        log.warn("event=dead_letters count={} batches={}", r.deadLetters(), r.applied());
      }
      listener.afterCommit(committed);
      return true;
    } catch (SpillwayException e) {
      if (isDataError(e)) {
        return isolatePoison(group, run, done, e);
      }
      run.failed(group.size(), e, meters);
      log.warn(
          "event=apply_failed batches={} error=\"{}\" action=left_pending_in_redis",
          group.size(),
          Errors.rootMessage(e));
      return false;
    }
  }

  /**
   * PostgreSQL refused the data of a group (SQLSTATE class 22, 23 or 54), not the connection.
   * Retrying would fail forever and block every stripe behind it, so apply the batches one by one,
   * and send the one that still fails to dead_letter whole, with the error as the reason.
   */
  private boolean isolatePoison(
      List<BatchContent> group, RunTally run, Set<Pending> done, SpillwayException e) {
    if (group.size() > 1) {
      boolean healthy = true;
      for (BatchContent b : group) {
        healthy &= applyGroup(List.of(b), run, done);
      }
      return healthy;
    }
    BatchContent b = group.get(0);
    String reason = "PostgreSQL refused this batch's data: " + Errors.rootMessage(e);
    try {
      int n = store.deadLetterBatch(b, "counter", reason);
      run.deadLetters += n;
      meters.deadLetters(n);
      done.add(new Pending(b.stripe(), b.batchId()));
      log.error(
          "event=batch_dead_lettered batch={} cells={} reason=\"{}\"",
          b.batchId(),
          b.size(),
          reason);
      return true;
    } catch (SpillwayException again) {
      run.failed++;
      run.errors.add(Errors.rootMessage(again));
      return false;
    }
  }

  private static boolean isDataError(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String cls = sql.getSQLState().substring(0, 2);
        return cls.equals("22") || cls.equals("23") || cls.equals("54");
      }
    }
    return false;
  }
}
