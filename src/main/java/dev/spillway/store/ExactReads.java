package dev.spillway.store;

import dev.spillway.SpillwayException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import javax.sql.DataSource;

/** The read behind exact counter reads: a flushed total and the ledger, in one snapshot. */
final class ExactReads {
  private final DataSource dataSource;
  private final String exactRead;

  ExactReads(DataSource dataSource, String quotedSchema) {
    this.dataSource = dataSource;
    this.exactRead =
        "SELECT (SELECT total FROM "
            + quotedSchema
            + ".counter_totals WHERE counter = ? AND key = ?),"
            + " ARRAY(SELECT batch_id FROM "
            + quotedSchema
            + ".flush_ledger WHERE batch_id = ANY(?::text[]))";
  }

  /** See {@link CounterStore#readTotal}. */
  CounterStore.ExactRead readTotal(String counter, String key, Collection<String> batchIds) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(exactRead)) {
      ps.setString(1, counter);
      ps.setString(2, key);
      ps.setArray(3, c.createArrayOf("text", batchIds.toArray(String[]::new)));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        long total = rs.getLong(1);
        Array arr = rs.getArray(2);
        Set<String> inLedger = new HashSet<>(Arrays.asList((String[]) arr.getArray()));
        return new CounterStore.ExactRead(total, inLedger);
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "reading the total of "
              + counter
              + "/"
              + key
              + " from PostgreSQL failed: "
              + e.getMessage(),
          e);
    }
  }
}
