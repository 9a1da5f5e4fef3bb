package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.ReportSettings.PartitionInterval;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps {@code counter_buckets} partitioned ahead of time: creates the range partitions covering
 * now to {@code reporting.partitions.ahead} (daily or monthly, UTC), each sub-partitioned by
 * granularity; moves rows that landed in the DEFAULT partition into partitions of their own; and
 * publishes the configured levels to {@code bucket_levels} for SQL users.
 *
 * <p>The DEFAULT partition is never removed: it is what makes a flush of an unexpected {@code
 * bucket_start} (an event far in the past or future) succeed instead of failing. Because PostgreSQL
 * refuses to attach a range while DEFAULT holds rows of it, each new partition is built detached,
 * the DEFAULT rows of its range are moved into it, and it is attached, all in one transaction: a
 * reader sees the rows either in DEFAULT or in the new partition, never twice or not at all.
 *
 * <p>Locks: attaching takes SHARE UPDATE EXCLUSIVE on {@code counter_buckets} (reads and flushes
 * continue) and ACCESS EXCLUSIVE on the DEFAULT partition (flushes of rows that route to DEFAULT
 * wait for the commit). Every transaction sets {@code lock_timeout} ({@code
 * reporting.lock-timeout}) so that upkeep waiting behind a long report gives up, rather than making
 * every flush queue behind it; it tries again at its next run. Two upkeeps (two workers) are
 * serialized by a transaction-scoped advisory lock and re-read the catalog under it, so one of them
 * finds nothing left to do.
 */
public final class PartitionUpkeep {
  private static final Logger log = LoggerFactory.getLogger(PartitionUpkeep.class);

  /** Leaves are updated in place by every flush of their period; free room keeps updates HOT. */
  static final int LEAF_FILLFACTOR = 80;

  /**
   * What one run did.
   *
   * @param created partitions created (schema-qualified names)
   * @param rowsMoved rows moved from DEFAULT into partitions of their own
   * @param defaultRows rows left in DEFAULT afterwards (0 in normal operation)
   */
  public record Result(List<String> created, long rowsMoved, long defaultRows) {}

  private final DataSource dataSource;
  private final String schema;
  private final ReportSettings settings;
  private final BucketPolicy policy;
  private final InstantSource clock;

  public PartitionUpkeep(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = config.schema();
    this.settings = config.reporting();
    this.policy = BucketPolicy.of(config);
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /** One run; see {@link #run()}. */
  public static Result run(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    return new PartitionUpkeep(dataSource, config, clock).run();
  }

  /**
   * Publishes the levels, makes sure the DEFAULT partition exists, creates the partitions from the
   * current interval to now plus {@code ahead}, and gives every range that has rows in DEFAULT a
   * partition of its own.
   *
   * @throws SpillwayException when PostgreSQL refuses (lock timeout, missing migration); what was
   *     committed before stays, and the next run continues from there
   */
  public Result run() {
    publishLevels();
    ensureDefault();
    Instant now = clock.instant();
    PartitionInterval interval = settings.partitionInterval();
    TreeSet<Instant> starts = new TreeSet<>();
    Instant end = now.plus(settings.partitionsAhead());
    for (Instant s = Partitions.floor(interval, now);
        s.isBefore(end);
        s = Partitions.next(interval, s)) {
      starts.add(s);
    }
    starts.addAll(intervalsHeldByDefault(interval));
    List<String> created = new ArrayList<>();
    long moved = 0;
    for (Instant s : starts) {
      Covered c = cover(s, Partitions.next(interval, s));
      created.addAll(c.names());
      moved += c.rowsMoved();
    }
    Result r = new Result(List.copyOf(created), moved, defaultPartitionRows());
    if (!created.isEmpty() || moved > 0 || r.defaultRows() > 0) {
      log.info(
          "event=partition_upkeep schema={} created={} rows_moved_from_default={} default_rows={}",
          schema,
          created,
          moved,
          r.defaultRows());
    }
    if (r.defaultRows() > 0) {
      log.warn(
          "event=default_partition_rows schema={} rows={} hint=\"rows outside every range"
              + " partition; the next upkeep moves them (a bucket_start before 1970 or past"
              + " 9999 stays)\"",
          schema,
          r.defaultRows());
    }
    return r;
  }

  /**
   * Rows in the DEFAULT partition: 0 in normal operation. More means flushes wrote buckets no range
   * partition covered (upkeep not running, or events far in the past or future); reports still
   * count them, but they defeat partition pruning and retention by partition. For {@code doctor}.
   *
   * @return the row count, or -1 when there is no DEFAULT partition (which upkeep recreates)
   */
  public long defaultPartitionRows() {
    try (Connection c = dataSource.getConnection()) {
      var layout = Partitions.read(c, schema);
      if (layout.defaultPartition().isEmpty()) {
        return -1;
      }
      try (Statement st = c.createStatement();
          ResultSet rs =
              st.executeQuery("SELECT count(*) FROM " + layout.defaultPartition().get())) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "counting the rows of the DEFAULT partition of "
              + schema
              + ".counter_buckets failed: "
              + Sql.message(e),
          e);
    }
  }

