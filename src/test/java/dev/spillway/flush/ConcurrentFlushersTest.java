package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.PendingState.Cell;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "Two workers flushing the same stripe at once is slower, never wrong: the ledger decides"
 * (DESIGN.md). Several Spillway runtimes flush one schema and key prefix at the same time while
 * other threads write; the totals must be exact and every batch must be applied by exactly one of
 * them. Two deterministic cases force the overlaps that the free-running case only makes likely: a
 * second flusher running between the first one's COMMIT and its ack, and one running while the
 * first holds its transaction open.
 */
@ExtendWith(ServicesExtension.class)
class ConcurrentFlushersTest {
  private static final Logger log = LoggerFactory.getLogger(ConcurrentFlushersTest.class);
  private static final int STRIPES = 16; // few stripes: flushers meet on the same batches often

  /** One flushOnce() call of one flusher: when it ran and what it did. */
  private record Run(int flusher, long startNanos, long endNanos, FlushReport report) {}

  private final TestEnv env;

  ConcurrentFlushersTest(TestEnv env) {
    this.env = env;
  }

  @Test
  void threeFlushersAndTwoWriters_totalsExact_eachBatchAppliedOnce() throws Exception {
    String prefix = env.keyPrefix() + "free:";
    List<String> counters = List.of("free_views", "free_bytes", "free.votes");
    long seed = System.nanoTime();
    List<Run> runs = Collections.synchronizedList(new ArrayList<>());
    List<Map<Cell, Long>> written = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicBoolean flushing = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(5);
    List<Spillway> flushers = new ArrayList<>();
    try (Spillway writer = spillway(prefix)) {
      // The other cases of this class share the schema; they run before or after, never during.
      long ledgerRowsBefore = env.queryLong("SELECT count(*) FROM flush_ledger");
      BigDecimal ledgerSumBefore = ledgerDeltaSum();
      for (int i = 0; i < 3; i++) {
        flushers.add(spillway(prefix));
      }
      List<Future<?>> flushLoops = new ArrayList<>();
      for (int i = 0; i < flushers.size(); i++) {
        int id = i;
        Spillway f = flushers.get(i);
        flushLoops.add(
            pool.submit(
                () -> {
                  SplittableRandom pause = new SplittableRandom(seed + id);
                  while (flushing.get()) {
                    long start = System.nanoTime();
                    FlushReport r = f.flushOnce();
                    runs.add(new Run(id, start, System.nanoTime(), r));
                    Thread.sleep(pause.nextInt(3));
                  }
                  return null;
                }));
      }
      List<Future<?>> writeLoops = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        SplittableRandom random = new SplittableRandom(seed * 31 + w);
        writeLoops.add(
            pool.submit(
                () -> {
                  Map<Cell, Long> mine = new HashMap<>();
                  int n = 0;
                  while (writing.get()) {
                    String counter = counters.get(random.nextInt(counters.size()));
                    String key = "k" + random.nextInt(500);
                    long delta =
                        random.nextInt(10) == 0
                            ? -random.nextLong(1, 100)
                            : random.nextLong(1, 10_000);
                    writer.counters().increment(counter, key, delta);
                    mine.merge(new Cell(counter, key), delta, Long::sum);
                    if (++n % 500 == 0) {
                      Thread.sleep(2);
                    }
                  }
                  written.add(mine);
                  return null;
                }));
      }

      // Write for a while, until every flusher has applied batches of its own.
      Thread.sleep(3_000);
      await().atMost(Duration.ofSeconds(20)).until(() -> appliedBy(runs).size() == flushers.size());
      writing.set(false);
      for (Future<?> f : writeLoops) {
        f.get(10, TimeUnit.SECONDS);
      }
      writer.counters().flush(); // everything written is in Redis now
      Thread.sleep(500); // let the flushers race over the last batches too
      flushing.set(false);
      for (Future<?> f : flushLoops) {
        f.get(30, TimeUnit.SECONDS);
      }
      // Whatever is left (live cells drained after the last claims), one flusher finishes.
      for (int i = 0; i < 5; i++) {
        FlushReport r = flushers.get(0).flushOnce();
        runs.add(new Run(0, System.nanoTime(), System.nanoTime(), r));
        if (r.batchesClaimed() + r.batchesApplied() + r.batchesDuplicate() == 0) {
          break;
        }
      }

      Map<Cell, Long> expected = new HashMap<>();
      for (Map<Cell, Long> m : written) {
        m.forEach((c, v) -> expected.merge(c, v, Long::sum));
      }
      long applied = runs.stream().mapToLong(r -> r.report().batchesApplied()).sum();
      long duplicates = runs.stream().mapToLong(r -> r.report().batchesDuplicate()).sum();
      long overlapping = overlappingRuns(runs);
      log.info(
          "event=concurrent_flushers seed={} runs={} applied={} duplicates={}"
              + " overlapping_run_pairs={} applied_by_flusher={}",
          seed,
          runs.size(),
          applied,
          duplicates,
          overlapping,
          appliedBy(runs));

      String why = "seed " + seed;
      assertThat(runs).as(why).allSatisfy(r -> assertThat(r.report().ok()).as("%s", r).isTrue());
      assertThat(appliedBy(runs).keySet()).as("every flusher applied batches").hasSize(3);
      assertThat(overlapping)
          .as("flush runs of different flushers overlapped in time")
          .isPositive();
      assertThat(PendingState.totals(env, counters))
          .as(why)
          .isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.pendingKeys(env, prefix))
          .as("nothing left pending in Redis")
          .isEmpty();
      // One ledger row per batch applied by any flusher: a batch applied twice would show here as
      // two successful applies (the primary key would refuse the second row, so it would fail).
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger"))
          .as(why)
          .isEqualTo(ledgerRowsBefore + applied);
      assertThat(ledgerDeltaSum().subtract(ledgerSumBefore))
          .as("ledger delta_sum vs. written")
          .isEqualByComparingTo(
              BigDecimal.valueOf(expected.values().stream().mapToLong(v -> v).sum()));
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
      // Exact reads through the embedded client agree with PostgreSQL.
      for (Cell c : expected.keySet().stream().limit(20).toList()) {
        assertThat(writer.counters().get(c.counter(), c.key()))
            .as("%s", c)
            .isEqualTo(expected.get(c));
      }
    } finally {
      writing.set(false);
      flushing.set(false);
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
      flushers.forEach(Spillway::close);
    }
  }

  @Test
  void secondFlusher_betweenFirstCommitAndAck_reportsDuplicatesAndAddsNothing() throws Exception {
    String prefix = env.keyPrefix() + "ack:";
    List<String> counters = List.of("ack_views", "ack_bytes");
    CountDownLatch committed = new CountDownLatch(1);
    CountDownLatch resume = new CountDownLatch(1);
    FlushListener pauseBeforeAck =
        new FlushListener() {
          @Override
          public void afterCommit(Set<String> batchIds) {
            committed.countDown();
            awaitLatch(resume);
          }
        };
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (Spillway writer = spillway(prefix);
        Spillway first = spillway(prefix, pauseBeforeAck);
        Spillway second = spillway(prefix)) {
      Map<Cell, Long> expected = write(writer, counters, 1_000, new SplittableRandom(7));

      Future<FlushReport> firstRun = pool.submit(() -> first.flushOnce());
      assertThat(committed.await(20, TimeUnit.SECONDS)).isTrue();
      int pending = PendingState.pendingBatchIds(env, prefix).size();
      assertThat(pending).as("committed, not yet acknowledged").isPositive();

      FlushReport secondReport = second.flushOnce();
      resume.countDown();
      FlushReport firstReport = firstRun.get(30, TimeUnit.SECONDS);

      assertThat(firstReport.ok()).as("%s", firstReport).isTrue();
      assertThat(firstReport.batchesApplied()).as("%s", firstReport).isEqualTo(pending);
      assertThat(secondReport.ok()).as("%s", secondReport).isTrue();
      assertThat(secondReport.batchesApplied()).as("%s", secondReport).isZero();
      assertThat(secondReport.batchesDuplicate()).as("%s", secondReport).isEqualTo(pending);
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.pendingKeys(env, prefix)).isEmpty();
    } finally {
      resume.countDown();
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void secondFlusher_whileFirstHoldsItsTransaction_waitsThenSeesDuplicates() throws Exception {
    String prefix = env.keyPrefix() + "lock:";
    List<String> counters = List.of("lock_views", "lock_bytes");
    CountDownLatch inTransaction = new CountDownLatch(1);
    AtomicBoolean secondWaited = new AtomicBoolean();
    FlushListener holdTransaction =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> appliedBatchIds) {
            inTransaction.countDown();
            // Keep the transaction (and its uncommitted ledger rows) open until the second
            // flusher is seen blocked on them, then commit.
            await()
                .atMost(Duration.ofSeconds(20))
                .pollInterval(Duration.ofMillis(20))
                .until(ConcurrentFlushersTest.this::someoneWaitsOnTheLedger);
            secondWaited.set(true);
          }
        };
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (Spillway writer = spillway(prefix);
        Spillway first = spillway(prefix, holdTransaction);
        Spillway second = spillway(prefix)) {
      Map<Cell, Long> expected = write(writer, counters, 1_000, new SplittableRandom(11));
      Future<FlushReport> firstRun = pool.submit(() -> first.flushOnce());
      assertThat(inTransaction.await(20, TimeUnit.SECONDS)).isTrue();
      int pending = PendingState.pendingBatchIds(env, prefix).size();
      Future<FlushReport> secondRun = pool.submit(() -> second.flushOnce());
      FlushReport firstReport = firstRun.get(30, TimeUnit.SECONDS);
      FlushReport secondReport = secondRun.get(30, TimeUnit.SECONDS);

      assertThat(secondWaited).as("the second flusher blocked on the ledger rows").isTrue();
      assertThat(firstReport.ok()).as("%s", firstReport).isTrue();
      assertThat(firstReport.batchesApplied()).as("%s", firstReport).isEqualTo(pending);
      assertThat(secondReport.ok()).as("%s", secondReport).isTrue();
      assertThat(secondReport.batchesApplied()).as("%s", secondReport).isZero();
      assertThat(secondReport.batchesDuplicate()).as("%s", secondReport).isEqualTo(pending);
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.pendingKeys(env, prefix)).isEmpty();
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static Map<Cell, Long> write(
      Spillway sw, List<String> counters, int keys, SplittableRandom random) {
    Map<Cell, Long> expected = new HashMap<>();
    for (String counter : counters) {
      for (int k = 0; k < keys; k++) {
        long delta = random.nextLong(1, 1_000_000);
        sw.counters().increment(counter, "k" + k, delta);
        expected.merge(new Cell(counter, "k" + k), delta, Long::sum);
      }
    }
    sw.counters().flush();
    return expected;
  }

  private static Map<Integer, Long> appliedBy(List<Run> runs) {
    Map<Integer, Long> m = new HashMap<>();
    synchronized (runs) {
      for (Run r : runs) {
        if (r.report().batchesApplied() > 0) {
          m.merge(r.flusher(), (long) r.report().batchesApplied(), Long::sum);
        }
      }
    }
    return m;
  }

  /**
   * Pairs of runs of different flushers, both working on batches (applying them or finding them
   * applied), whose time spans intersect.
   */
  private static long overlappingRuns(List<Run> runs) {
    List<Run> busy;
    synchronized (runs) {
      busy =
          runs.stream()
              .filter(r -> r.report().batchesApplied() + r.report().batchesDuplicate() > 0)
              .toList();
    }
    long n = 0;
    for (int i = 0; i < busy.size(); i++) {
      for (int j = i + 1; j < busy.size(); j++) {
        Run a = busy.get(i);
        Run b = busy.get(j);
        if (a.flusher() != b.flusher()
            && a.startNanos() < b.endNanos()
            && b.startNanos() < a.endNanos()) {
          n++;
        }
      }
    }
    return n;
  }

  private static void awaitLatch(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("not released in 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private Spillway spillway(String prefix) {
    return spillway(prefix, null);
  }

  private Spillway spillway(String prefix, FlushListener listener) {
    return Spillway.builder()
        .redisUri(env.redisUri())
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(prefix)
        .stripes(STRIPES)
        .flushListener(listener)
        .build();
  }

  // --- PostgreSQL --------------------------------------------------------------------------------

  private boolean someoneWaitsOnTheLedger() {
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND wait_event_type = 'Lock' AND query LIKE ?")) {
      ps.setString(1, "%\"" + env.schema() + "\".flush_ledger%");
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1) > 0;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private BigDecimal ledgerDeltaSum() {
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT coalesce(sum(delta_sum), 0) FROM \"" + env.schema() + "\".flush_ledger");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getBigDecimal(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  // --- Redis -------------------------------------------------------------------------------------

}
