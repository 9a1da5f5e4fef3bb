package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import java.text.ParseException;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.quartz.CronExpression;

/**
 * Settings of reporting and data upkeep (section {@code reporting:} of the YAML file): how long
 * each bucket granularity is kept, how {@code counter_buckets} is partitioned, when the upkeep,
 * rollup and retention jobs run, and which reports are exported on a schedule.
 *
 * <pre>{@code
 * reporting:
 *   lock-timeout: 5s                 # how long partition DDL waits for a table lock, then gives up
 *   partitions: {interval: day, ahead: 7d}
 *   schedule:                        # Quartz cron (sec min hour dom month dow), or off
 *     partition-upkeep: "0 5 * * * ?"
 *     rollup: "0 15 * * * ?"
 *     retention: "0 30 3 * * ?"
 *   default-retention: {minute: 2d, hour: 90d, day: forever}
 *   retention:
 *     page_views: {minute: 1d, hour: 30d, day: 1825d}
 *   exports:
 *     top-pages-daily:
 *       {cron: "0 5 0 * * ?", report: top, counter: page_views, limit: 100, period: day,
 *        tz: Europe/Berlin, format: csv, directory: /var/lib/spillway/exports}
 * }</pre>
 *
 * <p>Only single values and combinations inside this section are checked here. Whether a counter
 * named under {@code retention} exists in {@code counters:}, and whether its levels can be derived,
 * is checked where both are known ({@code dev.spillway.report.BucketPolicy}).
 *
 * <p>Each export's settings and checks are an {@link ExportSettings}; a retention period, its
 * parsing and the checks of a set of levels are {@link RetentionPeriod}.
 *
 * @param defaultRetention retention of each granularity for counters without their own entry
 * @param retention per counter and granularity; a granularity listed here that the counter does not
 *     write itself ({@code counters.<name>.buckets}) is filled by the rollup job
 * @param upkeepCron Quartz cron of partition upkeep, or empty when off
 * @param rollupCron Quartz cron of the rollup job, or empty when off
 * @param retentionCron Quartz cron of the retention job, or empty when off
 */
