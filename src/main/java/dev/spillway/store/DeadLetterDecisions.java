package dev.spillway.store;

import dev.spillway.SpillwayException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * The decision on one dead letter ({@code replay --id}, {@code discard}): its row locked, refused
 * when missing or already closed, changed and committed in one transaction, with who decided, when
 * and why. A closed row is never decided again.
 */
final class DeadLetterDecisions {
  private final DataSource dataSource;
  private final String s;
  private final DeadLetters owner;

  DeadLetterDecisions(DataSource dataSource, String s, DeadLetters owner) {
    this.dataSource = dataSource;
    this.s = s;
    this.owner = owner;
  }

  @FunctionalInterface
  interface Decision {
    void make(Connection c, DeadLetters.Row locked) throws SQLException;
  }

  /** Locks row {@code id}, refuses a missing or closed row, runs {@code d}, commits. */
  DeadLetters.Row decide(long id, Decision d) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        DeadLetters.Row r;
        // FOR UPDATE waits for a concurrent decision on the same row and then sees it.
        try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT "
                    + DeadLetters.COLUMNS
                    + " FROM "
                    + s
                    + ".dead_letter WHERE id = ? FOR UPDATE")) {
          ps.setLong(1, id);
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              throw new SpillwayException(
                  "there is no dead letter " + id + " (see dead-letter list)");
            }
            r = DeadLetters.row(rs);
          }
        }
        if (!r.waiting()) {
          throw new SpillwayException(
              "dead letter "
                  + id
                  + " was already "
                  + r.decision()
                  + " by "
                  + r.decidedBy()
                  + " at "
                  + r.decidedAt()
                  + ", and a closed row is never replayed or discarded again");
        }
        d.make(c, r);
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "deciding dead letter " + id + " failed: " + DeadLetters.firstLine(e), e);
    }
    return owner.find(id).orElseThrow();
  }

  void markReplayed(Connection c, long id, String decidedBy, String reason) throws SQLException {
    try (PreparedStatement mark =
        c.prepareStatement(
            "UPDATE "
                + s
                + ".dead_letter SET replayed_at = now(), decision = 'replayed',"
                + " decided_by = ?, decided_at = now(), decision_reason = ?"
                + " WHERE id = ? AND decision IS NULL")) {
      mark.setString(1, DeadLetterWriter.storable(decidedBy));
      mark.setString(2, DeadLetterWriter.storable(reason));
      mark.setLong(3, id);
      if (mark.executeUpdate() != 1) {
        // Cannot happen under the row lock; if it did, committing would apply a closed row.
        throw new SQLException("dead letter " + id + " changed under its row lock");
      }
    }
  }
}
