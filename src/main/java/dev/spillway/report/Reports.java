package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.ExportSettings;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.InstantSource;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The report queries: top keys, a time series, a total. Read-only; one short statement each.
 *
 * <p><b>Which rows are read.</b> A window is served by the coarsest bucket level whose buckets line
 * up with the requested boundaries (UTC hours line up with Europe/Berlin hours, UTC days do not
 * line up with Europe/Berlin days, and nothing coarser than minutes lines up with Asia/Kolkata
 * hours), among the levels the counter keeps ({@link CounterLevels#sources}). A {@link
 * Window.Since} window is widened at its start to a whole bucket of that level, and the report says
 * so in a note.
 *
 * <p><b>Indexes.</b> Top-N and key-less series filter on (counter, granularity, bucket_start range)
 * and use {@code counter_buckets_window}; a one-key series uses the primary key (counter, key,
 * granularity, bucket_start). Both prune to the range partitions of the window and the granularity
 * leaves of the levels read. All-time top and totals read {@code counter_totals} by its primary
 * key.
 *
 * <p>Levels of a counter come from {@code counters:} when defined there, else from {@code
 * bucket_levels} (published by the worker's partition upkeep), else from the granularities found in
 * the table (assumed written by the flusher, with a note).
 *
 * <p>This class runs the top and total reports and holds what all three share; the series report is
 * {@link SeriesReport}, the choice of rows for a window {@link ReportSpans}.
 */
public final class Reports {
  /** A series longer than this is refused: ask for a coarser granularity. */
  public static final int MAX_BUCKETS = 100_000;

  static final DateTimeFormatter TIME = DateTimeFormatter.ISO_OFFSET_DATE_TIME;

  private final DataSource dataSource;
  private final String schema;
  private final LevelLookup lookup;
  private final ReportSpans spans;
  private final SeriesReport series;

  public Reports(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = config.schema();
    this.lookup = new LevelLookup(config.schema(), BucketPolicy.of(config));
    Objects.requireNonNull(clock, "clock");
    this.spans = new ReportSpans(clock);
    this.series = new SeriesReport(schema, lookup, clock, spans);
  }

  /**
   * Runs {@code r}.
   *
   * @throws IllegalArgumentException when the request cannot be answered from what the counter
   *     keeps (the message names the counter, what it keeps and what was asked)
   * @throws SpillwayException when PostgreSQL fails
   */
  public Report run(ReportRequest r) {
    try (Connection c = dataSource.getConnection()) {
      c.setReadOnly(true);
      return switch (r.kind()) {
        case TOP -> top(c, r);
        case SERIES -> series.run(c, r);
        case TOTAL -> total(c, r);
      };
    } catch (SQLException e) {
      throw new SpillwayException(
          "the "
              + r.kind().name().toLowerCase(Locale.ROOT)
              + " report of "
              + r.counter()
              + " failed in PostgreSQL: "
              + Sql.message(e),
          e);
    }
  }

  // --- top ------------------------------------------------------------------------------------

  private Report top(Connection c, ReportRequest r) throws SQLException {
    List<String> notes = new ArrayList<>();
    Map<String, String> params = params(r);
    List<List<Object>> rows = new ArrayList<>();
    if (r.window() instanceof Window.AllTime) {
      params.put("source", "counter_totals");
      String sql =
          "SELECT key, total FROM "
              + Sql.table(schema, "counter_totals")
              + " WHERE counter = ? ORDER BY total DESC, key LIMIT ?";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setString(1, r.counter());
        ps.setInt(2, r.limit());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(
                List.of(
                    BigInteger.valueOf(rows.size() + 1),
                    rs.getString(1),
                    BigInteger.valueOf(rs.getLong(2))));
          }
        }
      }
    } else {
      CounterLevels cl = lookup.levels(c, r.counter(), notes);
      ReportSpans.Span s = spans.span(cl, r, notes);
      describe(params, s, r.zone());
      try (PreparedStatement ps = c.prepareStatement(topSql(s.sources()))) {
        ps.setString(1, r.counter());
        ps.setObject(2, Sql.utc(s.from()));
        ps.setObject(3, Sql.utc(s.to()));
        ps.setInt(4, r.limit());
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(
                List.of(
                    BigInteger.valueOf(rows.size() + 1),
                    rs.getString(1),
                    big(rs.getBigDecimal(2))));
          }
        }
      }
    }
    if (rows.isEmpty()) {
      notes.add("no key of " + r.counter() + " has counts in this window");
    }
    return new Report(
        r.kind(),
        "Top " + r.limit() + " keys of " + r.counter(),
        params,
        List.of(
            new Report.Column("rank", Report.Type.INTEGER),
            new Report.Column("key", Report.Type.TEXT),
            new Report.Column("value", Report.Type.INTEGER)),
        rows,
        notes);
  }

  /** The top-N statement: parameters counter, from, to, limit. For the EXPLAIN test too. */
  String topSql(List<Granularity> sources) {
    return "SELECT key, sum(value) AS value FROM "
        + Sql.table(schema, Partitions.PARENT)
        + " WHERE counter = ? AND granularity IN "
        + Sql.codes(sources)
        + " AND bucket_start >= ? AND bucket_start < ?"
        + " GROUP BY key ORDER BY value DESC, key LIMIT ?";
  }

  /** The series statement ({@link SeriesReport#sql}). For the EXPLAIN test too. */
  String seriesSql(boolean oneKey, List<Granularity> sources) {
    return series.sql(oneKey, sources);
  }

  // --- total ----------------------------------------------------------------------------------

  private Report total(Connection c, ReportRequest r) throws SQLException {
    List<String> notes = new ArrayList<>();
    Map<String, String> params = params(r);
    BigInteger value;
    long keys = 0;
    if (r.window() instanceof Window.AllTime) {
      params.put("source", "counter_totals");
      String t = Sql.table(schema, "counter_totals");
      if (r.key().isPresent()) {
        try (PreparedStatement ps =
            c.prepareStatement("SELECT total FROM " + t + " WHERE counter = ? AND key = ?")) {
          ps.setString(1, r.counter());
          ps.setString(2, r.key().get());
          try (ResultSet rs = ps.executeQuery()) {
            value = rs.next() ? BigInteger.valueOf(rs.getLong(1)) : BigInteger.ZERO;
          }
        }
      } else {
        try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*), coalesce(sum(total), 0) FROM " + t + " WHERE counter = ?")) {
          ps.setString(1, r.counter());
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            keys = rs.getLong(1);
            value = big(rs.getBigDecimal(2));
          }
        }
      }
    } else {
      CounterLevels cl = lookup.levels(c, r.counter(), notes);
      ReportSpans.Span s = spans.span(cl, r, notes);
      describe(params, s, r.zone());
      String sql =
          "SELECT count(DISTINCT key), coalesce(sum(value), 0) FROM "
              + Sql.table(schema, Partitions.PARENT)
              + " WHERE counter = ?"
              + (r.key().isPresent() ? " AND key = ?" : "")
              + " AND granularity IN "
              + Sql.codes(s.sources())
              + " AND bucket_start >= ? AND bucket_start < ?";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        int i = 1;
        ps.setString(i++, r.counter());
        if (r.key().isPresent()) {
          ps.setString(i++, r.key().get());
        }
        ps.setObject(i++, Sql.utc(s.from()));
        ps.setObject(i, Sql.utc(s.to()));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          keys = rs.getLong(1);
          value = big(rs.getBigDecimal(2));
        }
      }
    }
    List<Report.Column> columns = new ArrayList<>();
    List<Object> row = new ArrayList<>();
    columns.add(new Report.Column("counter", Report.Type.TEXT));
    row.add(r.counter());
    if (r.key().isPresent()) {
      columns.add(new Report.Column("key", Report.Type.TEXT));
      row.add(r.key().get());
    } else {
      columns.add(new Report.Column("keys", Report.Type.INTEGER));
      row.add(BigInteger.valueOf(keys));
    }
    columns.add(new Report.Column("value", Report.Type.INTEGER));
    row.add(value);
    return new Report(
        r.kind(),
        "Total of " + r.counter() + r.key().map(k -> " / " + k).orElse(""),
        params,
        columns,
        List.of(row),
        notes);
  }

  // --- shared ---------------------------------------------------------------------------------

  private static void describe(Map<String, String> params, ReportSpans.Span s, ZoneId zone) {
    params.put("from", TIME.format(s.from().atZone(zone)));
    params.put("to", TIME.format(s.to().atZone(zone)));
    params.put("source", source(s.sources()));
  }

  static Map<String, String> params(ReportRequest r) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("report", r.kind().name().toLowerCase(Locale.ROOT));
    p.put("counter", r.counter());
    r.key().ifPresent(k -> p.put("key", k));
    if (r.kind() == ExportSettings.Kind.TOP) {
      p.put("limit", Integer.toString(r.limit()));
    }
    p.put("time zone", zoneName(r.zone()));
    return p;
  }

  static BigInteger big(BigDecimal d) {
    return d == null ? BigInteger.ZERO : d.toBigIntegerExact();
  }

  /** {@code hour rows}, {@code day + hour + minute rows}: which bucket rows were summed. */
  static String source(List<Granularity> sources) {
    return String.join(" + ", sources.stream().map(Reports::name).toList()) + " rows";
  }

  /** {@code UTC} rather than Java's {@code Z}. */
  static String zoneName(ZoneId z) {
    return z.equals(ZoneOffset.UTC) ? "UTC" : z.getId();
  }

  static String name(Granularity g) {
    return g.name().toLowerCase(Locale.ROOT);
  }
}
