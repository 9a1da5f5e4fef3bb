package dev.spillway.store;

import dev.spillway.Granularity;
import dev.spillway.SpillwayException;
import dev.spillway.layout.CellDelta;
import dev.spillway.layout.RejectedCell;
import dev.spillway.metrics.PhaseTimer;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.sql.DataSource;

/**
 * The SQL that writes and reads counters. {@link #apply} is the heart of exactly-once: the ledger
 * rows of a set of batches and every counter row they change commit in one short transaction, so a
 * batch is either wholly applied once or not at all. Telling a duplicate from a batch a Redis
 * rollback resurrected is {@link Resurrections}'s; whole-batch dead letters are {@link
 * BatchDeadLetters}'s; exact reads are {@link ExactReads}'s. All statements are parameterized and
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
  private final Resurrections resurrections;
  private final CopyUpsert copy;
  private final DeadLetterWriter deadLetters;
  private final BatchDeadLetters batchDeadLetters;
  private final ExactReads exactReads;

  public CounterStore(DataSource dataSource, String schema) {
    this.dataSource = dataSource;
    String s = Database.quote(schema);
    this.ledger = new Ledger(s);
    this.resurrections = new Resurrections(s, ledger);
    this.deadLetters = new DeadLetterWriter(s);
    this.batchDeadLetters = new BatchDeadLetters(dataSource, ledger, deadLetters);
    this.copy = new CopyUpsert(s);
    this.exactReads = new ExactReads(dataSource, s);
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

  /**
   * {@link #apply(List, String, BeforeCommit)}, reporting where the time went to {@code phases}.
   */
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
      Connection c,
      List<BatchContent> batches,
      String source,
      BeforeCommit beforeCommit,
      PhaseTimer phases)
      throws SQLException {
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
          resurrections.resurrected(
              c,
              sorted.stream().filter(b -> !applied.contains(b.batchId())).toList(),
              source,
              dead);
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
                b.batchId(),
                source,
                r.counter(),
                r.key(),
                BatchDeadLetters.parse(r.value()),
                r.raw(),
                r.reason()));
      }
      for (CellDelta cell : b.cells()) {
        if (!totals.add(cell.counter(), cell.key(), cell.delta())) {
          dead.add(
              DeadRow.total(
                  b.batchId(),
                  source,
                  new TotalKey(cell.counter(), cell.key()),
                  cell.delta(),
                  "the deltas of this batch for one total add up beyond the bigint range"));
        }
        for (int i = 0; i < cell.bucketCodes().length(); i++) {
          Granularity g = Granularity.ofCode(cell.bucketCodes().charAt(i));
          long start = g.bucketStartSeconds(cell.epochMinute());
          if (!buckets.add(cell.counter(), cell.key(), g.code(), start, cell.delta())) {
            dead.add(
                DeadRow.bucket(
                    b.batchId(),
                    source,
                    new BucketKey(cell.counter(), cell.key(), g.code(), start),
                    cell.delta(),
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
      entries.add(
          new Ledger.Entry(
              b.batchId(), b.stripe(), b.size(), new BigDecimal(b.deltaSum()), b.claim()));
    }
    return ledger.insert(c, entries);
  }

  /**
   * Records a batch that cannot be applied at all (PostgreSQL refuses its data) in the ledger and
   * sends every cell of it to dead_letter with {@code reason}, in one transaction; a batch already
   * in the ledger is left alone. So one poisoned batch never blocks the stripes behind it.
   */
  public int deadLetterBatch(BatchContent b, String source, String reason) {
    return batchDeadLetters.deadLetterBatch(b, source, reason);
  }

  private int upsertTotals(
      Connection c,
      CellColumns totals,
      List<DeadRow> dead,
      String batchId,
      String source,
      PhaseTimer phases)
      throws SQLException {
    if (totals.size() == 0) {
      return 0;
    }
    phases.record("ship", copy.ship(c, totals));
    long t0 = System.nanoTime();
    int written =
        copy.upsert(
            c,
            totals,
            i ->
                dead.add(
                    DeadRow.total(
                        batchId,
                        source,
                        new TotalKey(totals.counter(i), totals.key(i)),
                        totals.sum(i),
                        "counter_totals.total would overflow bigint (current total + delta is"
                            + " outside [-9223372036854775808, 9223372036854775807])")));
    phases.record("upsert", System.nanoTime() - t0);
    return written;
  }

  private int upsertBuckets(
      Connection c,
      CellColumns buckets,
      List<DeadRow> dead,
      String batchId,
      String source,
      PhaseTimer phases)
      throws SQLException {
    if (buckets.size() == 0) {
      return 0;
    }
    phases.record("ship", copy.ship(c, buckets));
    long t0 = System.nanoTime();
    int written =
        copy.upsert(
            c,
            buckets,
            i ->
                dead.add(
                    DeadRow.bucket(
                        batchId,
                        source,
                        new BucketKey(
                            buckets.counter(i),
                            buckets.key(i),
                            buckets.granularity(i),
                            buckets.startSeconds(i)),
                        buckets.sum(i),
                        "counter_buckets.value would overflow bigint")));
    phases.record("upsert", System.nanoTime() - t0);
    return written;
  }

  /**
   * The flushed total of (counter, key), and which of {@code batchIds} the ledger holds, read in
   * one statement (one snapshot).
   */
  public ExactRead readTotal(String counter, String key, Collection<String> batchIds) {
    return exactReads.readTotal(counter, key, batchIds);
  }

  /** Flushed total and the subset of asked batch ids already in the ledger. */
  public record ExactRead(long total, Set<String> appliedBatchIds) {}

  static void rollbackQuietly(Connection c) {
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
