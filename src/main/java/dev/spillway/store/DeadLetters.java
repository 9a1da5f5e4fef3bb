package dev.spillway.store;

import dev.spillway.AdoptMapping;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Reads and replays {@code dead_letter}. A replay applies a row again, the way the flusher would
 * have, and marks it replayed in the same transaction, so a row is replayed at most once even when
 * two operators run replay at the same moment ({@code FOR UPDATE SKIP LOCKED}). A row that still
 * cannot be applied is left waiting, with the new reason reported.
 *
 * <ul>
 *   <li>adopted values ({@code source = adopt:<mapping>}) run the mapping's current statement, so
 *       fixing the cause (inserting the missing row, correcting key-regex) and replaying works;
 *   <li>native counter rows add their delta to the total or bucket again, if it now fits;
 *   <li>rows with no integer delta (a malformed cell, a non-integer value, a quarantined key) cannot
 *       be replayed; they stay for a person to resolve.
 * </ul>
 */
public final class DeadLetters {
  private final DataSource dataSource;
  private final String s;

  public DeadLetters(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    this.s = Database.quote(schema);
  }

  /** One waiting (or replayed) dead letter. */
  public record Row(
      long id,
      OffsetDateTime createdAt,
      String batchId,
      String source,
      String counter,
      String key,
      String field,
      String granularity,
      OffsetDateTime bucketStart,
      BigDecimal delta,
      String raw,
      String reason,
      OffsetDateTime replayedAt) {}

  /** Result of a replay run. */
  public record ReplayResult(int replayed, int failed, int notReplayable, List<String> problems) {}

