package dev.spillway.store;

import dev.spillway.ConfigException;
import dev.spillway.config.AdoptMapping;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;

/** Checks adopt mappings against the database at start, before any batch is claimed. */
final class AdoptValidation {
  private AdoptValidation() {}

  /**
   * Checks a mapping against the database: the statement prepares (PostgreSQL parses it and
   * resolves every table, column and parameter type), and in table mode the table has a unique
   * index on exactly the key columns (the upsert needs it).
   *
   * @throws ConfigException naming the mapping and the problem
   */
  static void validate(DataSource dataSource, AdoptMapping m) {
    AdoptSql.Statement st = AdoptSql.statementOf(m);
    try (Connection c = dataSource.getConnection()) {
      if (m.table() != null) {
        checkTable(c, m);
      }
      try (PreparedStatement ps = c.prepareStatement(st.sql())) {
        ps.getParameterMetaData(); // forces a server-side parse of the statement
      }
    } catch (SQLException e) {
      throw new ConfigException(
          "adopt mapping '"
              + m.name()
              + "': its statement does not prepare against the database: "
              + e.getMessage().lines().findFirst().orElse("")
              + " (statement: "
              + st.sql()
              + ")");
    }
  }

  private static void checkTable(Connection c, AdoptMapping m) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(?)"
                + " AND a.attnum > 0 AND NOT a.attisdropped")) {
      ps.setString(1, AdoptSql.quoteQualified(m.table()));
      Set<String> columns = new HashSet<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          columns.add(rs.getString(1));
        }
      }
      if (columns.isEmpty()) {
        throw new ConfigException(
            "adopt mapping '" + m.name() + "': table " + m.table() + " does not exist");
      }
      List<String> wanted = new ArrayList<>(m.keyColumns().values());
      wanted.add(m.valueColumn());
      for (String col : wanted) {
        if (!columns.contains(col)) {
          throw new ConfigException(
              "adopt mapping '"
                  + m.name()
                  + "': table "
                  + m.table()
                  + " has no column "
                  + col
                  + " (it has "
                  + new TreeSet<>(columns)
                  + ")");
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                + " WHERE i.indrelid = to_regclass(?) AND i.indisunique GROUP BY i.indexrelid")) {
      ps.setString(1, AdoptSql.quoteQualified(m.table()));
      Set<String> key = new TreeSet<>(m.keyColumns().values());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Set<String> idx = new TreeSet<>(List.of((String[]) rs.getArray(1).getArray()));
          if (idx.equals(key)) {
            return;
          }
        }
      }
      throw new ConfigException(
          "adopt mapping '"
              + m.name()
              + "': table "
              + m.table()
              + " needs a unique index or primary key on exactly "
              + key
              + " for the upsert (CREATE UNIQUE INDEX ON "
              + m.table()
              + " ("
              + String.join(", ", key)
              + "))");
    }
  }
}
