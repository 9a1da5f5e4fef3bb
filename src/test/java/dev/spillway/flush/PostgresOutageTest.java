package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.PendingState.Cell;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TcpProxy;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PostgreSQL goes away while counts flow: the network to it is cut (a {@link TcpProxy} between
 * Spillway and the server), or its backends are terminated. Flushes must fail visibly, batches must
 * wait in Redis, increments must keep being accepted, and once PostgreSQL is back the totals must
 * be exact with every batch applied once.
 */
@ExtendWith(ServicesExtension.class)
class PostgresOutageTest {
  private static final Logger log = LoggerFactory.getLogger(PostgresOutageTest.class);
  private static final int STRIPES = 64;
  private static final Pattern JDBC =
      Pattern.compile("jdbc:postgresql://([^/:?]+)(?::(\\d+))?(/.*)");

  private final TestEnv env;

  PostgresOutageTest(TestEnv env) {
    this.env = env;
  }

  @Test
  void networkCut_flushesFailAndBatchesWaitInRedis_thenExactAfterRestore() throws Exception {
    String prefix = env.keyPrefix() + "cut:";
    List<String> counters = List.of("cut_views", "cut_bytes", "cut.votes");
    Matcher m = jdbc();
    List<FlushReport> reports = new ArrayList<>();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicLong increments = new AtomicLong();
    try (TcpProxy proxy = TcpProxy.start(m.group(1), port(m));
        Spillway sw = spillway(prefix, throughProxy(m, proxy), null)) {
      long ledgerBefore = env.queryLong("SELECT count(*) FROM flush_ledger");
      Future<Map<Cell, Long>> writer =
          pool.submit(() -> write(sw, counters, new SplittableRandom(42), writing, increments));

      awaitIncrements(increments, 5_000);
      sw.counters().flush();
      FlushReport before = sw.flushOnce();
      reports.add(before);
      assertThat(before.ok()).as("%s", before).isTrue();
      assertThat(before.batchesApplied()).as("%s", before).isPositive();

      proxy.cut();
      long totalsAtCut = totalsSum(counters);
      long ledgerAtCut = env.queryLong("SELECT count(*) FROM flush_ledger");
      // Two flushes while PostgreSQL is unreachable (each may wait out Hikari's 5 s timeout).
      for (int i = 0; i < 2; i++) {
        long seen = increments.get();
        awaitIncrements(increments, seen + 2_000); // increments keep being accepted
        sw.counters().flush(); // and reach Redis, which is fine
        FlushReport failed = sw.flushOnce();
        reports.add(failed);
        assertThat(failed.ok()).as("flush during the cut: %s", failed).isFalse();
        assertThat(failed.batchesFailed()).as("%s", failed).isPositive();
        assertThat(failed.batchesApplied()).as("%s", failed).isZero();
        assertThat(failed.errors()).as("%s", failed).isNotEmpty();
      }
      Set<String> pendingDuringCut = PendingState.pendingBatchIds(env, prefix);
      assertThat(pendingDuringCut).as("claimed batches wait in Redis").isNotEmpty();
      assertThat(totalsSum(counters))
          .as("PostgreSQL unchanged during the cut")
          .isEqualTo(totalsAtCut);
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isEqualTo(ledgerAtCut);

      proxy.restore();
      long afterRestore = increments.get();
      awaitIncrements(increments, afterRestore + 2_000);
      writing.set(false);
      Map<Cell, Long> expected = writer.get(30, TimeUnit.SECONDS);
      sw.counters().flush();
      flushUntilClean(sw, reports);

      assertThat(PendingState.pendingKeys(env, prefix)).as("nothing left in Redis").isEmpty();
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      long applied = reports.stream().mapToLong(FlushReport::batchesApplied).sum();
      long duplicates = reports.stream().mapToLong(FlushReport::batchesDuplicate).sum();
      // The cut never fell inside a COMMIT (flushes ran on this thread, the cut between them), so
      // no apply can have succeeded unseen: one ledger row per batch reported applied.
      assertThat(duplicates).isZero();
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger"))
          .isEqualTo(ledgerBefore + applied);
      assertThat(env.queryLong("SELECT count(*) - count(DISTINCT batch_id) FROM flush_ledger"))
          .isZero();
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
      assertThat(pendingDuringCut).allSatisfy(id -> assertThat(inLedger(id)).as(id).isTrue());
    } finally {
      writing.set(false);
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void networkCutInsideTheApplyTransaction_rollsBack_thenAppliedOnce() {
    String prefix = env.keyPrefix() + "tx:";
    List<String> counters = List.of("tx_views", "tx_bytes");
    Matcher m = jdbc();
    AtomicInteger commits = new AtomicInteger();
    TcpProxy proxy = TcpProxy.start(m.group(1), port(m));
    FlushListener cutBeforeFirstCommit =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> appliedBatchIds) {
            if (commits.incrementAndGet() == 1) {
              proxy.cut();
            }
          }
        };
    try (proxy;
        Spillway sw = spillway(prefix, throughProxy(m, proxy), cutBeforeFirstCommit)) {
      long ledgerBefore = env.queryLong("SELECT count(*) FROM flush_ledger");
      Map<Cell, Long> expected = new HashMap<>();
      SplittableRandom random = new SplittableRandom(3);
      for (String counter : counters) {
        for (int k = 0; k < 1_000; k++) {
          long delta = random.nextLong(-1_000, 1_000_000);
          sw.counters().increment(counter, "k" + k, delta);
          expected.merge(new Cell(counter, "k" + k), delta, Long::sum);
        }
      }
      sw.counters().flush();

      FlushReport failed = sw.flushOnce();
      assertThat(commits).hasValue(1);
      assertThat(failed.ok()).as("%s", failed).isFalse();
      assertThat(failed.batchesFailed()).as("%s", failed).isPositive();
      Set<String> pending = PendingState.pendingBatchIds(env, prefix);
      assertThat(pending).hasSize(failed.batchesFailed());
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger"))
          .as("the transaction was rolled back")
          .isEqualTo(ledgerBefore);
      assertThat(PendingState.totals(env, counters)).isEmpty();

      proxy.restore();
      List<FlushReport> reports = new ArrayList<>();
      flushUntilClean(sw, reports);
      assertThat(reports.stream().mapToLong(FlushReport::batchesApplied).sum())
          .isEqualTo(pending.size());
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger"))
          .isEqualTo(ledgerBefore + pending.size());
      assertThat(pending).allSatisfy(id -> assertThat(inLedger(id)).as(id).isTrue());
      assertThat(PendingState.pendingKeys(env, prefix)).isEmpty();
    }
  }

