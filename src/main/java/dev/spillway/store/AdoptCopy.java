package dev.spillway.store;

import dev.spillway.config.AdoptMapping;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The set-based path for table-mode adopt mappings, the same as native counters take ({@link
 * CopyUpsert}): the executions of a transaction, summed per target row, go by binary {@code COPY}
 * into a temporary table of the session (key values as {@code text[]}, the delta as bigint), then
 * one {@code INSERT ... SELECT CAST(k[i] AS <column type>) ... ORDER BY <key columns> ON CONFLICT
 * DO UPDATE}. The casts are the text input of each column's type, as binding the values one by one
 * does; the type names come from {@code format_type} (PostgreSQL quotes them).
 *
 * <p>Anything unusual (a value the column type refuses, a sum beyond bigint, a trigger that fails)
 * makes the statement fail; the caller then rolls back to its savepoint and takes the row-by-row
 * path, which names the culprits. The rows are sorted by the key columns, so two runs lock them in
 * the same order.
 */
final class AdoptCopy {
  private static final String IN = "pg_temp.spillway_adopt_in";

  /** The upsert per mapping name and table (types are looked up once). */
  private final Map<String, String> upserts = new ConcurrentHashMap<>();

  /**
   * Sums the executions per key tuple. Null when a sum would overflow a bigint or a key value is
   * missing (the caller takes the row-by-row path, which dead-letters the culprit).
   */
  static Map<List<String>, long[]> sum(AdoptMapping m, List<AdoptStore.Exec> execs) {
    Map<List<String>, long[]> rows = new LinkedHashMap<>(execs.size() * 2);
    for (AdoptStore.Exec e : execs) {
      List<String> key = new ArrayList<>(m.keyColumns().size());
      for (String group : m.keyColumns().keySet()) {
        // As AdoptSql.bind does: :field is the hash field, any other name a group of the regex.
        String v = group.equals("field") ? e.cell().field() : e.groups().get(group);
        if (v == null) {
          return null; // an optional group that did not match: the row-by-row path binds NULL
        }
        key.add(v);
      }
      long[] sum = rows.computeIfAbsent(key, k -> new long[1]);
      long next = sum[0] + e.delta();
      if (((sum[0] ^ next) & (e.delta() ^ next)) < 0) {
        return null;
      }
      sum[0] = next;
    }
    return rows;
  }

  /** Ships and upserts the summed rows; returns the rows written. */
  int apply(Connection c, AdoptMapping m, Map<List<String>, long[]> rows) throws SQLException {
    String sql = upserts.get(m.name() + "\0" + m.table());
    if (sql == null) {
      sql = upsert(c, m);
      upserts.put(m.name() + "\0" + m.table(), sql);
    }
    try (Statement st = c.createStatement()) {
      // As CopyUpsert.begin: the session's table once per connection, the sort in memory.
      st.execute(
          "SET LOCAL client_min_messages = warning;"
              + " CREATE TEMP TABLE IF NOT EXISTS "
              + IN.substring(8)
              + " (k text[], d bigint) ON COMMIT DELETE ROWS; SET LOCAL work_mem = '64MB'");
    }
    CopyBuffer.copy(
        c,
        IN,
        buf -> {
          for (Map.Entry<List<String>, long[]> e : rows.entrySet()) {
            buf.fields(2);
            buf.textArray(e.getKey());
            buf.int8(e.getValue()[0]);
          }
        });
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      return ps.executeUpdate();
    }
  }

  private static String upsert(Connection c, AdoptMapping m) throws SQLException {
    String table = AdoptSql.quoteQualified(m.table());
    Map<String, String> types = new HashMap<>();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                + " WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped")) {
      ps.setString(1, table);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          types.put(rs.getString(1), rs.getString(2));
        }
      }
    }
    List<String> cols = new ArrayList<>();
    List<String> casts = new ArrayList<>();
    List<String> order = new ArrayList<>();
    int i = 1;
    for (String column : m.keyColumns().values()) {
      String type = types.get(column);
      if (type == null) {
        throw new SQLException("table " + m.table() + " has no column " + column, "42703");
      }
      cols.add(Database.quote(column));
      casts.add("CAST(u.k[" + i + "] AS " + type + ")");
      order.add(String.valueOf(i));
      i++;
    }
    String v = Database.quote(m.valueColumn());
    return "INSERT INTO "
        + table
        + " AS t ("
        + String.join(", ", cols)
        + ", "
        + v
        + ")"
        + " SELECT "
        + String.join(", ", casts)
        + ", u.d FROM "
        + IN
        + " u"
        + " ORDER BY "
        + String.join(", ", order)
        + AdoptSql.addOnConflict(cols, v);
  }
}
