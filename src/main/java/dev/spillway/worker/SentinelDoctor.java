package dev.spillway.worker;

import dev.spillway.SpillwayConfig;
import dev.spillway.redis.RedisConnector;
import dev.spillway.worker.Doctor.Line;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.lettuce.core.sentinel.api.sync.RedisSentinelCommands;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Sentinel lines of {@code spillway doctor}, when {@code redis.uri} is a {@code
 * redis-sentinel://} URI: each sentinel listed answers and monitors the master (by name), a quorum
 * of sentinels is reachable ({@code SENTINEL CKQUORUM}: without it no failover can be authorized),
 * the master has a replica the sentinels see as up (else a failover has nothing to promote), and
 * the master's {@code min-replicas-to-write} (with 0, a master cut off from its replicas and
 * sentinels keeps acknowledging writes that are lost once it is demoted).
 */
final class SentinelDoctor extends DoctorLines {
  private static final Duration CONNECT_TIMEOUT = Doctor.CONNECT_TIMEOUT;

  private final SpillwayConfig config;

  SentinelDoctor(SpillwayConfig config, List<Line> lines) {
    super(lines);
    this.config = config;
  }

  void run(RedisConnector connector) {
    // connector: the sentinels it was made with (redis.uri parsed and checked)
    List<RedisURI> sentinels = connector.sentinels();
    String name = sentinels.isEmpty() ? null : masterName();
    List<String> answering = new ArrayList<>();
    String quorumChecked = null;
    String master = null;
    List<Map<String, String>> replicas = null;
    for (RedisURI s : sentinels) {
      String at = s.getHost() + ":" + s.getPort();
      RedisURI uri = RedisURI.builder(s).withTimeout(CONNECT_TIMEOUT).build();
      RedisClient client = RedisClient.create(uri);
      try (StatefulRedisSentinelConnection<String, String> c = client.connectSentinel()) {
        RedisSentinelCommands<String, String> sentinel = c.sync();
        SocketAddress addr = sentinel.getMasterAddrByName(name);
        if (addr == null) {
          fail(
              "redis.sentinel@" + at,
              "sentinel " + at + " does not monitor a master named '" + name + "'",
              "fix the name after '#' in redis.uri, or SENTINEL MONITOR "
                  + name
                  + " <ip> <port> <quorum> on every sentinel");
          continue;
        }
        String where =
            addr instanceof InetSocketAddress i
                ? i.getHostString() + ":" + i.getPort()
                : addr.toString();
        ok(
            "redis.sentinel@" + at,
            "sentinel " + at + " answers; master '" + name + "' is at " + where);
        answering.add(at);
        if (master != null && !master.equals(where)) {
          warn(
              "redis.sentinel@" + at,
              "sentinels disagree on the master: " + where + " here, " + master + " at another",
              "wait for the failover to settle; if it persists, check the sentinels' network and"
                  + " quorum");
        }
        master = master == null ? where : master;
        if (quorumChecked == null) {
          quorumChecked = ckquorum(sentinel, name, at);
          replicas = sentinel.replicas(name);
        }
      } catch (RuntimeException e) {
        fail(
            "redis.sentinel@" + at,
            "cannot reach sentinel " + at + ": " + Doctor.rootMessage(e),
            "start it, or remove it from redis.uri; a failover needs a majority of the sentinels");
      } finally {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
    if (answering.isEmpty()) {
      fail(
          "redis.sentinel",
          "none of the "
              + sentinels.size()
              + " sentinel(s) in redis.uri answers for '"
              + name
              + "'",
          "check redis.uri (or SPILLWAY_REDIS_URI) and that the sentinels run");
      return;
    }
    if (replicas != null) {
      replicaLine(replicas, master);
    }
    minReplicasToWrite(connector);
  }

  private String masterName() {
    String uri = config.redisUri();
    return uri.substring(uri.lastIndexOf('#') + 1).trim();
  }

  /** {@code SENTINEL CKQUORUM}: OK when enough sentinels are reachable to authorize a failover. */
  private String ckquorum(RedisSentinelCommands<String, String> sentinel, String name, String at) {
    try {
      String reply =
          sentinel.dispatch(
              CommandType.SENTINEL,
              new StatusOutput<>(StringCodec.UTF8),
              new CommandArgs<>(StringCodec.UTF8).add("CKQUORUM").add(name));
      ok("redis.sentinel.quorum", "sentinel " + at + ": " + reply);
      return reply;
    } catch (RuntimeException e) {
      fail(
          "redis.sentinel.quorum",
          "sentinel "
              + at
              + " reports no usable quorum for '"
              + name
              + "': "
              + Doctor.rootMessage(e),
          "run enough sentinels to reach the quorum and a majority (three on separate hosts, quorum"
              + " 2), and let them see each other");
      return "";
    }
  }

  private void replicaLine(List<Map<String, String>> replicas, String master) {
    List<String> up = new ArrayList<>();
    List<String> down = new ArrayList<>();
    for (Map<String, String> r : replicas) {
      String flags = r.getOrDefault("flags", "");
      String at = r.getOrDefault("ip", "?") + ":" + r.getOrDefault("port", "?");
      boolean bad =
          flags.contains("s_down")
              || flags.contains("o_down")
              || flags.contains("disconnected")
              || !"ok".equals(r.getOrDefault("master-link-status", "ok"));
      (bad ? down : up).add(at);
    }
    if (up.isEmpty()) {
      warn(
          "redis.sentinel.replicas",
          "master "
              + master
              + " has no live replica the sentinels see"
              + (down.isEmpty() ? "" : " (down or unlinked: " + down + ")")
              + ": a failover has nothing to promote, and client.durability: replicated cannot"
              + " confirm drains",
          "give the master a replica (replicaof " + master.replace(':', ' ') + ")");
    } else {
      ok(
          "redis.sentinel.replicas",
          "master "
              + master
              + " has "
              + up.size()
              + " live replica(s) "
              + up
              + (down.isEmpty() ? "" : "; down or unlinked: " + down));
    }
  }

  /**
   * With {@code min-replicas-to-write 0} a master cut off from its replicas goes on accepting
   * writes that vanish when Sentinel demotes it; 1 bounds that window by {@code
   * min-replicas-max-lag}.
   */
  private void minReplicasToWrite(RedisConnector connector) {
    RedisURI uri = RedisURI.create(config.redisUri()); // resolved through the sentinels
    uri.setTimeout(CONNECT_TIMEOUT);
    uri.getSentinels().forEach(s -> s.setTimeout(CONNECT_TIMEOUT));
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      String v = c.sync().configGet("min-replicas-to-write").get("min-replicas-to-write");
      String lag = c.sync().configGet("min-replicas-max-lag").get("min-replicas-max-lag");
      if (v == null) {
        warn(
            "redis.min-replicas-to-write",
            "min-replicas-to-write unreadable (CONFIG disabled)",
            "set min-replicas-to-write 1 and min-replicas-max-lag 10 on the master and replicas");
      } else if (Integer.parseInt(v.trim()) < 1) {
        warn(
            "redis.min-replicas-to-write",
            "min-replicas-to-write is 0: a master partitioned from its replicas keeps acknowledging"
                + " counts that are lost when Sentinel promotes a replica"
                + (config.durability().replicated()
                    ? " (client.durability: replicated keeps them in the clients until a replica"
                        + " confirms)"
                    : ""),
            "set min-replicas-to-write 1 and min-replicas-max-lag 10 on the master and its"
                + " replicas (redis.conf and CONFIG SET), or use client.durability: replicated");
      } else {
        ok(
            "redis.min-replicas-to-write",
            "min-replicas-to-write "
                + v.trim()
                + ", min-replicas-max-lag "
                + lag
                + ": a master cut off from its replicas stops accepting writes");
      }
    } catch (RuntimeException e) {
      fail(
          "redis.min-replicas-to-write",
          "cannot read the master's settings through the sentinels: " + Doctor.rootMessage(e),
          "check that the master named in redis.uri runs and that the sentinels agree on it");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}