public record ReportSettings(
    Map<Granularity, RetentionPeriod> defaultRetention,
    Map<String, Map<Granularity, RetentionPeriod>> retention,
    PartitionInterval partitionInterval,
    Duration partitionsAhead,
    Duration lockTimeout,
    Optional<String> upkeepCron,
    Optional<String> rollupCron,
    Optional<String> retentionCron,
    Map<String, ExportSettings> exports) {

  public static final Duration DEFAULT_PARTITIONS_AHEAD = Duration.ofDays(7);
  public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(5);

  /** 100 years; longer is what {@code forever} says, without overflowing a cutoff timestamp. */
  public static final Duration MAX_RETENTION = Duration.ofDays(36_525);

  public static final String DEFAULT_UPKEEP_CRON = "0 5 * * * ?";
  public static final String DEFAULT_ROLLUP_CRON = "0 15 * * * ?";
  public static final String DEFAULT_RETENTION_CRON = "0 30 3 * * ?";

  /** Minute rows for 2 days, hour rows for 90 days, day rows forever. */
  public static final Map<Granularity, RetentionPeriod> DEFAULT_RETENTION =
      Collections.unmodifiableMap(
          new EnumMap<>(
              Map.of(
                  Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(2)),
                  Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(90)),
                  Granularity.DAY, RetentionPeriod.FOREVER)));

  private static final String OFF = "off";

  /** The range covered by one partition of {@code counter_buckets}, in UTC. */
  public enum PartitionInterval {
    DAY,
    MONTH
  }

  public ReportSettings {
    defaultRetention =
        RetentionPeriod.copyLevels("reporting.default-retention", defaultRetention, true);
    Map<String, Map<Granularity, RetentionPeriod>> byCounter = new TreeMap<>();
    for (var e : Objects.requireNonNull(retention, "retention").entrySet()) {
      if (!Checks.COUNTER_PATTERN.matcher(e.getKey()).matches()) {
        throw new ConfigException(
            "reporting.retention: counter name '"
                + e.getKey()
                + "' must match "
                + Checks.COUNTER_PATTERN);
      }
      byCounter.put(
          e.getKey(),
          RetentionPeriod.copyLevels("reporting.retention." + e.getKey(), e.getValue(), false));
    }
    retention = Collections.unmodifiableMap(byCounter);
    Objects.requireNonNull(partitionInterval, "reporting.partitions.interval");
    Checks.requireBetween(
        "reporting.partitions.ahead", partitionsAhead, Duration.ofHours(1), Duration.ofDays(366));
    Checks.requireBetween(
        "reporting.lock-timeout", lockTimeout, Duration.ofMillis(100), Duration.ofHours(1));
    upkeepCron = Objects.requireNonNull(upkeepCron, "upkeepCron");
    rollupCron = Objects.requireNonNull(rollupCron, "rollupCron");
    retentionCron = Objects.requireNonNull(retentionCron, "retentionCron");
    exports =
        Collections.unmodifiableMap(new TreeMap<>(Objects.requireNonNull(exports, "exports")));
  }

  public static ReportSettings defaults() {
    return new ReportSettings(
        DEFAULT_RETENTION,
        Map.of(),
        PartitionInterval.DAY,
        DEFAULT_PARTITIONS_AHEAD,
        DEFAULT_LOCK_TIMEOUT,
        Optional.of(DEFAULT_UPKEEP_CRON),
        Optional.of(DEFAULT_ROLLUP_CRON),
        Optional.of(DEFAULT_RETENTION_CRON),
        Map.of());
  }

  /** Parses the {@code reporting:} section (may be missing). */
  public static ReportSettings parse(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return defaults();
    }
    ConfigNodes.checkKeys(
        node,
        "reporting",
        Set.of(
            "lock-timeout", "partitions", "schedule", "default-retention", "retention", "exports"));
    ConfigNodes.checkKeys(
        node.path("partitions"), "reporting.partitions", Set.of("interval", "ahead"));
    ConfigNodes.checkKeys(
        node.path("schedule"),
        "reporting.schedule",
        Set.of("partition-upkeep", "rollup", "retention"));

    Map<Granularity, RetentionPeriod> defaults = new EnumMap<>(DEFAULT_RETENTION);
    defaults.putAll(
        RetentionPeriod.parseLevels(node.path("default-retention"), "reporting.default-retention"));

    Map<String, Map<Granularity, RetentionPeriod>> perCounter = new TreeMap<>();
    JsonNode ret = node.path("retention");
    if (!ret.isMissingNode() && !ret.isNull()) {
      if (!ret.isObject()) {
        throw new ConfigException(
            "reporting.retention must be a mapping of counter name to {minute: 2d, hour: 90d, ...}"
                + " but was '"
                + ret
                + "'");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = ret.fields(); it.hasNext(); ) {
        var e = it.next();
        perCounter.put(
            e.getKey(),
            RetentionPeriod.parseLevels(e.getValue(), "reporting.retention." + e.getKey()));
      }
    }

    Map<String, ExportSettings> exports = new TreeMap<>();
    JsonNode ex = node.path("exports");
    if (!ex.isMissingNode() && !ex.isNull()) {
      if (!ex.isObject()) {
        throw new ConfigException(
            "reporting.exports must be a mapping of export name to its settings but was '"
                + ex
                + "'");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = ex.fields(); it.hasNext(); ) {
        var e = it.next();
        exports.put(e.getKey(), ExportSettings.parse(e.getKey(), e.getValue()));
      }
    }

    return new ReportSettings(
        defaults,
        perCounter,
        ConfigNodes.str(node, "partitions.interval", "reporting.partitions.interval")
            .map(
                v ->
                    ConfigNodes.enumValue(
                        "reporting.partitions.interval", v, PartitionInterval.class))
            .orElse(PartitionInterval.DAY),
        ConfigNodes.duration(node, "partitions.ahead", "reporting.partitions.ahead")
            .orElse(DEFAULT_PARTITIONS_AHEAD),
        ConfigNodes.duration(node, "lock-timeout", "reporting.lock-timeout")
            .orElse(DEFAULT_LOCK_TIMEOUT),
        cron(node, "schedule.partition-upkeep", DEFAULT_UPKEEP_CRON),
        cron(node, "schedule.rollup", DEFAULT_ROLLUP_CRON),
        cron(node, "schedule.retention", DEFAULT_RETENTION_CRON),
        exports);
  }

  /** The retention of {@code g} for {@code counter}: its own entry, else the default. */
  public RetentionPeriod retentionOf(String counter, Granularity g) {
    Map<Granularity, RetentionPeriod> own = retention.get(counter);
    if (own != null && own.containsKey(g)) {
      return own.get(g);
    }
    return defaultRetention.get(g);
  }

  /** Returns a copy with {@code counter}'s retention of {@code g} set (for code and tests). */
  public ReportSettings withRetention(String counter, Granularity g, RetentionPeriod r) {
    Map<String, Map<Granularity, RetentionPeriod>> copy = new TreeMap<>(retention);
    Map<Granularity, RetentionPeriod> levels = new EnumMap<>(Granularity.class);
    levels.putAll(copy.getOrDefault(counter, Map.of()));
    levels.put(g, r);
    copy.put(counter, levels);
    return new ReportSettings(
        defaultRetention,
        copy,
        partitionInterval,
        partitionsAhead,
        lockTimeout,
        upkeepCron,
        rollupCron,
        retentionCron,
        exports);
  }

  /** Returns a copy with another partition interval and look-ahead. */
  public ReportSettings withPartitions(PartitionInterval interval, Duration ahead) {
    return new ReportSettings(
        defaultRetention,
        retention,
        interval,
        ahead,
        lockTimeout,
        upkeepCron,
        rollupCron,
        retentionCron,
        exports);
  }

  /** Returns a copy with {@code e} added (replacing an export of the same name). */
  public ReportSettings withExport(ExportSettings e) {
    Map<String, ExportSettings> copy = new TreeMap<>(exports);
    copy.put(e.name(), e);
    return new ReportSettings(
        defaultRetention,
        retention,
        partitionInterval,
        partitionsAhead,
        lockTimeout,
        upkeepCron,
        rollupCron,
        retentionCron,
        copy);
  }

  /**
   * The {@code reporting:} section, for the effective configuration ({@link
   * SpillwayConfig#effective}).
   */
  public Map<String, Object> effective() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put(
        "partitions",
        Checks.tree(
            "interval", partitionInterval.name().toLowerCase(Locale.ROOT),
            "ahead", Durations.format(partitionsAhead)));
    m.put("lock-timeout", Durations.format(lockTimeout));
    m.put("default-retention", levels(defaultRetention));
    Map<String, Object> perCounter = new LinkedHashMap<>();
    retention.forEach((counter, levels) -> perCounter.put(counter, levels(levels)));
    m.put("retention", perCounter);
    m.put(
        "schedule",
        Checks.tree(
            "partition-upkeep", upkeepCron.orElse(OFF),
            "rollup", rollupCron.orElse(OFF),
            "retention", retentionCron.orElse(OFF)));
    m.put("exports", List.copyOf(exports.keySet()));
    return m;
  }

  /** The section's effective values as logfmt, keys relative to {@code reporting.}. */
  @Override
  public String toString() {
    return Logfmt.pairs(effective());
  }

  private static Map<String, Object> levels(Map<Granularity, RetentionPeriod> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((g, r) -> out.put(g.name().toLowerCase(Locale.ROOT), r.toString()));
    return out;
  }

  private static Optional<String> cron(JsonNode node, String path, String dflt) {
    String full = "reporting." + path;
    JsonNode n = ConfigNodes.at(node, path);
    if (n.isBoolean() && !n.booleanValue()) {
      return Optional.empty(); // YAML 1.1 reads an unquoted off (or no) as false
    }
    return requireCron(full, ConfigNodes.str(node, path, full).orElse(dflt));
  }

  /** A valid Quartz cron expression, or empty for {@code off}. */
  static Optional<String> requireCron(String key, String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(key + " must be a Quartz cron expression or off");
    }
    String t = text.trim();
    if (t.equalsIgnoreCase(OFF)) {
      return Optional.empty();
    }
    try {
      CronExpression.validateExpression(t);
    } catch (ParseException e) {
      throw new ConfigException(
          key
              + " must be a Quartz cron expression (seconds minutes hours day-of-month month"
              + " day-of-week, e.g. \"0 15 * * * ?\") or off, but was '"
              + text
              + "': "
              + e.getMessage());
    }
    return Optional.of(t);
  }

  /**
   * An IANA zone ({@code Europe/Berlin}) or {@code UTC}. Fixed offsets are refused: {@code +02:00}
   * means the opposite sign to PostgreSQL's POSIX rules, and an offset has no DST anyway.
   */
  public static ZoneId zone(String key, String text) {
    String t = text == null ? "" : text.trim();
    if (t.equalsIgnoreCase("UTC") || t.equalsIgnoreCase("Z")) {
      return ZoneOffset.UTC;
    }
    ZoneId z;
    try {
      z = ZoneId.of(t);
    } catch (DateTimeException e) {
      throw new ConfigException(
          key + " must be a time zone name like Europe/Berlin or UTC but was '" + text + "'");
    }
    if (z instanceof ZoneOffset) {
      throw new ConfigException(
          key
              + " must be a time zone name like Europe/Berlin or UTC, not a fixed offset, but was '"
              + text
              + "'");
    }
    return z;
  }
}
