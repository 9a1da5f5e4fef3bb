package dev.spillway.store;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Tells apart, inside the apply transaction, the two kinds of batch the ledger refused: a true
 * duplicate (its id is there) and a batch resurrected by a Redis rollback (its claim number is
 * there under another id). Only reads the ledger and records resurrected ids; the caller's
 * transaction commits or rolls back everything.
 */
final class Resurrections {
  private final Ledger ledger;
  private final String ledgerLookup;

  Resurrections(String quotedSchema, Ledger ledger) {
    this.ledger = ledger;
    this.ledgerLookup =
        "SELECT batch_id, stripe, claim, cells, delta_sum, applied_at FROM "
            + quotedSchema
            + ".flush_ledger WHERE batch_id = ANY(?::text[])"
            + " OR (claim IS NOT NULL AND (stripe::text || ' ' || claim) = ANY(?::text[]))";
  }

  /** A ledger row, as far as telling a duplicate from a resurrected batch needs. */
  private record LedgerRow(
      String batchId,
      int stripe,
      String claim,
      int cells,
      BigDecimal deltaSum,
      OffsetDateTime appliedAt) {}

  /**
   * For batches the ledger refused: a true duplicate (its id is there: an earlier or concurrent run
   * applied it) adds nothing; a batch whose claim number is there under another id was resurrected
   * by a Redis rollback, so its cells go to dead_letter instead of being counted again, and its id
   * is recorded so that a retry finds it. Returns the resurrected batch ids.
   */
  Set<String> resurrected(
      Connection c, List<BatchContent> refused, String source, List<DeadRow> dead)
      throws SQLException {
    String[] ids = refused.stream().map(BatchContent::batchId).toArray(String[]::new);
    String[] claims =
        refused.stream()
            .filter(b -> b.claim() != null)
            .map(b -> b.stripe() + " " + b.claim())
            .toArray(String[]::new);
    Map<String, LedgerRow> byId = new HashMap<>();
    Map<String, LedgerRow> byClaim = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(ledgerLookup)) {
      ps.setArray(1, c.createArrayOf("text", ids));
      ps.setArray(2, c.createArrayOf("text", claims));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          LedgerRow r =
              new LedgerRow(
                  rs.getString(1),
                  rs.getInt(2),
                  rs.getString(3),
                  rs.getInt(4),
                  rs.getBigDecimal(5),
                  rs.getObject(6, OffsetDateTime.class));
          byId.put(r.batchId(), r);
          if (r.claim() != null) {
            byClaim.put(r.stripe() + " " + r.claim(), r);
          }
        }
      }
    }
    Set<String> out = new LinkedHashSet<>();
    for (BatchContent b : refused) {
      if (byId.containsKey(b.batchId())) {
        continue; // a plain duplicate
      }
      LedgerRow earlier = b.claim() == null ? null : byClaim.get(b.stripe() + " " + b.claim());
      if (earlier == null) {
        // Cannot happen (ON CONFLICT waits for the conflicting transaction to commit), but if it
        // did, acknowledging the batch could lose it: fail, and the next run tries again.
        throw new SQLException(
            "the ledger refused batch " + b.batchId() + " but holds neither its id nor its claim");
      }
      if (!ledger.insertOne(c, b, null)) {
        continue;
      }
      String reason =
          "Redis rolled back to before claim "
              + b.claim()
              + " of stripe "
              + b.stripe()
              + ", which the ledger shows applied as batch "
              + earlier.batchId()
              + " at "
              + earlier.appliedAt()
              + " ("
              + earlier.cells()
              + " cells, sum "
              + earlier.deltaSum()
              + "); this batch reissues that claim ("
              + b.size()
              + " cells, sum "
              + b.deltaSum()
              + ") and may hold counts already applied plus newer ones: not applied; compare with"
              + " the totals, then dead-letter replay --id or dead-letter discard --id";
      BatchDeadLetters.all(b, source, reason, DeadLetterKind.MAYBE_COUNTED, dead);
      out.add(b.batchId());
    }
    return out;
  }
}
