package dev.spillway.config;

import static dev.spillway.config.Checks.COUNTER_PATTERN;
import static dev.spillway.config.Checks.requireBetween;
import static dev.spillway.config.Checks.requireRange;

import dev.spillway.ConfigException;
import dev.spillway.Durability;
import dev.spillway.Granularity;
import dev.spillway.OverflowPolicy;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The rules of the configuration record's core sections ({@code postgres}, {@code keys}, {@code
 * client}, {@code flush}, {@code counters}, {@code adopt}) and the checks across sections, called
 * by the record's constructor section by section, so that a {@code SpillwayConfig} is valid however
 * it was made. Each refusal is one sentence naming the YAML key, the rule and the actual value,
 * with secrets masked. The {@code redis} section is checked by the record itself, since parsing its
 * seed list belongs to {@code dev.spillway.redis}.
 */
public final class CoreChecks {
  /** {@code postgres.schema}: a lower-case PostgreSQL identifier, used unquoted in SQL. */
  public static final Pattern SCHEMA_PATTERN = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  /** {@code keys.prefix}: the first characters of every Redis key Spillway writes. */
  public static final Pattern KEY_PREFIX_PATTERN = Pattern.compile("[A-Za-z0-9_.:-]{1,32}");

  private CoreChecks() {}

  /** The {@code postgres} section, but for the password, which may be anything. */
  public static void postgres(
      String jdbcUrl, String jdbcUser, String schema, int poolSize, Duration connectTimeout) {
    Objects.requireNonNull(jdbcUrl, "postgres.jdbc-url");
    if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new ConfigException(
          "postgres.jdbc-url must start with jdbc:postgresql: but was '"
              + Redactor.of(Redactor.secretsIn(jdbcUrl)).redactUri(jdbcUrl)
              + "'"
              + (jdbcUrl.startsWith("postgres")
                  ? " (a libpq URL postgresql://host:5432/db is written"
                      + " jdbc:postgresql://host:5432/db; the user and password go in"
                      + " postgres.user and SPILLWAY_JDBC_PASSWORD)"
                  : ""));
    }
    Objects.requireNonNull(jdbcUser, "postgres.user");
    if (schema == null || !SCHEMA_PATTERN.matcher(schema).matches()) {
      throw new ConfigException(
          "postgres.schema must match " + SCHEMA_PATTERN + " but was '" + schema + "'");
    }
    requireRange("postgres.pool-size", poolSize, 1, 200);
    // HikariCP refuses less than 250ms; the driver counts whole seconds, rounded up.
    requireBetween(
        "postgres.connect-timeout", connectTimeout, Duration.ofMillis(250), Duration.ofMinutes(1));
  }

  /** The {@code keys} section. */
  public static void keys(String keyPrefix, int stripes) {
    if (keyPrefix == null || !KEY_PREFIX_PATTERN.matcher(keyPrefix).matches()) {
      throw new ConfigException(
          "keys.prefix must match " + KEY_PREFIX_PATTERN + " but was '" + keyPrefix + "'");
    }
    requireRange("keys.stripes", stripes, 1, 1 << 20);
  }

  /** The {@code client} section. */
  public static void client(
      Duration drainInterval,
      int maxPendingCells,
      OverflowPolicy overflowPolicy,
      Durability durability,
      int durableReplicas,
      Duration blockTimeout,
      Duration closeTimeout) {
    requireBetween(
        "client.drain-interval", drainInterval, Duration.ofMillis(10), Duration.ofMinutes(1));
    requireRange("client.max-pending-cells", maxPendingCells, 1_000, Integer.MAX_VALUE);
    Objects.requireNonNull(overflowPolicy, "client.overflow");
    Objects.requireNonNull(durability, "client.durability");
    requireRange("client.durable-replicas", durableReplicas, 1, 100);
    requireBetween("client.block-timeout", blockTimeout, Duration.ZERO, Duration.ofDays(1));
    requireBetween("client.close-timeout", closeTimeout, Duration.ZERO, Duration.ofHours(1));
  }

  /** The {@code flush} section, but for {@code flush.enabled}. */
  public static void flush(
      Duration interval,
      int maxCellsPerTransaction,
      int maxBatchesPerStripe,
      int applyConnections,
      int poolSize) {
    requireBetween("flush.interval", interval, Duration.ofMillis(10), Duration.ofDays(1));
    requireRange("flush.max-cells-per-transaction", maxCellsPerTransaction, 100, 10_000_000);
    requireRange("flush.max-pending-batches-per-stripe", maxBatchesPerStripe, 1, 1_000);
    requireRange("flush.apply-connections", applyConnections, 1, 16);
    if (applyConnections > poolSize) {
      throw new ConfigException(
          "flush.apply-connections ("
              + applyConnections
              + ") must not exceed postgres.pool-size ("
              + poolSize
              + "): each transaction applied at once holds a pooled connection");
    }
  }

  /** The {@code counters} section, checked, as an unmodifiable copy sorted by counter name. */
  public static Map<String, Set<Granularity>> counters(Map<String, Set<Granularity>> counters) {
    Map<String, Set<Granularity>> copy = new TreeMap<>();
    for (var e : Objects.requireNonNull(counters, "counters").entrySet()) {
      if (!COUNTER_PATTERN.matcher(e.getKey()).matches()) {
        throw new ConfigException(
            "counters: counter name '" + e.getKey() + "' must match " + COUNTER_PATTERN);
      }
      Set<Granularity> g = e.getValue().isEmpty() ? Set.of() : EnumSet.copyOf(e.getValue());
      copy.put(e.getKey(), Collections.unmodifiableSet(g));
    }
    return Collections.unmodifiableMap(copy);
  }

  /** The {@code adopt} mappings (none when null), as an unmodifiable copy; names are unique. */
  public static List<AdoptMapping> adopt(List<AdoptMapping> adopt) {
    adopt = adopt == null ? List.of() : List.copyOf(adopt);
    Set<String> adoptNames = new HashSet<>();
    for (AdoptMapping m : adopt) {
      if (!adoptNames.add(m.name())) {
        throw new ConfigException("adopt mapping name '" + m.name() + "' is used twice");
      }
    }
    return adopt;
  }

  /**
   * The rules across sections: the cache's foreign channel is not the invalidation bus's, and each
   * adopt mapping's key pattern stays clear of Spillway's own keys and the cache's.
   */
  public static void acrossSections(
      String keyPrefix, CacheSettings cache, List<AdoptMapping> adopt) {
    if (cache.foreignChannel() != null
        && cache.foreignChannel().equals(cache.channelFor(keyPrefix))) {
      // Bus messages would be read as malformed events, and events as foreign bus messages.
      throw new ConfigException(
          "cache.foreign-channel must differ from the invalidation bus channel but both were '"
              + cache.foreignChannel()
              + "'");
    }
    for (int i = 0; i < adopt.size(); i++) {
      adopt.get(i).checkMatch(i, keyPrefix, cache.prefixFor(keyPrefix));
    }
  }
}
