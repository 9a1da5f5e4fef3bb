package dev.spillway.redis;

import dev.spillway.SpillwayConfig;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * {@link ReplicationFence} for a single master with replicas (Sentinel, or any server under {@code
 * client.durability: replicated}): after the claims' replies came back, {@code SET} of a fence key
 * then {@code WAIT n} on the same connection; the replication stream is ordered, so once the fence
 * reached n replicas so did every claim before it. One round trip per flush window.
 *
 * <p>n is {@code client.durable-replicas} under {@code replicated}: a claim must reach the replicas
 * the clients' drains reached, or a failover could bring back cells PostgreSQL already holds while
 * the clients re-send them. Under {@code async} (Sentinel only) n is the number of replicas
 * connected at the start of the run ({@code INFO replication}), or, for {@value #FORGET_SECONDS} s
 * after a replica disconnects, the higher number this master had: a replica whose link just broke
 * is the one Sentinel may promote, and a claim it never saw would come back on it (the cluster
 * fence counts the replicas the topology lists, for the same reason). A replica gone for longer is
 * no longer waited for. A new {@code master_replid} (a promoted replica, a restarted master) starts
 * the count afresh.
 */
final class SingleServerFence {
  private final RedisAsyncCommands<String, String> redis;
  private final Duration timeout;
  private final int required; // 0: read connected replicas per run
  private int replicas;
  private boolean failedThisRun;

  /** How long a disconnected replica is still waited for, under async. */
  static final long FORGET_SECONDS = 60;

  private String replid = "";
  private int seenReplicas;
  private long seenAtNanos;

  private SingleServerFence(
      RedisAsyncCommands<String, String> redis, Duration timeout, int required) {
    this.redis = redis;
    this.timeout = timeout;
    this.required = required;
  }

  /** A fence for this configuration, or null where a single server needs none. */
  static SingleServerFence forConfig(
      StatefulConnection<String, String> connection, SpillwayConfig config, Duration timeout) {
    boolean replicated = config.durability().replicated();
    if (!(connection instanceof StatefulRedisConnection<String, String> c)
        || !(replicated || SentinelUris.isSentinel(config.redisUri()))) {
      return null;
    }
    return new SingleServerFence(c.async(), timeout, replicated ? config.durableReplicas() : 0);
  }

  void newRun() {
    failedThisRun = false;
    replicas = -1;
  }

  <T> List<T> confirmed(Collection<T> items, Function<T, String> setOf) {
    if (failedThisRun) {
      return List.of();
    }
    long waitMs = timeout.toMillis() + 2_000;
    try {
      int n = required > 0 ? required : connectedReplicas(waitMs);
      if (n == 0) {
        return new ArrayList<>(items);
      }
      String first = setOf.apply(items.iterator().next());
      CompletableFuture<String> fence =
          redis
              .set(ReplicationFence.fenceKey(first), "1", SetArgs.Builder.px(60_000))
              .toCompletableFuture();
      CompletableFuture<Long> acked =
          redis.waitForReplication(n, timeout.toMillis()).toCompletableFuture();
      redis.getStatefulConnection().flushCommands();
      if ("OK".equals(fence.get(waitMs, TimeUnit.MILLISECONDS))
          && acked.get(waitMs, TimeUnit.MILLISECONDS) >= n) {
        return new ArrayList<>(items);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // READONLY (a demoted master), a timeout: the batches stay pending
    }
    failedThisRun = true;
    return List.of();
  }

  private int connectedReplicas(long waitMs) throws Exception {
    if (replicas < 0) {
      CompletableFuture<String> info = redis.info("replication").toCompletableFuture();
      redis.getStatefulConnection().flushCommands();
      String text = info.get(waitMs, TimeUnit.MILLISECONDS);
      int n = 0;
      String id = "";
      for (String line : text.split("\r?\n")) {
        if (line.startsWith("connected_slaves:")) {
          n = Integer.parseInt(line.substring("connected_slaves:".length()).trim());
        } else if (line.startsWith("master_replid:")) {
          id = line.substring("master_replid:".length()).trim();
        }
      }
      long now = System.nanoTime();
      if (!id.equals(replid)
          || n >= seenReplicas
          || now - seenAtNanos > TimeUnit.SECONDS.toNanos(FORGET_SECONDS)) {
        replid = id;
        seenReplicas = n;
        seenAtNanos = now;
      }
      replicas = Math.max(n, seenReplicas);
    }
    return replicas;
  }
}