  private List<Instant> intervalsHeldByDefault(PartitionInterval interval) {
    String unit = interval == PartitionInterval.MONTH ? "month" : "day";
    try (Connection c = dataSource.getConnection()) {
      var layout = Partitions.read(c, schema);
      if (layout.defaultPartition().isEmpty()) {
        return List.of();
      }
      List<Instant> out = new ArrayList<>();
      // Bounded by the years PostgreSQL's timestamptz and java.time both represent; rows outside
      // stay in DEFAULT (and doctor reports them).
      String sql =
          "SELECT DISTINCT date_trunc('"
              + unit
              + "', bucket_start, 'UTC') FROM "
              + layout.defaultPartition().get()
              + " WHERE bucket_start >= '1970-01-01T00:00:00Z' AND bucket_start <"
              + " '9999-01-01T00:00:00Z'";
      try (Statement st = c.createStatement();
          ResultSet rs = st.executeQuery(sql)) {
        while (rs.next()) {
          out.add(rs.getObject(1, OffsetDateTime.class).toInstant());
        }
      }
      return out;
    } catch (SQLException e) {
      throw new SpillwayException(
          "reading the DEFAULT partition of "
              + schema
              + ".counter_buckets failed: "
              + Sql.message(e),
          e);
    }
  }

  private record Covered(List<String> names, long rowsMoved) {}

  /** Creates partitions for whatever part of [lo, hi) no partition covers. */
  private Covered cover(Instant lo, Instant hi) {
    return Sql.inTransaction(
        dataSource,
        settings.lockTimeout(),
        "creating partitions of " + schema + ".counter_buckets for [" + lo + ", " + hi + ")",
        c -> {
          lockDdl(c, schema);
          var layout = Partitions.read(c, schema);
          List<Instant[]> pieces = layout.uncovered(lo, hi);
          if (pieces.isEmpty()) {
            return new Covered(List.of(), 0);
          }
          if (layout.defaultPartition().isPresent()) {
            // First, so that no flush slips a row into DEFAULT between the move and the attach;
            // and before the parent's lock, in the order a flush takes them (no deadlock).
            exec(c, "LOCK TABLE " + layout.defaultPartition().get() + " IN ACCESS EXCLUSIVE MODE");
          }
          List<String> names = new ArrayList<>();
          long[] moved = new long[1]; // per attempt: a retried transaction starts again from 0
          for (Instant[] p : pieces) {
            names.add(create(c, layout.defaultPartition().orElse(null), p[0], p[1], moved));
          }
          return new Covered(names, moved[0]);
        });
  }

