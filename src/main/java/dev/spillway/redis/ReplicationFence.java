package dev.spillway.redis;

import dev.spillway.SpillwayConfig;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
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
import java.util.function.Function;

/**
 * Makes sure claims have reached the replicas before their batches are applied to PostgreSQL (Redis
 * Cluster; on a single server only with Sentinel or {@code client.durability: replicated}, see
 * {@link SingleServerFence}; else a no-op).
 *
 * <p>Why: replication is asynchronous. If a master claimed a batch, PostgreSQL applied it and the
 * master then died before its replica saw the claim, the promoted replica would still hold the
 * claimed cells in its live hash and claim them again under the same claim number: the ledger
 * refuses such a resurrected claim, but the cells that reached the new master after the failover
 * ride in the same batch and would be dead-lettered with it. For adopted keys it is worse: the
 * replica still holds the user's keys and a new batch would count them twice.
 *
 * <p>How, per master the topology names for the batches' slots, pipelined on one connection to that
 * node: {@code SISMEMBER} of each batch in its batches set (a node that does not serve the slot
 * answers {@code MOVED}/{@code ASK}: the batch is not confirmed, whatever a stale topology view
 * said), then {@code SET} of a fence key in the slot of the first batch, then {@code WAIT n}, n
 * being the replicas the topology lists for the node (a {@code FAIL}ed one excluded). The node runs
 * them after the claims, whose replies came back first, and its replication stream is ordered: once
 * the fence has reached n replicas, so has every claim on that node. A batch is confirmed only when
 * its membership answer came from that node, the fence write succeeded and the WAIT counted n.
 * Cost: one round trip per master per flush window. Anything else keeps the batch pending; the next
 * run confirms again.
 */
public final class ReplicationFence {
  private final StatefulRedisClusterConnection<String, String> cluster;
  private final Duration timeout;
  private final Set<String> failedThisRun = new HashSet<>();

  /** A healthy replica confirms in milliseconds; past this, the batches wait for the next run. */
  static final Duration MAX_WAIT = Duration.ofSeconds(1);

  /** Waits for replicas at most {@code redisTimeout}, and never more than {@link #MAX_WAIT}. */
  public ReplicationFence(StatefulConnection<String, String> connection, Duration redisTimeout) {
    this(connection, redisTimeout, null);
  }

  /**
   * As above; on a single server (not a cluster) {@code single} fences too (see {@link
   * SingleServerFence}): with Sentinel, or with {@code client.durability: replicated}.
   */
  public ReplicationFence(
      StatefulConnection<String, String> connection, Duration redisTimeout, SpillwayConfig config) {
    this.cluster =
        connection instanceof StatefulRedisClusterConnection<String, String> c ? c : null;
    this.timeout = redisTimeout.compareTo(MAX_WAIT) < 0 ? redisTimeout : MAX_WAIT;
    this.single =
        cluster == null && config != null
            ? SingleServerFence.forConfig(connection, config, timeout)
            : null;
  }

  private final SingleServerFence single;

  /**
   * Starts a flush run: a master that failed to confirm earlier in the run is not waited for again
   * until the next run (its batches stay pending), so one lagging replica costs one timeout per
   * run, not one per window.
   */
  public void newRun() {
    failedThisRun.clear();
    if (single != null) {
      single.newRun();
    }
  }

  /**
   * The items confirmed as replicated; all of them when not on a cluster.
   *
   * @param setOf the batches set that holds the item (its key fixes the slot)
   * @param idOf the item's batch id, a member of that set
   */
  public <T> List<T> confirmed(
      Collection<T> items, Function<T, String> setOf, Function<T, String> idOf) {
    if (cluster == null && single != null && !items.isEmpty()) {
      return single.confirmed(items, setOf);
    }
    if (cluster == null || items.isEmpty()) {
      return new ArrayList<>(items);
    }
    Partitions partitions = cluster.getPartitions();
    Map<RedisClusterNode, List<T>> byMaster = new LinkedHashMap<>();
    for (T item : items) {
      RedisClusterNode m = partitions.getMasterBySlot(SlotHash.getSlot(setOf.apply(item)));
      if (m != null && !failedThisRun.contains(m.getNodeId())) {
        byMaster.computeIfAbsent(m, k -> new ArrayList<>()).add(item);
      }
    }
    List<Check<T>> checks = new ArrayList<>();
    for (var e : byMaster.entrySet()) {
      Check<T> c = send(partitions, e.getKey(), e.getValue(), setOf, idOf);
      if (c != null) {
        checks.add(c);
      }
    }
    cluster.flushCommands();
    List<T> out = new ArrayList<>(items.size());
    for (Check<T> c : checks) {
      out.addAll(c.confirmed());
    }
    return out;
  }

