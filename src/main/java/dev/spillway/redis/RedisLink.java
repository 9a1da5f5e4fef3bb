package dev.spillway.redis;

import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;

/**
 * One Redis connection, to a single server or to a cluster, with the command interfaces common to
 * both. Keyed commands and scripts route by slot on a cluster; {@code flushCommands()} on {@link
 * #connection()} flushes every node's pipeline.
 */
public record RedisLink<K, V>(
    StatefulConnection<K, V> connection,
    RedisClusterAsyncCommands<K, V> async,
    RedisClusterCommands<K, V> sync)
    implements AutoCloseable {

  /**
   * {@code INFO section} of the server, or of every master of a cluster (those serving slots),
   * each within {@code timeout}.
   *
   * @throws Exception the first failure
   */
  public List<String> infoOfMasters(String section, Duration timeout) throws Exception {
    List<CompletableFuture<String>> replies = new ArrayList<>();
    if (connection instanceof StatefulRedisClusterConnection<K, V> cluster) {
      for (RedisClusterNode n : cluster.getPartitions()) {
        if (n.is(RedisClusterNode.NodeFlag.UPSTREAM) && !n.getSlots().isEmpty()) {
          replies.add(cluster.getConnection(n.getNodeId()).async().info(section).toCompletableFuture());
        }
      }
      cluster.flushCommands();
    } else {
      replies.add(async.info(section).toCompletableFuture());
    }
    List<String> out = new ArrayList<>(replies.size());
    for (CompletableFuture<String> f : replies) {
      out.add(f.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
    }
    return out;
  }

  @Override
  public void close() {
    connection.close();
  }
}
