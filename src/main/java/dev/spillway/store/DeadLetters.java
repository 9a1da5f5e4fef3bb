package dev.spillway.store;

import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.AdoptMapping;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Reads dead letters, and closes them: replays (applies again, the way the flusher would have) or
 * discards. A row waits while it has no decision; closing it records the decision, who made it,
 * when and why, and a closed row is never closed again.
 *
 * <p>Exactly once, replay included: a row is applied and marked replayed in one transaction, under
 * a row lock, so two operators replaying at the same moment never apply it twice ({@code FOR UPDATE
 * SKIP LOCKED} for a routine replay, {@code FOR UPDATE} for one row).
 *
 * <p>The class of a row ({@link DeadLetterKind}) decides what a routine {@link #replay} may do:
 * only {@code unapplied} rows are applied. {@code maybe_counted} rows (a batch Redis resurrected
 * after a rollback) may already be counted; they wait for a person, who {@link #replayOne replays}
 * or {@link #discard discards} each one.
 *
 * <ul>
 *   <li>adopted values ({@code source = adopt:<mapping>}) run the mapping's current statement, so
 *       fixing the cause (inserting the missing row, correcting key-regex) and replaying works;
 *   <li>native counter rows add their delta to the total or bucket again, if it now fits;
 *   <li>rows with no integer delta (a malformed cell, a non-integer value, a quarantined key)
 *       cannot be replayed; they stay for a person to resolve (and discard).
 * </ul>
 */
public final class DeadLetters {
  static final String COLUMNS =
      "id, created_at, batch_id, source, counter, key, field, granularity::text, bucket_start,"
          + " delta, raw, reason, kind, replayed_at, decision, decided_by, decided_at,"
          + " decision_reason";

  private final DataSource dataSource;
  private final String s;
  private final DeadLetterApplier applier;
  private final DeadLetterDecisions decisions;

  public DeadLetters(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    this.s = Database.quote(schema);
    this.applier = new DeadLetterApplier(s);
    this.decisions = new DeadLetterDecisions(dataSource, s, this);
  }

  /**
   * One dead letter. {@code decision} ({@code replayed} or {@code discarded}) and the other {@code
   * decided…} fields are null while it waits.
   */
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
      DeadLetterKind kind,
      OffsetDateTime replayedAt,
      String decision,
      String decidedBy,
      OffsetDateTime decidedAt,
      String decisionReason) {

    /** True while no one has replayed or discarded the row. */
    public boolean waiting() {
      return decision == null;
    }
  }

  /**
   * Result of a routine replay. {@code leftMaybeCounted}: waiting {@code maybe_counted} rows (of
   * the same source filter) it did not touch, by design.
   */
  public record ReplayResult(
      int replayed, int failed, int notReplayable, long leftMaybeCounted, List<String> problems) {}

  /** Rows waiting for a decision, oldest first; {@code source} null for all sources. */
  public List<Row> list(String source, int limit) {
    String sql =
        "SELECT "
            + COLUMNS
            + " FROM "
            + s
            + ".dead_letter"
            + " WHERE decision IS NULL AND (?::text IS NULL OR source = ?) ORDER BY id LIMIT ?";
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

  /** One row, waiting or closed. */
  public Optional<Row> find(long id) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT " + COLUMNS + " FROM " + s + ".dead_letter WHERE id = ?")) {
      ps.setLong(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(row(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new SpillwayException("reading dead letter " + id + " failed: " + e.getMessage(), e);
    }
  }

  /** Number of rows waiting for a decision. */
  public long waiting() {
    return waitingByKind().values().stream().mapToLong(Long::longValue).sum();
  }

  /** Rows waiting for a decision, per class (every class present, zero when none wait). */
  public Map<DeadLetterKind, Long> waitingByKind() {
    Map<DeadLetterKind, Long> out = new EnumMap<>(DeadLetterKind.class);
    for (DeadLetterKind k : DeadLetterKind.values()) {
      out.put(k, 0L);
    }
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT kind, count(*) FROM "
                    + s
                    + ".dead_letter WHERE decision IS NULL GROUP BY kind");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.put(DeadLetterKind.ofSql(rs.getString(1)), rs.getLong(2));
      }
      return out;
    } catch (SQLException e) {
      throw new SpillwayException("reading dead_letter failed: " + e.getMessage(), e);
    }
  }

  /** {@link #replay(SpillwayConfig, String, String, String)} by the OS user ({@code user.name}). */
  public ReplayResult replay(SpillwayConfig config, String mapping) {
    return replay(config, mapping, System.getProperty("user.name", "unknown"), null);
  }

  /**
   * The routine replay: applies every waiting {@code unapplied} row of one adopt mapping ({@code
   * mapping} non-null) or of every source, in one transaction, each row under a savepoint, and
   * records each one replayed by {@code decidedBy}, with {@code reason} (may be null). {@code
   * maybe_counted} rows are left waiting and counted in the result.
   */
  public ReplayResult replay(
      SpillwayConfig config, String mapping, String decidedBy, String reason) {
    requireText(decidedBy, "decided-by");
    String source = mapping == null ? null : "adopt:" + mapping;
    if (mapping != null && config.adoptMapping(mapping).isEmpty()) {
      throw new IllegalArgumentException(
          "no adopt mapping named '"
              + mapping
              + "' in the configuration (configured: "
              + config.adopt().stream().map(AdoptMapping::name).toList()
              + ")");
    }
    String select =
        "SELECT "
            + COLUMNS
            + " FROM "
            + s
            + ".dead_letter"
            + " WHERE decision IS NULL AND kind = ? AND (?::text IS NULL OR source = ?)"
            + " ORDER BY id FOR UPDATE SKIP LOCKED";
    String left =
        "SELECT count(*) FROM "
            + s
            + ".dead_letter"
            + " WHERE decision IS NULL AND kind <> ? AND (?::text IS NULL OR source = ?)";
    int replayed = 0;
    int failed = 0;
    int notReplayable = 0;
    long leftMaybeCounted;
    List<String> problems = new ArrayList<>();
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        List<Row> rows = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(select)) {
          ps.setString(1, DeadLetterKind.UNAPPLIED.sql());
          ps.setString(2, source);
          ps.setString(3, source);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              rows.add(row(rs));
            }
          }
        }
        for (Row r : rows) {
          if (DeadLetterApplier.unreplayable(r).isPresent()) {
            notReplayable++; // a person must look at it
            continue;
          }
          Savepoint sp = c.setSavepoint();
          try {
            Optional<String> problem = applier.apply(c, config, r);
            if (problem.isEmpty()) {
              decisions.markReplayed(c, r.id(), decidedBy, reason);
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
            problems.add("#" + r.id() + " " + r.key() + ": " + firstLine(e));
          }
        }
        try (PreparedStatement ps = c.prepareStatement(left)) {
          ps.setString(1, DeadLetterKind.UNAPPLIED.sql());
          ps.setString(2, source);
          ps.setString(3, source);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            leftMaybeCounted = rs.getLong(1);
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
    return new ReplayResult(replayed, failed, notReplayable, leftMaybeCounted, problems);
  }

  /**
   * Applies exactly row {@code id}, whatever its class (a person decided), and records the
   * decision, in one transaction.
   *
   * @return the row as closed
   * @throws SpillwayException when the row does not exist, is already closed, or cannot be applied
   *     (then nothing changed and it still waits)
   */
  public Row replayOne(SpillwayConfig config, long id, String decidedBy, String reason) {
    requireText(decidedBy, "decided-by");
    return decisions.decide(
        id,
        (c, r) -> {
          Optional<String> never = DeadLetterApplier.unreplayable(r);
          if (never.isPresent()) {
            throw new SpillwayException(
                "dead letter "
                    + id
                    + " cannot be replayed: "
                    + never.get()
                    + "; account for it by hand, then discard it with a reason");
          }
          Optional<String> problem = applier.apply(c, config, r);
          if (problem.isPresent()) {
            throw new SpillwayException(
                "dead letter "
                    + id
                    + " still cannot be applied: "
                    + problem.get()
                    + "; nothing changed, it still waits");
          }
          decisions.markReplayed(c, id, decidedBy, reason);
        });
  }

  /**
   * Closes row {@code id} without applying it, recording who, when and why.
   *
   * @return the row as closed
   * @throws IllegalArgumentException when {@code reason} is blank
   * @throws SpillwayException when the row does not exist or is already closed
   */
  public Row discard(long id, String decidedBy, String reason) {
    requireText(decidedBy, "decided-by");
    requireText(reason, "a discard's reason");
    return decisions.decide(
        id,
        (c, r) -> {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "UPDATE "
                      + s
                      + ".dead_letter SET decision = 'discarded', decided_by = ?, decided_at ="
                      + " now(), decision_reason = ? WHERE id = ? AND decision IS NULL")) {
            ps.setString(1, DeadLetterWriter.storable(decidedBy));
            ps.setString(2, DeadLetterWriter.storable(reason));
            ps.setLong(3, id);
            if (ps.executeUpdate() != 1) {
              throw new SQLException("dead letter " + id + " changed under its row lock");
            }
          }
        });
  }

  private static void requireText(String value, String what) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(what + " must not be empty");
    }
  }

  static String firstLine(SQLException e) {
    return String.valueOf(e.getMessage()).lines().findFirst().orElse("");
  }

  static Row row(ResultSet rs) throws SQLException {
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
        DeadLetterKind.ofSql(rs.getString(13)),
        rs.getObject(14, OffsetDateTime.class),
        rs.getString(15),
        rs.getString(16),
        rs.getObject(17, OffsetDateTime.class),
        rs.getString(18));
  }
}