  /** The pipelined commands for one master, or null when it cannot be reached. */
  private <T> Check<T> send(
      Partitions partitions,
      RedisClusterNode master,
      List<T> items,
      Function<T, String> setOf,
      Function<T, String> idOf) {
    try {
      RedisAsyncCommands<String, String> node = cluster.getConnection(master.getNodeId()).async();
      List<CompletableFuture<Boolean>> members = new ArrayList<>(items.size());
      for (T item : items) {
        members.add(node.sismember(setOf.apply(item), idOf.apply(item)).toCompletableFuture());
      }
      CompletableFuture<String> fence =
          node.set(fenceKey(setOf.apply(items.get(0))), "1", SetArgs.Builder.px(60_000))
              .toCompletableFuture();
      int replicas = replicasOf(partitions, master.getNodeId());
      CompletableFuture<Long> acked =
          replicas == 0
              ? CompletableFuture.completedFuture(0L) // no replica: no failover can lose it
              : node.waitForReplication(replicas, timeout.toMillis()).toCompletableFuture();
      return new Check<>(master.getNodeId(), items, members, fence, acked, replicas);
    } catch (RuntimeException e) {
      failedThisRun.add(master.getNodeId()); // unknown or unreachable node: nothing confirmed
      return null;
    }
  }

  private final class Check<T> {
    final String nodeId;
    final List<T> items;
    final List<CompletableFuture<Boolean>> members;
    final CompletableFuture<String> fence;
    final CompletableFuture<Long> acked;
    final int replicas;

    Check(
        String nodeId,
        List<T> items,
        List<CompletableFuture<Boolean>> members,
        CompletableFuture<String> fence,
        CompletableFuture<Long> acked,
        int replicas) {
      this.nodeId = nodeId;
      this.items = items;
      this.members = members;
      this.fence = fence;
      this.acked = acked;
      this.replicas = replicas;
    }

    List<T> confirmed() {
      long waitMs = timeout.toMillis() + 2_000;
      try {
        if (!"OK".equals(fence.get(waitMs, TimeUnit.MILLISECONDS))
            || acked.get(waitMs, TimeUnit.MILLISECONDS) < replicas) {
          failedThisRun.add(nodeId);
          return List.of();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return List.of();
      } catch (Exception e) {
        failedThisRun.add(nodeId); // MOVED for the fence, a timeout: the batches stay pending
        return List.of();
      }
      List<T> out = new ArrayList<>(items.size());
      for (int i = 0; i < items.size(); i++) {
        try {
          members.get(i).get(waitMs, TimeUnit.MILLISECONDS); // answered here: this node's slot
          out.add(items.get(i));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return out;
        } catch (Exception movedOrAsk) {
          // another node serves this batch now; confirmed (or not) in a later run
        }
      }
      return out;
    }
  }

  /** {@code <prefix>{tag}:fence}: the set key's prefix and hash tag, so the same slot. */
  static String fenceKey(String setKey) {
    int close = setKey.indexOf('}');
    return (close > 0 ? setKey.substring(0, close + 1) : setKey) + ":fence";
  }

  /** Replicas the topology lists for {@code masterId}, except those the cluster marked FAIL. */
  private static int replicasOf(Partitions partitions, String masterId) {
    int n = 0;
    for (RedisClusterNode node : partitions) {
      if (node.is(RedisClusterNode.NodeFlag.REPLICA)
          && masterId.equals(node.getSlaveOf())
          && !node.is(RedisClusterNode.NodeFlag.FAIL)) {
        n++;
      }
    }
    return n;
  }
}
