package dev.spillway.store;

import dev.spillway.config.AdoptMapping;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;

/**
 * Applies batches of adopted keys to the user's own tables, exactly once: the ledger rows and the
 * user's statements commit in one transaction. Each moved value becomes one execution of the
 * mapping's statement (its {@code :params} bound from the key's named groups, the hash field and
 * the delta); the executions go as one JDBC batch. A value that cannot be applied — not an
 * integer, a hash field that is not text, a statement that updates no row or fails (overflow) —
 * and, in batches claimed by earlier versions, a key the regex does not match or of the wrong type —
 * goes to {@code dead_letter} in the same transaction, and the rest of
 * the batch is applied: on a failing JDBC batch the executions are replayed one by one, each under
 * a savepoint, to find the culprits.
 */
public final class AdoptStore {
  /** The ledger's stripe column for adopted batches (they belong to no stripe). */
  public static final int ADOPT_STRIPE = -1;

  private final DataSource dataSource;
  private final String schema;
  private final Ledger ledger;
  private final String deadLetterInsert;
  private final AdoptCopy copy = new AdoptCopy();

  public AdoptStore(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    this.schema = schema;
    String s = Database.quote(schema);
    this.ledger = new Ledger(s);
    this.deadLetterInsert =
        "INSERT INTO " + s + ".dead_letter (batch_id, source, key, field, delta, raw, reason)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?)";
  }

  /** The statement a mapping executes per value, with its parameters in binding order. */
  public record Statement(String sql, List<String> params) {}

  public static Statement statementOf(AdoptMapping m) {
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
        "INSERT INTO " + table + " AS t (" + String.join(", ", cols) + ", " + v + ") VALUES ("
            + "?, ".repeat(cols.size()) + "?) ON CONFLICT (" + String.join(", ", cols)
            + ") DO UPDATE SET " + v + " = t." + v + " + EXCLUDED." + v;
    return new Statement(sql, params);
  }

  static String quoteQualified(String table) {
    int dot = table.indexOf('.');
    return dot < 0
        ? Database.quote(table)
        : Database.quote(table.substring(0, dot)) + "." + Database.quote(table.substring(dot + 1));
  }

  /**
   * Checks a mapping against the database: the statement prepares (PostgreSQL parses it and
   * resolves every table, column and parameter type), and in table mode the table has a unique
   * index on exactly the key columns (the upsert needs it).
   *
   * @throws ConfigException naming the mapping and the problem
   */
  public void validate(AdoptMapping m) {
    Statement st = statementOf(m);
    try (Connection c = dataSource.getConnection()) {
      if (m.table() != null) {
        checkTable(c, m);
      }
      try (PreparedStatement ps = c.prepareStatement(st.sql())) {
        ps.getParameterMetaData(); // forces a server-side parse of the statement
      }
    } catch (SQLException e) {
      throw new ConfigException(
          "adopt mapping '" + m.name() + "': its statement does not prepare against the database: "
              + e.getMessage().lines().findFirst().orElse("") + " (statement: " + st.sql() + ")");
    }
  }

