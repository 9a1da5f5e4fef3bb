package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.testing.LogCapture;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Closing a runtime while threads increment as fast as they can, with a flush every 50 ms and
 * cached counter reads (so invalidations and bus messages are in flight too): no ERROR line from
 * anyone (Spillway, Lettuce, Netty), every increment that returned is counted exactly once after a
 * second runtime flushes what the first left pending in Redis, and every increment after close
 * throws.
 */
@ExtendWith(ServicesExtension.class)
@Isolated // it asserts on every log line of the JVM
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CloseUnderLoadTest {
  private static final int THREADS = 3;
  private static final int KEYS = 5_000;

  @Test
  void close_whileThreadsIncrementHard_noErrorAndTotalsExact(TestEnv env) throws Exception {
    LongAdder accepted = new LongAdder();
    LongAdder refusedAfterClose = new LongAdder();
    List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());
    try (LogCapture logs = new LogCapture()) {
      Spillway sw = Spillways.builder(env).flushEvery(Duration.ofMillis(50)).build();
      for (int i = 0; i < 20; i++) {
        sw.cachedCounters().get("hits", "k" + i); // something cached, so flushes invalidate
      }
      CountDownLatch started = new CountDownLatch(THREADS);
      List<Thread> producers = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int seed = t;
        producers.add(
            Thread.ofPlatform()
                .name("producer-" + t)
                .start(
                    () -> {
                      started.countDown();
                      long n = seed;
                      while (true) {
                        try {
                          sw.counters().increment("hits", "k" + (n++ % KEYS));
                          accepted.increment();
                        } catch (SpillwayException e) {
                          if (e.getMessage().contains("closed")) {
                            refusedAfterClose.increment();
                            return;
                          }
                          unexpected.add(e);
                          return;
                        } catch (RuntimeException e) {
                          unexpected.add(e);
                          return;
                        }
                      }
                    }));
      }
      started.await();
      // Load until several drains and flushes ran meanwhile (progress, not a timing assertion).
      var flushes = sw.meterRegistry().get("spillway.flush.duration").timer();
      while ((accepted.sum() < 300_000 || flushes.count() < 10)
          && producers.stream().allMatch(Thread::isAlive)) {
        Thread.sleep(50);
      }
      sw.close();
      for (Thread p : producers) {
        p.join(30_000);
      }
      assertThat(unexpected).isEmpty();
      assertThat(refusedAfterClose.sum()).isEqualTo(THREADS);
      assertThat(logs.atLeast(Level.ERROR)).isEmpty();
    }

    // What the first runtime drained but did not flush waits in Redis; one run takes it all.
    try (Spillway next = Spillways.builder(env).build()) {
      FlushReport r = next.flushOnce();
      assertThat(r.ok()).as(r.toString()).isTrue();
    }
    assertThat(
            env.queryLong(
                "SELECT coalesce(sum(total), 0) FROM "
                    + env.schema()
                    + ".counter_totals WHERE counter = 'hits'"))
        .isEqualTo(accepted.sum());
  }
}
