package dev.spillway.store;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayException;
import dev.spillway.config.AdoptMapping;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Applies batches of adopted keys to the user's own tables, exactly once: the ledger rows and the
 * user's statements commit in one transaction. This class holds that transaction and the sorting of
 * values into executions and dead letters; SQL mode is {@link AdoptSql}, table mode {@link
 * AdoptTableMode}, the start-up check of a mapping {@link AdoptValidation}. Each moved value
 * becomes one execution of the mapping's statement (its {@code :params} bound from the key's named
 * groups, the hash field and the delta); the executions go as one JDBC batch. A value that cannot
 * be applied — not an integer, a hash field that is not text, a statement that updates no row or
 * fails (overflow) — and, in batches claimed by earlier versions, a key the regex does not match or
 * of the wrong type — goes to {@code dead_letter} in the same transaction, and the rest of the
 * batch is applied: on a failing JDBC batch the executions are replayed one by one, each under a
 * savepoint, to find the culprits.
 */
public final class AdoptStore {
  /** The ledger's stripe column for adopted batches (they belong to no stripe). */
  public static final int ADOPT_STRIPE = -1;

  private final DataSource dataSource;
  private final String schema;
  private final Ledger ledger;
  private final String deadLetterInsert;
  private final AdoptTableMode tableMode = new AdoptTableMode();

  public AdoptStore(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    this.schema = schema;
    String s = Database.quote(schema);
    this.ledger = new Ledger(s);
    this.deadLetterInsert =
        "INSERT INTO "
            + s
            + ".dead_letter (batch_id, source, key, field, delta, raw, reason)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?)";
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
    AdoptSql.Statement st = AdoptSql.statementOf(m);
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
        execs.sort(
            Comparator.comparing((Exec e) -> e.cell().key())
                .thenComparing(e -> String.valueOf(e.cell().field())));
        int rows =
            m.table() != null
                ? tableMode.execute(c, m, st, execs, dead)
                : AdoptSql.execute(c, st, execs, dead);
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
          "applying "
              + batches.size()
              + " batch(es) of adopt mapping '"
              + m.name()
              + "' failed: "
              + e.getMessage(),
          e);
    }
  }

  /** One execution of the mapping's statement, and where it came from. */
  record Exec(
      String batchId, String source, AdoptedCell cell, long delta, Map<String, String> groups) {}

  record Dead(
      String batchId,
      String source,
      String key,
      String field,
      BigInteger delta,
      String raw,
      String reason) {
    /** A cell of an adopted batch that cannot be applied, with the value it held. */
    static Dead of(
        String batchId, String source, AdoptedCell cell, BigInteger delta, String reason) {
      return new Dead(batchId, source, cell.key(), cell.field(), delta, cell.value(), reason);
    }
  }

  private static void classify(
      AdoptMapping m,
      String batchId,
      String source,
      AdoptedCell cell,
      List<Exec> execs,
      List<Dead> dead) {
    if (cell.wrongType() != null) {
      // Only in batches claimed by earlier versions, which quarantined keys of the wrong type.
      dead.add(
          Dead.of(
              batchId,
              source,
              cell,
              null,
              "key holds a "
                  + cell.wrongType()
                  + ", not a "
                  + m.type().name().toLowerCase()
                  + "; it was moved whole to "
                  + cell.value()
                  + " (RENAME it back once fixed)"));
      return;
    }
    if (cell.problem() != null) {
      dead.add(Dead.of(batchId, source, cell, null, cell.problem()));
      return;
    }
    var groups = m.keyRegex().match(cell.key());
    if (groups.isEmpty()) {
      dead.add(
          Dead.of(
              batchId,
              source,
              cell,
              parse(cell.value()),
              "key does not match key-regex " + m.keyRegex()));
      return;
    }
    long delta;
    try {
      delta = Long.parseLong(cell.value());
    } catch (NumberFormatException e) {
      dead.add(Dead.of(batchId, source, cell, null, "value is not a 64-bit integer"));
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
   * Checks a mapping against the database: the statement prepares (PostgreSQL parses it and
   * resolves every table, column and parameter type), and in table mode the table has a unique
   * index on exactly the key columns (the upsert needs it).
   *
   * @throws ConfigException naming the mapping and the problem
   */
  public void validate(AdoptMapping m) {
    AdoptValidation.validate(dataSource, m);
  }

  private Set<String> insertLedger(Connection c, List<AdoptBatch> sorted) throws SQLException {
    List<Ledger.Entry> entries = new ArrayList<>(sorted.size());
    for (AdoptBatch b : sorted) {
      BigInteger sum = BigInteger.ZERO;
      for (AdoptedCell cell : b.cells()) {
        BigInteger v = cell.wrongType() == null ? parse(cell.value()) : null;
        sum = v == null ? sum : sum.add(v);
      }
      entries.add(
          new Ledger.Entry(b.batchId(), ADOPT_STRIPE, b.cells().size(), new BigDecimal(sum), null));
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
