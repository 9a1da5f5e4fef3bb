package dev.spillway.store;

import dev.spillway.config.AdoptMapping;
import dev.spillway.store.AdoptStore.Dead;
import dev.spillway.store.AdoptStore.Exec;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * SQL mode of an adopt mapping: the statement it executes per value (the user's {@code sql}, or the
 * upsert built from {@code table}), bound from a key's named groups, the hash field and the delta,
 * and run as one JDBC batch; when the batch fails, one by one under savepoints to find the
 * executions to dead-letter. Also the row-by-row fallback of table mode ({@link AdoptTableMode}).
 */
final class AdoptSql {
  private AdoptSql() {}

  /** The statement a mapping executes per value, with its parameters in binding order. */
  record Statement(String sql, List<String> params) {}

  static Statement statementOf(AdoptMapping m) {
    if (m.sql() != null) {
      return new Statement(m.jdbcSql(), AdoptMapping.params(m.sql()));
    }
    String table = quoteQualified(m.table());
    List<String> cols = new ArrayList<>();
    List<String> params = new ArrayList<>();
    for (Map.Entry<String, String> e : m.keyColumns().entrySet()) {
      cols.add(Database.quote(e.getValue()));
      params.add(e.getKey());
    }
    params.add("delta");
    String v = Database.quote(m.valueColumn());
    String sql =
        "INSERT INTO "
            + table
            + " AS t ("
            + String.join(", ", cols)
            + ", "
            + v
            + ") VALUES ("
            + "?, ".repeat(cols.size())
            + "?)"
            + addOnConflict(cols, v);
    return new Statement(sql, params);
  }

  /**
   * The table-mode upsert's tail, for the row-by-row and the set-based statement alike: {@code ON
   * CONFLICT (<key columns>) DO UPDATE SET <v> = t.<v> + EXCLUDED.<v>} (the table is aliased {@code
   * t}; the columns are quoted already).
   */
  static String addOnConflict(List<String> quotedKeyColumns, String quotedValueColumn) {
    String v = quotedValueColumn;
    return " ON CONFLICT ("
        + String.join(", ", quotedKeyColumns)
        + ") DO UPDATE SET "
        + v
        + " = t."
        + v
        + " + EXCLUDED."
        + v;
  }

  static String quoteQualified(String table) {
    int dot = table.indexOf('.');
    return dot < 0
        ? Database.quote(table)
        : Database.quote(table.substring(0, dot)) + "." + Database.quote(table.substring(dot + 1));
  }

  /**
   * Runs the executions as one JDBC batch; if that fails, one by one under savepoints. Returns the
   * rows written; adds a dead letter for each execution that failed or touched no row.
   */
  static int execute(Connection c, Statement st, List<Exec> execs, List<Dead> dead)
      throws SQLException {
    if (execs.isEmpty()) {
      return 0;
    }
    Savepoint sp = c.setSavepoint();
    try (PreparedStatement ps = c.prepareStatement(st.sql())) {
      for (Exec e : execs) {
        bind(ps, st, e);
        ps.addBatch();
      }
      int[] counts = ps.executeBatch();
      c.releaseSavepoint(sp);
      int rows = 0;
      for (int i = 0; i < counts.length; i++) {
        if (counts[i] == 0) {
          dead.add(noRow(execs.get(i)));
        } else {
          rows += Math.max(counts[i], 1);
        }
      }
      return rows;
    } catch (SQLException batchFailed) {
      c.rollback(sp);
    }
    int rows = 0;
    try (PreparedStatement ps = c.prepareStatement(st.sql())) {
      for (Exec e : execs) {
        Savepoint one = c.setSavepoint();
        try {
          bind(ps, st, e);
          int n = ps.executeUpdate();
          c.releaseSavepoint(one);
          if (n == 0) {
            dead.add(noRow(e));
          } else {
            rows += n;
          }
        } catch (SQLException failed) {
          c.rollback(one);
          if (transientError(failed)) {
            // Deadlock, lock or statement timeout, lost connection: nothing wrong with the data.
            // Fail the transaction; the batch stays pending and the next run retries it.
            throw failed;
          }
          dead.add(
              new Dead(
                  e.batchId(),
                  e.source(),
                  e.cell().key(),
                  e.cell().field(),
                  BigInteger.valueOf(e.delta()),
                  null,
                  "statement failed: "
                      + failed.getMessage().lines().findFirst().orElse("")
                      + " (SQLSTATE "
                      + failed.getSQLState()
                      + ")"));
        }
      }
    }
    return rows;
  }

  /** SQLSTATE classes that say "try again", not "this row is bad". */
  static boolean transientError(SQLException e) {
    String state = e.getSQLState();
    if (state == null || state.length() < 2) {
      return true;
    }
    return switch (state.substring(0, 2)) {
      case "40", "55", "57", "08", "53", "58", "XX" -> true;
      default -> false;
    };
  }

  private static Dead noRow(Exec e) {
    return new Dead(
        e.batchId(),
        e.source(),
        e.cell().key(),
        e.cell().field(),
        BigInteger.valueOf(e.delta()),
        null,
        "statement updated no row (no target row for this key?)");
  }

  static void bind(PreparedStatement ps, Statement st, Exec e) throws SQLException {
    int i = 1;
    for (String p : st.params()) {
      switch (p) {
        case "delta" -> ps.setLong(i, e.delta());
        case "field" -> ps.setObject(i, e.cell().field(), Types.OTHER);
        default -> ps.setObject(i, e.groups().get(p), Types.OTHER);
      }
      i++;
    }
  }
}
