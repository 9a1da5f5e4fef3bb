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
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
 */
public final class Reports {
  /** A series longer than this is refused: ask for a coarser granularity. */
  public static final int MAX_BUCKETS = 100_000;

  static final DateTimeFormatter TIME = DateTimeFormatter.ISO_OFFSET_DATE_TIME;

  private final DataSource dataSource;
  private final String schema;
  private final LevelLookup lookup;
  private final InstantSource clock;

  public Reports(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = config.schema();
    this.lookup = new LevelLookup(config.schema(), BucketPolicy.of(config));
    this.clock = Objects.requireNonNull(clock, "clock");
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
        case SERIES -> series(c, r);
        case TOTAL -> total(c, r);
      };
    } catch (SQLException e) {
      throw new SpillwayException(
          "the "
              + r.kind().name().toLowerCase(java.util.Locale.ROOT)
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
      Span s = span(cl, r, notes);
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

  // --- series ---------------------------------------------------------------------------------

  private Report series(Connection c, ReportRequest r) throws SQLException {
    List<String> notes = new ArrayList<>();
    Map<String, String> params = params(r);
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
              + name(g)
              + " in "
              + zoneName(r.zone())
              + " needs "
              + aligned
              + " rows or finer"
              + (aligned != g
                  ? " ("
                      + zoneName(r.zone())
                      + " "
                      + name(g)
                      + "s do not start on UTC "
                      + name(g)
                      + "s)"
                  : "")
              + ", but "
              + r.counter()
              + " keeps "
              + cl.describeLevels());
    }
    Instant first = bounds.get(0).toInstant();
    Instant end = bounds.get(bounds.size() - 1).toInstant();
    params.put("granularity", name(g));
    params.put("from", TIME.format(bounds.get(0)));
    params.put("to", TIME.format(bounds.get(bounds.size() - 1)));
    params.put("source", source(sources));
    if (!first.equals(from) || !end.equals(to)) {
      notes.add(
          "window widened to whole "
              + name(g)
              + "s in "
              + zoneName(r.zone())
              + ": "
              + TIME.format(bounds.get(0))
              + " to "
              + TIME.format(bounds.get(bounds.size() - 1)));
    }
    incomplete(cl, sources.get(0), first, notes);
    String sql = seriesSql(r.key().isPresent(), sources);
    BigInteger[] values = new BigInteger[bounds.size() - 1];
    java.util.Arrays.fill(values, BigInteger.ZERO);
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
            values[bucket - 1] = big(rs.getBigDecimal(2));
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
        r.counter() + (r.key().map(k -> " / " + k).orElse(" (all keys)")) + " per " + name(g),
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
  String seriesSql(boolean oneKey, List<Granularity> sources) {
    return "SELECT width_bucket(bucket_start, (SELECT ?::text[]::timestamptz[])) AS i, sum(value)"
        + " FROM "
        + Sql.table(schema, Partitions.PARENT)
        + " WHERE counter = ?"
        + (oneKey ? " AND key = ?" : "")
        + " AND granularity IN "
        + Sql.codes(sources)
        + " AND bucket_start >= ? AND bucket_start < ? GROUP BY 1";
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
      Span s = span(cl, r, notes);
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

  /** A resolved window: [from, to) on bucket boundaries of {@code sources.get(0)}. */
  record Span(Instant from, Instant to, List<Granularity> sources) {}

  private Span span(CounterLevels cl, ReportRequest r, List<String> notes) {
    Instant now = clock.instant();
    Instant from;
    Instant to;
    Granularity wanted;
    boolean auto = r.granularity().isEmpty();
    if (r.window() instanceof Window.Since s) {
      from = now.minus(s.length());
      to = now;
      wanted = r.granularity().orElseGet(() -> Buckets.auto(s.length()));
    } else {
      Window.Between b = (Window.Between) r.window();
      from = b.from();
      to = b.to();
      wanted =
          r.granularity()
              .orElseGet(
                  () ->
                      Buckets.aligned(
                          Granularity.DAY, List.of(from.atZone(r.zone()), to.atZone(r.zone()))));
    }
    List<Granularity> sources;
    try {
      sources = cl.sources(wanted);
    } catch (IllegalArgumentException e) {
      if (!auto || cl.levels().isEmpty()) {
        throw new IllegalArgumentException(
            "the window of this report needs "
                + wanted
                + " rows or finer"
                + (r.window() instanceof Window.Between
                    ? " (its bounds are " + wanted + " boundaries in UTC)"
                    : "")
                + ", but "
                + r.counter()
                + " keeps "
                + cl.describeLevels()
                + (cl.levels().isEmpty()
                    ? " (its total only; drop the" + " window to read counter_totals)"
                    : ""));
      }
      // Auto-chosen level finer than anything kept: read the finest kept level, widened.
      sources = cl.sources(cl.levels().get(0).granularity());
    }
    Granularity top = sources.get(0);
    Instant f = top.truncate(from);
    Instant t = to;
    if (r.window() instanceof Window.Between && !top.truncate(to).equals(to)) {
      t =
          top.truncate(to)
              .plus(
                  top == Granularity.DAY
                      ? Duration.ofDays(1)
                      : top == Granularity.HOUR ? Duration.ofHours(1) : Duration.ofMinutes(1));
    }
    if (!f.equals(from) || !t.equals(to)) {
      notes.add(
          "window widened to whole "
              + name(top)
              + "s (UTC): "
              + TIME.format(f.atZone(r.zone()))
              + " to "
              + TIME.format(t.atZone(r.zone()))
              + (r.window() instanceof Window.Since ? " (now)" : ""));
    }
    incomplete(cl, top, f, notes);
    return new Span(f, t, sources);
  }

  private void incomplete(CounterLevels cl, Granularity level, Instant from, List<String> notes) {
    if (cl.level(level).isEmpty()) {
      return;
    }
    Optional<Instant> horizon = cl.horizon(level, clock.instant());
    if (horizon.isPresent() && from.isBefore(horizon.get())) {
      notes.add(
          level
              + " rows of "
              + cl.counter()
              + " before "
              + horizon.get()
              + " have been rolled"
              + " up or removed (retention "
              + cl.level(level).get().retention()
              + "); the report is"
              + " incomplete before that instant");
    }
  }

  private static void describe(Map<String, String> params, Span s, ZoneId zone) {
    params.put("from", TIME.format(s.from().atZone(zone)));
    params.put("to", TIME.format(s.to().atZone(zone)));
    params.put("source", source(s.sources()));
  }

  private static Map<String, String> params(ReportRequest r) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("report", r.kind().name().toLowerCase(java.util.Locale.ROOT));
    p.put("counter", r.counter());
    r.key().ifPresent(k -> p.put("key", k));
    if (r.kind() == ExportSettings.Kind.TOP) {
      p.put("limit", Integer.toString(r.limit()));
    }
    p.put("time zone", zoneName(r.zone()));
    return p;
  }

  private static BigInteger big(BigDecimal d) {
    return d == null ? BigInteger.ZERO : d.toBigIntegerExact();
  }

  /** {@code hour rows}, {@code day + hour + minute rows}: which bucket rows were summed. */
  static String source(List<Granularity> sources) {
    return String.join(" + ", sources.stream().map(Reports::name).toList()) + " rows";
  }

  /** {@code UTC} rather than Java's {@code Z}. */
  static String zoneName(ZoneId z) {
    return z.equals(java.time.ZoneOffset.UTC) ? "UTC" : z.getId();
  }

  static String name(Granularity g) {
    return g.name().toLowerCase(java.util.Locale.ROOT);
  }
}
