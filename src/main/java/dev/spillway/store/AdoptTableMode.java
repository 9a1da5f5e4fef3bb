package dev.spillway.store;

import dev.spillway.config.AdoptMapping;
import dev.spillway.store.AdoptStore.Dead;
import dev.spillway.store.AdoptStore.Exec;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.List;
import java.util.Map;

/** Table mode of an adopt mapping: one set-based upsert per transaction, with its fallback. */
final class AdoptTableMode {
  private final AdoptCopy copy = new AdoptCopy();

  /**
   * Table mode: the executions summed per row and written by one set-based upsert ({@link
   * AdoptCopy}); when that fails for a reason in the data, or a sum would overflow, the row-by-row
   * path ({@link AdoptSql#execute}) runs instead and dead-letters the culprits.
   */
  int execute(
      Connection c, AdoptMapping m, AdoptSql.Statement st, List<Exec> execs, List<Dead> dead)
      throws SQLException {
    if (execs.isEmpty()) {
      return 0;
    }
    Map<List<String>, long[]> rows = AdoptCopy.sum(m, execs);
    if (rows != null) {
      Savepoint sp = c.setSavepoint();
      try {
        copy.apply(c, m, rows);
        c.releaseSavepoint(sp);
        return execs.size();
      } catch (SQLException e) {
        c.rollback(sp);
        if (AdoptSql.transientError(e)) {
          throw e;
        }
      }
    }
    return AdoptSql.execute(c, st, execs, dead);
  }
}
