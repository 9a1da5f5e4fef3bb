package dev.spillway.testing;

import dev.spillway.redis.RedisSeeds;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A connection for tests to look into Redis, a single server or a cluster alike: {@link #sync()}
 * for any command, {@link #keys} and {@link #deleteMatching} for what a test left behind.
 *
 * <p>A cluster URI lists its seeds as {@code redis://h1:p1,h2:p2,h3:p3} (the form the product's
 * configuration takes): only the first needs the scheme, and any user and password on it apply to
 * all; {@code redis://h1:p1,redis://h2:p2} works too. The cluster client follows MOVED and ASK, and
 * refreshes its view of the cluster every second and on redirects and failed reconnects, so it
 * finds a new master soon after a failover.
 */
public final class TestRedis implements AutoCloseable {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final AbstractRedisClient client;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterCommands<String, String> sync;
  private final RedisClusterAsyncCommands<String, String> async;
  private final boolean cluster;

  private TestRedis(
      AbstractRedisClient client,
      StatefulConnection<String, String> connection,
      RedisClusterCommands<String, String> sync,
      RedisClusterAsyncCommands<String, String> async,
      boolean cluster) {
    this.client = client;
    this.connection = connection;
    this.sync = sync;
    this.async = async;
    this.cluster = cluster;
  }

  /** Connects to a single server ({@code cluster} false) or to a cluster through its seeds. */
  public static TestRedis connect(String uri, boolean cluster) {
    if (!cluster) {
      RedisClient client = RedisClient.create(withTimeout(RedisURI.create(uri)));
      try {
        StatefulRedisConnection<String, String> connection = client.connect();
        return new TestRedis(client, connection, connection.sync(), connection.async(), false);
      } catch (RuntimeException e) {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        throw e;
      }
    }
    RedisClusterClient client = RedisClusterClient.create(parseSeeds(uri));
    client.setOptions(
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enablePeriodicRefresh(Duration.ofSeconds(1)) // adaptive ones: on by default
                    .build())
            .build());
    try {
      StatefulRedisClusterConnection<String, String> connection = client.connect();
      return new TestRedis(client, connection, connection.sync(), connection.async(), true);
    } catch (RuntimeException e) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      throw e;
    }
  }

  /**
   * Splits {@code redis://h1:p1,h2:p2} (or {@code redis://h1:p1,redis://h2:p2}) into one URI per
   * seed; seeds without a scheme take the first one's scheme and credentials.
   */
  public static List<RedisURI> parseSeeds(String uri) {
    return RedisSeeds.parse(uri, true, TIMEOUT); // the product's own parser
  }

  /**
   * Commands for the server or, on a cluster, routed by key; cast to {@code
   * RedisAdvancedClusterCommands} (cluster) or {@code RedisCommands} (single) for more.
   */
  public RedisClusterCommands<String, String> sync() {
    return sync;
  }

  /** The same connection's asynchronous commands, for pipelining many writes. */
  public RedisClusterAsyncCommands<String, String> async() {
    return async;
  }

  public boolean isCluster() {
    return cluster;
  }

  /**
   * The keys matching a glob {@code pattern}, by SCAN (never KEYS: other classes share the server);
   * on a cluster, SCAN on each master that owns slots, after a fresh look at the topology.
   */
  public List<String> keys(String pattern) {
    ScanArgs match = ScanArgs.Builder.matches(pattern).limit(1000);
    if (!cluster) {
      return scan(sync, match);
    }
    ((RedisClusterClient) client).refreshPartitions();
    var clusterConnection = (StatefulRedisClusterConnection<String, String>) connection;
    Set<String> keys = new LinkedHashSet<>(); // a key never lives on two masters; be safe anyway
    for (RedisClusterNode node : clusterConnection.getPartitions()) {
      if (node.getRole().isUpstream() && !node.hasNoSlots()) {
        keys.addAll(scan(clusterConnection.getConnection(node.getNodeId()).sync(), match));
      }
    }
    return new ArrayList<>(keys);
  }

  private static List<String> scan(RedisClusterCommands<String, String> redis, ScanArgs match) {
    List<String> keys = new ArrayList<>();
    KeyScanCursor<String> cursor = redis.scan(match);
    while (true) {
      keys.addAll(cursor.getKeys());
      if (cursor.isFinished()) {
        return keys;
      }
      cursor = redis.scan(cursor, match);
    }
  }

  /**
   * Unlinks the keys matching {@code pattern} and returns how many were removed; on a cluster one
   * key per UNLINK, since the keys span slots.
   */
  public long deleteMatching(String pattern) {
    List<String> keys = keys(pattern);
    long removed = 0;
    if (cluster) {
      for (String key : keys) {
        removed += sync.unlink(key);
      }
    } else {
      for (int from = 0; from < keys.size(); from += 500) {
        List<String> batch = keys.subList(from, Math.min(keys.size(), from + 500));
        removed += sync.unlink(batch.toArray(String[]::new));
      }
    }
    return removed;
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  private static RedisURI withTimeout(RedisURI uri) {
    uri.setTimeout(TIMEOUT);
    return uri;
  }
}
