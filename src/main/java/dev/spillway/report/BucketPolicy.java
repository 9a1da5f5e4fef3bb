package dev.spillway.report;

import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * What each counter keeps in {@code counter_buckets}, where each level's rows come from, and how
 * long they stay: the one place that joins {@code counters.<name>.buckets} (what the flusher
 * writes) with {@code reporting.retention} (how long, and which levels the rollup fills).
 *
 * <p>A counter's <b>levels</b> are the granularities it keeps. A level is {@link
 * CounterLevels.Source#FLUSH} when the counter's {@code buckets} list it (the flusher writes it
 * from events), or {@link CounterLevels.Source#ROLLUP} when only {@code reporting.retention} lists
 * it (the rollup job fills it by moving expired rows of the next finer level up).
 *
 * <p>Hazard: the decision "move" versus "discard" rests on this configuration. Every process that
 * increments or rolls up must use the same {@code counters:} section; a client that writes HOUR
 * rows for a counter the worker believes rolls up into HOUR would be counted twice, which {@link
 * Rollup} detects and refuses (see there).
 */
public final class BucketPolicy {
  private final Map<String, CounterLevels> configured;
  private final Map<Granularity, RetentionPeriod> defaults;

  private BucketPolicy(
      Map<String, CounterLevels> configured, Map<Granularity, RetentionPeriod> defaults) {
    this.configured = configured;
    this.defaults = defaults;
  }

  /**
   * Joins the counters and reporting sections of {@code config}.
   *
   * @throws ConfigException when {@code reporting.retention} names an unknown counter, lists a
   *     rolled-up level with no finer written level to fill it from, or shortens a coarser level
   *     below a finer one once defaults are applied
   */
  public static BucketPolicy of(SpillwayConfig config) {
    ReportSettings r = config.reporting();
    Map<String, CounterLevels> levels = new TreeMap<>();
    for (String counter : r.retention().keySet()) {
      if (!config.counters().containsKey(counter)) {
        throw new ConfigException(
            "reporting.retention."
                + counter
                + " names a counter that counters: does not define"
                + " (known: "
                + config.counters().keySet()
                + ")");
      }
    }
    for (var e : config.counters().entrySet()) {
      String counter = e.getKey();
      Set<Granularity> written = e.getValue();
      Set<Granularity> kept = EnumSet.noneOf(Granularity.class);
      kept.addAll(written);
      kept.addAll(r.retention().getOrDefault(counter, Map.of()).keySet());
      List<CounterLevels.Level> list = new ArrayList<>();
      for (Granularity g : kept) { // EnumSet iterates fine to coarse
        boolean flush = written.contains(g);
        if (!flush && list.isEmpty()) {
          throw new ConfigException(
              "reporting.retention."
                  + counter
                  + "."
                  + CounterLevels.yamlName(g)
                  + ": "
                  + counter
                  + " does not write "
                  + g
                  + " buckets (counters."
                  + counter
                  + ".buckets is "
                  + written
                  + "), and no finer level exists to roll up into it;"
                  + " a rolled-up level must be coarser than one the counter writes");
        }
        list.add(
            new CounterLevels.Level(
                g,
                flush ? CounterLevels.Source.FLUSH : CounterLevels.Source.ROLLUP,
                r.retentionOf(counter, g)));
      }
      CounterLevels cl = new CounterLevels(counter, list, true);
      checkMonotonic(cl);
      levels.put(counter, cl);
    }
    return new BucketPolicy(Collections.unmodifiableMap(levels), r.defaultRetention());
  }

  private static void checkMonotonic(CounterLevels cl) {
    CounterLevels.Level previous = null;
    for (CounterLevels.Level l : cl.levels()) {
      if (previous != null && longerThan(previous.retention(), l.retention())) {
        throw new ConfigException(
            "reporting.retention."
                + cl.counter()
                + "."
                + CounterLevels.yamlName(l.granularity())
                + " ("
                + l.retention()
                + ", from "
                + (l.source() == CounterLevels.Source.ROLLUP
                    ? "its own entry"
                    : "its entry or" + " reporting.default-retention")
                + ") must be at least as long as "
                + CounterLevels.yamlName(previous.granularity())
                + " ("
                + previous.retention()
                + "): finer rows are rolled up into coarser ones,"
                + " which must not expire first");
      }
      previous = l;
    }
  }

  private static boolean longerThan(RetentionPeriod a, RetentionPeriod b) {
    if (a.forever()) {
      return !b.forever();
    }
    return !b.forever() && a.period().get().compareTo(b.period().get()) > 0;
  }

  /** The configured levels of {@code counter}, if {@code counters:} defines it. */
  public Optional<CounterLevels> configured(String counter) {
    return Optional.ofNullable(configured.get(counter));
  }

  /** Every counter of {@code counters:}, by name. */
  public Map<String, CounterLevels> all() {
    return configured;
  }

  /**
   * Levels assumed for a counter that {@code counters:} does not define (rows written by another
   * deployment, or a counter removed from the file): each granularity found in the table, written
   * by the flusher, with the default retention.
   */
  public CounterLevels assumed(String counter, Set<Granularity> present) {
    List<CounterLevels.Level> list = new ArrayList<>();
    for (Granularity g : Granularity.values()) {
      if (present.contains(g)) {
        list.add(new CounterLevels.Level(g, CounterLevels.Source.FLUSH, defaults.get(g)));
      }
    }
    return new CounterLevels(counter, list, false);
  }

  /** {@code reporting.default-retention}: what applies to counters not defined in the file. */
  public Map<Granularity, RetentionPeriod> defaults() {
    return defaults;
  }
}