  private static void checkTable(Connection c, AdoptMapping m) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(?)"
                + " AND a.attnum > 0 AND NOT a.attisdropped")) {
      ps.setString(1, quoteQualified(m.table()));
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
              "adopt mapping '" + m.name() + "': table " + m.table() + " has no column " + col
                  + " (it has " + new TreeSet<>(columns) + ")");
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                + " WHERE i.indrelid = to_regclass(?) AND i.indisunique GROUP BY i.indexrelid")) {
      ps.setString(1, quoteQualified(m.table()));
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
          "adopt mapping '" + m.name() + "': table " + m.table()
              + " needs a unique index or primary key on exactly " + key
              + " for the upsert (CREATE UNIQUE INDEX ON " + m.table() + " ("
              + String.join(", ", key) + "))");
    }
  }

  /**
   * Applies the batches of one mapping in one transaction.
   *
   * @throws SpillwayException when PostgreSQL fails as a whole; nothing was committed then
   */
  public ApplyResult apply(
      AdoptMapping m, List<AdoptBatch> batches, CounterStore.BeforeCommit beforeCommit) {
    if (batches.isEmpty()) {
      return new ApplyResult(Set.of(), Set.of(), 0, 0, 0);
    }
    Statement st = statementOf(m);
    String source = "adopt:" + m.name();
    List<AdoptBatch> sorted = new ArrayList<>(batches);
    sorted.sort(Comparator.comparing(AdoptBatch::batchId));
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        Set<String> applied = insertLedger(c, sorted);
        Set<String> duplicates = new LinkedHashSet<>();
        List<Exec> execs = new ArrayList<>();
        List<Dead> dead = new ArrayList<>();
        for (AdoptBatch b : sorted) {
          if (!applied.contains(b.batchId())) {
            duplicates.add(b.batchId());
            continue;
          }
          for (AdoptedCell cell : b.cells()) {
            classify(m, b.batchId(), source, cell, execs, dead);
          }
        }
        // Same order in every run: two runs (or the app's own UPDATEs) deadlock less.
        execs.sort(Comparator.comparing((Exec e) -> e.cell().key())
            .thenComparing(e -> String.valueOf(e.cell().field())));
        int rows = m.table() != null ? executeTable(c, m, st, execs, dead) : execute(c, st, execs, dead);
        insertDead(c, dead);
        if (beforeCommit != null) {
          beforeCommit.run(applied);
        }
        c.commit();
        return new ApplyResult(applied, duplicates, rows, 0, dead.size());
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException ignored) {
          // connection broken; nothing was committed
        }
        throw e;
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "applying " + batches.size() + " batch(es) of adopt mapping '" + m.name()
              + "' failed: " + e.getMessage(), e);
    }
  }

  /** One execution of the mapping's statement, and where it came from. */
  record Exec(String batchId, String source, AdoptedCell cell, long delta, Map<String, String> groups) {}

  record Dead(String batchId, String source, String key, String field, BigInteger delta, String raw,
      String reason) {}

  private static void classify(
      AdoptMapping m, String batchId, String source, AdoptedCell cell, List<Exec> execs,
      List<Dead> dead) {
    if (cell.wrongType() != null) {
      // Only in batches claimed by earlier versions, which quarantined keys of the wrong type.
      dead.add(new Dead(batchId, source, cell.key(), cell.field(), null, cell.value(),
          "key holds a " + cell.wrongType() + ", not a " + m.type().name().toLowerCase()
              + "; it was moved whole to " + cell.value() + " (RENAME it back once fixed)"));
      return;
    }
    if (cell.problem() != null) {
      dead.add(new Dead(batchId, source, cell.key(), cell.field(), null, cell.value(), cell.problem()));
      return;
    }
    var groups = m.keyRegex().match(cell.key());
    if (groups.isEmpty()) {
      dead.add(new Dead(batchId, source, cell.key(), cell.field(), parse(cell.value()), cell.value(),
          "key does not match key-regex " + m.keyRegex()));
      return;
    }
    long delta;
    try {
      delta = Long.parseLong(cell.value());
    } catch (NumberFormatException e) {
      dead.add(new Dead(batchId, source, cell.key(), cell.field(), null, cell.value(),
          "value is not a 64-bit integer"));
      return;
    }
    if (delta != 0) {
      execs.add(new Exec(batchId, source, cell, delta, groups.get()));
    }
  }

  private static BigInteger parse(String v) {
    try {
      return new BigInteger(v.trim());
    } catch (RuntimeException e) {
      return null;
    }
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
          dead.add(new Dead(e.batchId(), e.source(), e.cell().key(), e.cell().field(),
              BigInteger.valueOf(e.delta()), null,
              "statement failed: " + failed.getMessage().lines().findFirst().orElse("")
                  + " (SQLSTATE " + failed.getSQLState() + ")"));
        }
      }
    }
    return rows;
  }

  /**
   * Table mode: the executions summed per row and written by one set-based upsert ({@link
   * AdoptCopy}); when that fails for a reason in the data, or a sum would overflow, the row-by-row
   * path ({@link #execute}) runs instead and dead-letters the culprits.
   */
  private int executeTable(Connection c, AdoptMapping m, Statement st, List<Exec> execs,
      List<Dead> dead) throws SQLException {
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
        if (transientError(e)) {
          throw e;
        }
      }
    }
    return execute(c, st, execs, dead);
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
    return new Dead(e.batchId(), e.source(), e.cell().key(), e.cell().field(),
        BigInteger.valueOf(e.delta()), null,
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

  private Set<String> insertLedger(Connection c, List<AdoptBatch> sorted) throws SQLException {
    List<Ledger.Entry> entries = new ArrayList<>(sorted.size());
    for (AdoptBatch b : sorted) {
      BigInteger sum = BigInteger.ZERO;
      for (AdoptedCell cell : b.cells()) {
        BigInteger v = cell.wrongType() == null ? parse(cell.value()) : null;
        sum = v == null ? sum : sum.add(v);
      }
      entries.add(new Ledger.Entry(b.batchId(), ADOPT_STRIPE, b.cells().size(), new BigDecimal(sum), null));
    }
    return ledger.insert(c, entries);
  }

  private void insertDead(Connection c, List<Dead> dead) throws SQLException {
    if (dead.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(deadLetterInsert)) {
      for (Dead d : dead) {
        ps.setString(1, d.batchId());
        ps.setString(2, d.source());
        ps.setString(3, DeadLetterWriter.storable(d.key()));
        ps.setString(4, DeadLetterWriter.storable(d.field()));
        ps.setBigDecimal(5, d.delta() == null ? null : new BigDecimal(d.delta()));
        ps.setString(6, DeadLetterWriter.storable(d.raw()));
        ps.setString(7, DeadLetterWriter.storable(d.reason()));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  public String schema() {
    return schema;
  }
}
