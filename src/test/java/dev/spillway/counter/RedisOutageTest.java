package dev.spillway.counter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.spillway.BufferFullException;
import dev.spillway.OverflowPolicy;
import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.flush.FlushReport;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.PendingState.Cell;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Redis goes away under the embedded client (a test-owned {@code redis-server}, stopped and
 * restarted empty, as a crash without persistence does). The local buffer holds what Redis has not
 * acknowledged, bounded by {@code client.max-pending-cells}; the overflow policy decides what
 * happens beyond the bound. Whatever the policy, every increment that {@code increment()} accepted
 * reaches PostgreSQL exactly once, and none that it refused does.
 *
 * <p>A restart loses what Redis held (no persistence, by design of this test server), so each case
 * first moves everything that reached Redis on to PostgreSQL and lets the buffer empty before
 * stopping Redis: what is then counted is exactly what the client had to keep.
 */
@ExtendWith(ServicesExtension.class)
class RedisOutageTest {
  private static final int BOUND = 1_000;
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(1);

  private final TestEnv env;

  RedisOutageTest(TestEnv env) {
    this.env = env;
  }

  @Test
  void redisStopped_incrementsBufferedByDistinctCell_thenRestart_totalsExact() {
    List<String> counters = List.of("a_views", "a_bytes", "a.votes");
    Map<Cell, Long> expected = new HashMap<>();
    SplittableRandom random = new SplittableRandom(1);
    try (RedisServerProcess redis = RedisServerProcess.start();
        Spillway sw = spillway(redis, builder -> {})) {
      // Before the outage: counts reach PostgreSQL, and Redis holds none of them any more.
      write(sw, counters, 0, 500, random, expected);
      sw.counters().flush();
      flushToPostgres(sw);
      awaitBufferEmpty(sw);
      redis.stop();

      // 300 distinct cells, one increment each: the first drain attempt takes them and fails; from
      // then on each is pending exactly once (sent but unacknowledged, or still buffered).
      write(sw, counters.subList(0, 1), 0, 300, random, expected);
      await().atMost(Duration.ofSeconds(10)).until(() -> drainFailures(sw) >= 1);
      await().atMost(Duration.ofSeconds(5)).until(() -> sw.counters().pendingCells() == 300);
      // More increments on the same cells. A cell whose earlier delta waits for Redis and which
      // holds a newer one locally counts twice, so the count may rise once, up to 2 x 300...
      write(sw, counters.subList(0, 1), 0, 300, random, expected);
      int afterSecondRound = sw.counters().pendingCells();
      assertThat(afterSecondRound).isBetween(300, 600);
      // ...and then no more, however many increments follow: memory follows cells, not increments.
      for (int round = 0; round < 10; round++) {
        write(sw, counters.subList(0, 1), 0, 300, random, expected);
      }
      assertThat(sw.counters().pendingCells())
          .as("pending cells grow with distinct cells, not with increments")
          .isEqualTo(afterSecondRound);
      // 200 new cells: 200 more.
      write(sw, counters.subList(1, 2), 0, 200, random, expected);
      assertThat(sw.counters().pendingCells()).isEqualTo(afterSecondRound + 200);
      assertThatThrownBy(() -> sw.counters().flush())
          .as("flush() reports that Redis did not acknowledge")
          .isInstanceOf(SpillwayException.class);

      redis.restart();
      flushUntilAcknowledged(sw);
      assertThat(sw.counters().pendingCells()).isZero();
      flushToPostgres(sw);
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
    }
  }

