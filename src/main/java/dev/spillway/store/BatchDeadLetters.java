package dev.spillway.store;

import dev.spillway.SpillwayException;
import dev.spillway.layout.CellDelta;
import dev.spillway.layout.CellField;
import dev.spillway.layout.RejectedCell;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * Dead-letter rows for whole native batches: a batch PostgreSQL refuses outright ({@link
 * #deadLetterBatch}, its own transaction) and a batch a Redis rollback resurrected ({@link #all},
 * inside the apply transaction). Cells that fail one by one inside an apply are dead-lettered by
 * {@link CounterStore} itself.
 */
final class BatchDeadLetters {
  private final DataSource dataSource;
  private final Ledger ledger;
  private final DeadLetterWriter writer;

  BatchDeadLetters(DataSource dataSource, Ledger ledger, DeadLetterWriter writer) {
    this.dataSource = dataSource;
    this.ledger = ledger;
    this.writer = writer;
  }

  /**
   * Records a batch that cannot be applied at all in the ledger and sends every cell of it to
   * dead_letter with {@code reason}, in one transaction; a batch already in the ledger is left
   * alone. Returns the rows written.
   */
  int deadLetterBatch(BatchContent b, String source, String reason) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        if (!ledger.insertOne(c, b, b.claim())) {
          c.rollback();
          return 0;
        }
        List<DeadRow> dead = new ArrayList<>();
        all(b, source, reason, DeadLetterKind.UNAPPLIED, dead);
        writer.insert(c, dead);
        c.commit();
        return dead.size();
      } catch (SQLException | RuntimeException e) {
        CounterStore.rollbackQuietly(c);
        throw e;
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "dead-lettering batch " + b.batchId() + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Every cell of {@code b}, as rows of class {@code kind}. A resurrected batch's refused cells are
   * {@code maybe_counted} too: they may be copies of rows the first issue of the claim already
   * dead-lettered, and an unapplied copy would then be replayed twice. Their reason says both.
   */
  static void all(
      BatchContent b, String source, String reason, DeadLetterKind kind, List<DeadRow> dead) {
    for (CellDelta cell : b.cells()) {
      dead.add(
          new DeadRow(
              b.batchId(),
              source,
              cell.counter(),
              cell.key(),
              null,
              null,
              BigInteger.valueOf(cell.delta()),
              CellField.format(cell),
              reason,
              kind));
    }
    for (RejectedCell r : b.rejected()) {
      String why =
          kind == DeadLetterKind.UNAPPLIED
              ? r.reason()
              : reason + "; the cell itself: " + r.reason();
      dead.add(
          new DeadRow(
              b.batchId(),
              source,
              r.counter(),
              r.key(),
              null,
              null,
              parse(r.value()),
              r.raw(),
              why,
              kind));
    }
  }

  /** A refused cell's value as a number, or null when it is none. */
  static BigInteger parse(String v) {
    if (v == null) {
      return null;
    }
    try {
      return new BigInteger(v.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
