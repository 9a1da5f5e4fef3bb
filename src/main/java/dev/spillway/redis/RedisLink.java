package dev.spillway.redis;

import dev.spillway.runtime.Errors;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

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
   * {@code INFO section} of the server, or of every master of a cluster (those serving slots), each
   * within {@code timeout}.
   *
   * @throws Exception the first failure
   */
  public List<String> infoOfMasters(String section, Duration timeout) throws Exception {
    return onMasters(c -> c.info(section), timeout);
  }

  /**
   * Runs a keyless command on the server, or on every master of a cluster that serves slots (a
   * cluster connection would send it to one node only); the replies in topology order.
   *
   * @throws Exception the first failure, naming the node on a cluster
   */
  public List<String> onMasters(
      Function<RedisClusterAsyncCommands<K, V>, RedisFuture<String>> command, Duration timeout)
      throws Exception {
    List<CompletableFuture<String>> replies = new ArrayList<>();
    List<String> where = new ArrayList<>();
    if (connection instanceof StatefulRedisClusterConnection<K, V> cluster) {
      for (RedisClusterNode n : cluster.getPartitions()) {
        if (n.is(RedisClusterNode.NodeFlag.UPSTREAM) && !n.getSlots().isEmpty()) {
          where.add(n.getUri().getHost() + ":" + n.getUri().getPort());
          replies.add(
              command.apply(cluster.getConnection(n.getNodeId()).async()).toCompletableFuture());
        }
      }
      cluster.flushCommands();
    } else {
      where.add("");
      replies.add(command.apply(async).toCompletableFuture());
    }
    List<String> out = new ArrayList<>(replies.size());
    for (int i = 0; i < replies.size(); i++) {
      try {
        out.add(replies.get(i).get(timeout.toMillis(), TimeUnit.MILLISECONDS));
      } catch (Exception e) {
        if (where.get(i).isEmpty()) {
          throw e;
        }
        throw new IllegalStateException("master " + where.get(i) + ": " + Errors.rootMessage(e), e);
      }
    }
    return out;
  }

  @Override
  public void close() {
    connection.close();
  }
}
