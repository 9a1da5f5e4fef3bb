package dev.spillway.worker;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.Durations;
import dev.spillway.config.Redactor;
import dev.spillway.layout.KeyLayout;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.schedule.LedgerPruner;
import dev.spillway.schedule.PendingBatches;
import dev.spillway.worker.Doctor.Line;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The Redis lines of {@code spillway doctor}. On a single Redis: version, eviction policy and
 * persistence of that server. With {@code redis.cluster: true}: the cluster's state and slot
 * coverage, a line naming each node the cluster marks failed and the masters left without a live
 * replica, then version, eviction policy and persistence of <em>every</em> node that answers (each
 * line names the node), since one evicting or unpersisted master is enough to lose counts; these
 * node lines come even when some slot is not served. Then, when every slot is served, stripe sizes
 * and pending batches through the (cluster) connection.
 */
final class RedisDoctor extends DoctorLines {
  private static final Duration CONNECT_TIMEOUT = Doctor.CONNECT_TIMEOUT;

  private final SpillwayConfig config;
  private final InstantSource clock;

  RedisDoctor(SpillwayConfig config, InstantSource clock, List<Line> lines) {
    super(lines);
    this.config = config;
    this.clock = clock;
  }

  void run() {
    String where = Redactor.of(config).redactUri(config.redisUri());
    SpillwayConfig quick = config.toBuilder().redisTimeout(CONNECT_TIMEOUT).build();
    RedisConnector connector;
    try {
      connector = RedisConnector.create(quick, null);
    } catch (RuntimeException e) {
      fail(
          "redis",
          "redis.uri " + where + " is not usable: " + Doctor.rootMessage(e),
          "write it like redis://host:6379 (a cluster: redis://h1:7101,h2:7101 with redis.cluster:"
              + " true)");
      return;
    }
    if (connector.isSentinel()) {
      new SentinelDoctor(config, lines).run(connector); // even when the master is unreachable
    }
    try (connector;
        RedisLink<String, String> link = connector.connect()) {
      List<RedisConnector.Node> nodes = connector.nodes();
      boolean allSlotsServed = !connector.isCluster() || clusterState(link, nodes, where);
      // The nodes that answer are worth checking even when the cluster is down: which one is
      // evicting or unpersisted does not depend on the others.
      for (RedisConnector.Node node : nodes) {
        nodeChecks(node, connector.isCluster());
      }
      if (!allSlotsServed) {
        return; // stripe sizes and pending batches need every slot
      }
      encoding(link);
      pendingBatches(link);
      new AdoptDoctor(config, lines).run(connector);
    } catch (RuntimeException e) {
      fail(
          "redis",
          "cannot reach Redis "
              + (config.redisCluster() ? "cluster " : "")
              + "at "
              + where
              + ": "
              + Doctor.rootMessage(e),
          "check redis.uri (or SPILLWAY_REDIS_URI) and that Redis runs");
    }
  }