  private String create(Connection c, String dflt, Instant lo, Instant hi, long[] moved)
      throws SQLException {
    String name = Partitions.nameFor(lo);
    String table = Sql.table(schema, name);
    String parent = Sql.table(schema, Partitions.PARENT);
    exec(
        c,
        "CREATE TABLE "
            + table
            + " (LIKE "
            + parent
            + " INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (granularity)");
    for (Granularity g : Granularity.values()) {
      exec(
          c,
          "CREATE TABLE "
              + Sql.table(schema, name + "_" + g.code())
              + " PARTITION OF "
              + table
              + " FOR VALUES IN ('"
              + g.code()
              + "') WITH (fillfactor = "
              + LEAF_FILLFACTOR
              + ")");
    }
    // Lets ATTACH skip scanning the new partition; dropped once attached.
    String check = name + "_bounds";
    exec(
        c,
        "ALTER TABLE "
            + table
            + " ADD CONSTRAINT "
            + Sql.ident(check)
            + " CHECK (bucket_start >= "
            + Sql.literal(lo)
            + " AND bucket_start < "
            + Sql.literal(hi)
            + ")");
    if (dflt != null) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "WITH moved AS (DELETE FROM "
                  + dflt
                  + " WHERE bucket_start >= ? AND bucket_start < ?"
                  + " RETURNING counter, key, granularity, bucket_start, value)"
                  + " INSERT INTO "
                  + table
                  + " (counter, key, granularity, bucket_start, value)"
                  + " SELECT counter, key, granularity, bucket_start, value FROM moved")) {
        ps.setObject(1, Sql.utc(lo));
        ps.setObject(2, Sql.utc(hi));
        moved[0] += ps.executeUpdate();
      }
    }
    exec(
        c,
        "ALTER TABLE "
            + parent
            + " ATTACH PARTITION "
            + table
            + " FOR VALUES FROM ("
            + Sql.literal(lo)
            + ") TO ("
            + Sql.literal(hi)
            + ")");
    exec(c, "ALTER TABLE " + table + " DROP CONSTRAINT " + Sql.ident(check));
    return schema + "." + name;
  }

  private void ensureDefault() {
    Sql.inTransaction(
        dataSource,
        settings.lockTimeout(),
        "creating the DEFAULT partition of " + schema + ".counter_buckets",
        c -> {
          lockDdl(c, schema);
          if (Partitions.read(c, schema).defaultPartition().isEmpty()) {
            exec(
                c,
                "CREATE TABLE "
                    + Sql.table(schema, Partitions.PARENT + "_default")
                    + " PARTITION OF "
                    + Sql.table(schema, Partitions.PARENT)
                    + " DEFAULT");
            log.warn("event=default_partition_recreated schema={}", schema);
          }
          return null;
        });
  }

  /** Writes {@code bucket_levels} from the configuration, so SQL users apply the same rules. */
  void publishLevels() {
    List<String> counters = new ArrayList<>();
    List<String> codes = new ArrayList<>();
    List<String> sources = new ArrayList<>();
    List<Long> seconds = new ArrayList<>();
    for (CounterLevels cl : policy.all().values()) {
      for (CounterLevels.Level l : cl.levels()) {
        counters.add(cl.counter());
        codes.add(String.valueOf(l.granularity().code()));
        sources.add(l.source() == CounterLevels.Source.FLUSH ? "flush" : "rollup");
        seconds.add(l.retention().period().map(d -> d.toSeconds()).orElse(null));
      }
    }
    String t = Sql.table(schema, "bucket_levels");
    Sql.inTransaction(
        dataSource,
        settings.lockTimeout(),
        "writing " + schema + ".bucket_levels",
        c -> {
          lockDdl(c, schema);
          try (PreparedStatement ps =
              c.prepareStatement(
                  "INSERT INTO "
                      + t
                      + " AS l (counter, granularity, source, retention) SELECT u.c, u.g::\"char\","
                      + " u.s, u.secs * interval '1 second' FROM unnest(?::text[], ?::text[],"
                      + " ?::text[], ?::bigint[]) AS u(c, g, s, secs) ON CONFLICT (counter,"
                      + " granularity) DO UPDATE SET source = excluded.source, retention ="
                      + " excluded.retention, updated_at = now() WHERE (l.source, l.retention) IS"
                      + " DISTINCT FROM (excluded.source, excluded.retention)")) {
            ps.setArray(1, c.createArrayOf("text", counters.toArray()));
            ps.setArray(2, c.createArrayOf("text", codes.toArray()));
            ps.setArray(3, c.createArrayOf("text", sources.toArray()));
            ps.setArray(4, c.createArrayOf("int8", seconds.toArray()));
            ps.executeUpdate();
          }
          try (PreparedStatement ps =
              c.prepareStatement(
                  "DELETE FROM "
                      + t
                      + " WHERE (counter, granularity::text) NOT IN"
                      + " (SELECT * FROM unnest(?::text[], ?::text[]))")) {
            ps.setArray(1, c.createArrayOf("text", counters.toArray()));
            ps.setArray(2, c.createArrayOf("text", codes.toArray()));
            ps.executeUpdate();
          }
          return null;
        });
  }

  /**
   * Serializes partition DDL of one schema across processes (upkeep and retention), for the length
   * of the transaction. Correctness does not rest on it: every step re-reads the catalog under it,
   * and overlapping DDL would fail in PostgreSQL rather than corrupt anything.
   */
  static void lockDdl(Connection c, String schema) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
      ps.setString(1, "spillway.partitions." + schema);
      ps.execute();
    }
  }

  static void exec(Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }
}
