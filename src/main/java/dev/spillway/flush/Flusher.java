package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.layout.KeyLayout;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.RedisErrors;
import dev.spillway.redis.ReplicationFence;
import dev.spillway.runtime.Errors;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.store.AppliedCounters;
import dev.spillway.store.BatchContent;
import dev.spillway.store.CounterStore;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains striped Redis hashes into PostgreSQL exactly once: claim, apply, ack (DESIGN.md, "Data
 * flow"). Each run walks the stripes in windows; per window it
 *
 * <ol>
 *   <li><b>claims</b> every stripe (one {@link FlushScripts#CLAIM} call each, pipelined): the live
 *       hash is renamed to a new batch and registered, and every batch still pending from an
 *       earlier, perhaps crashed, run is returned with it ({@link StripeClaimer}); on Redis Cluster
 *       the claims are then confirmed by the replicas ({@link dev.spillway.redis.ReplicationFence})
 *       before anything is applied;
 *   <li><b>applies</b> all pending batches in short transactions (ledger rows plus set-based
 *       upserts, {@link CounterStore#apply}); a batch the ledger already holds is a duplicate and
 *       adds nothing;
 *   <li><b>acks</b> the applied and duplicate batches ({@link FlushScripts#ACK}: DEL plus SREM).
 * </ol>
 *
 * <p>No Redis call happens inside a PostgreSQL transaction. Nothing is deleted from Redis before
 * PostgreSQL committed it. Two flushers on the same stripes are slower, never wrong: the ledger
 * decides. A failing apply leaves its batches pending for the next run.
 *
 * <p>This class is the run itself, on the flushing thread: the windows, the hand-over of each
 * transaction's worth to the apply thread and the order claim, read, apply, ack. The PostgreSQL
 * side is {@link BacklogApplier} (it holds no Redis connection, so no Redis call can happen inside
 * a transaction), the acks {@link StripeAcks}, reading a batch {@link StripeBatchReader}, the cache
 * notice {@link AppliedNotice}, the run's counters {@link RunTally}.
 *
 * <p>Thread-safety: runs are serialized per instance (the Redis connection is pipelined).
 */
public final class Flusher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Flusher.class);
  private static final int WINDOW = 256;

  private final KeyLayout layout;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final FlushListener listener;
  private final InstantSource clock;
  private final ReplicationFence fence;
  private final StripeClaimer claimer;
  private final RuntimeFailure failure;
  private final BacklogApplier applier;
  private final StripeAcks acks;
  private final ApplyLanes<Applied> lanes;
  private volatile long oldestPendingMillis;
  private volatile Consumer<AppliedCounters> onApplied;

  public Flusher(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      CounterStore store,
      SpillwayConfig config,
      SpillwayMetrics meters,
      FlushListener listener,
      InstantSource clock,
      RuntimeFailure failure) {
    this.layout = layout;
    this.failure = failure;
    this.connection = connection;
    this.fence = new ReplicationFence(connection, config.redisTimeout(), config);
    this.claimer = new StripeClaimer(layout, connection, redis, config, meters, clock);
    this.redis = redis;
    this.config = config;
    this.meters = meters;
    this.listener = listener == null ? FlushListener.NONE : listener;
    this.clock = clock;
    this.applier = new BacklogApplier(store, config, meters, this.listener);
    this.acks = new StripeAcks(layout, connection, redis, config, this.listener);
    this.lanes = new ApplyLanes<>("spillway-apply-", config.flushApplyConnections());
    connection.setAutoFlushCommands(false);
    meters.oldestPendingBatchAge(this, f -> f.oldestPendingMillis);
  }

  /**
   * Called after each acknowledgement with a view of the (counter, key) pairs of the batches
   * committed (applied now or found in the ledger), on the flushing thread; the cache runtime uses
   * it to invalidate cached counter reads. It must return quickly (queue or drop, never wait). An
   * exception is logged, never fails the flush.
   */
  public void onApplied(Consumer<AppliedCounters> callback) {
    this.onApplied = callback;
  }

  /** Claims, applies and acknowledges every stripe once. */
  public FlushReport flushOnce() {
    return flush(0, layout.stripes());
  }

  /** Claims, applies and acknowledges stripes {@code [from, to)} once. */
  public synchronized FlushReport flush(int from, int to) {
    if (closed) {
      return FlushReport.refused(to - from, "not flushed: the runtime is closed");
    }
    if (failure.failed()) {
      // After an Error nothing here is trusted to be whole; batches wait in Redis for a restart.
      return FlushReport.refused(to - from, "not flushed: " + failure.reason().orElseThrow());
    }
    try {
      return flushRange(from, to);
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      throw e;
    }
  }

  private FlushReport flushRange(int from, int to) {
    long start = System.nanoTime();
    Run run = new Run();
    fence.newRun();
    claimer.newRun();
    Backlog backlog = new Backlog();
    // Transactions are applied (PostgreSQL, on the apply lanes) while the next window is claimed
    // and read (Redis, on this thread): the servers work at the same time. Each batch still goes
    // claim, read, apply, ack, in that order; acks stay on this thread, the only one that touches
    // the pipelined Redis connection.
    boolean healthy = true;
    int max = config.flushMaxCellsPerTransaction();
    try {
      for (int w = from; w < to && healthy; w += WINDOW) {
        window(w, Math.min(to, w + WINDOW), run, backlog);
        // A transaction's worth goes at once; a quarter of one goes early when a connection
        // would otherwise idle, so that PostgreSQL starts while Redis is still being read.
        if (backlog.cells >= max || (backlog.cells >= max / 4 && lanes.idle())) {
          healthy = handOver(backlog, run);
          backlog = new Backlog();
        }
      }
      if (healthy && !backlog.pending.isEmpty()) {
        healthy = handOver(backlog, run); // the tail waits for a lane like the rest
      } else {
        markUnacked(backlog, Set.of(), run); // claimed and read, left for the next run
      }
      while (!lanes.isEmpty()) {
        healthy &= finish(lanes.awaitOldest(), run);
      }
    } catch (RuntimeException e) {
      // Never leave a transaction running behind our back: wait for every apply still going.
      while (!lanes.isEmpty()) {
        try {
          finish(lanes.awaitOldest(), run);
        } catch (RuntimeException again) {
          run.errors.add(Errors.rootMessage(again));
        }
      }
      run.errors.add(Errors.rootMessage(e));
      if (RedisErrors.isTransient(e)) {
        // A failover or a resharding in progress: expected, and the next run takes over.
        log.warn("event=flush_error error=\"{}\" action=next_run_retries", Errors.rootMessage(e));
      } else {
        log.error("event=flush_error error=\"{}\"", Errors.rootMessage(e), e);
      }
    }
    if (run.unreplicated > 0) {
      run.errors.add(
          run.unreplicated
              + " batch(es) left pending: their claims were not confirmed by the"
              + " master's replicas in time (Redis Cluster); the next run retries");
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    meters.flushTook(took);
    long now = clock.millis();
    oldestPendingMillis =
        run.oldestUnackedClaim == Long.MAX_VALUE ? 0 : now - run.oldestUnackedClaim;
    FlushReport r = run.report(to - from, took, Duration.ofMillis(oldestPendingMillis), null);
    if (!r.ok()) {
      log.warn("event=flush_incomplete {}", r);
    } else if (r.batchesApplied() > 0 && log.isDebugEnabled()) {
      log.debug(
          "event=flush {} claim_ms={} read_ms={} apply_ms={} ack_ms={}",
          r,
          run.claimNanos / 1_000_000,
          run.readNanos / 1_000_000,
          run.applyNanos / 1_000_000,
          run.ackNanos / 1_000_000);
    }
    return r;
  }

  /** The shared counters ({@link RunTally}), and what only a native run keeps. */
  static final class Run extends RunTally {
    long oldestUnackedClaim = Long.MAX_VALUE;
    int unreplicated;
    // Where the time went, for the debug log: claim, read, apply, ack.
    long claimNanos;
    long readNanos;
    long applyNanos;
    long ackNanos;
  }

  /** Batches read from Redis and not yet applied; applied once they fill a transaction. */
  static final class Backlog {
    final List<Pending> pending = new ArrayList<>();
    final List<BatchContent> contents = new ArrayList<>();
    final Set<Pending> stale = new LinkedHashSet<>();
    int cells;
    volatile boolean failed;
  }

  /** Claims and reads one window of stripes into the backlog. */
  private void window(int from, int to, Run run, Backlog backlog) {
    // 1. claim
    long t0 = System.nanoTime();
    StripeClaimer.Claimed c = claimer.claim(from, to);
    run.claimed += c.newlyClaimed();
    run.errors.addAll(c.errors());
    List<Pending> claimed = c.pending();
    List<Pending> pending =
        fence.confirmed(claimed, p -> layout.batches(p.stripe()), Pending::batchId);
    if (pending.size() < claimed.size()) {
      int waiting = claimed.size() - pending.size();
      run.unreplicated += waiting;
      Set<Pending> confirmed = new HashSet<>(pending);
      for (Pending p : claimed) {
        if (!confirmed.contains(p)) { // held back: still pending, so it counts for the lag gauge
          run.oldestUnackedClaim = Math.min(run.oldestUnackedClaim, claimedAtMillis(p.batchId()));
        }
      }
      log.warn(
          "event=claims_not_replicated batches={} action=left_pending detail=\"their master's"
              + " replicas did not confirm in time; applying them could count twice after a"
              + " failover\"",
          waiting);
    }
    long t1 = System.nanoTime();
    run.claimNanos += t1 - t0;
    meters.phases().record("claim", t1 - t0);
    if (pending.isEmpty()) {
      return;
    }
    listener.afterClaim(pending.stream().map(Pending::batchId).toList());

    // 2. read the batches
    List<CompletableFuture<Map<String, String>>> reads = new ArrayList<>(pending.size());
    for (Pending p : pending) {
      reads.add(redis.hgetall(layout.batch(p.stripe(), p.batchId())).toCompletableFuture());
    }
    connection.flushCommands();
    for (int i = 0; i < pending.size(); i++) {
      Pending p = pending.get(i);
      Map<String, String> cells = await(reads.get(i));
      backlog.pending.add(p);
      if (cells.isEmpty()) {
        // Acknowledged meanwhile by a concurrent flusher (which committed it first): nothing to
        // apply, and the id leaves the set, but only if the key is really gone (ackUnread).
        backlog.stale.add(p);
      } else {
        BatchContent b = StripeBatchReader.read(p, cells);
        backlog.contents.add(b);
        backlog.cells += b.size();
      }
    }
    run.readNanos += System.nanoTime() - t1;
    meters.phases().record("read", System.nanoTime() - t1);
  }

  /** Set by {@link #close()}, read under the same lock by {@link #flush}. */
  private boolean closed;

  /**
   * Ends the apply lanes, after the run in progress: close is synchronized with {@link #flush}, so
   * it waits for a run on another thread to end, and a flush asked for later is refused instead of
   * meeting stopped lanes. The runtime closes the flusher after its scheduler and before its
   * connections and pool.
   */
  @Override
  public synchronized void close() throws InterruptedException {
    closed = true;
    lanes.close();
  }

  /**
   * Hands {@code backlog} to a lane, first waiting for (and acknowledging) the oldest apply when
   * every lane is taken. False when that apply failed: the backlog is then not applied and stays
   * claimed for the next run.
   */
  private boolean handOver(Backlog backlog, Run run) {
    if (lanes.full() && !finish(lanes.awaitOldest(), run)) {
      markUnacked(backlog, Set.of(), run);
      return false;
    }
    submitApply(backlog);
    return true;
  }

  /** What an apply yields to its acknowledgement: the batches committed, and its own tally. */
  private record Applied(Set<Pending> done, Backlog backlog, Run tally, RuntimeException error) {}

  /**
   * 3. applies a backlog in transactions of at most flush.max-cells-per-transaction cells, on an
   * apply lane; yields the batches now safe to acknowledge (the rest stays pending). The apply
   * counts into a tally of its own, so concurrent applies share no counter.
   */
  private void submitApply(Backlog backlog) {
    Run tally = new Run();
    lanes.submit(
        () -> {
          try {
            return new Applied(applier.apply(backlog, tally), backlog, tally, null);
          } catch (RuntimeException e) {
            // Not PostgreSQL refusing (that is counted as failed): a listener, a bug. What the
            // tally counted still reaches the run; nothing of this backlog is acknowledged.
            return new Applied(Set.of(), backlog, tally, e);
          } catch (Error e) {
            failure.record(Thread.currentThread().getName(), e);
            throw e;
          }
        });
  }

  /** 4. acks what an apply committed; false when PostgreSQL failed. */
  private boolean finish(Applied applied, Run run) {
    run.add(applied.tally());
    run.applyNanos += applied.tally().applyNanos;
    Backlog backlog = applied.backlog();
    if (applied.error() != null) {
      markUnacked(backlog, Set.of(), run);
      throw applied.error();
    }
    Set<Pending> done = applied.done();
    long t1 = System.nanoTime();
    acks.ack(done);
    AppliedNotice.send(onApplied, backlog.contents, done);
    Set<Pending> settled = new LinkedHashSet<>(done);
    settled.addAll(acks.ackUnread(backlog.stale, run));
    run.ackNanos += System.nanoTime() - t1;
    meters.phases().record("ack", System.nanoTime() - t1);
    markUnacked(backlog, settled, run);
    return !backlog.failed;
  }

  private static void markUnacked(Backlog backlog, Set<Pending> done, Run run) {
    for (Pending p : backlog.pending) {
      if (!done.contains(p)) {
        run.oldestUnackedClaim = Math.min(run.oldestUnackedClaim, claimedAtMillis(p.batchId()));
      }
    }
  }

  static long claimedAtMillis(String batchId) {
    int dash = batchId.indexOf('-');
    try {
      return Long.parseLong(dash < 0 ? batchId : batchId.substring(0, dash), 36);
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  private <T> T await(CompletableFuture<T> f) {
    return PipelinedReplies.reply(connection, f, config.replyWaitMillis());
  }
}
