package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads the {@code cache:} section of the YAML file into {@link CacheSettings} ({@link
 * CacheSettings#parse}): it owns the section's known keys, the mapping of each YAML key to a
 * builder setting, and the shape checks of values YAML cannot type (the {@code early-refresh-beta}
 * number and the {@code foreign-entities} mapping); the range checks stay with the record.
 */
final class CacheSettingsParser {
  private CacheSettingsParser() {}

  /** Parses the {@code cache:} section (may be missing). */
  static CacheSettings parse(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return CacheSettings.defaults();
    }
    ConfigNodes.checkKeys(
        node,
        "cache",
        Set.of(
            "prefix",
            "channel",
            "ttl",
            "negative-ttl",
            "ttl-jitter-percent",
            "stale-while-revalidate",
            "early-refresh-beta",
            "max-value-bytes",
            "lease-time",
            "lease-wait",
            "redis-timeout",
            "redis-retry-after",
            "l1",
            "counters-ttl",
            "tag-ttl",
            "max-load-time",
            "encryption-keys-env",
            "listen-database",
            "heartbeat",
            "counters-invalidation-queue",
            "foreign-channel",
            "foreign-entities"));
    ConfigNodes.checkKeys(node.path("l1"), "cache.l1", Set.of("max-size", "ttl"));
    CacheSettingsBuilder b = CacheSettings.builder();
    ConfigNodes.str(node, "prefix", "cache.prefix").ifPresent(b::prefix);
    ConfigNodes.str(node, "channel", "cache.channel").ifPresent(b::channel);
    ConfigNodes.duration(node, "ttl", "cache.ttl").ifPresent(b::ttl);
    ConfigNodes.duration(node, "negative-ttl", "cache.negative-ttl").ifPresent(b::negativeTtl);
    ConfigNodes.integer(node, "ttl-jitter-percent", "cache.ttl-jitter-percent")
        .ifPresent(b::ttlJitterPercent);
    ConfigNodes.duration(node, "stale-while-revalidate", "cache.stale-while-revalidate")
        .ifPresent(b::staleWhileRevalidate);
    ConfigNodes.str(node, "early-refresh-beta", "cache.early-refresh-beta")
        .ifPresent(v -> b.earlyRefreshBeta(parseBeta(v)));
    ConfigNodes.integer(node, "max-value-bytes", "cache.max-value-bytes")
        .ifPresent(b::maxValueBytes);
    ConfigNodes.duration(node, "lease-time", "cache.lease-time").ifPresent(b::leaseTime);
    ConfigNodes.duration(node, "lease-wait", "cache.lease-wait").ifPresent(b::leaseWait);
    ConfigNodes.duration(node, "redis-timeout", "cache.redis-timeout").ifPresent(b::redisTimeout);
    ConfigNodes.duration(node, "redis-retry-after", "cache.redis-retry-after")
        .ifPresent(b::redisRetryAfter);
    ConfigNodes.integer(node, "l1.max-size", "cache.l1.max-size").ifPresent(b::l1MaxSize);
    ConfigNodes.duration(node, "l1.ttl", "cache.l1.ttl").ifPresent(b::l1Ttl);
    ConfigNodes.duration(node, "counters-ttl", "cache.counters-ttl").ifPresent(b::countersTtl);
    ConfigNodes.duration(node, "tag-ttl", "cache.tag-ttl").ifPresent(b::tagTtl);
    ConfigNodes.duration(node, "max-load-time", "cache.max-load-time").ifPresent(b::maxLoadTime);
    ConfigNodes.str(node, "encryption-keys-env", "cache.encryption-keys-env")
        .ifPresent(b::encryptionKeysEnv);
    ConfigNodes.bool(node, "listen-database", "cache.listen-database").ifPresent(b::listenDatabase);
    ConfigNodes.duration(node, "heartbeat", "cache.heartbeat").ifPresent(b::heartbeat);
    ConfigNodes.integer(node, "counters-invalidation-queue", "cache.counters-invalidation-queue")
        .ifPresent(b::countersInvalidationQueue);
    ConfigNodes.str(node, "foreign-channel", "cache.foreign-channel").ifPresent(b::foreignChannel);
    b.foreignEntities(parseEntities(node.path("foreign-entities")));
    return b.build();
  }

  private static Map<String, String> parseEntities(JsonNode n) {
    if (n.isMissingNode() || n.isNull()) {
      return Map.of();
    }
    if (!n.isObject()) {
      throw new ConfigException(
          "cache.foreign-entities must be a mapping of entity name to cache name ({user: users})"
              + " but was '"
              + n
              + "'");
    }
    Map<String, String> m = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isTextual()) {
        throw new ConfigException(
            "cache.foreign-entities."
                + e.getKey()
                + " must be a cache name but was '"
                + e.getValue()
                + "'");
      }
      m.put(e.getKey(), e.getValue().asText());
    }
    return m;
  }

  private static double parseBeta(String v) {
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(
          "cache.early-refresh-beta must be a number like 1.0 but was '" + v + "'");
    }
  }
}