  @Test
  void overflowFail_redisDown_newCellsBeyondBoundThrow_existingCellsStillCount() {
    List<String> counters = List.of("b_views");
    Map<Cell, Long> expected = new HashMap<>();
    try (RedisServerProcess redis = RedisServerProcess.start();
        Spillway sw =
            spillway(redis, b -> b.maxPendingCells(BOUND).overflowPolicy(OverflowPolicy.FAIL))) {
      awaitBufferEmpty(sw);
      redis.stop();

      for (int k = 0; k < BOUND; k++) {
        increment(sw, "b_views", "k" + k, k + 1, expected);
      }
      assertThatThrownBy(() -> sw.counters().increment("b_views", "new", 5))
          .isInstanceOf(BufferFullException.class)
          .hasMessageContaining("client.max-pending-cells=" + BOUND)
          .hasMessageContaining("client.overflow=FAIL");
      // Existing cells cost no memory: they keep accepting increments.
      for (int k = 0; k < BOUND; k++) {
        increment(sw, "b_views", "k" + k, 1_000_000, expected);
      }
      assertThatThrownBy(() -> sw.counters().increment("b_views", "other", 1))
          .isInstanceOf(BufferFullException.class);

      redis.restart();
      flushUntilAcknowledged(sw);
      // Redis acknowledged everything: the buffer holds nothing pending, so new cells fit again.
      increment(sw, "b_views", "after", 7, expected);
      sw.counters().flush();
      flushToPostgres(sw);
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.totals(env, counters))
          .doesNotContainKeys(new Cell("b_views", "new"), new Cell("b_views", "other"));
    }
  }

  @Test
  void overflowDirect_redisDownAndBufferFull_buffersGoToPostgresThroughTheLedger() {
    List<String> counters = List.of("c_views", "c_bytes");
    Map<Cell, Long> expected = new HashMap<>();
    SplittableRandom random = new SplittableRandom(3);
    try (RedisServerProcess redis = RedisServerProcess.start();
        Spillway sw =
            spillway(
                redis,
                b ->
                    b.maxPendingCells(BOUND)
                        .overflowPolicy(OverflowPolicy.DIRECT)
                        // Short: a caller must not wait on Redis (only on PostgreSQL) with DIRECT.
                        .blockTimeout(Duration.ofSeconds(2)))) {
      write(sw, counters, 0, 300, random, expected);
      sw.counters().flush();
      flushToPostgres(sw);
      awaitBufferEmpty(sw);
      long directBefore = directBatches();
      redis.stop();

      // 4 x the bound in distinct cells, twice each, while Redis is down: none may be refused.
      for (int round = 0; round < 2; round++) {
        write(sw, counters, 0, 2 * BOUND, random, expected);
      }
      assertThat(directBatches() - directBefore)
          .as("the full buffer went to PostgreSQL as direct:... ledger batches")
          .isPositive();
      assertThat(
              env.queryLong(
                  "SELECT count(*) FROM flush_ledger WHERE batch_id LIKE 'direct:%' AND stripe ="
                      + " -1"))
          .isPositive();

      redis.restart();
      flushUntilAcknowledged(sw);
      flushToPostgres(sw);
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(env.queryLong("SELECT count(*) - count(DISTINCT batch_id) FROM flush_ledger"))
          .isZero();
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
    }
  }

  @Test
  void overflowBlock_redisDown_incrementWaitsThenThrows_andABlockedOneProceedsWhenRedisReturns()
      throws Exception {
    List<String> counters = List.of("d_views");
    Map<Cell, Long> expected = new HashMap<>();
    Duration shortTimeout = Duration.ofSeconds(1);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (RedisServerProcess redis = RedisServerProcess.start()) {
      // Outage 1, short block-timeout: a new cell beyond the bound waits that long, then is
      // refused; the cells already accepted are not lost.
      try (Spillway sw = spillway(redis, b -> block(b).blockTimeout(shortTimeout))) {
        awaitBufferEmpty(sw);
        redis.stop();
        for (int k = 0; k < BOUND; k++) {
          increment(sw, "d_views", "k" + k, 3, expected);
        }
        long start = System.nanoTime();
        assertThatThrownBy(() -> sw.counters().increment("d_views", "refused", 1))
            .isInstanceOf(BufferFullException.class)
            .hasMessageContaining("client.block-timeout")
            .hasMessageContaining("client.max-pending-cells=" + BOUND);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as("it blocked for client.block-timeout first")
            .isGreaterThanOrEqualTo(shortTimeout);
        redis.restart();
        flushUntilAcknowledged(sw);
        flushToPostgres(sw);
      }

      // Outage 2: a blocked increment proceeds once Redis is back, without anyone calling
      // flush(): the drainer's own retry makes the room. (Its block-timeout is long, because how
      // soon the room comes depends on the reconnect and the drainer's backoff, up to 5 s.)
      try (Spillway sw = spillway(redis, b -> block(b).blockTimeout(Duration.ofSeconds(30)))) {
        awaitBufferEmpty(sw);
        redis.stop();
        for (int k = 0; k < BOUND; k++) {
          increment(sw, "d_views", "j" + k, 5, expected);
        }
        CountDownLatch started = new CountDownLatch(1);
        Future<?> blocked =
            pool.submit(
                () -> {
                  started.countDown();
                  sw.counters().increment("d_views", "waited", 11);
                });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(300);
        // Started while the buffer was full and Redis down: only Redis returning makes room.
        assertThat(blocked.isDone()).as("the increment is blocked while Redis is down").isFalse();
        redis.restart();
        blocked.get(40, TimeUnit.SECONDS); // throws if the increment was refused
        expected.merge(new Cell("d_views", "waited"), 11L, Long::sum);

        flushUntilAcknowledged(sw);
        flushToPostgres(sw);
      }
      assertThat(PendingState.totals(env, counters)).isEqualTo(PendingState.nonZero(expected));
      assertThat(PendingState.totals(env, counters))
          .doesNotContainKey(new Cell("d_views", "refused"));
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ---------------------------------------------------------------------------------------------

  private Spillway spillway(RedisServerProcess redis, Consumer<Spillway.Builder> tune) {
    Spillway.Builder b =
        Spillway.builder()
            .redisUri(redis.uri())
            .jdbcUrl(env.jdbcUrl())
            .jdbcUser(env.jdbcUser())
            .jdbcPassword(env.jdbcPassword())
            .schema(env.schema())
            .keyPrefix(env.keyPrefix())
            .stripes(64)
            .redisTimeout(REDIS_TIMEOUT)
            .closeTimeout(Duration.ofSeconds(2));
    tune.accept(b);
    return b.build();
  }

  private static Spillway.Builder block(Spillway.Builder b) {
    return b.maxPendingCells(BOUND).overflowPolicy(OverflowPolicy.BLOCK);
  }

  private static void write(
      Spillway sw,
      List<String> counters,
      int fromKey,
      int toKey,
      SplittableRandom random,
      Map<Cell, Long> expected) {
    for (String counter : counters) {
      for (int k = fromKey; k < toKey; k++) {
        long delta =
            random.nextInt(5) == 0 ? -random.nextLong(1, 1_000) : random.nextLong(1, 1_000_000);
        increment(sw, counter, "k" + k, delta, expected);
      }
    }
  }

  private static void increment(
      Spillway sw, String counter, String key, long delta, Map<Cell, Long> expected) {
    sw.counters().increment(counter, key, delta);
    expected.merge(new Cell(counter, key), delta, Long::sum); // only once accepted
  }

  private static double drainFailures(Spillway sw) {
    var c = sw.meterRegistry().find("spillway.client.drain.failures").counter();
    return c == null ? 0 : c.count();
  }

  /** Idle cells leave the buffer after a few drains; then nothing local is pending. */
  private static void awaitBufferEmpty(Spillway sw) {
    await().atMost(Duration.ofSeconds(10)).until(() -> sw.counters().pendingCells() == 0);
  }

  /** flush() until Redis (restarted, reconnecting) acknowledges everything buffered. */
  private static void flushUntilAcknowledged(Spillway sw) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .ignoreException(SpillwayException.class)
        .until(
            () -> {
              sw.counters().flush();
              return true;
            });
  }

  /** flushOnce() until a run succeeds with nothing left (the flusher may still be reconnecting). */
  private static void flushToPostgres(Spillway sw) {
    List<FlushReport> reports = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              FlushReport r = sw.flushOnce();
              reports.add(r);
              return r.ok() && r.batchesClaimed() + r.batchesApplied() + r.batchesDuplicate() == 0;
            });
  }

  private long directBatches() {
    return env.queryLong("SELECT count(*) FROM flush_ledger WHERE batch_id LIKE 'direct:%'");
  }
}
