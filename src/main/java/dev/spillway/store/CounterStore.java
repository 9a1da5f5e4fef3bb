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
 * set-based (the ledger through {@code unnest} arrays, counter rows through binary {@code COPY},
 * {@link CopyUpsert}); the only identifier spliced in is the validated, quoted schema name.
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
  private final CopyUpsert copy;
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
    this.deadLetters = new DeadLetterWriter(s);
    this.copy = new CopyUpsert(s);
    this.exactRead =
        "SELECT (SELECT total FROM "
            + s
            + ".counter_totals WHERE counter = ? AND key = ?),"
            + " ARRAY(SELECT batch_id FROM "
            + s
            + ".flush_ledger WHERE batch_id = ANY(?::text[]))";
  }

  /**
   * Applies the batches in one transaction. A batch whose ledger row already exists is reported as
   * a duplicate and contributes nothing. Cells that cannot be applied go to dead_letter in the same
   * transaction.
   *
   * @throws SpillwayException when PostgreSQL fails; nothing was committed then
   */
  public ApplyResult apply(List<BatchContent> batches, String source, BeforeCommit beforeCommit) {
    return apply(batches, source, beforeCommit, PhaseTimer.NONE);
  }

  /** {@link #apply(List, String, BeforeCommit)}, reporting where the time went to {@code phases}. */
  public ApplyResult apply(
      List<BatchContent> batches, String source, BeforeCommit beforeCommit, PhaseTimer phases) {
    if (batches.isEmpty()) {
      return new ApplyResult(Set.of(), Set.of(), 0, 0, 0);
    }
    SQLException last = null;
    for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try (Connection c = dataSource.getConnection()) {
        c.setAutoCommit(false);
        try {
          ApplyResult r = applyIn(c, batches, source, beforeCommit, phases);
          long t0 = System.nanoTime();
          c.commit();
          phases.record("commit", System.nanoTime() - t0);
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
      Connection c, List<BatchContent> batches, String source, BeforeCommit beforeCommit,
      PhaseTimer phases) throws SQLException {
    long t0 = System.nanoTime();
    copy.begin(c);
    List<BatchContent> sorted = new ArrayList<>(batches);
    sorted.sort(Comparator.comparing(BatchContent::batchId));
    Set<String> applied = insertLedger(c, sorted);
    long t1 = System.nanoTime();
    phases.record("ledger", t1 - t0);
    Set<String> duplicates = new LinkedHashSet<>();
    List<DeadRow> dead = new ArrayList<>();
    Set<String> resurrected = Set.of();
    if (applied.size() < sorted.size()) {
      resurrected =
          resurrected(c, sorted.stream().filter(b -> !applied.contains(b.batchId())).toList(),
              source, dead);
    }
    // Deduplicated here (ON CONFLICT may touch a row once per statement); the SQL sorts.
    int cellCount = 0;
    for (BatchContent b : sorted) {
      cellCount += b.cells().size();
    }
    CellColumns totals = new CellColumns(false, cellCount);
    CellColumns buckets = new CellColumns(true, 16);
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
        if (!totals.add(cell.counter(), cell.key(), cell.delta())) {
          dead.add(DeadRow.total(b.batchId(), source, new TotalKey(cell.counter(), cell.key()),
              cell.delta(), "the deltas of this batch for one total add up beyond the bigint range"));
        }
        for (int i = 0; i < cell.bucketCodes().length(); i++) {
          Granularity g = Granularity.ofCode(cell.bucketCodes().charAt(i));
          long start = g.bucketStartSeconds(cell.epochMinute());
          if (!buckets.add(cell.counter(), cell.key(), g.code(), start, cell.delta())) {
            dead.add(DeadRow.bucket(b.batchId(), source,
                new BucketKey(cell.counter(), cell.key(), g.code(), start), cell.delta(),
                "the deltas of this batch for one bucket add up beyond the bigint range"));
          }
        }
      }
    }
    long t2 = System.nanoTime();
    phases.record("aggregate", t2 - t1);
    int totalRows = upsertTotals(c, totals, dead, firstApplied(sorted, applied), source, phases);
    int bucketRows = upsertBuckets(c, buckets, dead, firstApplied(sorted, applied), source, phases);
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

  private int upsertTotals(Connection c, CellColumns totals, List<DeadRow> dead, String batchId,
      String source, PhaseTimer phases) throws SQLException {
    if (totals.size() == 0) {
      return 0;
    }
    phases.record("ship", copy.ship(c, totals));
    long t0 = System.nanoTime();
    int written =
        copy.upsert(c, totals, i -> dead.add(DeadRow.total(batchId, source,
            new TotalKey(totals.counter(i), totals.key(i)), totals.sum(i),
            "counter_totals.total would overflow bigint (current total + delta is outside "
                + "[-9223372036854775808, 9223372036854775807])")));
    phases.record("upsert", System.nanoTime() - t0);
    return written;
  }

  private int upsertBuckets(Connection c, CellColumns buckets, List<DeadRow> dead, String batchId,
      String source, PhaseTimer phases) throws SQLException {
    if (buckets.size() == 0) {
      return 0;
    }
    phases.record("ship", copy.ship(c, buckets));
    long t0 = System.nanoTime();
    int written =
        copy.upsert(c, buckets, i -> dead.add(DeadRow.bucket(batchId, source,
            new BucketKey(buckets.counter(i), buckets.key(i), buckets.granularity(i),
                buckets.startSeconds(i)), buckets.sum(i),
            "counter_buckets.value would overflow bigint")));
    phases.record("upsert", System.nanoTime() - t0);
    return written;
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
