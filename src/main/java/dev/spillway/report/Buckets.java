package dev.spillway.report;

import dev.spillway.Granularity;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * Time buckets of a report in its time zone, and which stored level lines up with them. Local days
 * follow the calendar (23 or 25 hours on DST change days); hours and minutes are elapsed time, so a
 * fall-back night has two 02:00 buckets with different offsets.
 */
final class Buckets {
  private Buckets() {}

  /**
   * Bucket boundaries in {@code zone}: the first at or before {@code from}, the last at or after
   * {@code to}.
   */
  static List<ZonedDateTime> of(Granularity g, ZoneId zone, Instant from, Instant to) {
    List<ZonedDateTime> out = new ArrayList<>();
    ZonedDateTime b = floor(g, from.atZone(zone));
    out.add(b);
    while (b.toInstant().isBefore(to)) {
      b = next(g, b);
      out.add(b);
      if (out.size() > Reports.MAX_BUCKETS + 1) {
        throw new IllegalArgumentException(
            "that window holds more than "
                + Reports.MAX_BUCKETS
                + " "
                + Reports.name(g)
                + " buckets; use a"
                + " coarser --granularity or a shorter window");
      }
    }
    return out;
  }

  private static ZonedDateTime floor(Granularity g, ZonedDateTime t) {
    return switch (g) {
      case MINUTE -> t.truncatedTo(ChronoUnit.MINUTES);
      case HOUR -> t.truncatedTo(ChronoUnit.HOURS);
      case DAY -> t.toLocalDate().atStartOfDay(t.getZone());
    };
  }

  private static ZonedDateTime next(Granularity g, ZonedDateTime t) {
    return switch (g) {
      case MINUTE -> t.plusMinutes(1);
      case HOUR -> t.plusHours(1); // elapsed time: both 02:00 of a fall-back night are buckets
      case DAY -> t.toLocalDate().plusDays(1).atStartOfDay(t.getZone()); // 23 h or 25 h on DST days
    };
  }

  /** The coarsest granularity, at most {@code g}, on whose UTC buckets every bound falls. */
  static Granularity aligned(Granularity g, List<ZonedDateTime> bounds) {
    for (int i = g.ordinal(); i > 0; i--) {
      Granularity candidate = Granularity.values()[i];
      if (bounds.stream().allMatch(b -> candidate.truncate(b.toInstant()).equals(b.toInstant()))) {
        return candidate;
      }
    }
    return Granularity.MINUTE;
  }

  /** Minute rows up to 1 day, hour rows up to 24 days, day rows beyond: at most ~1/24 rounding. */
  static Granularity auto(Duration length) {
    if (length.compareTo(Duration.ofDays(24)) >= 0) {
      return Granularity.DAY;
    }
    if (length.compareTo(Duration.ofHours(24)) >= 0) {
      return Granularity.HOUR;
    }
    return Granularity.MINUTE;
  }
}
