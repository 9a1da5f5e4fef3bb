package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * How long rows of one bucket granularity are kept; {@link #FOREVER} keeps them. This class owns
 * the retention of a single level and of a set of levels ({@code {minute: 2d, hour: 90d, day:
 * forever}} under {@code reporting.default-retention} and {@code reporting.retention.<counter>}):
 * parsing them from YAML, and the checks that every period lies between one bucket of the next
 * coarser granularity and {@link ReportSettings#MAX_RETENTION}, and that rows of a finer level
 * never outlive a coarser one.
 */
public record RetentionPeriod(Optional<Duration> period) {
  public static final RetentionPeriod FOREVER = new RetentionPeriod(Optional.empty());

  public RetentionPeriod {
    Objects.requireNonNull(period, "period");
  }

  public static RetentionPeriod of(Duration d) {
    return new RetentionPeriod(Optional.of(d));
  }

  public boolean forever() {
    return period.isEmpty();
  }

  @Override
  public String toString() {
    return period.map(Durations::format).orElse("forever");
  }

  /**
   * Rows of a finer level must not outlive those of a coarser one, or a rollup target expires
   * first.
   */
  static Map<Granularity, RetentionPeriod> copyLevels(
      String key, Map<Granularity, RetentionPeriod> levels, boolean requireAll) {
    Map<Granularity, RetentionPeriod> copy = new EnumMap<>(Granularity.class);
    copy.putAll(Objects.requireNonNull(levels, key));
    for (Granularity g : Granularity.values()) {
      RetentionPeriod r = copy.get(g);
      if (r == null) {
        if (requireAll) {
          throw new ConfigException(key + "." + name(g) + " must be set");
        }
        continue;
      }
      Duration min = minimum(g);
      if (r.period().isPresent() && r.period().get().compareTo(ReportSettings.MAX_RETENTION) > 0) {
        throw new ConfigException(
            key
                + "."
                + name(g)
                + " must be at most "
                + Durations.format(ReportSettings.MAX_RETENTION)
                + " (or the word forever) but was "
                + Durations.format(r.period().get()));
      }
      if (r.period().isPresent() && r.period().get().compareTo(min) < 0) {
        throw new ConfigException(
            key
                + "."
                + name(g)
                + " must be at least "
                + Durations.format(min)
                + " (one bucket of the next coarser granularity) but was "
                + Durations.format(r.period().get()));
      }
    }
    Granularity previous = null;
    for (Granularity g : Granularity.values()) {
      if (!copy.containsKey(g)) {
        continue;
      }
      if (previous != null && longer(copy.get(previous), copy.get(g))) {
        throw new ConfigException(
            key
                + "."
                + name(g)
                + " ("
                + copy.get(g)
                + ") must be at least as long as "
                + key
                + "."
                + name(previous)
                + " ("
                + copy.get(previous)
                + "): finer rows are rolled up into"
                + " coarser ones, which must not expire first");
      }
      previous = g;
    }
    return Collections.unmodifiableMap(copy);
  }

  /** Whether {@code a} keeps rows longer than {@code b}. */
  static boolean longer(RetentionPeriod a, RetentionPeriod b) {
    if (a.forever()) {
      return !b.forever();
    }
    return !b.forever() && a.period().get().compareTo(b.period().get()) > 0;
  }

  private static Duration minimum(Granularity g) {
    return switch (g) {
      case MINUTE -> Duration.ofHours(1);
      case HOUR, DAY -> Duration.ofDays(1);
    };
  }

  static String name(Granularity g) {
    return g.name().toLowerCase(Locale.ROOT);
  }

  static Map<Granularity, RetentionPeriod> parseLevels(JsonNode node, String key) {
    Map<Granularity, RetentionPeriod> m = new EnumMap<>(Granularity.class);
    if (node == null || node.isMissingNode() || node.isNull()) {
      return m;
    }
    ConfigNodes.checkKeys(node, key, Set.of("minute", "hour", "day"));
    for (Granularity g : Granularity.values()) {
      String full = key + "." + name(g);
      ConfigNodes.str(node, name(g), full).ifPresent(v -> m.put(g, parseRetention(full, v)));
    }
    return m;
  }

  static RetentionPeriod parseRetention(String key, String text) {
    String t = text.trim();
    if (t.equalsIgnoreCase("forever")) {
      return FOREVER;
    }
    try {
      return of(Durations.parse(key, t));
    } catch (ConfigException e) {
      throw new ConfigException(
          key
              + " must be a duration like 2d, 90d, 1825d or the word forever but was '"
              + text
              + "'");
    }
  }
}
