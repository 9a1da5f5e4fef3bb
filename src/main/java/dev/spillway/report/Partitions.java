package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.config.ReportSettings.PartitionInterval;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The partitions of {@code counter_buckets} as the catalog has them: one DEFAULT partition and
 * range partitions on {@code bucket_start}, each normally sub-partitioned by granularity into three
 * leaves ({@code m}, {@code h}, {@code d}) so that one granularity of one range can be emptied with
 * TRUNCATE. Partitions made by hand (a plain table for a range) are recognised and handled row by
 * row.
 *
 * <p>Names returned are schema-qualified and quoted by PostgreSQL ({@code quote_ident}), ready for
 * DDL.
 */
final class Partitions {
  static final String PARENT = "counter_buckets";
  private static final Pattern LIST_VALUE = Pattern.compile("FOR VALUES IN \\('(.)'\\)");

  /** A range partition [lo, hi); {@code leaves} is empty when it is a plain table. */
  record Range(String name, Instant lo, Instant hi, Map<Granularity, String> leaves) {
    boolean byGranularity() {
      return leaves.size() == Granularity.values().length;
    }
  }

  /** Every partition of the parent, ranges ordered by their lower bound. */
  record Layout(Optional<String> defaultPartition, List<Range> ranges) {
    /** The sub-ranges of [lo, hi) that no range partition covers. */
    List<Instant[]> uncovered(Instant lo, Instant hi) {
      List<Instant[]> out = new ArrayList<>();
      Instant cursor = lo;
      for (Range r : ranges) {
        if (!r.hi().isAfter(cursor) || !r.lo().isBefore(hi)) {
          continue;
        }
        if (r.lo().isAfter(cursor)) {
          out.add(new Instant[] {cursor, r.lo()});
        }
        cursor = r.hi().isAfter(cursor) ? r.hi() : cursor;
        if (!cursor.isBefore(hi)) {
          return out;
        }
      }
      if (cursor.isBefore(hi)) {
        out.add(new Instant[] {cursor, hi});
      }
      return out;
    }
  }

  private Partitions() {}

  static Layout read(Connection c, String schema) throws SQLException {
    String parent = Sql.table(schema, PARENT);
    Optional<String> dflt = Optional.empty();
    Map<String, Range> ranges = new LinkedHashMap<>();
    // pg_get_expr renders bounds in the session's TimeZone; casting them back in the same
    // session gives the exact instants whatever that zone is.
    String sql =
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), b,"
            + " CASE WHEN b ~ 'FROM \\(MINVALUE\\)' THEN '-infinity'::timestamptz"
            + "  ELSE (regexp_match(b, 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz END,"
            + " CASE WHEN b ~ 'TO \\(MAXVALUE\\)' THEN 'infinity'::timestamptz"
            + "  ELSE (regexp_match(b, 'TO \\(''([^'']+)''\\)'))[1]::timestamptz END"
            + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            + " JOIN pg_namespace n ON n.oid = c.relnamespace,"
            + " LATERAL pg_get_expr(c.relpartbound, c.oid) AS b"
            + " WHERE i.inhparent = ?::regclass";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, parent);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String name = rs.getString(1);
          if ("DEFAULT".equals(rs.getString(2))) {
            dflt = Optional.of(name);
            continue;
          }
          ranges.put(
              name,
              new Range(
                  name,
                  instant(rs.getObject(3, OffsetDateTime.class)),
                  instant(rs.getObject(4, OffsetDateTime.class)),
                  new EnumMap<>(Granularity.class)));
        }
      }
    }
    String leaves =
        "SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.relname),"
            + " quote_ident(n.nspname) || '.' || quote_ident(c.relname),"
            + " pg_get_expr(c.relpartbound, c.oid), c.relkind"
            + " FROM pg_inherits i1 JOIN pg_class p ON p.oid = i1.inhrelid"
            + " JOIN pg_namespace pn ON pn.oid = p.relnamespace"
            + " JOIN pg_inherits i2 ON i2.inhparent = p.oid JOIN pg_class c ON c.oid = i2.inhrelid"
            + " JOIN pg_namespace n ON n.oid = c.relnamespace"
            + " WHERE i1.inhparent = ?::regclass";
    try (PreparedStatement ps = c.prepareStatement(leaves)) {
      ps.setString(1, parent);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Range r = ranges.get(rs.getString(1));
          Matcher m = LIST_VALUE.matcher(rs.getString(3));
          if (r != null && m.matches() && "r".equals(rs.getString(4))) {
            r.leaves().put(Granularity.ofCode(m.group(1).charAt(0)), rs.getString(2));
          }
        }
      }
    }
    List<Range> sorted = new ArrayList<>();
    for (Range r : ranges.values()) {
      sorted.add(new Range(r.name(), r.lo(), r.hi(), Map.copyOf(r.leaves())));
    }
    sorted.sort(Comparator.comparing(Range::lo));
    return new Layout(dflt, List.copyOf(sorted));
  }

  private static Instant instant(OffsetDateTime t) {
    // pgjdbc maps -infinity/infinity to OffsetDateTime.MIN/MAX, outside Instant's comfortable range
    if (t.equals(OffsetDateTime.MIN)) {
      return Instant.MIN;
    }
    if (t.equals(OffsetDateTime.MAX)) {
      return Instant.MAX;
    }
    return t.toInstant();
  }

  /** The start (UTC) of the interval holding {@code t}. */
  static Instant floor(PartitionInterval interval, Instant t) {
    ZonedDateTime z = t.atZone(ZoneOffset.UTC).truncatedTo(ChronoUnit.DAYS);
    return (interval == PartitionInterval.MONTH ? z.withDayOfMonth(1) : z).toInstant();
  }

  /** The start of the interval after the one starting at {@code start}. */
  static Instant next(PartitionInterval interval, Instant start) {
    ZonedDateTime z = start.atZone(ZoneOffset.UTC);
    return (interval == PartitionInterval.MONTH ? z.plusMonths(1) : z.plusDays(1)).toInstant();
  }

  /** {@code counter_buckets_p20260329}, plus {@code _HHmm} for a range not starting at midnight. */
  static String nameFor(Instant lo) {
    ZonedDateTime z = lo.atZone(ZoneOffset.UTC);
    String base =
        String.format(
            "%s_p%04d%02d%02d", PARENT, z.getYear(), z.getMonthValue(), z.getDayOfMonth());
    if (z.getHour() != 0 || z.getMinute() != 0) {
      base += String.format("_%02d%02d", z.getHour(), z.getMinute());
    }
    return base;
  }
}
