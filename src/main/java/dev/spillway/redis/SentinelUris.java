package dev.spillway.redis;

import dev.spillway.ConfigException;
import dev.spillway.config.Redactor;
import io.lettuce.core.RedisURI;
import java.time.Duration;

/**
 * {@code redis.uri} naming Redis Sentinels instead of a server, in Lettuce's format: {@code
 * redis-sentinel://[:password@]host:26379[,host2:26380]/[db]#mymaster} ({@code rediss-sentinel} for
 * TLS). The password is the data nodes' (and, as Lettuce does, the sentinels'); the fragment names
 * the master as the sentinels know it ({@code sentinel monitor <name> ...}).
 *
 * <p>A client made from such a URI asks the sentinels for the master's address at connect and at
 * every reconnect; see {@link RedisConnector}. Messages that reject a value never echo its secrets.
 */
public final class SentinelUris {
  private SentinelUris() {}

  /** Whether {@code uri} uses a sentinel scheme. */
  public static boolean isSentinel(String uri) {
    String u = uri == null ? "" : uri.trim();
    return u.startsWith("redis-sentinel://") || u.startsWith("rediss-sentinel://");
  }

  /**
   * The sentinel URI with {@code timeout} applied to it and to every sentinel.
   *
   * @throws ConfigException naming the rule when it does not parse, names no master, or is combined
   *     with {@code redis.cluster}
   */
  public static RedisURI parse(String uri, boolean cluster, Duration timeout) {
    String shown = "'" + Redactor.of(Redactor.secretsIn(uri)).redactUri(uri) + "'";
    if (cluster) {
      throw new ConfigException(
          "redis.uri names Redis Sentinels (redis-sentinel://), which redis.cluster: true does not"
              + " allow: a Redis Cluster fails over by itself; set redis.cluster: false or list"
              + " cluster nodes as redis://h1:7101,h2:7101 but was "
              + shown);
    }
    if (!uri.contains("#") || uri.endsWith("#")) {
      throw new ConfigException(
          "redis.uri must name the master after '#' as the sentinels know it"
              + " (redis-sentinel://host:26379#mymaster) but was "
              + shown);
    }
    RedisURI u;
    try {
      u = RedisURI.create(uri.trim());
    } catch (IllegalArgumentException e) {
      // Neither the value nor Lettuce's message is echoed unmasked: both may hold a password.
      throw new ConfigException(
          "redis.uri is not a Sentinel URI like redis-sentinel://host:26379,host2:26379/0#mymaster"
              + " (a password holding / , @ : or % must be percent-encoded) but was "
              + shown);
    }
    if (u.getSentinels().isEmpty() || u.getSentinelMasterId() == null) {
      throw new ConfigException(
          "redis.uri must list at least one sentinel and name the master"
              + " (redis-sentinel://host:26379#mymaster) but was "
              + shown);
    }
    for (RedisURI s : u.getSentinels()) {
      if (s.getHost() == null || s.getHost().isEmpty()) {
        throw new ConfigException(
            "redis.uri lists a sentinel without a host (redis-sentinel://host:26379#mymaster) but"
                + " was "
                + shown);
      }
      s.setTimeout(timeout);
    }
    u.setTimeout(timeout);
    return u;
  }
}
