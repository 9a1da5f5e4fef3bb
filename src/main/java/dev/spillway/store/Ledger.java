package dev.spillway.store;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@code flush_ledger} insert shared by native and adopted batches: one set-based statement for
 * all batches of a transaction, in id order (so concurrent flushers lock in the same order),
 * returning the ids that were new. No conflict target: an id already there, or a claim number
 * already there (Redis rolled back and reissued it), both leave the row out, and the caller tells
 * them apart.
 */
final class Ledger {
  /** One ledger row to insert; {@code claim} is null for batches not claimed from a stripe. */
  record Entry(String batchId, int stripe, int cells, BigDecimal deltaSum, String claim) {}

  private final String insert;
  private final String insertOne;

  Ledger(String quotedSchema) {
    this.insert =
        "INSERT INTO "
            + quotedSchema
            + ".flush_ledger (batch_id, stripe, cells, delta_sum, claim)"
            + " SELECT * FROM unnest(?::text[], ?::int[], ?::int[], ?::numeric[], ?::text[])"
            + " AS u(b, s, c, d, cl) ORDER BY 1 ON CONFLICT DO NOTHING RETURNING batch_id";
    this.insertOne =
        "INSERT INTO "
            + quotedSchema
            + ".flush_ledger (batch_id, stripe, cells, delta_sum, claim) VALUES (?, ?, ?, ?, ?)"
            + " ON CONFLICT DO NOTHING RETURNING batch_id";
  }

  /**
   * Inserts the ledger row of one native batch under {@code claim} (null: recorded without its
   * claim number, as a resurrected batch is); false when the ledger refused it.
   */
  boolean insertOne(Connection c, BatchContent b, String claim) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(insertOne)) {
      ps.setString(1, b.batchId());
      ps.setInt(2, b.stripe());
      ps.setInt(3, b.size());
      ps.setBigDecimal(4, new BigDecimal(b.deltaSum()));
      ps.setString(5, claim);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  /** Inserts the entries; returns the ids that were not in the ledger yet. */
  Set<String> insert(Connection c, List<Entry> entries) throws SQLException {
    int n = entries.size();
    String[] ids = new String[n];
    Integer[] stripes = new Integer[n];
    Integer[] cells = new Integer[n];
    BigDecimal[] sums = new BigDecimal[n];
    String[] claims = new String[n];
    for (int i = 0; i < n; i++) {
      Entry e = entries.get(i);
      ids[i] = e.batchId();
      stripes[i] = e.stripe();
      cells[i] = e.cells();
      sums[i] = e.deltaSum();
      claims[i] = e.claim();
    }
    Set<String> inserted = new HashSet<>();
    try (PreparedStatement ps = c.prepareStatement(insert)) {
      ps.setArray(1, c.createArrayOf("text", ids));
      ps.setArray(2, c.createArrayOf("int4", stripes));
      ps.setArray(3, c.createArrayOf("int4", cells));
      ps.setArray(4, c.createArrayOf("numeric", sums));
      ps.setArray(5, c.createArrayOf("text", claims));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          inserted.add(rs.getString(1));
        }
      }
    }
    return inserted;
  }
}
