package dev.spillway.report;

import dev.spillway.Granularity;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The time-series report of {@link Reports}: the bucket boundaries of the requested granularity in
 * the report's time zone (whole buckets, widened with a note), the coarsest kept level whose rows
 * line up with them, and one statement that sums those rows per bucket.
 */
final class SeriesReport {
  private final String schema;
  private final LevelLookup lookup;
  private final InstantSource clock;
  private final ReportSpans spans;

  SeriesReport(String schema, LevelLookup lookup, InstantSource clock, ReportSpans spans) {
    this.schema = schema;
    this.lookup = lookup;
    this.clock = clock;
    this.spans = spans;
  }

  Report run(Connection c, ReportRequest r) throws SQLException {
    List<String> notes = new ArrayList<>();
    Map<String, String> params = Reports.params(r);
    CounterLevels cl = lookup.levels(c, r.counter(), notes);
    Instant now = clock.instant();
    Instant from;
    Instant to;
    if (r.window() instanceof Window.Since s) {
      from = now.minus(s.length());
      to = now;
    } else {
      Window.Between b = (Window.Between) r.window();
      from = b.from();
      to = b.to();
    }
    Granularity g = r.granularity().orElseGet(() -> Buckets.auto(Duration.between(from, to)));
    List<ZonedDateTime> bounds = Buckets.of(g, r.zone(), from, to);
    Granularity aligned = Buckets.aligned(g, bounds);
    List<Granularity> sources;
    try {
      sources = cl.sources(aligned);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "a series of "
              + r.counter()
              + " per "
              + Reports.name(g)
              + " in "
              + Reports.zoneName(r.zone())
              + " needs "
              + aligned
              + " rows or finer"
              + (aligned != g
                  ? " ("
                      + Reports.zoneName(r.zone())
                      + " "
                      + Reports.name(g)
                      + "s do not start on UTC "
                      + Reports.name(g)
                      + "s)"
                  : "")
              + ", but "
              + r.counter()
              + " keeps "
              + cl.describeLevels());
    }
    Instant first = bounds.get(0).toInstant();
    Instant end = bounds.get(bounds.size() - 1).toInstant();
    params.put("granularity", Reports.name(g));
    params.put("from", Reports.TIME.format(bounds.get(0)));
    params.put("to", Reports.TIME.format(bounds.get(bounds.size() - 1)));
    params.put("source", Reports.source(sources));
    if (!first.equals(from) || !end.equals(to)) {
      notes.add(
          "window widened to whole "
              + Reports.name(g)
              + "s in "
              + Reports.zoneName(r.zone())
              + ": "
              + Reports.TIME.format(bounds.get(0))
              + " to "
              + Reports.TIME.format(bounds.get(bounds.size() - 1)));
    }
    spans.incomplete(cl, sources.get(0), first, notes);
    String sql = sql(r.key().isPresent(), sources);
    BigInteger[] values = new BigInteger[bounds.size() - 1];
    Arrays.fill(values, BigInteger.ZERO);
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      ps.setArray(
          i++,
          c.createArrayOf("text", bounds.stream().map(b -> b.toInstant().toString()).toArray()));
      ps.setString(i++, r.counter());
      if (r.key().isPresent()) {
        ps.setString(i++, r.key().get());
      }
      ps.setObject(i++, Sql.utc(first));
      ps.setObject(i, Sql.utc(end));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          int bucket = rs.getInt(1);
          if (bucket >= 1 && bucket <= values.length) {
            values[bucket - 1] = Reports.big(rs.getBigDecimal(2));
          }
        }
      }
    }
    List<List<Object>> rows = new ArrayList<>();
    for (int i = 0; i < values.length; i++) {
      rows.add(List.of(bounds.get(i), bounds.get(i + 1), values[i]));
    }
    return new Report(
        r.kind(),
        r.counter()
            + (r.key().map(k -> " / " + k).orElse(" (all keys)"))
            + " per "
            + Reports.name(g),
        params,
        List.of(
            new Report.Column("bucket_start", Report.Type.TIME),
            new Report.Column("bucket_end", Report.Type.TIME),
            new Report.Column("value", Report.Type.INTEGER)),
        rows,
        notes);
  }

  /**
   * The series statement: parameters boundaries (text[] of ISO instants), counter, [key], from, to.
   * The boundaries are cast once, in a sub-select: a text-to-timestamptz cast is only STABLE, so
   * written inline PostgreSQL would redo it for every row (measured: 7 times slower over 168,000
   * rows).
   */
  String sql(boolean oneKey, List<Granularity> sources) {
    return "SELECT width_bucket(bucket_start, (SELECT ?::text[]::timestamptz[])) AS i, sum(value)"
        + " FROM "
        + Sql.table(schema, Partitions.PARENT)
        + " WHERE counter = ?"
        + (oneKey ? " AND key = ?" : "")
        + " AND granularity IN "
        + Sql.codes(sources)
        + " AND bucket_start >= ? AND bucket_start < ? GROUP BY 1";
  }
}
