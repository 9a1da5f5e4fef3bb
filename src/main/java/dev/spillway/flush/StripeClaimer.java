package dev.spillway.flush;

import dev.spillway.SpillwayConfig;
import dev.spillway.layout.KeyLayout;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.LuaScript;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.RedisErrors;
import dev.spillway.runtime.Errors;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Step 1 of a flush: claims stripes with {@link FlushScripts#CLAIM}, pipelined, retrying what a
 * failover or a resharding refused, within a budget per run. Used by one {@link Flusher}, on its
 * thread.
 */
final class StripeClaimer {
  /** Idempotency records of clients silent this long are dropped by the claim script. */
  static final Duration SEEN_RETENTION = Duration.ofDays(7);

  /** Tries of one stripe's claim within a run (TRYAGAIN, failover, NOSCRIPT). */
  static final int CLAIM_ATTEMPTS = 6;

  /** What one call claimed: every batch pending in the stripes, how many are new, and errors. */
  record Claimed(List<Pending> pending, int newlyClaimed, List<String> errors) {}

  private final KeyLayout layout;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final InstantSource clock;
  private final boolean cluster;
  private final SecureRandom random = new SecureRandom();
  private boolean retriesSpent;
  private int skippedStripes;
  private final Set<String> unreachable = new HashSet<>();

  StripeClaimer(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      SpillwayConfig config,
      SpillwayMetrics meters,
      InstantSource clock) {
    this.layout = layout;
    this.connection = connection;
    this.redis = redis;
    this.config = config;
    this.meters = meters;
    this.clock = clock;
    this.cluster = connection instanceof StatefulRedisClusterConnection;
  }

  /** A new run: the full retry budget again, every node tried again. */
  void newRun() {
    retriesSpent = false;
    skippedStripes = 0;
    unreachable.clear();
  }

  /**
   * Claims stripes {@code [from, to)}, pipelined. (A node that lacks the script is handled by
   * {@code LuaScript}, which sends the text for that call; NOSCRIPT is still treated as worth a
   * retry in case it ever surfaces.) A stripe whose claim fails with a transient cluster error
   * (TRYAGAIN while its slot migrates, CLUSTERDOWN or a lost connection during a failover) is
   * claimed again, alone, up to {@value #CLAIM_ATTEMPTS} times with backoff: a claim is atomic, and
   * one that did happen but whose reply was lost is found again in the batches set. A stripe still
   * failing is left for the next run; the run reports the error.
   */
  Claimed claim(int from, int to) {
    List<Integer> todo = new ArrayList<>(to - from);
    int skipped = 0;
    for (int s = from; s < to; s++) {
      if (unreachable.isEmpty() || !unreachable.contains(nodeOf(s))) {
        todo.add(s);
      } else {
        skipped++;
      }
    }
    List<String> errors = new ArrayList<>();
    if (skipped > 0 && skippedStripes == 0) {
      errors.add("stripes skipped for the rest of the run: their Redis node did not answer");
    }
    skippedStripes += skipped;
    List<Pending> pending = new ArrayList<>();
    int newlyClaimed = 0;
    RuntimeException error = null;
    int attempts = retriesSpent ? 1 : CLAIM_ATTEMPTS;
    for (int attempt = 1; !todo.isEmpty(); attempt++) {
      List<CompletableFuture<List<String>>> futures = new ArrayList<>(todo.size());
      List<String> newIds = new ArrayList<>(todo.size());
      for (int s : todo) {
        String id = newBatchId();
        newIds.add(id);
        futures.add(
            FlushScripts.CLAIM.evalsha(
                redis,
                ScriptOutputType.MULTI,
                new String[] {
                  layout.live(s),
                  layout.batch(s, id),
                  layout.batches(s),
                  layout.epoch(s),
                  layout.seen(s)
                },
                id,
                Integer.toString(config.flushMaxPendingBatchesPerStripe()),
                Long.toString(SEEN_RETENTION.toSeconds()),
                Long.toHexString(random.nextLong())));
      }
      connection.flushCommands();
      List<Integer> retry = new ArrayList<>();
      boolean noScript = false;
      error = null;
      for (int i = 0; i < futures.size(); i++) {
        int stripe = todo.get(i);
        try {
          List<String> ids =
              PipelinedReplies.await(connection, futures.get(i), config.replyWaitMillis());
          for (String id : ids) {
            pending.add(new Pending(stripe, id));
            if (id.equals(newIds.get(i))) {
              newlyClaimed++;
              meters.batchClaimed();
            }
          }
        } catch (ExecutionException | TimeoutException e) {
          boolean missing = LuaScript.isNoScript(e);
          noScript |= missing;
          // On a cluster, a failover is worth waiting for; on a single Redis only TRYAGAIN is.
          if (missing || (cluster ? RedisErrors.isTransient(e) : RedisErrors.isTryAgain(e))) {
            retry.add(stripe);
          }
          error =
              error != null
                  ? error
                  : new IllegalStateException("claim failed: " + Errors.rootMessage(e), e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while claiming", e);
        }
      }
      if (!retry.isEmpty() && attempt >= attempts) {
        // Out of tries: later windows of this run try once, and skip the nodes that never
        // answered, so one dead master costs one timeout per run, not one per window.
        retriesSpent = true;
        for (int i = 0; i < futures.size(); i++) {
          if (futures.get(i).isCompletedExceptionally() && unreachable(futures.get(i))) {
            unreachable.add(nodeOf(todo.get(i)));
          }
        }
      }
      if (retry.isEmpty() || attempt >= attempts) {
        break;
      }
      if (!noScript) {
        meters.claimRetries(retry.size());
        sleep(Duration.ofMillis(50L << Math.min(attempt, 5)));
      }
      todo = retry;
    }
    if (error != null && pending.isEmpty()) {
      throw error;
    }
    if (error != null) {
      errors.add(error.getMessage());
    }
    return new Claimed(pending, newlyClaimed, errors);
  }

  /** The master serving {@code stripe} as the client sees it ({@code single} off a cluster). */
  private String nodeOf(int stripe) {
    if (connection instanceof StatefulRedisClusterConnection<String, String> c) {
      RedisClusterNode m = c.getPartitions().getMasterBySlot(SlotHash.getSlot(layout.live(stripe)));
      return m == null ? "?" : m.getNodeId();
    }
    return "single";
  }

  /** A claim that timed out or lost its connection: its node did not answer. */
  private static boolean unreachable(CompletableFuture<?> f) {
    try {
      f.getNow(null);
      return false;
    } catch (CompletionException | CancellationException e) {
      Throwable t = e.getCause() != null ? e.getCause() : e;
      return t instanceof RedisCommandTimeoutException
          || t instanceof RedisConnectionException
          || String.valueOf(t.getMessage()).contains("not connected");
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting to claim again", e);
    }
  }

  /** {@code <claim millis, base 36>-<64 random bits, hex>}: unique, and carries its claim time. */
  private String newBatchId() {
    return KeyLayout.batchId(clock.millis(), random.nextLong());
  }
}
