package dev.spillway.store;

import dev.spillway.layout.CellDelta;
import dev.spillway.layout.RejectedCell;
import dev.spillway.Granularity;
import dev.spillway.SpillwayException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;

/**
 * The SQL that writes and reads counters. {@link #apply} is the heart of exactly-once: the ledger
 * rows of a set of batches and every counter row they change commit in one short transaction, so
 * a batch is either wholly applied once or not at all. All statements are parameterized and
 * set-based (arrays through {@code unnest}); the only identifier spliced in is the validated,
 * quoted schema name.
 *
 * <p>Rows are written in sorted key order so that two flushers touching the same rows take their
 * locks in the same order; a deadlock or serialization failure is retried a few times anyway.
 */
public final class CounterStore {
  /** Hook run inside the transaction, just before COMMIT (crash tests halt the JVM here). */
  @FunctionalInterface
  public interface BeforeCommit {
    void run(Set<String> appliedBatchIds);
  }

  private static final int MAX_ATTEMPTS = 4;

  private final DataSource dataSource;
  private final Ledger ledger;
  private final String ledgerLookup;
  private final String ledgerInsertPlain;
  private final String totalsUpsert;
  private final String bucketsUpsert;
  private final String totalsUpsertFast;
  private final String bucketsUpsertFast;
  private final DeadLetterWriter deadLetters;
  private final String exactRead;

  public CounterStore(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    String s = Database.quote(schema);
    this.ledger = new Ledger(s);
    this.ledgerLookup =
        "SELECT batch_id, stripe, claim, cells, delta_sum, applied_at FROM "
            + s
            + ".flush_ledger WHERE batch_id = ANY(?::text[])"
            + " OR (claim IS NOT NULL AND (stripe::text || ' ' || claim) = ANY(?::text[]))";
    this.ledgerInsertPlain =
        "INSERT INTO "
            + s
            + ".flush_ledger (batch_id, stripe, cells, delta_sum, claim) VALUES (?, ?, ?, ?, ?)"
            + " ON CONFLICT DO NOTHING RETURNING batch_id";
    // The WHERE on DO UPDATE leaves a row untouched (and unreturned) when the new total would not
    // fit a bigint; the caller routes exactly those rows to dead_letter.
    this.totalsUpsert =
        "WITH u AS (SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) AS u(c, k, d)),"
            + " w AS (INSERT INTO "
            + s
            + ".counter_totals AS t (counter, key, total, updated_at)"
            + " SELECT u.c, u.k, u.d, now() FROM u ORDER BY u.c COLLATE \"C\", u.k COLLATE \"C\""
            + " ON CONFLICT (counter, key) DO UPDATE"
            + " SET total = t.total + excluded.total, updated_at = excluded.updated_at"
            + " WHERE t.total::numeric + excluded.total"
            + " BETWEEN -9223372036854775808 AND 9223372036854775807"
            + " RETURNING t.counter, t.key)"
            // Only the rows the upsert refused come back (rare), not every row written.
            + " SELECT u.c, u.k FROM u WHERE NOT EXISTS"
            + " (SELECT 1 FROM w WHERE w.counter = u.c AND w.key = u.k)";
    this.bucketsUpsert =
        "WITH u AS (SELECT u.c, u.k, u.g::\"char\" AS g, to_timestamp(u.b) AS b, u.d"
            + " FROM unnest(?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])"
            + " AS u(c, k, g, b, d)),"
            + " w AS (INSERT INTO "
            + s
            + ".counter_buckets AS t (counter, key, granularity, bucket_start, value)"
            + " SELECT u.c, u.k, u.g, u.b, u.d FROM u ORDER BY u.c COLLATE \"C\", u.k COLLATE \"C\", u.g, u.b"
            + " ON CONFLICT (counter, key, granularity, bucket_start) DO UPDATE"
            + " SET value = t.value + excluded.value"
            + " WHERE t.value::numeric + excluded.value"
            + " BETWEEN -9223372036854775808 AND 9223372036854775807"
            + " RETURNING t.counter, t.key, t.granularity, t.bucket_start)"
            + " SELECT u.c, u.k, u.g::text, extract(epoch FROM u.b)::bigint FROM u WHERE NOT EXISTS"
            + " (SELECT 1 FROM w WHERE w.counter = u.c AND w.key = u.k AND w.granularity = u.g"
            + " AND w.bucket_start = u.b)";
    this.deadLetters = new DeadLetterWriter(s);
    // Fast path: the same upsert counting what it wrote. Overflow is rare; only when the count
    // falls short is the statement redone (after a rollback to a savepoint) with the anti-join
    // that names the refused rows, which costs a fifth more on every flush otherwise.
    this.totalsUpsertFast = countOnly(totalsUpsert);
    this.bucketsUpsertFast = countOnly(bucketsUpsert);
    this.exactRead =
        "SELECT (SELECT total FROM "
            + s
            + ".counter_totals WHERE counter = ? AND key = ?),"
            + " ARRAY(SELECT batch_id FROM "
            + s
            + ".flush_ledger WHERE batch_id = ANY(?::text[]))";
  }

