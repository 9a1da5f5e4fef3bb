package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Durability;
import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.RedisClusterProcess;
import dev.spillway.testing.ReplicationLinks;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.cluster.SlotHash;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 16, case 4: {@link ClusterFailoverTest}'s unreplicated window (the replica's link cut
 * {@value #CUT_MS} ms before its master is SIGKILLed) with {@code client.durability: replicated}.
 * Writers increment and call {@code counters().flush()} after every round; each records, when a
 * flush returns, what it had sent before the call: that much flush() acknowledged.
 *
 * <p>Asserts per key that PostgreSQL holds at least everything flush() acknowledged (nothing
 * acknowledged was lost, although the dead master had applied drains its replica never saw) and
 * never more than was sent; and, once the killed node is back (as the new master's replica, so that
 * WAIT can confirm again) and a last flush() returned, exactly what was sent.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClusterDurableFailoverTest {
  private static final int KEYS = 2_000;
  private static final int WRITERS = 2;
  private static final long CUT_MS = 500;

  @Test
  void replicated_masterKilledInUnreplicatedWindow_nothingAcknowledgedLost(TestEnv base)
      throws Exception {
    try (RedisClusterProcess cluster = RedisClusterProcess.start(Duration.ofMillis(1_000))) {
      TestEnv env = base.onRedis(cluster.seedUri(), true);
      long[][] sent = new long[WRITERS][KEYS];
      long[][] acknowledged = new long[WRITERS][KEYS];
      AtomicLong flushesOk = new AtomicLong();
      AtomicLong flushesFailed = new AtomicLong();
      AtomicLong longestFlushMillis = new AtomicLong();
      int victim;
      try (Spillway sw =
          Spillways.builder(env)
              .redisTimeout(Duration.ofSeconds(2))
              .durability(Durability.REPLICATED)
              .flushEvery(Duration.ofMillis(200))
              .build()) {
        Counters counters = sw.counters();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < WRITERS; t++) {
          int id = t;
          writers.add(
              Thread.ofPlatform()
                  .name("durable-writer-" + t)
                  .start(
                      () -> {
                        SplittableRandom r = new SplittableRandom(60 + id);
                        while (writing.get()) {
                          for (int i = 0; i < 500; i++) {
                            int k = r.nextInt(KEYS);
                            counters.increment("hits", "k" + k);
                            sent[id][k]++;
                          }
                          long[] before = sent[id].clone();
                          long t0 = System.nanoTime();
                          try {
                            counters.flush();
                            acknowledged[id] = before;
                            flushesOk.incrementAndGet();
                          } catch (RuntimeException e) {
                            flushesFailed.incrementAndGet(); // still buffered: re-sent
                          }
                          longestFlushMillis.accumulateAndGet(
                              (System.nanoTime() - t0) / 1_000_000, Math::max);
                          sleep(2);
                        }
                      }));
        }
        sleep(2_000);
        victim = cluster.masterPortForSlot(SlotHash.getSlot("{0}"));
        sleep(500);
        ReplicationLinks.cut(cluster.replicaOf(victim));
        sleep(CUT_MS);
        cluster.kill(victim);
        cluster.awaitFailover(victim, Duration.ofSeconds(30));
        cluster.restart(victim); // rejoins as the new master's replica: WAIT can confirm again
        long okAfter = flushesOk.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> flushesOk.get() > okAfter + 4);
        writing.set(false);
        for (Thread w : writers) {
          w.join();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
          try {
            counters.flush();
            break;
          } catch (RuntimeException e) {
            assertThat(System.nanoTime())
                .as("final flush(): %s", e.getMessage())
                .isLessThan(deadline);
          }
        }
        await()
            .atMost(Duration.ofSeconds(40))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> PendingState.pendingKeys(env, env.keyPrefix()).isEmpty());
      }

      Map<String, Long> db = PendingState.totalsByKey(env, "hits");
      long sentTotal = 0;
      long ackedTotal = 0;
      long countedTotal = 0;
      List<String> wrong = new ArrayList<>();
      for (int k = 0; k < KEYS; k++) {
        long s = 0;
        long a = 0;
        for (int t = 0; t < WRITERS; t++) {
          s += sent[t][k];
          a += acknowledged[t][k];
        }
        long c = db.getOrDefault("k" + k, 0L);
        sentTotal += s;
        ackedTotal += a;
        countedTotal += c;
        if (c < a || c > s) {
          wrong.add("k" + k + ": counted " + c + ", acknowledged " + a + ", sent " + s);
        }
      }
      System.out.printf(
          "ClusterDurableFailoverTest: killed master :%d; flush() ok %d, failed %d, longest %d ms;"
              + " sent %,d;"
              + " acknowledged by flush() before the last one %,d; counted %,d%n",
          victim,
          flushesOk.get(),
          flushesFailed.get(),
          longestFlushMillis.get(),
          sentTotal,
          ackedTotal,
          countedTotal);
      assertThat(wrong)
          .as("keys below what flush() acknowledged, or above what was sent")
          .isEmpty();
      assertThat(countedTotal)
          .as("after the last flush(), PostgreSQL holds what was sent")
          .isEqualTo(sentTotal);
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter"))
          .as("dead-lettered rows")
          .isZero();
      // The window was real for the writers: a flush() in it either failed (WAIT could not
      // confirm until the redis.timeout) or waited for the failover and the re-sent packets'
      // WAIT. Which one depends on how fast the failover is; async mode would do neither.
      assertThat(flushesFailed.get() > 0 || longestFlushMillis.get() >= CUT_MS / 2)
          .as(
              "flush() refused or held back in the unreplicated window (failed %d, longest %d ms)",
              flushesFailed.get(), longestFlushMillis.get())
          .isTrue();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
