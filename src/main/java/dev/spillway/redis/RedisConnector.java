package dev.spillway.redis;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.Redactor;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ReadFrom;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes Spillway's Redis connections, to one server ({@link RedisClient}) or, with {@code
 * redis.cluster: true}, to a Redis Cluster ({@link RedisClusterClient}): periodic and adaptive
 * topology refresh (MOVED, ASK, reconnects), reads from masters only, MOVED/ASK followed by
 * Lettuce. Callers see one {@link RedisLink} type either way.
 */
public final class RedisConnector implements AutoCloseable {
  /** How often a cluster client re-reads the topology when nothing has triggered it sooner. */
  static final Duration PERIODIC_REFRESH = Duration.ofSeconds(10);

  private final SpillwayConfig config;
  private final List<RedisURI> seeds;
  private final RedisClient single;
  private final RedisClusterClient cluster;

  private RedisConnector(
      SpillwayConfig config, List<RedisURI> seeds, RedisClient single, RedisClusterClient cluster) {
    this.config = config;
    this.seeds = seeds;
    this.single = single;
    this.cluster = cluster;
  }

  /** A connector with Lettuce's default resources ({@code resources} null) or the given ones. */
  public static RedisConnector create(SpillwayConfig config, ClientResources resources) {
    List<RedisURI> seeds =
        RedisSeeds.parse(config.redisUri(), config.redisCluster(), config.redisTimeout());
    if (config.redisCluster()) {
      RedisClusterClient c =
          resources != null
              ? RedisClusterClient.create(resources, seeds)
              : RedisClusterClient.create(seeds);
      c.setOptions(clusterOptions(config));
      return new RedisConnector(config, seeds, null, c);
    }
    RedisClient c =
        resources != null
            ? RedisClient.create(resources, seeds.get(0))
            : RedisClient.create(seeds.get(0));
    c.setOptions(clientOptions(config));
    return new RedisConnector(config, seeds, c, null);
  }

  /**
   * The Lettuce options every single-server client uses: reconnect automatically, but reject
   * commands while disconnected instead of queueing them (the drainer keeps cells and retries with
   * backoff, and nothing is replayed behind its back), with {@code redis.timeout} for connecting
   * and for every command.
   */
  public static ClientOptions clientOptions(SpillwayConfig config) {
    return ClientOptions.builder()
        .autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .socketOptions(socket(config))
        .timeoutOptions(TimeoutOptions.enabled(config.redisTimeout()))
        .build();
  }

