package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code flush.apply-connections}: a run applies that many transactions at once, each on its own
 * connection, and stays exact. The first two transactions of a run meet inside {@code beforeCommit}
 * (each waits there for the other), which only happens when they run at the same time; with one
 * connection they cannot meet. A transaction that fails beside one that commits leaves only its own
 * batches pending.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ParallelApplyTest {
  private static final int STRIPES = 1024; // four windows of 256 stripes
  private static final int CELLS = 4_000;

  private final TestEnv env;

  ParallelApplyTest(TestEnv env) {
    this.env = env;
  }

  @Test
  void twoConnections_twoTransactionsAtOnce_totalsExact() {
    Meeting meeting = new Meeting(10);
    try (Spillway sw = spillway("par2:", 2, meeting)) {
      fill(sw, "par_two");
      FlushReport r = sw.flushOnce();
      assertThat(r.ok()).as("%s", r).isTrue();
      assertThat(r.cells()).isEqualTo(CELLS);
      assertThat(meeting.met()).as("two transactions were open at once").isTrue();
      assertThat(meeting.threads).as("apply threads").hasSize(2);
      assertExact("par_two");
    }
  }

  /**
   * The run's last backlog arrives while both lanes are still busy (their transactions wait in
   * beforeCommit): it waits for a lane like every other backlog, and the run moves everything.
   * Three windows of ~1,000 cells, a transaction's worth of 2,000: the first two windows go early
   * to idle lanes, the third is the tail.
   */
  @Test
  void tailArrivesWhileBothLanesAreBusy_waitsForOne() {
    AtomicInteger transactions = new AtomicInteger();
    FlushListener slow =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> applied) {
            if (transactions.incrementAndGet() <= 2) {
              try {
                Thread.sleep(1_000); // both lanes busy while the flushing thread reads on
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          }
        };
    try (Spillway sw = spillway("part:", 2, 768, 2_000, slow)) {
      int cells = 3_000;
      for (int i = 0; i < cells; i++) {
        sw.counters().increment("par_tail", "k" + i);
      }
      sw.counters().flush();
      FlushReport r = sw.flushOnce();
      assertThat(r.ok()).as("%s", r).isTrue();
      assertThat(r.cells()).isEqualTo(cells);
      assertThat(transactions.get()).as("transactions").isEqualTo(3);
      assertThat(total("par_tail")).isEqualTo(cells);
    }
  }

  @Test
  void oneConnection_transactionsOneAfterAnother() {
    Meeting meeting = new Meeting(1);
    try (Spillway sw = spillway("par1:", 1, meeting)) {
      fill(sw, "par_one");
      FlushReport r = sw.flushOnce();
      assertThat(r.ok()).as("%s", r).isTrue();
      assertThat(meeting.met()).as("two transactions were open at once").isFalse();
      assertThat(meeting.threads).hasSize(1);
      assertExact("par_one");
    }
  }

  /**
   * The first transaction fails inside PostgreSQL (the listener throws before its commit) while the
   * second commits: the run reports the failure, acknowledges what committed, and the next run
   * applies the rest, once.
   */
  @Test
  void oneOfTwoFails_theOtherCommits_nextRunAppliesTheRest() {
    AtomicBoolean failNext = new AtomicBoolean(true);
    Meeting meeting = new Meeting(10);
    FlushListener failing =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> applied) {
            meeting.beforeCommit(applied);
            if (failNext.compareAndSet(true, false)) {
              throw new IllegalStateException("injected: this transaction rolls back");
            }
          }
        };
    try (Spillway sw = spillway("parf:", 2, failing)) {
      fill(sw, "par_fail");
      FlushReport first = sw.flushOnce();
      assertThat(first.ok()).as("%s", first).isFalse();
      assertThat(first.errors()).anyMatch(e -> e.contains("injected"));
      assertThat(first.batchesApplied()).as("the other transaction committed").isPositive();
      long committed = total("par_fail");
      assertThat(committed).isPositive().isLessThan(CELLS);
      FlushReport second = sw.flushOnce();
      assertThat(second.ok()).as("%s", second).isTrue();
      assertThat(second.batchesDuplicate()).as("nothing committed twice").isZero();
      assertExact("par_fail");
    }
  }

  /**
   * Adopt: what a run has claimed goes to PostgreSQL while it scans on, two transactions at once,
   * and the table ends exact.
   */
  @Test
  void adopt_twoTransactionsAtOnce_tableExact() {
    String ns = env.keyPrefix() + "adoptpar:";
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".par_pages (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)");
    AdoptMapping m =
        new AdoptMapping(
            "par-pages",
            ns + "views:*",
            KeyRegex.compile(Pattern.quote(ns) + "views:(?<id>[0-9]+)"),
            AdoptMapping.Type.STRING,
            null,
            env.schema() + ".par_pages",
            Map.of("id", "id"),
            "view_count",
            null,
            1000);
    RedisClient client = RedisClient.create(env.redisUri());
    Meeting meeting = new Meeting(10);
    try (var conn = client.connect();
        Spillway sw =
            Spillway.builder()
                .config(
                    SpillwayConfig.builder()
                        .flushMaxCellsPerTransaction(100)
                        .flushApplyConnections(2)
                        .build())
                .redisUri(env.redisUri())
                .jdbcUrl(env.jdbcUrl())
                .jdbcUser(env.jdbcUser())
                .jdbcPassword(env.jdbcPassword())
                .schema(env.schema())
                .keyPrefix(env.keyPrefix() + "para:")
                .flushListener(meeting)
                .adopt(m)
                .build()) {
      for (int i = 0; i < CELLS; i++) {
        conn.sync().set(ns + "views:" + i, Integer.toString(1 + i % 3));
      }
      FlushReport r = sw.adoptOnce(m.name());
      assertThat(r.ok()).as("%s", r).isTrue();
      assertThat(r.cells()).isEqualTo(CELLS);
      assertThat(meeting.met()).as("two adopt transactions were open at once").isTrue();
      long expected = 0;
      for (int i = 0; i < CELLS; i++) {
        expected += 1 + i % 3;
      }
      assertThat(env.queryLong("SELECT sum(view_count) FROM " + env.schema() + ".par_pages"))
          .isEqualTo(expected);
      assertThat(conn.sync().keys(ns + "*")).as("nothing left in Redis").isEmpty();
    } finally {
      client.shutdown();
    }
  }

  private void fill(Spillway sw, String counter) {
    for (int i = 0; i < CELLS; i++) {
      sw.counters().increment(counter, "k" + i);
    }
    sw.counters().flush();
  }

  private long total(String counter) {
    return env.queryLong(
        "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = '" + counter + "'");
  }

  private void assertExact(String counter) {
    assertThat(total(counter)).isEqualTo(CELLS);
    assertThat(
            env.queryLong("SELECT count(*) FROM counter_totals WHERE counter = '" + counter + "'"))
        .isEqualTo(CELLS);
  }

  private Spillway spillway(String prefix, int connections, FlushListener listener) {
    // A window of 256 stripes holds ~1,000 cells: one transaction each.
    return spillway(prefix, connections, STRIPES, 500, listener);
  }

  private Spillway spillway(
      String prefix, int connections, int stripes, int maxCells, FlushListener listener) {
    return Spillway.builder()
        .config(
            SpillwayConfig.builder()
                .flushMaxCellsPerTransaction(maxCells)
                .flushApplyConnections(connections)
                .build())
        .redisUri(env.redisUri())
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(env.keyPrefix() + prefix)
        .stripes(stripes)
        .flushListener(listener)
        .build();
  }

  /** The first two transactions to reach beforeCommit wait there (up to a bound) for each other. */
  private static final class Meeting implements FlushListener {
    private final CountDownLatch two = new CountDownLatch(2);
    private final AtomicInteger arrived = new AtomicInteger();
    private final long waitSeconds;
    final Set<String> threads = ConcurrentHashMap.newKeySet();

    Meeting(long waitSeconds) {
      this.waitSeconds = waitSeconds;
    }

    @Override
    public void beforeCommit(Set<String> applied) {
      threads.add(Thread.currentThread().getName());
      if (arrived.incrementAndGet() <= 2) {
        two.countDown();
        try {
          two.await(waitSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    boolean met() {
      return two.getCount() == 0 && arrived.get() >= 2 && threads.size() >= 2;
    }
  }
}