  /** Rows waiting for a replay, oldest first; {@code source} null for all sources. */
  public List<Row> list(String source, int limit) {
    String sql =
        "SELECT id, created_at, batch_id, source, counter, key, field, granularity::text,"
            + " bucket_start, delta, raw, reason, replayed_at FROM " + s + ".dead_letter"
            + " WHERE replayed_at IS NULL AND (?::text IS NULL OR source = ?) ORDER BY id LIMIT ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, source);
      ps.setString(2, source);
      ps.setInt(3, limit);
      List<Row> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(row(rs));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new SpillwayException("reading dead_letter failed: " + e.getMessage(), e);
    }
  }

  /** Number of rows waiting for a replay. */
  public long waiting() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM " + s + ".dead_letter WHERE replayed_at IS NULL");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new SpillwayException("reading dead_letter failed: " + e.getMessage(), e);
    }
  }

  /**
   * Replays waiting rows of one adopt mapping ({@code mapping} non-null) or of every source, in
   * one transaction, each row under a savepoint.
   */
  public ReplayResult replay(SpillwayConfig config, String mapping) {
    String source = mapping == null ? null : "adopt:" + mapping;
    if (mapping != null && config.adoptMapping(mapping).isEmpty()) {
      throw new IllegalArgumentException(
          "no adopt mapping named '" + mapping + "' in the configuration (configured: "
              + config.adopt().stream().map(AdoptMapping::name).toList() + ")");
    }
    String select =
        "SELECT id, created_at, batch_id, source, counter, key, field, granularity::text,"
            + " bucket_start, delta, raw, reason, replayed_at FROM " + s + ".dead_letter"
            + " WHERE replayed_at IS NULL AND (?::text IS NULL OR source = ?)"
            + " ORDER BY id FOR UPDATE SKIP LOCKED";
    int replayed = 0;
    int failed = 0;
    int notReplayable = 0;
    List<String> problems = new ArrayList<>();
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        List<Row> rows = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(select)) {
          ps.setString(1, source);
          ps.setString(2, source);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              rows.add(row(rs));
            }
          }
        }
        for (Row r : rows) {
          boolean nativeRow = !r.source().startsWith("adopt:");
          if (r.delta() == null || r.key() == null || (nativeRow && r.counter() == null)) {
            notReplayable++; // no integer delta, or no target: a person must look at it
            continue;
          }
          Savepoint sp = c.setSavepoint();
          try {
            Optional<String> problem = applyRow(c, config, r);
            if (problem.isEmpty()) {
              try (PreparedStatement mark =
                  c.prepareStatement("UPDATE " + s + ".dead_letter SET replayed_at = now() WHERE id = ?")) {
                mark.setLong(1, r.id());
                mark.executeUpdate();
              }
              c.releaseSavepoint(sp);
              replayed++;
            } else {
              c.rollback(sp);
              failed++;
              problems.add("#" + r.id() + " " + r.key() + ": " + problem.get());
            }
          } catch (SQLException e) {
            c.rollback(sp);
            failed++;
            problems.add("#" + r.id() + " " + r.key() + ": " + e.getMessage().lines().findFirst().orElse(""));
          }
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException e) {
      throw new SpillwayException("replaying dead letters failed: " + e.getMessage(), e);
    }
    return new ReplayResult(replayed, failed, notReplayable, problems);
  }

  /** Applies one row; returns why it still cannot be applied, if so. */
  private Optional<String> applyRow(Connection c, SpillwayConfig config, Row r) throws SQLException {
    long delta;
    try {
      delta = r.delta().longValueExact();
    } catch (ArithmeticException e) {
      return Optional.of("delta does not fit a bigint");
    }
    if (r.source().startsWith("adopt:")) {
      String name = r.source().substring("adopt:".length());
      Optional<AdoptMapping> m = config.adoptMapping(name);
      if (m.isEmpty()) {
        return Optional.of("adopt mapping '" + name + "' is no longer configured");
      }
      var groups = m.get().keyRegex().match(r.key());
      if (groups.isEmpty()) {
        return Optional.of("key still does not match key-regex " + m.get().keyRegex());
      }
      AdoptStore.Statement st = AdoptStore.statementOf(m.get());
      try (PreparedStatement ps = c.prepareStatement(st.sql())) {
        AdoptStore.bind(ps, st, new AdoptStore.Exec(r.batchId(), r.source(),
            new AdoptedCell(r.key(), r.field(), Long.toString(delta), null), delta, groups.get()));
        return ps.executeUpdate() == 0
            ? Optional.of("statement still updates no row")
            : Optional.empty();
      }
    }
    if (r.raw() != null && r.granularity() == null) {
      // A whole cell (refused by Redis, or from a batch Redis resurrected): its total and every
      // bucket it fans out to, together.
      Object parsed = dev.spillway.counter.CellField.parse(stripBang(r.raw()), Long.toString(delta));
      if (parsed instanceof CellDelta cell) {
        return applyCell(c, cell);
      }
    }
    String guard = " BETWEEN -9223372036854775808 AND 9223372036854775807";
    String sql =
        r.granularity() == null
            ? "UPDATE " + s + ".counter_totals SET total = total + ?, updated_at = now()"
                + " WHERE counter = ? AND key = ? AND total::numeric + ?" + guard
            : "UPDATE " + s + ".counter_buckets SET value = value + ?"
                + " WHERE counter = ? AND key = ? AND value::numeric + ?" + guard
                + " AND granularity = ?::\"char\" AND bucket_start = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, delta);
      ps.setString(2, r.counter());
      ps.setString(3, r.key());
      ps.setLong(4, delta);
      if (r.granularity() != null) {
        ps.setString(5, r.granularity());
        ps.setObject(6, r.bucketStart());
      }
      return ps.executeUpdate() == 0
          ? Optional.of("the total would still overflow bigint (or the row is gone)")
          : Optional.empty();
    }
  }

  private static String stripBang(String raw) {
    if (raw.startsWith("!")) {
      int p = raw.indexOf('|');
      return p < 0 ? raw : raw.substring(p + 1);
    }
    return raw;
  }

  private Optional<String> applyCell(Connection c, CellDelta cell) throws SQLException {
    String guard = " BETWEEN -9223372036854775808 AND 9223372036854775807";
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO " + s + ".counter_totals AS t (counter, key, total) VALUES (?, ?, ?)"
                + " ON CONFLICT (counter, key) DO UPDATE SET total = t.total + excluded.total,"
                + " updated_at = now() WHERE t.total::numeric + excluded.total" + guard)) {
      ps.setString(1, cell.counter());
      ps.setString(2, cell.key());
      ps.setLong(3, cell.delta());
      if (ps.executeUpdate() == 0) {
        return Optional.of("the total would still overflow bigint");
      }
    }
    for (int i = 0; i < cell.bucketCodes().length(); i++) {
      dev.spillway.Granularity g = dev.spillway.Granularity.ofCode(cell.bucketCodes().charAt(i));
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO " + s + ".counter_buckets AS t (counter, key, granularity, bucket_start,"
                  + " value) VALUES (?, ?, ?::\"char\", to_timestamp(?), ?)"
                  + " ON CONFLICT (counter, key, granularity, bucket_start) DO UPDATE"
                  + " SET value = t.value + excluded.value WHERE t.value::numeric + excluded.value"
                  + guard)) {
        ps.setString(1, cell.counter());
        ps.setString(2, cell.key());
        ps.setString(3, String.valueOf(g.code()));
        ps.setLong(4, g.bucketStartSeconds(cell.epochMinute()));
        ps.setLong(5, cell.delta());
        if (ps.executeUpdate() == 0) {
          return Optional.of("the " + g + " bucket would still overflow bigint");
        }
      }
    }
    return Optional.empty();
  }

  private static Row row(ResultSet rs) throws SQLException {
    return new Row(
        rs.getLong(1),
        rs.getObject(2, OffsetDateTime.class),
        rs.getString(3),
        rs.getString(4),
        rs.getString(5),
        rs.getString(6),
        rs.getString(7),
        rs.getString(8),
        rs.getObject(9, OffsetDateTime.class),
        rs.getBigDecimal(10),
        rs.getString(11),
        rs.getString(12),
        rs.getObject(13, OffsetDateTime.class));
  }
}
