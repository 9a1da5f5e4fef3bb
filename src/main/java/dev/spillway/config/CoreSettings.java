package dev.spillway.config;

import dev.spillway.Durability;
import dev.spillway.OverflowPolicy;
import dev.spillway.SpillwayConfig;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The core settings (sections {@code redis}, {@code postgres}, {@code keys}, {@code client} and
 * {@code flush} of the YAML file), one row each: its key, its kind, how the loader applies it to a
 * builder and how the effective configuration shows it. The loader's known-keys check, its reading
 * of the file and the start-up line all walk this one list, so a setting cannot be accepted and
 * then missing from the log, or logged under another name. The sections {@code worker}, {@code
 * reporting}, {@code cache}, {@code counters} and {@code adopt} are parsed and shown by their own
 * classes, each holding both halves.
 */
public final class CoreSettings {
  /** How a value is read from YAML and shown in the start-up line. */
  public enum Kind {
    TEXT,
    /** A URI: shown with its password masked ({@link Redactor#redactUri}). */
    URI,
    /** Never shown: {@code <masked>}, or {@code <empty>} when unset. */
    SECRET,
    DURATION,
    INT,
    BOOL,
    /** {@link OverflowPolicy}: written and shown in lower case. */
    OVERFLOW,
    /** {@link Durability}: written and shown in lower case. */
    DURABILITY
  }

  /** One core setting. */
  public record Setting(
      String key,
      Kind kind,
      BiConsumer<SpillwayConfig.Builder, Object> apply,
      Function<SpillwayConfig, Object> value) {}

  /** In the order of the start-up line. */
  public static final List<Setting> ALL =
      List.of(
          row("redis.uri", Kind.URI, (b, v) -> b.redisUri((String) v), SpillwayConfig::redisUri),
          row(
              "redis.timeout",
              Kind.DURATION,
              (b, v) -> b.redisTimeout((Duration) v),
              SpillwayConfig::redisTimeout),
          row(
              "redis.cluster",
              Kind.BOOL,
              (b, v) -> b.redisCluster((Boolean) v),
              SpillwayConfig::redisCluster),
          row(
              "postgres.jdbc-url",
              Kind.URI,
              (b, v) -> b.jdbcUrl((String) v),
              SpillwayConfig::jdbcUrl),
          row(
              "postgres.user",
              Kind.TEXT,
              (b, v) -> b.jdbcUser((String) v),
              SpillwayConfig::jdbcUser),
          row(
              "postgres.password",
              Kind.SECRET,
              (b, v) -> b.jdbcPassword((String) v),
              SpillwayConfig::jdbcPassword),
          row("postgres.schema", Kind.TEXT, (b, v) -> b.schema((String) v), SpillwayConfig::schema),
          row(
              "postgres.pool-size",
              Kind.INT,
              (b, v) -> b.poolSize((Integer) v),
              SpillwayConfig::poolSize),
          row(
              "postgres.connect-timeout",
              Kind.DURATION,
              (b, v) -> b.postgresConnectTimeout((Duration) v),
              SpillwayConfig::postgresConnectTimeout),
          row(
              "keys.prefix",
              Kind.TEXT,
              (b, v) -> b.keyPrefix((String) v),
              SpillwayConfig::keyPrefix),
          row("keys.stripes", Kind.INT, (b, v) -> b.stripes((Integer) v), SpillwayConfig::stripes),
          row(
              "client.drain-interval",
              Kind.DURATION,
              (b, v) -> b.drainInterval((Duration) v),
              SpillwayConfig::drainInterval),
          row(
              "client.max-pending-cells",
              Kind.INT,
              (b, v) -> b.maxPendingCells((Integer) v),
              SpillwayConfig::maxPendingCells),
          row(
              "client.overflow",
              Kind.OVERFLOW,
              (b, v) -> b.overflowPolicy((OverflowPolicy) v),
              SpillwayConfig::overflowPolicy),
          row(
              "client.block-timeout",
              Kind.DURATION,
              (b, v) -> b.blockTimeout((Duration) v),
              SpillwayConfig::blockTimeout),
          row(
              "client.close-timeout",
              Kind.DURATION,
              (b, v) -> b.closeTimeout((Duration) v),
              SpillwayConfig::closeTimeout),
          row(
              "client.durability",
              Kind.DURABILITY,
              (b, v) -> b.durability((Durability) v),
              SpillwayConfig::durability),
          row(
              "client.durable-replicas",
              Kind.INT,
              (b, v) -> b.durableReplicas((Integer) v),
              SpillwayConfig::durableReplicas),
          row(
              "flush.enabled",
              Kind.BOOL,
              (b, v) -> b.flushEnabled((Boolean) v),
              SpillwayConfig::flushEnabled),
          row(
              "flush.interval",
              Kind.DURATION,
              (b, v) -> b.flushInterval((Duration) v),
              SpillwayConfig::flushInterval),
          row(
              "flush.max-cells-per-transaction",
              Kind.INT,
              (b, v) -> b.flushMaxCellsPerTransaction((Integer) v),
              SpillwayConfig::flushMaxCellsPerTransaction),
          row(
              "flush.max-pending-batches-per-stripe",
              Kind.INT,
              (b, v) -> b.flushMaxPendingBatchesPerStripe((Integer) v),
              SpillwayConfig::flushMaxPendingBatchesPerStripe),
          row(
              "flush.apply-connections",
              Kind.INT,
              (b, v) -> b.flushApplyConnections((Integer) v),
              SpillwayConfig::flushApplyConnections));

  private CoreSettings() {}

  private static Setting row(
      String key,
      Kind kind,
      BiConsumer<SpillwayConfig.Builder, Object> apply,
      Function<SpillwayConfig, Object> value) {
    return new Setting(key, kind, apply, value);
  }

  /** Every core key, dotted, in order. */
  public static Set<String> keys() {
    Set<String> keys = new LinkedHashSet<>();
    ALL.forEach(s -> keys.add(s.key()));
    return keys;
  }

  /**
   * The core sections as the start-up line shows them, in YAML's shape ({@code redis: {uri: …}}):
   * durations as {@code 5s}, enums in lower case, URIs and secrets masked by {@code redactor}.
   */
  public static Map<String, Object> effective(SpillwayConfig config, Redactor redactor) {
    Map<String, Object> root = new LinkedHashMap<>();
    for (Setting s : ALL) {
      int dot = s.key().indexOf('.');
      @SuppressWarnings("unchecked")
      Map<String, Object> section =
          (Map<String, Object>)
              root.computeIfAbsent(
                  s.key().substring(0, dot), k -> new LinkedHashMap<String, Object>());
      section.put(s.key().substring(dot + 1), shown(s, s.value().apply(config), redactor));
    }
    return root;
  }

  private static Object shown(Setting s, Object v, Redactor redactor) {
    return switch (s.kind()) {
      case URI -> redactor.redactUri((String) v);
      case SECRET -> v == null || ((String) v).isEmpty() ? "<empty>" : "<masked>";
      case DURATION -> Durations.format((Duration) v);
      case OVERFLOW, DURABILITY -> ((Enum<?>) v).name().toLowerCase(Locale.ROOT);
      case TEXT, INT, BOOL -> v;
    };
  }
}