  /**
   * cluster_state and slot coverage; every node the cluster marks failed, by name (such a node is
   * left out of {@link RedisConnector#nodes()}, so without this line nothing would name it); and
   * every master serving slots without a live replica, by name. False when some slot is not served.
   */
  private boolean clusterState(
      RedisLink<String, String> link, List<RedisConnector.Node> nodes, String where) {
    Map<String, String> info = Doctor.info(link.sync().clusterInfo());
    String state = info.getOrDefault("cluster_state", "?");
    String assigned = info.getOrDefault("cluster_slots_assigned", "?");
    String failing = info.getOrDefault("cluster_slots_fail", "0");
    long masters = nodes.stream().filter(RedisConnector.Node::master).count();
    long replicas = nodes.size() - masters;
    boolean served = state.equals("ok") && assigned.equals("16384") && failing.equals("0");
    if (served) {
      ok(
          "redis.cluster",
          "cluster ok at "
              + where
              + ": "
              + masters
              + " master(s), "
              + replicas
              + " replica(s), all 16384 slots served");
    } else {
      fail(
          "redis.cluster",
          "cluster at "
              + where
              + " is "
              + state
              + ": "
              + assigned
              + " of 16384 slots assigned, "
              + failing
              + " failing",
          "assign every slot (redis-cli --cluster fix) and bring failed masters back or fail them"
              + " over; Spillway's scripts need every slot served");
    }
    if (!(link.connection() instanceof StatefulRedisClusterConnection<String, String> cluster)) {
      return served;
    }
    List<RedisClusterNode> topology = new ArrayList<>();
    cluster.getPartitions().forEach(topology::add);
    Map<String, String> addressOf = new HashMap<>();
    for (RedisClusterNode n : topology) {
      addressOf.put(n.getNodeId(), n.getUri().getHost() + ":" + n.getUri().getPort());
    }
    Map<String, Integer> liveReplicas = new HashMap<>();
    for (RedisClusterNode n : topology) {
      boolean failed = n.is(RedisClusterNode.NodeFlag.FAIL);
      String address = addressOf.get(n.getNodeId());
      if (n.is(RedisClusterNode.NodeFlag.UPSTREAM)) {
        if (failed && !n.getSlots().isEmpty()) {
          fail(
              "redis@" + address,
              "master "
                  + address
                  + " is marked failed by the cluster and its "
                  + n.getSlots().size()
                  + " slot(s) are not served: no replica took over",
              "restart it, or promote a replica (CLUSTER FAILOVER FORCE on it)");
        } else if (failed) {
          warn(
              "redis@" + address,
              "node "
                  + address
                  + " (formerly a master) is marked failed by the cluster; a"
                  + " replica serves its former slots",
              "restart it (it rejoins as a replica), or CLUSTER FORGET it on every node");
        }
      } else if (n.getSlaveOf() != null) {
        String master = addressOf.getOrDefault(n.getSlaveOf(), n.getSlaveOf());
        if (failed) {
          warn(
              "redis@" + address,
              "replica " + address + " of " + master + " is marked failed by the cluster",
              "restart it");
        } else {
          liveReplicas.merge(n.getSlaveOf(), 1, Integer::sum);
        }
      }
    }
    List<String> orphans = new ArrayList<>();
    for (RedisClusterNode n : topology) {
      if (n.is(RedisClusterNode.NodeFlag.UPSTREAM)
          && !n.is(RedisClusterNode.NodeFlag.FAIL)
          && !n.getSlots().isEmpty()
          && liveReplicas.getOrDefault(n.getNodeId(), 0) == 0) {
        orphans.add(addressOf.get(n.getNodeId()));
      }
    }
    if (!orphans.isEmpty()) {
      Collections.sort(orphans);
      warn(
          "redis.cluster.replicas",
          orphans.size()
              + " master(s) without a live replica "
              + orphans
              + ": if one dies, its"
              + " slots stop until it returns, and whatever it held that was not flushed is gone",
          "give every master a replica (redis-cli --cluster add-node --cluster-slave)");
    }
    return served;
  }

