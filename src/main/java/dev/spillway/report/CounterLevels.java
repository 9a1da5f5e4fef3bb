package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.config.RetentionPeriod;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The bucket levels one counter keeps, finest first, and the rules that follow from them.
 *
 * <p>Rows of a level whose retention has passed (its {@linkplain #horizon horizon}) meet one of
 * three {@linkplain Fate fates}: when the next coarser level is filled by the rollup they are
 * <b>moved</b> into it (their sum added, the rows deleted, in one statement); when the next coarser
 * level is written by the flusher, or there is none, they are <b>discarded</b> (the coarser rows
 * already count the same events, or the data has simply expired); a level kept forever is never
 * touched.
 *
 * <p>Reports read a level's value from its {@linkplain #sources source levels}: a level written by
 * the flusher on its own (it counts every event), a rolled-up level together with the finer levels
 * below it, down to the first written one (each event sits in exactly one of them, because rollups
 * move rows).
 *
 * @param levels fine to coarse, at most one per granularity
 * @param configured false when {@link BucketPolicy#assumed} guessed them from the table
 */
record CounterLevels(String counter, List<Level> levels, boolean configured) {

  /** Where a level's rows come from. */
  public enum Source {
    /** The flusher writes them from events ({@code counters.<name>.buckets}). */
    FLUSH,
    /** The rollup job fills them from the next finer level. */
    ROLLUP
  }

  /** What happens to a level's rows once they pass its horizon. */
  public enum Fate {
    MOVE_UP,
    DISCARD,
    KEEP
  }

  public record Level(Granularity granularity, Source source, RetentionPeriod retention) {
    public Level {
      Objects.requireNonNull(granularity, "granularity");
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(retention, "retention");
    }
  }

  public CounterLevels {
    levels = List.copyOf(levels);
  }

  public Optional<Level> level(Granularity g) {
    return levels.stream().filter(l -> l.granularity() == g).findFirst();
  }

  /** The next kept level coarser than {@code g}. */
  public Optional<Level> coarser(Granularity g) {
    return levels.stream().filter(l -> l.granularity().ordinal() > g.ordinal()).findFirst();
  }

  /** The next kept level finer than {@code g}. */
  public Optional<Level> finer(Granularity g) {
    Level found = null;
    for (Level l : levels) {
      if (l.granularity().ordinal() < g.ordinal()) {
        found = l;
      }
    }
    return Optional.ofNullable(found);
  }

  public Fate fate(Granularity g) {
    Level l = level(g).orElseThrow();
    if (l.retention().forever()) {
      return Fate.KEEP;
    }
    return coarser(g).map(c -> c.source() == Source.ROLLUP).orElse(false)
        ? Fate.MOVE_UP
        : Fate.DISCARD;
  }

  /**
   * The instant before which rows of level {@code g} have expired: {@code now} minus the retention,
   * rounded down (UTC) to a bucket of the next coarser level, so that a move never splits a target
   * bucket between two runs. Empty for a level kept forever.
   */
  public Optional<Instant> horizon(Granularity g, Instant now) {
    Level l = level(g).orElseThrow();
    if (l.retention().forever()) {
      return Optional.empty();
    }
    Granularity unit = coarser(g).map(Level::granularity).orElse(g);
    return Optional.of(unit.truncate(now.minus(l.retention().period().get())));
  }

  /**
   * The levels whose rows, summed, give the value of this counter at {@code aligned} (or the
   * coarsest kept level finer than it): that level alone if the flusher writes it, else it and the
   * finer levels down to the first written one.
   *
   * @throws IllegalArgumentException when the counter keeps no level as fine as {@code aligned}
   */
  public List<Granularity> sources(Granularity aligned) {
    Level start = null;
    for (Level l : levels) {
      if (l.granularity().ordinal() <= aligned.ordinal()) {
        start = l;
      }
    }
    if (start == null) {
      throw new IllegalArgumentException(
          "counter "
              + counter
              + " keeps "
              + describeLevels()
              + " buckets, none as fine as "
              + aligned
              + (levels.isEmpty() ? " (it keeps its total only)" : ""));
    }
    List<Granularity> out = new ArrayList<>();
    Level current = start;
    out.add(current.granularity());
    while (current.source() == Source.ROLLUP) {
      current = finer(current.granularity()).orElseThrow();
      out.add(current.granularity());
    }
    return out;
  }

  /** Granularities only, fine to coarse, e.g. {@code [MINUTE, HOUR]}. */
  public String describeLevels() {
    return levels.stream().map(l -> l.granularity().name()).toList().toString();
  }

  /** {@code writes [MINUTE]; rolls up into [HOUR, DAY]; minute 2d, hour 90d, day forever}. */
  public String describe() {
    List<String> written = new ArrayList<>();
    List<String> rolled = new ArrayList<>();
    List<String> kept = new ArrayList<>();
    for (Level l : levels) {
      (l.source() == Source.FLUSH ? written : rolled).add(l.granularity().name());
      kept.add(yamlName(l.granularity()) + " " + l.retention());
    }
    return "writes "
        + written
        + (rolled.isEmpty() ? "" : "; rolls up into " + rolled)
        + (kept.isEmpty() ? "" : "; keeps " + String.join(", ", kept));
  }

  static String yamlName(Granularity g) {
    return g.name().toLowerCase(Locale.ROOT);
  }
}
