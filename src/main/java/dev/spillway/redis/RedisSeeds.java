package dev.spillway.redis;

import dev.spillway.ConfigException;
import dev.spillway.config.Redactor;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses {@code redis.uri}: one URI for a single Redis, or for a cluster a list of seed nodes,
 * comma-separated, where only the first carries the scheme and credentials ({@code
 * redis://:secret@10.0.0.1:7101,10.0.0.2:7101,10.0.0.3:7101}); later entries may also be whole
 * URIs. Every seed inherits the first one's scheme, credentials and client name.
 *
 * <p>Messages that reject a value never echo its secrets: the value is shown through {@link
 * Redactor#redactUri}, and an entry is named by its position, not by its (possibly mis-split) text.
 */
public final class RedisSeeds {
  private static final String ENCODE_HINT =
      " (a password holding / , @ : or % must be percent-encoded: %2F %2C %40 %3A %25)";

  private RedisSeeds() {}

  /**
   * The seed URIs with {@code timeout} applied.
   *
   * @throws ConfigException naming the rule when an entry is not a Redis URI, or when several are
   *     given without {@code cluster}
   */
  public static List<RedisURI> parse(String uri, boolean cluster, Duration timeout) {
    if (SentinelUris.isSentinel(uri)) {
      return List.of(SentinelUris.parse(uri, cluster, timeout)); // its commas list sentinels
    }
    String[] parts = uri.split(",", -1);
    if (parts.length > 1 && !cluster) {
      throw new ConfigException(
          "redis.uri lists "
              + parts.length
              + " nodes; a comma-separated seed list is only"
              + " allowed with redis.cluster: true (SPILLWAY_REDIS_CLUSTER=true) but was "
              + shown(uri)
              + hint(uri));
    }
    RedisURI first = one(parts[0].trim(), 1, uri);
    first.setTimeout(timeout);
    List<RedisURI> seeds = new ArrayList<>();
    seeds.add(first);
    for (int i = 1; i < parts.length; i++) {
      String part = parts[i].trim();
      if (part.isEmpty()) {
        throw new ConfigException(
            "redis.uri has an empty entry at position "
                + (i + 1)
                + " of its comma-separated"
                + " seed list: "
                + shown(uri));
      }
      if (!part.contains("://") && part.contains("@")) {
        throw new ConfigException(
            "redis.uri entry "
                + (i + 1)
                + " carries credentials; give them once, in the first"
                + " entry (redis://user:password@host:port,host2:port2): "
                + shown(uri)
                + ENCODE_HINT);
      }
      RedisURI seed =
          part.contains("://")
              ? one(part, i + 1, uri)
              : one(first.toURI().getScheme() + "://" + part, i + 1, uri);
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

  /** {@code uri} quoted, its secrets hidden, for a message that rejects it. */
  private static String shown(String uri) {
    return "'" + Redactor.of(Redactor.secretsIn(uri)).redactUri(uri) + "'";
  }

  /** Where a password holding {@code , / @} may be what split or broke the value, the fix. */
  private static String hint(String uri) {
    return uri.contains("@") ? ENCODE_HINT : "";
  }

  private static RedisURI one(String part, int position, String whole) {
    try {
      RedisURI u = RedisURI.create(part);
      if (u.getHost() == null || u.getHost().isEmpty()) {
        throw new IllegalArgumentException("no host");
      }
      return u;
    } catch (IllegalArgumentException e) {
      // Neither the entry nor Lettuce's message is echoed: both may hold a piece of a password.
      throw new ConfigException(
          "redis.uri entry "
              + position
              + " is not a Redis URI like redis://host:6379 (in "
              + shown(whole)
              + ")"
              + hint(whole));
    }
  }
}
