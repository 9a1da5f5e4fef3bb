package dev.spillway;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * Time buckets a counter may keep besides its total. Buckets are by event time in UTC; their start
 * is the event time truncated to the granularity.
 */
public enum Granularity {
  MINUTE('m', ChronoUnit.MINUTES),
  HOUR('h', ChronoUnit.HOURS),
  DAY('d', ChronoUnit.DAYS);

  private final char code;
  private final ChronoUnit unit;

  Granularity(char code, ChronoUnit unit) {
    this.code = code;
    this.unit = unit;
  }

  /** One-letter code used in Redis cell names and in {@code counter_buckets.granularity}. */
  public char code() {
    return code;
  }

  public Instant truncate(Instant t) {
    return t.truncatedTo(unit);
  }

  /** Start of the bucket holding the given epoch minute, as epoch seconds. */
  public long bucketStartSeconds(long epochMinute) {
    return switch (this) {
      case MINUTE -> epochMinute * 60;
      case HOUR -> Math.floorDiv(epochMinute, 60) * 3600;
      case DAY -> Math.floorDiv(epochMinute, 1440) * 86400;
    };
  }

  public static Granularity ofCode(char code) {
    for (Granularity g : values()) {
      if (g.code == code) {
        return g;
      }
    }
    throw new IllegalArgumentException("unknown granularity code '" + code + "'");
  }
}
