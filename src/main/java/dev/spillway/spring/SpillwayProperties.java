package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/**
 * {@code spillway.*} in {@code application.yaml}: the keys of {@code spillway.yaml} (see the
 * README's Configuration section), below {@code spillway.}, with the same names. Durations are
 * written as in the file ({@code 250ms}, {@code 5s}, {@code PT1S}).
 *
 * <p>The values go through the file's own parser ({@link ConfigLoader#fromTree}): the same checks
 * and the same sentences, prefixed with {@code spillway.}. Environment variables work the Spring
 * way ({@code SPILLWAY_REDIS_URI} sets {@code spillway.redis.uri}). The worker-only sections
 * ({@code worker}, {@code reporting}, {@code adopt}) are not read here.
 */
@ConfigurationProperties("spillway")
public class SpillwayProperties {
  /** Redis connection. */
  @NestedConfigurationProperty
  private final SpillwayRedisProperties redis = new SpillwayRedisProperties();

  /**
   * PostgreSQL connection. Without jdbc-url, Spillway uses the application's single PostgreSQL
   * DataSource when there is one.
   */
  @NestedConfigurationProperty
  private final SpillwayPostgresProperties postgres = new SpillwayPostgresProperties();

  /** Redis key layout. */
  @NestedConfigurationProperty
  private final SpillwayKeysProperties keys = new SpillwayKeysProperties();

  /** The embedded counter client. */
  @NestedConfigurationProperty
  private final SpillwayClientProperties client = new SpillwayClientProperties();

  /** Flushing Redis into PostgreSQL inside this application (normally the worker does it). */
  @NestedConfigurationProperty
  private final SpillwayFlushProperties flush = new SpillwayFlushProperties();

  /** Cache-aside defaults (the cache: section of spillway.yaml). */
  @NestedConfigurationProperty
  private final SpillwayCacheProperties cache = new SpillwayCacheProperties();

  /** Spring's CacheManager over Spillway caches (with @EnableCaching). */
  private final SpringCache springCache = new SpringCache();

  /** Counters declared up front, by name: {@code spillway.counters.page_views.buckets=HOUR,DAY}. */
  private final Map<String, Counter> counters = new LinkedHashMap<>();

  public SpillwayRedisProperties getRedis() {
    return redis;
  }

  public SpillwayPostgresProperties getPostgres() {
    return postgres;
  }

  public SpillwayKeysProperties getKeys() {
    return keys;
  }

  public SpillwayClientProperties getClient() {
    return client;
  }

  public SpillwayFlushProperties getFlush() {
    return flush;
  }

  public SpillwayCacheProperties getCache() {
    return cache;
  }

  public SpringCache getSpringCache() {
    return springCache;
  }

  public Map<String, Counter> getCounters() {
    return counters;
  }

  /** The configuration these properties describe, checked as the file would be. */
  public SpillwayConfig toConfig() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    section(root, "redis", redis::toTree);
    section(root, "postgres", postgres::toTree);
    section(root, "keys", keys::toTree);
    section(root, "client", client::toTree);
    section(root, "flush", flush::toTree);
    section(root, "cache", cache::toTree);
    if (!counters.isEmpty()) {
      ObjectNode cs = root.putObject("counters");
      counters.forEach(
          (name, c) -> {
            ObjectNode spec = cs.putObject(name);
            c.getBuckets().forEach(spec.putArray("buckets")::add);
          });
    }
    try {
      return ConfigLoader.fromTree(root);
    } catch (ConfigException e) {
      throw new ConfigException(prefixed(e.getMessage()));
    }
  }

  /**
   * The file's sentences name keys below the top ({@code flush.interval}); here they sit below
   * spillway.
   */
  static String prefixed(String message) {
    return message != null
            && message.matches("(?s)(redis|postgres|keys|client|flush|counters|cache)[.\\s\\[].*")
        ? "spillway." + message
        : message;
  }

  private static void section(ObjectNode root, String name, Consumer<ObjectNode> fill) {
    ObjectNode n = root.objectNode();
    fill.accept(n);
    if (!n.isEmpty()) {
      root.set(name, n);
    }
  }

  static void put(ObjectNode n, String key, Object v) {
    switch (v) {
      case null -> {}
      case String s -> n.put(key, s);
      case Integer i -> n.put(key, i);
      case Boolean b -> n.put(key, b);
      default -> n.putPOJO(key, v);
    }
  }

  /** A counter's time buckets: {@code spillway.counters.page_views.buckets=HOUR,DAY}. */
  public static final class Counter {
    /** Time buckets kept besides the total: MINUTE, HOUR, DAY (see Granularity). */
    private List<String> buckets = new ArrayList<>();

    public List<String> getBuckets() {
      return buckets;
    }

    public void setBuckets(List<String> v) {
      this.buckets = v;
    }
  }

  /** Spring's CacheManager over Spillway caches (with @EnableCaching). */
  public static final class SpringCache {
    /**
     * Classes (com.example.Book) or packages (com.example.dto.*) whose instances Spring caches may
     * hold. A value is stored as JSON with its class name; read back only when that class is
     * allowed (String, numbers and Boolean always are); anything else is a miss, never
     * instantiated.
     */
    private List<String> allowedTypes = new ArrayList<>();

    public List<String> getAllowedTypes() {
      return allowedTypes;
    }

    public void setAllowedTypes(List<String> v) {
      this.allowedTypes = v;
    }

    void toTree(ObjectNode n) {}
  }
}
