package dev.spillway.redis;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses {@code redis.uri}: one URI for a single Redis, or for a cluster a list of seed nodes,
 * comma-separated, where only the first carries the scheme and credentials ({@code
 * redis://:secret@10.0.0.1:7101,10.0.0.2:7101,10.0.0.3:7101}); later entries may also be whole
 * URIs. Every seed inherits the first one's scheme, credentials and client name.
 */
public final class RedisSeeds {
  private RedisSeeds() {}

  /**
   * The seed URIs with {@code timeout} applied.
   *
   * @throws ConfigException naming the rule when an entry is not a Redis URI, or when several are
   *     given without {@code cluster}
   */
  public static List<RedisURI> parse(String uri, boolean cluster, Duration timeout) {
    String[] parts = uri.split(",", -1);
    if (parts.length > 1 && !cluster) {
      throw new ConfigException(
          "redis.uri lists " + parts.length + " nodes; a comma-separated seed list is only"
              + " allowed with redis.cluster: true (SPILLWAY_REDIS_CLUSTER=true) but was '"
              + SpillwayConfig.maskUri(uri) + "'");
    }
    RedisURI first = one(parts[0].trim(), uri);
    first.setTimeout(timeout);
    List<RedisURI> seeds = new ArrayList<>();
    seeds.add(first);
    for (int i = 1; i < parts.length; i++) {
      String part = parts[i].trim();
      if (part.isEmpty()) {
        throw new ConfigException(
            "redis.uri has an empty entry at position " + (i + 1) + " of its comma-separated"
                + " seed list: '" + SpillwayConfig.maskUri(uri) + "'");
      }
      if (!part.contains("://") && part.contains("@")) {
        throw new ConfigException(
            "redis.uri entry " + (i + 1) + " carries credentials; give them once, in the first"
                + " entry (redis://user:password@host:port,host2:port2): '"
                + SpillwayConfig.maskUri(uri) + "'");
      }
      RedisURI seed =
          part.contains("://")
              ? one(part, uri)
              : one(first.toURI().getScheme() + "://" + part, uri);
      if (!part.contains("://")) {
        seed.setCredentialsProvider(first.getCredentialsProvider());
      }
      seed.setSsl(seed.isSsl() || first.isSsl());
      seed.setClientName(first.getClientName());
      seed.setTimeout(timeout);
      seeds.add(seed);
    }
    return List.copyOf(seeds);
  }

  private static RedisURI one(String part, String whole) {
    try {
      RedisURI u = RedisURI.create(part);
      if (u.getHost() == null || u.getHost().isEmpty()) {
        throw new IllegalArgumentException("no host");
      }
      return u;
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          "redis.uri entry '" + SpillwayConfig.maskUri(part) + "' is not a Redis URI like"
              + " redis://host:6379 (in '" + SpillwayConfig.maskUri(whole) + "')");
    }
  }
}
