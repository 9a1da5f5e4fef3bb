package dev.spillway.client;

import dev.spillway.SpillwayConfig;
import dev.spillway.layout.KeyLayout;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code client.durability: replicated}: which stripes' drains at least {@code
 * client.durable-replicas} replicas hold. Drainer thread only.
 *
 * <p>On one server (Sentinel or not) the drainer pipelines, behind its drain scripts and in the
 * same flush, a {@code SET} of a fence key and {@code WAIT n t}: one TCP connection carries them
 * all, so they reach the same server in order (a reconnect to another master in between fails the
 * rest of the pipeline instead of moving it), and once the fence reached n replicas so has every
 * write that server executed before it, including a packet it had applied before and now answers as
 * a duplicate. No extra round trip.
 *
 * <p>On a Redis Cluster, once the scripts' replies are in: per master the topology names for the
 * stripes, pipelined on the connection to that node, an {@code EXISTS} per stripe (a node that no
 * longer serves the slot answers {@code MOVED}: not confirmed), the fence {@code SET}, and {@code
 * WAIT}. One extra round trip per master per drain.
 *
 * <p>Anything short of n (a timeout, a demoted master's {@code READONLY}, fewer replicas) confirms
 * nothing: the drainer keeps those packets and re-sends them; the drain script answers a packet it
 * holds already as a duplicate, and one that a failover lost is applied again, to whichever master
 * answers.
 */
final class ReplicationWait {
  /** A healthy replica confirms in a millisecond; past this the drain is retried with backoff. */
  static final Duration MAX_WAIT = Duration.ofSeconds(1);

  private final KeyLayout layout;
  private final int replicas;
  private final long waitMillis;
  private final long replyMillis;
  private final StatefulRedisClusterConnection<String, String> cluster;
  private final RedisClusterAsyncCommands<String, String> redis;

  ReplicationWait(
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      SpillwayConfig config) {
    this.layout = layout;
    this.replicas = config.durableReplicas();
    Duration half = config.redisTimeout().dividedBy(2);
    this.waitMillis = Math.max(10, Math.min(MAX_WAIT.toMillis(), half.toMillis()));
    this.replyMillis = config.redisTimeout().toMillis() + 1000;
    this.cluster =
        connection instanceof StatefulRedisClusterConnection<String, String> c ? c : null;
    this.redis = redis;
  }

  /** The replicas every drain must reach. */
  int replicas() {
    return replicas;
  }

  /**
   * Queues the fence and {@code WAIT} behind {@code scripts} (the drain calls of {@code stripes},
   * in pipeline order), before the drainer flushes its pipeline; null on a cluster (see {@link
   * #afterReplies}).
   */
  Pending queue(Collection<Integer> stripes, List<? extends CompletableFuture<?>> scripts) {
    if (cluster != null || stripes.isEmpty()) {
      return null;
    }
    int first = stripes.iterator().next();
    CompletableFuture<String> fence =
        redis.set(fenceKey(first), "1", SetArgs.Builder.px(60_000)).toCompletableFuture();
    boolean[] covered = new boolean[scripts.size()];
    // Replies complete in order on the connection's event loop, so when WAIT's reply is handled,
    // every script Redis ran before WAIT has completed. One that has not went through LuaScript's
    // EVAL fallback (NOSCRIPT: a restart, a failover, SCRIPT FLUSH): that EVAL was written after
    // WAIT and ran after it, so this WAIT does not vouch for it.
    CompletableFuture<Long> acked =
        redis
            .waitForReplication(replicas, waitMillis)
            .toCompletableFuture()
            .whenComplete(
                (n, e) -> {
                  for (int i = 0; i < covered.length; i++) {
                    covered[i] = scripts.get(i).isDone();
                  }
                });
    return new Pending(fence, acked, covered);
  }

  /** A queued single-server fence. */
  final class Pending {
    private final CompletableFuture<String> fence;
    private final CompletableFuture<Long> acked;
    private final boolean[] covered;

    Pending(CompletableFuture<String> fence, CompletableFuture<Long> acked, boolean[] covered) {
      this.fence = fence;
      this.acked = acked;
      this.covered = covered;
    }

    /**
     * Whether script {@code i} ran before WAIT (read after {@link #confirmed()}, whose wait makes
     * the answer visible); false for one applied by the EVAL fallback after it.
     */
    boolean covers(int i) {
      return covered[i];
    }

    /** Whether every script before the fence reached {@code replicas} replicas. */
    boolean confirmed() {
      try {
        return "OK".equals(fence.get(replyMillis, TimeUnit.MILLISECONDS))
            && acked.get(replyMillis, TimeUnit.MILLISECONDS) >= replicas;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      } catch (Exception e) {
        return false; // READONLY, disconnected, a timeout
      }
    }
  }

  /**
   * On a cluster, after the scripts' replies: the stripes (of {@code applied}) whose master
   * confirmed; on one server, {@code pending}'s verdict for all of them.
   */
  Set<Integer> afterReplies(Collection<Integer> applied, Pending pending) {
    if (applied.isEmpty()) {
      return Set.of();
    }
    if (cluster == null) {
      return pending != null && pending.confirmed() ? new HashSet<>(applied) : Set.of();
    }
    Partitions partitions = cluster.getPartitions();
    Map<RedisClusterNode, List<Integer>> byMaster = new LinkedHashMap<>();
    for (int stripe : applied) {
      RedisClusterNode m = partitions.getMasterBySlot(SlotHash.getSlot(layout.live(stripe)));
      if (m != null) {
        byMaster.computeIfAbsent(m, k -> new ArrayList<>()).add(stripe);
      }
    }
    List<NodeCheck> checks = new ArrayList<>();
    for (var e : byMaster.entrySet()) {
      try {
        RedisAsyncCommands<String, String> node =
            cluster
                .getConnection(e.getKey().getUri().getHost(), e.getKey().getUri().getPort())
                .async();
        List<CompletableFuture<Long>> served = new ArrayList<>();
        for (int stripe : e.getValue()) {
          served.add(node.exists(layout.seen(stripe)).toCompletableFuture());
        }
        CompletableFuture<String> fence =
            node.set(fenceKey(e.getValue().get(0)), "1", SetArgs.Builder.px(60_000))
                .toCompletableFuture();
        CompletableFuture<Long> acked =
            node.waitForReplication(replicas, waitMillis).toCompletableFuture();
        checks.add(new NodeCheck(e.getValue(), served, fence, acked));
      } catch (RuntimeException unreachable) {
        // not confirmed: re-sent
      }
    }
    cluster.flushCommands();
    Set<Integer> out = new HashSet<>();
    for (NodeCheck c : checks) {
      out.addAll(c.confirmed());
    }
    return out;
  }

  private final class NodeCheck {
    final List<Integer> stripes;
    final List<CompletableFuture<Long>> served;
    final CompletableFuture<String> fence;
    final CompletableFuture<Long> acked;

    NodeCheck(
        List<Integer> stripes,
        List<CompletableFuture<Long>> served,
        CompletableFuture<String> fence,
        CompletableFuture<Long> acked) {
      this.stripes = stripes;
      this.served = served;
      this.fence = fence;
      this.acked = acked;
    }

    List<Integer> confirmed() {
      try {
        if (!"OK".equals(fence.get(replyMillis, TimeUnit.MILLISECONDS))
            || acked.get(replyMillis, TimeUnit.MILLISECONDS) < replicas) {
          return List.of();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return List.of();
      } catch (Exception e) {
        return List.of();
      }
      List<Integer> out = new ArrayList<>();
      for (int i = 0; i < stripes.size(); i++) {
        try {
          served.get(i).get(replyMillis, TimeUnit.MILLISECONDS); // answered here: this node's slot
          out.add(stripes.get(i));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return out;
        } catch (Exception movedOrAsk) {
          // another node serves this stripe now: re-sent there
        }
      }
      return out;
    }
  }

  /** {@code <prefix>{stripe}:fence}: in the stripe's slot. */
  private String fenceKey(int stripe) {
    String live = layout.live(stripe);
    int close = live.indexOf('}');
    return (close > 0 ? live.substring(0, close + 1) : live) + ":fence";
  }
}