  @Test
  void backendsTerminatedMidRun_noLossNoDoubleCount() throws Exception {
    String prefix = env.keyPrefix() + "term:";
    List<String> counters = List.of("term_views", "term_bytes", "term.votes");
    // Spillway names its connections 'spillway'; other test classes run at the same time with the
    // same name, so this runtime gets a name of its own (a URL parameter wins over the default).
    String appName = "spillway-" + env.schema();
    String url =
        env.jdbcUrl() + (env.jdbcUrl().contains("?") ? "&" : "?") + "ApplicationName=" + appName;
    AtomicInteger commits = new AtomicInteger();
    AtomicInteger terminated = new AtomicInteger();
    FlushListener terminateInsideThirdTransaction =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> appliedBatchIds) {
            if (commits.incrementAndGet() == 3) {
              terminated.addAndGet(terminate(appName));
            }
          }
        };
    List<FlushReport> reports = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicBoolean flushing = new AtomicBoolean(true);
    AtomicLong increments = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (Spillway sw = spillway(prefix, url, terminateInsideThirdTransaction)) {
      assertThat(
              env.queryLong(
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?"
                      + " AND datname = current_database()",
                  appName))
          .as("the runtime's connections carry the test's application name")
          .isPositive();
      long ledgerBefore = env.queryLong("SELECT count(*) FROM flush_ledger");
      Future<Map<Cell, Long>> writer =
          pool.submit(() -> write(sw, counters, new SplittableRandom(5), writing, increments));
      Future<?> flusher =
          pool.submit(
              () -> {
                while (flushing.get()) {
                  reports.add(sw.flushOnce());
                  Thread.sleep(20);
                }
                return null;
              });

      // Terminate the backends a few more times while writes and flushes run.
      for (int i = 0; i < 4; i++) {
        Thread.sleep(400);
        terminated.addAndGet(terminate(appName));
      }
      awaitUntil(() -> commits.get() > 6, Duration.ofSeconds(20));
      writing.set(false);
      Map<Cell, Long> expected = writer.get(30, TimeUnit.SECONDS);
      flushing.set(false);
      flusher.get(30, TimeUnit.SECONDS);
      sw.counters().flush();
      flushUntilClean(sw, reports);

      long applied = reports.stream().mapToLong(FlushReport::batchesApplied).sum();
      long failed = reports.stream().mapToLong(FlushReport::batchesFailed).sum();
      long duplicates = reports.stream().mapToLong(FlushReport::batchesDuplicate).sum();
      long ledgerAdded = env.queryLong("SELECT count(*) FROM flush_ledger") - ledgerBefore;
      log.info(
          "event=terminate_backends terminated={} runs={} applied={} failed={} duplicates={}"
              + " ledger_added={}",
          terminated.get(),
          reports.size(),
          applied,
          failed,
          duplicates,
          ledgerAdded);

      assertThat(terminated.get()).as("backends were terminated").isPositive();
      assertThat(failed).as("the termination inside a transaction failed that apply").isPositive();
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.pendingKeys(env, prefix)).isEmpty();
      // A termination that lands between COMMIT and its reply leaves a batch applied but reported
      // failed; the next run finds it in the ledger (a duplicate). Nothing else adds ledger rows.
      assertThat(ledgerAdded).isBetween(applied, applied + duplicates);
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
    } finally {
      writing.set(false);
      flushing.set(false);
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static Map<Cell, Long> write(
      Spillway sw,
      List<String> counters,
      SplittableRandom random,
      AtomicBoolean writing,
      AtomicLong increments)
      throws InterruptedException {
    Map<Cell, Long> mine = new HashMap<>();
    while (writing.get()) {
      for (int i = 0; i < 200; i++) {
        String counter = counters.get(random.nextInt(counters.size()));
        String key = "k" + random.nextInt(2_000);
        long delta =
            random.nextInt(8) == 0 ? -random.nextLong(1, 100) : random.nextLong(1, 1_000_000);
        sw.counters().increment(counter, key, delta);
        mine.merge(new Cell(counter, key), delta, Long::sum);
      }
      increments.addAndGet(200);
      Thread.sleep(1);
    }
    return mine;
  }

  private static void awaitIncrements(AtomicLong increments, long atLeast) {
    awaitUntil(() -> increments.get() >= atLeast, Duration.ofSeconds(20));
  }

  private static void awaitUntil(BooleanSupplier condition, Duration timeout) {
    Awaitility.await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(10))
        .until(condition::getAsBoolean);
  }

  /**
   * Flushes until a run succeeds and finds nothing left to do. A run right after the outage may
   * still fail once per dead connection that the pool hands out (Hikari skips its liveness check
   * for a connection used in the last 500 ms); the batches then simply wait for the next run.
   */
  private static void flushUntilClean(Spillway sw, List<FlushReport> reports) {
    List<FlushReport> mine = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      FlushReport r = sw.flushOnce();
      reports.add(r);
      mine.add(r);
      if (r.ok() && r.batchesClaimed() + r.batchesApplied() + r.batchesDuplicate() == 0) {
        long failedRuns = mine.stream().filter(x -> !x.ok()).count();
        assertThat(failedRuns).as("failed runs after the outage: %s", mine).isLessThanOrEqualTo(4);
        return;
      }
    }
    throw new AssertionError("not clean after 10 runs: " + mine);
  }

  private int terminate(String appName) {
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    + " WHERE application_name = ? AND datname = current_database()")) {
      ps.setString(1, appName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private Matcher jdbc() {
    Matcher m = JDBC.matcher(env.jdbcUrl());
    assertThat(m.matches()).as("parsable JDBC URL %s", env.jdbcUrl()).isTrue();
    return m;
  }

  private static int port(Matcher m) {
    return m.group(2) == null ? 5432 : Integer.parseInt(m.group(2));
  }

  private static String throughProxy(Matcher m, TcpProxy proxy) {
    return "jdbc:postgresql://127.0.0.1:" + proxy.port() + m.group(3);
  }

  private Spillway spillway(String prefix, String jdbcUrl, FlushListener listener) {
    return Spillway.builder()
        .redisUri(env.redisUri())
        .jdbcUrl(jdbcUrl)
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(prefix)
        .stripes(STRIPES)
        .flushListener(listener)
        .build();
  }

  // --- PostgreSQL, read directly (never through the proxy) --------------------------------------

  private long totalsSum(List<String> counters) {
    BigDecimal sum = BigDecimal.ZERO;
    for (long v : PendingState.totals(env, counters).values()) {
      sum = sum.add(BigDecimal.valueOf(v));
    }
    return sum.longValueExact();
  }

  private boolean inLedger(String batchId) {
    return env.queryLong("SELECT count(*) FROM flush_ledger WHERE batch_id = ?", batchId) == 1;
  }

  // --- Redis -------------------------------------------------------------------------------------

}
