package dev.spillway.redis;

import io.lettuce.core.api.StatefulConnection;
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

  @Override
  public void close() {
    connection.close();
  }
}
