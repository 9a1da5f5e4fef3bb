package dev.spillway.redis;

import dev.spillway.counter.AdoptKeys;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Makes sure claims have reached the replicas before their batches are applied to PostgreSQL
 * (Redis Cluster only; a no-op on a single Redis).
 *
 * <p>Why: replication is asynchronous. If a master claimed a batch, PostgreSQL applied it and the
 * master then died before its replica saw the claim, the promoted replica would still hold the
 * claimed cells in its live hash and claim them again under the same claim number: the ledger
 * refuses such a resurrected claim, but the cells that reached the new master after the failover
 * ride in the same batch and would be dead-lettered with it. For adopted keys it is worse: the
 * replica still holds the user's keys and a new batch would count them twice.
 *
 * <p>How: for each master serving the batches' slots, one {@code SET} of a fence key in a slot
 * it owns, then {@code WAIT n} on that same node connection, where n is the number of replicas
 * the topology lists for it (not failed). The replication stream is ordered, so once the fence
 * has reached n replicas, every claim that master executed before it has too. Cost: one round
 * trip per master per flush window. A master whose replicas do not confirm within the timeout
 * (or that no longer owns the slot) keeps its batches pending; the next run confirms again.
 */
public final class ReplicationFence {
  private final StatefulRedisClusterConnection<String, String> cluster;
  private final String prefix;
  private final Duration timeout;
  private final Set<String> failedThisRun = new HashSet<>();

  public ReplicationFence(StatefulConnection<String, String> connection, String prefix, Duration timeout) {
    this.cluster =
        connection instanceof StatefulRedisClusterConnection<String, String> c ? c : null;
    this.prefix = prefix;
    this.timeout = timeout;
  }

  public boolean active() {
    return cluster != null;
  }

  /**
   * Starts a flush run: a master that failed to confirm earlier in the run is not waited for
   * again until the next run (its batches stay pending), so one lagging replica costs one
   * timeout per run, not one per window.
   */
  public void newRun() {
    failedThisRun.clear();
  }

  /**
   * The items whose slot's master confirmed replication; all of them when not on a cluster.
   *
   * @param keyOf a key of the item's slot (any key with the item's hash tag)
   */
  public <T> List<T> confirmed(Collection<T> items, Function<T, String> keyOf) {
    if (cluster == null || items.isEmpty()) {
      return new ArrayList<>(items);
    }
    Partitions partitions = cluster.getPartitions();
    Map<String, RedisClusterNode> masters = new HashMap<>();
    Map<T, String> masterOf = new HashMap<>();
    for (T item : items) {
      RedisClusterNode m = partitions.getMasterBySlot(SlotHash.getSlot(keyOf.apply(item)));
      if (m != null) {
        masters.put(m.getNodeId(), m);
        masterOf.put(item, m.getNodeId());
      }
    }
    Set<String> ok = confirm(partitions, masters);
    List<T> out = new ArrayList<>(items.size());
    for (T item : items) {
      if (ok.contains(masterOf.get(item))) {
        out.add(item);
      }
    }
    return out;
  }

  private Set<String> confirm(Partitions partitions, Map<String, RedisClusterNode> masters) {
    Set<String> ok = new HashSet<>();
    Map<String, CompletableFuture<Long>> waits = new HashMap<>();
    Map<String, Integer> wanted = new HashMap<>();
    for (RedisClusterNode m : masters.values()) {
      int replicas = replicasOf(partitions, m.getNodeId());
      if (replicas == 0) {
        ok.add(m.getNodeId()); // no replica to wait for: a failover would lose the slot anyway
        continue;
      }
      if (failedThisRun.contains(m.getNodeId()) || m.getSlots().isEmpty()) {
        continue;
      }
      try {
        RedisAsyncCommands<String, String> node = cluster.getConnection(m.getNodeId()).async();
        String fence = prefix + "{" + AdoptKeys.slotTag(m.getSlots().get(0)) + "}:fence";
        node.set(fence, "1", SetArgs.Builder.px(60_000));
        waits.put(m.getNodeId(), node.waitForReplication(replicas, timeout.toMillis()).toCompletableFuture());
        wanted.put(m.getNodeId(), replicas);
      } catch (RuntimeException e) {
        // unknown or unreachable node: not confirmed
      }
    }
    cluster.flushCommands();
    for (var e : waits.entrySet()) {
      try {
        long acked = e.getValue().get(timeout.toMillis() + 2_000, TimeUnit.MILLISECONDS);
        if (acked >= wanted.get(e.getKey())) {
          ok.add(e.getKey());
        } else {
          failedThisRun.add(e.getKey());
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return ok;
      } catch (Exception notConfirmed) {
        failedThisRun.add(e.getKey()); // the batches stay pending
      }
    }
    return ok;
  }

  private static int replicasOf(Partitions partitions, String masterId) {
    int n = 0;
    for (RedisClusterNode node : partitions) {
      if (node.is(RedisClusterNode.NodeFlag.REPLICA)
          && masterId.equals(node.getSlaveOf())
          && !node.is(RedisClusterNode.NodeFlag.FAIL)
          && !node.is(RedisClusterNode.NodeFlag.EVENTUAL_FAIL)) {
        n++;
      }
    }
    return n;
  }
}