  private void nodeChecks(RedisConnector.Node node, boolean cluster) {
    String name = cluster ? node.address() + (node.master() ? " (master)" : " (replica)") : "";
    String suffix = cluster ? "@" + node.address() : "";
    RedisURI uri = node.uri();
    uri.setTimeout(CONNECT_TIMEOUT);
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      RedisClusterCommands<String, String> redis = conn.sync();
      Map<String, String> server = Doctor.info(redis.info("server"));
      String version = server.getOrDefault("redis_version", "?");
      String at = cluster ? name : Redactor.of(config).redactUri(config.redisUri());
      if (Doctor.atLeast(version, 6, 2)) {
        ok("redis" + suffix, "Redis " + version + " answers at " + at);
      } else {
        fail(
            "redis.version" + suffix,
            "Redis " + version + " at " + at + " is older than 6.2",
            "upgrade to Redis 6.2 or newer (Spillway's scripts need GETDEL)");
      }
      Map<String, String> memory = Doctor.info(redis.info("memory"));
      String policy = memory.getOrDefault("maxmemory_policy", "?");
      if (policy.equals("noeviction")) {
        ok("redis.maxmemory-policy" + suffix, "noeviction: counter hashes are never evicted");
      } else {
        warn(
            "redis.maxmemory-policy" + suffix,
            "maxmemory-policy is "
                + policy
                + ": when memory is full Redis may evict counter"
                + " hashes, and an evicted counter is a silent loss",
            "set maxmemory-policy noeviction on the counter database (CONFIG SET"
                + " maxmemory-policy noeviction, and in redis.conf; see"
                + " ops/redis/spillway-counters.conf)");
      }
      persistence(redis, suffix);
    } catch (RuntimeException e) {
      fail(
          "redis" + suffix,
          "cannot reach Redis at "
              + (cluster ? name : Redactor.of(config).redactUri(config.redisUri()))
              + ": "
              + Doctor.rootMessage(e),
          "check redis.uri (or SPILLWAY_REDIS_URI) and that Redis runs");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private void persistence(RedisClusterCommands<String, String> redis, String suffix) {
    Map<String, String> p = Doctor.info(redis.info("persistence"));
    boolean aof = "1".equals(p.get("aof_enabled"));
    String fsync = configGet(redis, "appendfsync");
    String save = configGet(redis, "save");
    String fix = "appendonly yes and appendfsync everysec (ops/redis/spillway-counters.conf)";
    String check = "redis.persistence" + suffix;
    if (aof && (fsync == null || fsync.equals("everysec") || fsync.equals("always"))) {
      ok(
          check,
          "AOF on"
              + (fsync != null ? ", appendfsync " + fsync : " (appendfsync unreadable)")
              + ": a Redis crash loses at most about a second of counts");
    } else if (aof) {
      warn(
          check,
          "AOF on but appendfsync " + fsync + ": a crash may lose up to ~30 s of counts",
          "appendfsync everysec");
    } else if (save != null && !save.isBlank()) {
      warn(
          check,
          "RDB snapshots only (save "
              + save
              + "): a Redis crash loses every count since the"
              + " last snapshot",
          fix);
    } else {
      warn(
          check,
          "no persistence"
              + (save == null
                  ? " seen (AOF off; CONFIG is disabled)"
                  : " (AOF off, no RDB save points)")
              + ": a Redis restart loses every pending count",
          fix);
    }
  }

  private void encoding(RedisLink<String, String> link) {
    KeyLayout layout = new KeyLayout(config.keyPrefix(), config.stripes());
    List<RedisFuture<Long>> lens = new ArrayList<>(layout.stripes());
    for (int s = 0; s < layout.stripes(); s++) {
      lens.add(link.async().hlen(layout.live(s)));
    }
    long max = 0;
    try {
      for (RedisFuture<Long> f : lens) {
        max = Math.max(max, f.get(CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
      }
    } catch (Exception e) {
      warn(
          "redis.encoding",
          "could not read stripe sizes: " + Doctor.rootMessage(e),
          "run doctor again");
      return;
    }
    String limitText = configGet(link.sync(), "hash-max-listpack-entries");
    if (limitText == null) {
      limitText = configGet(link.sync(), "hash-max-ziplist-entries");
    }
    long limit = limitText == null ? 512 : Long.parseLong(limitText.trim());
    if (max <= limit) {
      ok(
          "redis.encoding",
          "largest live stripe holds "
              + max
              + " field(s), within the compact encoding (up to "
              + limit
              + ") over "
              + layout.stripes()
              + " stripes");
    } else {
      warn(
          "redis.encoding",
          "a live stripe holds "
              + max
              + " fields, over hash-max-listpack-entries "
              + limit
              + ": memory per pending cell roughly quadruples",
          "flush more often, or raise keys.stripes once nothing is pending");
    }
  }

  private void pendingBatches(RedisLink<String, String> link) {
    KeyLayout layout = new KeyLayout(config.keyPrefix(), config.stripes());
    PendingBatches.Summary s;
    try {
      s =
          PendingBatches.scan(
              link.async(),
              layout,
              config.adopt().stream().map(AdoptMapping::name).toList(),
              config.redisCluster(),
              CONNECT_TIMEOUT);
    } catch (RuntimeException e) {
      warn(
          "pending-batches",
          "could not read pending batches: " + Doctor.rootMessage(e),
          "run doctor again");
      return;
    }
    Instant now = clock.instant();
    Duration age = s.oldestAge(now).withNanos(0);
    Duration retention = config.worker().ledgerRetention();
    String head =
        s.batches()
            + " batch(es) pending in Redis"
            + (s.batches() > 0 ? ", oldest " + Durations.format(age) + " old" : "")
            + "; worker.ledger.retention "
            + Durations.format(retention);
    if (s.batches() > 0 && age.compareTo(retention.minus(LedgerPruner.CLOCK_SKEW_MARGIN)) >= 0) {
      fail(
          "pending-batches",
          head + ": ledger pruning refuses to run while this batch waits",
          "find why it is not applied (PostgreSQL reachable? spillway flush --once shows the"
              + " error), and keep worker.ledger.retention above its age");
    } else if (s.batches() > 0 && age.compareTo(Doctor.LAG_WARNING) >= 0) {
      warn(
          "pending-batches",
          head + ": flushing is behind or failing",
          "check the worker's log and spillway_flush_batches_total{outcome=\"failed\"}");
    } else {
      ok("pending-batches", head);
    }
  }

  /** CONFIG GET, or null where CONFIG is disabled (managed Redis often renames it). */
  private static String configGet(RedisClusterCommands<String, String> redis, String name) {
    try {
      return redis.configGet(name).get(name);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
