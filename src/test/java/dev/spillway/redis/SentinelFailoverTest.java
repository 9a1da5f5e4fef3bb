package dev.spillway.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Durability;
import dev.spillway.Spillway;
import dev.spillway.cache.CacheAside;
import dev.spillway.config.CacheSettings;
import dev.spillway.counter.Counters;
import dev.spillway.testing.PendingState;
import dev.spillway.testing.ReplicationLinks;
import dev.spillway.testing.SentinelSet;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 16, case 3: a Sentinel deployment owned by the test (a master, two replicas, one sentinel
 * with quorum 1, {@code down-after-milliseconds 1000}); the master is SIGKILLed while an
 * application increments and calls {@code flush()}, and the runtime's scheduled flusher runs.
 *
 * <p>To make the unreplicated window real (on loopback a replica is never more than a millisecond
 * behind), both replicas' links are cut {@value #CUT_MS} ms before the kill, and kept from
 * reconnecting (a wrong {@code masterauth}, restored once the master is dead so that the replica
 * not promoted can follow the new master).
 *
 * <p>With {@code client.durability: replicated} PostgreSQL ends exactly equal to what was sent:
 * nothing the dead master acknowledged in the window was acknowledged to the application, and the
 * client re-sent it to the new master. With {@code async}, nothing is counted twice and the loss is
 * measured and printed. In both, counters, flush, cache reads, invalidations and the bus follow the
 * master: another runtime's L1 copy is dropped by an invalidation made after the failover.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SentinelFailoverTest {
  private static final int KEYS = 500;
  private static final long CUT_MS = 500;

  @Test
  void replicated_masterKilled_postgresEqualsSent(TestEnv base) throws Exception {
    Outcome o = run(base, Durability.REPLICATED);
    assertThat(o.doubled).as("keys counted more than sent").isEmpty();
    assertThat(o.counted)
        .as("replicated: PostgreSQL holds exactly what was sent (lost %d)", o.sent - o.counted)
        .isEqualTo(o.sent);
    assertThat(o.deadRows).as("dead-lettered rows").isZero();
    assertThat(o.flushesFailed)
        .as("flush() refused while the replicas could not confirm")
        .isPositive();
  }

  @Test
  void async_masterKilled_noDoubleCount_lossMeasured(TestEnv base) throws Exception {
    Outcome o = run(base, Durability.ASYNC);
    assertThat(o.doubled).as("keys counted more than sent").isEmpty();
    assertThat(o.counted).isLessThanOrEqualTo(o.sent);
    // Claims the old master made in the window were never confirmed by a replica, so none was
    // applied: the promoted replica re-numbers nothing PostgreSQL holds (see SingleServerFence).
    assertThat(o.deadRows).as("async: batches refused as resurrected claims").isZero();
    // The window the replicated case survives is real here: the drains it held are gone.
    assertThat(o.sent - o.counted)
        .as("async: the unreplicated window lost increments")
        .isPositive();
  }

  private record Outcome(
      long sent,
      long counted,
      List<String> doubled,
      long deadRows,
      long deadDelta,
      long flushesFailed) {}

  private Outcome run(TestEnv base, Durability durability) throws Exception {
    try (SentinelSet set = SentinelSet.start(1, 2)) {
      TestEnv env = base.onRedis(set.uri(), false);
      // One counter per test method: the class's schema is shared by both.
      String counter = "hits_" + durability.name().toLowerCase(Locale.ROOT);
      long[] sent = new long[KEYS];
      AtomicLong flushesOk = new AtomicLong();
      AtomicLong flushesFailed = new AtomicLong();
      AtomicLong loadsOnB = new AtomicLong();
      CacheSettings cache = CacheSettings.builder().l1Ttl(Duration.ofMinutes(5)).build();
      long killedNanos;
      long failedOverNanos;
      int victim;
      try (Spillway a =
              Spillway.builder()
                  .config(
                      Spillways.config(env)
                          .redisTimeout(Duration.ofSeconds(2))
                          .durability(durability)
                          .flushEnabled(true)
                          .flushInterval(Duration.ofMillis(200))
                          .cache(cache)
                          .build())
                  .build();
          Spillway b =
              Spillway.builder()
                  .config(
                      Spillways.config(env)
                          .redisTimeout(Duration.ofSeconds(2))
                          .cache(cache)
                          .build())
                  .build()) {
        CacheAside<Long, String> onA =
            a.cache("item", Long.class, String.class).loader(id -> "a" + id).build();
        CacheAside<Long, String> onB =
            b.cache("item", Long.class, String.class)
                .loader(id -> "b" + id + "/" + loadsOnB.incrementAndGet())
                .build();
        assertInvalidationReaches(onA, onB, loadsOnB, 1L);

        Counters counters = a.counters();
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer =
            Thread.ofPlatform()
                .name("sentinel-writer")
                .start(
                    () -> {
                      SplittableRandom r = new SplittableRandom(16);
                      while (writing.get()) {
                        for (int i = 0; i < 200; i++) {
                          int k = r.nextInt(KEYS);
                          counters.increment(counter, "k" + k);
                          sent[k]++;
                        }
                        try {
                          counters.flush();
                          flushesOk.incrementAndGet();
                        } catch (RuntimeException e) {
                          flushesFailed.incrementAndGet(); // kept buffered, re-sent
                        }
                        sleep(10);
                      }
                    });
        sleep(1_500);
        victim = set.masterPort();
        List<Integer> replicas = set.replicaPorts();
        for (int port : replicas) {
          ReplicationLinks.cut(port);
        }
        sleep(CUT_MS);
        killedNanos = System.nanoTime();
        set.killMaster();
        for (int port : replicas) {
          ReplicationLinks.restore(port);
        }
        set.awaitFailover(victim, Duration.ofSeconds(30));
        failedOverNanos = System.nanoTime();
        long okAtFailover = flushesOk.get();
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> flushesOk.get() > okAtFailover + 5); // flush() succeeds again
        writing.set(false);
        writer.join();
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
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> PendingState.pendingKeys(env, env.keyPrefix()).isEmpty());

        // The cache and the bus follow the master too: B re-subscribed, an invalidation from A
        // made on the new master drops B's L1 copy.
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () ->
                    b.meterRegistry()
                            .counter("spillway.cache.l1.clears", "reason", "resubscribed")
                            .count()
                        >= 1);
        assertInvalidationReaches(onA, onB, loadsOnB, 2L);
      }

      Map<String, Long> db = PendingState.totalsByKey(env, counter);
      long sentTotal = 0;
      long countedTotal = 0;
      List<String> doubled = new ArrayList<>();
      for (int k = 0; k < KEYS; k++) {
        long c = db.getOrDefault("k" + k, 0L);
        sentTotal += sent[k];
        countedTotal += c;
        if (c > sent[k]) {
          doubled.add("k" + k + ": " + c + " > sent " + sent[k]);
        }
      }
      long deadRows = env.queryLong("SELECT count(*) FROM dead_letter WHERE counter = ?", counter);
      long deadDelta =
          env.queryLong(
              "SELECT coalesce(sum(delta), 0)::bigint FROM dead_letter WHERE counter = ?", counter);
      System.out.printf(
          "SentinelFailoverTest[%s]: killed master :%d; failover took %d ms; flush() ok %d, failed"
              + " %d; sent %,d; counted %,d; lost %,d (%.4f%%); dead-lettered %d row(s), delta"
              + " %,d%n",
          durability,
          victim,
          (failedOverNanos - killedNanos) / 1_000_000,
          flushesOk.get(),
          flushesFailed.get(),
          sentTotal,
          countedTotal,
          sentTotal - countedTotal,
          100.0 * (sentTotal - countedTotal) / sentTotal,
          deadRows,
          deadDelta);
      assertThat(sentTotal).isPositive();
      return new Outcome(
          sentTotal, countedTotal, doubled, deadRows, deadDelta, flushesFailed.get());
    }
  }

  /** B caches {@code id} in L1; A invalidates it; B's next reads load it again. */
  private static void assertInvalidationReaches(
      CacheAside<Long, String> onA, CacheAside<Long, String> onB, AtomicLong loadsOnB, long id) {
    await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> onB.get(id) != null);
    long loads = loadsOnB.get();
    assertThat(onB.get(id)).as("an L1 hit").isNotNull();
    assertThat(loadsOnB.get()).as("served from L1, no load").isEqualTo(loads);
    onA.invalidate(id);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              onB.get(id);
              return loadsOnB.get() > loads;
            });
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