  private static String countOnly(String antiJoinUpsert) {
    int i = antiJoinUpsert.lastIndexOf(" SELECT u.c, u.k");
    return antiJoinUpsert.substring(0, i) + " SELECT count(*) FROM w";
  }

  /** Runs the fast counting upsert; true when every row was written (no overflow). */
  private static boolean allWritten(Connection c, String fastSql, int n, Array... arrays)
      throws SQLException {
    java.sql.Savepoint sp = c.setSavepoint();
    try (PreparedStatement ps = c.prepareStatement(fastSql)) {
      for (int i = 0; i < arrays.length; i++) {
        ps.setArray(i + 1, arrays[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (rs.getLong(1) == n) {
          c.releaseSavepoint(sp);
          return true;
        }
      }
    }
    c.rollback(sp);
    return false;
  }

  /**
   * Applies the batches in one transaction. A batch whose ledger row already exists is reported as
   * a duplicate and contributes nothing. Cells that cannot be applied go to dead_letter in the same
   * transaction.
   *
   * @throws SpillwayException when PostgreSQL fails; nothing was committed then
   */
  public ApplyResult apply(List<BatchContent> batches, String source, BeforeCommit beforeCommit) {
    if (batches.isEmpty()) {
      return new ApplyResult(Set.of(), Set.of(), 0, 0, 0);
    }
    SQLException last = null;
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try (Connection c = dataSource.getConnection()) {
        c.setAutoCommit(false);
        try {
          ApplyResult r = applyIn(c, batches, source, beforeCommit);
          c.commit();
          return r;
        } catch (SQLException | RuntimeException e) {
          rollbackQuietly(c);
          throw e;
        }
      } catch (SQLException e) {
        last = e;
        String state = e.getSQLState();
        // Deadlock and serialization failures: retry. A broken connection (class 08, e.g. a
        // pooled connection PostgreSQL closed while it was away): retry once on a fresh one. Safe
        // either way: if the commit did land, the ledger reports the batches as duplicates.
        boolean retryable =
            "40P01".equals(state)
                || "40001".equals(state)
                || (attempt == 1 && state != null && state.startsWith("08"));
        if (!retryable) {
          break;
        }
      }
    }
    throw new SpillwayException(
        "applying " + batches.size() + " batch(es) to PostgreSQL failed: " + last.getMessage(),
        last);
  }

  private ApplyResult applyIn(
      Connection c, List<BatchContent> batches, String source, BeforeCommit beforeCommit)
      throws SQLException {
    List<BatchContent> sorted = new ArrayList<>(batches);
    sorted.sort(Comparator.comparing(BatchContent::batchId));
    Set<String> applied = insertLedger(c, sorted);
    Set<String> duplicates = new LinkedHashSet<>();
    List<DeadRow> dead = new ArrayList<>();
    Set<String> resurrected = Set.of();
    if (applied.size() < sorted.size()) {
      resurrected =
          resurrected(c, sorted.stream().filter(b -> !applied.contains(b.batchId())).toList(),
              source, dead);
    }
    // Deduplicated here (ON CONFLICT may touch a row once per statement); the SQL sorts.
    Map<TotalKey, Long> totals = new HashMap<>();
    Map<BucketKey, Long> buckets = new HashMap<>();
    for (BatchContent b : sorted) {
      if (!applied.contains(b.batchId())) {
        if (!resurrected.contains(b.batchId())) {
          duplicates.add(b.batchId());
        }
        continue;
      }
      for (RejectedCell r : b.rejected()) {
        dead.add(
            DeadRow.unapplied(
                b.batchId(), source, r.counter(), r.key(), parse(r.value()), r.raw(), r.reason()));
      }
      for (CellDelta cell : b.cells()) {
        TotalKey tk = new TotalKey(cell.counter(), cell.key());
        if (!addExact(totals, tk, cell.delta())) {
          dead.add(DeadRow.total(b.batchId(), source, tk, cell.delta(), "the deltas of this "
              + "batch for one total add up beyond the bigint range"));
        }
        for (int i = 0; i < cell.bucketCodes().length(); i++) {
          Granularity g = Granularity.ofCode(cell.bucketCodes().charAt(i));
          BucketKey bk =
              new BucketKey(cell.counter(), cell.key(), g.code(), g.bucketStartSeconds(cell.epochMinute()));
          if (!addExact(buckets, bk, cell.delta())) {
            dead.add(DeadRow.bucket(b.batchId(), source, bk, cell.delta(), "the deltas of this "
                + "batch for one bucket add up beyond the bigint range"));
          }
        }
      }
    }
    int totalRows = upsertTotals(c, totals, dead, firstApplied(sorted, applied), source);
    int bucketRows = upsertBuckets(c, buckets, dead, firstApplied(sorted, applied), source);
    deadLetters.insert(c, dead);
    if (beforeCommit != null) {
      beforeCommit.run(applied);
    }
    Set<String> done = new LinkedHashSet<>(applied);
    done.addAll(resurrected); // recorded and dead-lettered: acknowledge like an applied batch
    return new ApplyResult(done, duplicates, totalRows, bucketRows, dead.size());
  }

  private static String firstApplied(List<BatchContent> sorted, Set<String> applied) {
    // Overflow found at upsert time cannot be pinned to one batch when several were merged;
    // the first applied batch id of the transaction is recorded (the ledger lists the others).
    for (BatchContent b : sorted) {
      if (applied.contains(b.batchId())) {
        return b.batchId();
      }
    }
    return "";
  }

  private Set<String> insertLedger(Connection c, List<BatchContent> sorted) throws SQLException {
    List<Ledger.Entry> entries = new ArrayList<>(sorted.size());
    for (BatchContent b : sorted) {
      entries.add(new Ledger.Entry(b.batchId(), b.stripe(), b.size(), new BigDecimal(b.deltaSum()), b.claim()));
    }
    return ledger.insert(c, entries);
  }

  /** A ledger row, as far as telling a duplicate from a resurrected batch needs. */
  private record LedgerRow(String batchId, int stripe, String claim, int cells, BigDecimal deltaSum,
      java.time.OffsetDateTime appliedAt) {}

  /**
   * For batches the ledger refused: a true duplicate (its id is there: an earlier or concurrent
   * run applied it) adds nothing; a batch whose claim number is there under another id was
   * resurrected by a Redis rollback, so its cells go to dead_letter instead of being counted
   * again, and its id is recorded so that a retry finds it.
   */
  private Set<String> resurrected(Connection c, List<BatchContent> refused, String source,
      List<DeadRow> dead) throws SQLException {
    String[] ids = refused.stream().map(BatchContent::batchId).toArray(String[]::new);
    String[] claims =
        refused.stream().filter(b -> b.claim() != null).map(b -> b.stripe() + " " + b.claim())
            .toArray(String[]::new);
    Map<String, LedgerRow> byId = new HashMap<>();
    Map<String, LedgerRow> byClaim = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(ledgerLookup)) {
      ps.setArray(1, c.createArrayOf("text", ids));
      ps.setArray(2, c.createArrayOf("text", claims));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          LedgerRow r = new LedgerRow(rs.getString(1), rs.getInt(2), rs.getString(3), rs.getInt(4),
              rs.getBigDecimal(5), rs.getObject(6, java.time.OffsetDateTime.class));
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
      try (PreparedStatement ps = c.prepareStatement(ledgerInsertPlain)) {
        ps.setString(1, b.batchId());
        ps.setInt(2, b.stripe());
        ps.setInt(3, b.size());
        ps.setBigDecimal(4, new BigDecimal(b.deltaSum()));
        ps.setString(5, null);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            continue;
          }
        }
      }
      String reason =
          "Redis rolled back to before claim " + b.claim() + " of stripe " + b.stripe()
              + ", which the ledger shows applied as batch " + earlier.batchId() + " at "
              + earlier.appliedAt() + " (" + earlier.cells() + " cells, sum " + earlier.deltaSum()
              + "); this batch reissues that claim (" + b.size() + " cells, sum " + b.deltaSum()
              + ") and may hold counts already applied plus newer ones: not applied; compare with"
              + " the totals, then dead-letter replay --id or dead-letter discard --id";
      deadLetterAll(b, source, reason, DeadLetterKind.MAYBE_COUNTED, dead);
      out.add(b.batchId());
    }
    return out;
  }

  /**
   * Every cell of {@code b}, as rows of class {@code kind}. A resurrected batch's refused cells
   * are {@code maybe_counted} too: they may be copies of rows the first issue of the claim already
   * dead-lettered, and an unapplied copy would then be replayed twice. Their reason says both.
   */
  private static void deadLetterAll(BatchContent b, String source, String reason,
      DeadLetterKind kind, List<DeadRow> dead) {
    for (CellDelta cell : b.cells()) {
      dead.add(new DeadRow(b.batchId(), source, cell.counter(), cell.key(), null, null,
          BigInteger.valueOf(cell.delta()), dev.spillway.layout.CellField.format(cell), reason,
          kind));
    }
    for (RejectedCell r : b.rejected()) {
      String why =
          kind == DeadLetterKind.UNAPPLIED ? r.reason() : reason + "; the cell itself: " + r.reason();
      dead.add(new DeadRow(b.batchId(), source, r.counter(), r.key(), null, null, parse(r.value()),
          r.raw(), why, kind));
    }
  }

  /**
   * Records a batch that cannot be applied at all (PostgreSQL refuses its data) in the ledger and
   * sends every cell of it to dead_letter with {@code reason}, in one transaction; a batch already
   * in the ledger is left alone. So one poisoned batch never blocks the stripes behind it.
   */
  public int deadLetterBatch(BatchContent b, String source, String reason) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement ps = c.prepareStatement(ledgerInsertPlain)) {
          ps.setString(1, b.batchId());
          ps.setInt(2, b.stripe());
          ps.setInt(3, b.size());
          ps.setBigDecimal(4, new BigDecimal(b.deltaSum()));
          ps.setString(5, b.claim());
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              c.rollback();
              return 0;
            }
          }
        }
        List<DeadRow> dead = new ArrayList<>();
        deadLetterAll(b, source, reason, DeadLetterKind.UNAPPLIED, dead);
        deadLetters.insert(c, dead);
        c.commit();
        return dead.size();
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c);
        throw e;
      }
    } catch (SQLException e) {
      throw new SpillwayException("dead-lettering batch " + b.batchId() + " failed: " + e.getMessage(), e);
    }
  }

  private int upsertTotals(
      Connection c, Map<TotalKey, Long> totals, List<DeadRow> dead, String batchId, String source)
      throws SQLException {
    if (totals.isEmpty()) {
      return 0;
    }
    int n = totals.size();
    String[] counters = new String[n];
    String[] keys = new String[n];
    Long[] deltas = new Long[n];
    int i = 0;
    for (var e : totals.entrySet()) {
      counters[i] = e.getKey().counter();
      keys[i] = e.getKey().key();
      deltas[i++] = e.getValue();
    }
    Array[] arrays = {
      c.createArrayOf("text", counters), c.createArrayOf("text", keys), c.createArrayOf("int8", deltas)
    };
    if (allWritten(c, totalsUpsertFast, n, arrays)) {
      return n;
    }
    int refused = 0;
    try (PreparedStatement ps = c.prepareStatement(totalsUpsert)) {
      for (int a = 0; a < arrays.length; a++) {
        ps.setArray(a + 1, arrays[a]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          TotalKey k = new TotalKey(rs.getString(1), rs.getString(2));
          refused++;
          dead.add(DeadRow.total(batchId, source, k, totals.get(k),
              "counter_totals.total would overflow bigint (current total + delta is outside "
                  + "[-9223372036854775808, 9223372036854775807])"));
        }
      }
    }
    return n - refused;
  }

  private int upsertBuckets(
      Connection c, Map<BucketKey, Long> buckets, List<DeadRow> dead, String batchId, String source)
      throws SQLException {
    if (buckets.isEmpty()) {
      return 0;
    }
    int n = buckets.size();
    String[] counters = new String[n];
    String[] keys = new String[n];
    String[] grans = new String[n];
    Long[] starts = new Long[n];
    Long[] deltas = new Long[n];
    int i = 0;
    for (var e : buckets.entrySet()) {
      BucketKey k = e.getKey();
      counters[i] = k.counter();
      keys[i] = k.key();
      grans[i] = String.valueOf(k.granularity());
      starts[i] = k.startSeconds();
      deltas[i++] = e.getValue();
    }
    Array[] arrays = {
      c.createArrayOf("text", counters), c.createArrayOf("text", keys), c.createArrayOf("text", grans),
      c.createArrayOf("int8", starts), c.createArrayOf("int8", deltas)
    };
    if (allWritten(c, bucketsUpsertFast, n, arrays)) {
      return n;
    }
    int refused = 0;
    try (PreparedStatement ps = c.prepareStatement(bucketsUpsert)) {
      for (int a = 0; a < arrays.length; a++) {
        ps.setArray(a + 1, arrays[a]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          BucketKey k =
              new BucketKey(rs.getString(1), rs.getString(2), rs.getString(3).charAt(0), rs.getLong(4));
          refused++;
          dead.add(DeadRow.bucket(batchId, source, k, buckets.get(k),
              "counter_buckets.value would overflow bigint"));
        }
      }
    }
    return n - refused;
  }

  /**
   * The flushed total of (counter, key), and which of {@code batchIds} the ledger holds, read in
   * one statement (one snapshot).
   */
  public ExactRead readTotal(String counter, String key, Collection<String> batchIds) {
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
        return new ExactRead(total, inLedger);
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "reading the total of " + counter + "/" + key + " from PostgreSQL failed: "
              + e.getMessage(), e);
    }
  }

  /** Flushed total and the subset of asked batch ids already in the ledger. */
  public record ExactRead(long total, Set<String> appliedBatchIds) {}

  private static <K> boolean addExact(Map<K, Long> m, K k, long delta) {
    Long prev = m.get(k);
    if (prev == null) {
      m.put(k, delta);
      return true;
    }
    long sum = prev + delta;
    // Overflow iff both operands have the sign opposite to the result (Hacker's Delight 2-13).
    if (((prev ^ sum) & (delta ^ sum)) < 0) {
      return false;
    }
    m.put(k, sum);
    return true;
  }

  private static BigInteger parse(String v) {
    if (v == null) {
      return null;
    }
    try {
      return new BigInteger(v.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static void rollbackQuietly(Connection c) {
    try {
      c.rollback();
    } catch (SQLException ignored) {
      // the connection is broken; Hikari evicts it, and nothing was committed
    }
  }

  record TotalKey(String counter, String key) implements Comparable<TotalKey> {
    @Override
    public int compareTo(TotalKey o) {
      int r = counter.compareTo(o.counter);
      return r != 0 ? r : key.compareTo(o.key);
    }
  }

  record BucketKey(String counter, String key, char granularity, long startSeconds)
      implements Comparable<BucketKey> {
    @Override
    public int compareTo(BucketKey o) {
      int r = counter.compareTo(o.counter);
      if (r == 0) r = key.compareTo(o.key);
      if (r == 0) r = Character.compare(granularity, o.granularity);
      if (r == 0) r = Long.compare(startSeconds, o.startSeconds);
      return r;
    }
  }
}