  /**
   * Options for a cluster: {@code redis.timeout} for connecting and every command, up to 8
   * MOVED/ASK redirects followed per command, and topology refresh every 10 s plus on Lettuce's
   * adaptive triggers (MOVED, ASK, persistent reconnects, unknown node; all on by default), so a
   * failover or a resharding is picked up within a second or two.
   *
   * <p>Unlike the single-server client, commands are <em>accepted</em> while a node is
   * disconnected: the cluster client opens node connections lazily, and with REJECT_COMMANDS
   * Lettuce rejects every command that arrives while a node's first connection is still being made.
   * Accepting is safe here because every Spillway write is idempotent (drain packets carry a
   * sequence number, claims and acks are found again in the batches set), and a command queued for
   * a dead master still fails after {@code redis.timeout}.
   */
  public static ClusterClientOptions clusterOptions(SpillwayConfig config) {
    return ClusterClientOptions.builder()
        .autoReconnect(true)
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS)
        .socketOptions(socket(config))
        .timeoutOptions(TimeoutOptions.enabled(config.redisTimeout()))
        .maxRedirects(8)
        .topologyRefreshOptions(
            ClusterTopologyRefreshOptions.builder()
                .enablePeriodicRefresh(PERIODIC_REFRESH)
                .adaptiveRefreshTriggersTimeout(Duration.ofMillis(500))
                .refreshTriggersReconnectAttempts(2)
                .build())
        .build();
  }

  private static SocketOptions socket(SpillwayConfig config) {
    return SocketOptions.builder().connectTimeout(config.redisTimeout()).keepAlive(true).build();
  }

  public boolean isCluster() {
    return cluster != null;
  }

  /**
   * Whether {@code redis.uri} names Redis Sentinels ({@link SentinelUris}). The single-server
   * client then asks the sentinels for the master at every connect and reconnect, so each
   * connection, pub/sub ones included, follows the master across a failover: Sentinel closes the
   * clients of a demoted master, and a dead one drops them.
   */
  public boolean isSentinel() {
    return cluster == null && !seeds.get(0).getSentinels().isEmpty();
  }

  /** The sentinels' URIs and the master's name, when {@link #isSentinel()}; else empty. */
  public List<RedisURI> sentinels() {
    return cluster == null ? seeds.get(0).getSentinels() : List.of();
  }

  /** The underlying client, for shutdown and for resources. */
  public AbstractRedisClient client() {
    return cluster != null ? cluster : single;
  }

  /** A new string connection. */
  public RedisLink<String, String> connect() {
    return connect(StringCodec.UTF8);
  }

  /**
   * A new connection with {@code codec}.
   *
   * @throws SpillwayException naming the (masked) URI when Redis cannot be reached
   */
  public <K, V> RedisLink<K, V> connect(RedisCodec<K, V> codec) {
    try {
      if (cluster != null) {
        StatefulRedisClusterConnection<K, V> c = cluster.connect(codec);
        c.setReadFrom(ReadFrom.UPSTREAM);
        openMasterConnections(c);
        return new RedisLink<>(c, c.async(), c.sync());
      }
      StatefulRedisConnection<K, V> c = single.connect(codec);
      return new RedisLink<>(c, c.async(), c.sync());
    } catch (RuntimeException e) {
      Redactor redactor = Redactor.of(config);
      String hint =
          cluster != null && String.valueOf(e.getMessage()).contains("partitions")
              ? " (is it a Redis Cluster? for a single Redis set redis.cluster: false)"
              : "";
      throw new SpillwayException(
          "cannot connect to Redis "
              + (cluster != null ? "cluster " : "")
              + "at "
              + redactor.redactUri(config.redisUri())
              + ": "
              + redactor.redact(e.getMessage())
              + hint,
          e);
    }
  }

  /**
   * Refuses a single-server configuration pointed at a cluster node: it would work for the slots
   * that node serves and fail with MOVED for the rest. Skipped where INFO is disabled.
   *
   * @throws ConfigException naming the setting to change
   */
  public void checkMode(RedisLink<String, String> link) {
    if (cluster != null) {
      return;
    }
    String info;
    try {
      info = link.sync().info("cluster");
    } catch (RuntimeException e) {
      return;
    }
    if (info != null && info.contains("cluster_enabled:1")) {
      throw new ConfigException(
          "Redis at "
              + Redactor.of(config).redactUri(config.redisUri())
              + " is a Redis Cluster node"
              + " (cluster_enabled:1) but redis.cluster is false: set redis.cluster: true"
              + " (SPILLWAY_REDIS_CLUSTER=true) and list seed nodes in redis.uri");
    }
  }

  /**
   * Opens the connection to every master now instead of on first use. Lettuce opens node
   * connections lazily, and commands written to a node whose connection is still being opened wait
   * on that connection's future, whose callbacks run in no particular order: a pipeline may reach
   * the node reversed. The drain protocol tolerates that (a packet that arrives before its
   * predecessor is refused and resent), but it costs a round trip and is avoidable here.
   */
  private static void openMasterConnections(StatefulRedisClusterConnection<?, ?> c) {
    for (RedisClusterNode n : c.getPartitions()) {
      if (n.is(RedisClusterNode.NodeFlag.UPSTREAM) && !n.is(RedisClusterNode.NodeFlag.FAIL)) {
        try {
          c.getConnection(n.getUri().getHost(), n.getUri().getPort()); // the key slot routing uses
        } catch (RuntimeException e) {
          // unreachable now: opened on first use, like any other node
        }
      }
    }
  }

  /**
   * A pub/sub connection. On a cluster, PUBLISH reaches every node, so one subscription on any node
   * hears every message.
   */
  public StatefulRedisPubSubConnection<String, String> connectPubSub() {
    return cluster != null ? cluster.connectPubSub() : single.connectPubSub();
  }

  /**
   * The URIs of every node to check or scan one by one: the single server, or every node of the
   * cluster's current topology (masters first), with the seeds' credentials.
   */
  public List<Node> nodes() {
    if (cluster == null) {
      return List.of(new Node(seeds.get(0), true, "standalone"));
    }
    cluster.refreshPartitions();
    List<Node> masters = new ArrayList<>();
    List<Node> replicas = new ArrayList<>();
    for (RedisClusterNode n : cluster.getPartitions()) {
      RedisURI u =
          RedisURI.builder(seeds.get(0))
              .withHost(n.getUri().getHost())
              .withPort(n.getUri().getPort())
              .build();
      boolean master = n.is(RedisClusterNode.NodeFlag.UPSTREAM);
      if (n.is(RedisClusterNode.NodeFlag.FAIL) || n.is(RedisClusterNode.NodeFlag.NOADDR)) {
        continue;
      }
      (master ? masters : replicas).add(new Node(u, master, n.getNodeId()));
    }
    masters.addAll(replicas);
    return masters;
  }

  /** One Redis node: its URI, whether it serves slots, and its cluster node id. */
  public record Node(RedisURI uri, boolean master, String id) {
    public String address() {
      return uri.getHost() + ":" + uri.getPort();
    }
  }

  @Override
  public void close() {
    // Callers close their connections first. The quiet period lets the event loops run the
    // completions still queued; without one Netty refuses each and logs it at ERROR.
    client().shutdown(Duration.ofMillis(100), Duration.ofSeconds(2));
  }
}
