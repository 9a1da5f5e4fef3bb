package dev.spillway.counter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.OverflowPolicy;
import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Counts are never dropped to bound memory: past {@code client.max-pending-cells} distinct cells,
 * {@code increment()} waits (policy BLOCK) until a drain makes room. Here producers create new
 * cells far faster than the bound allows; what the client holds stays within the bound, and every
 * increment reaches PostgreSQL exactly once.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BackPressureTest {
  private static final int MAX_CELLS = 1_000;
  private static final int THREADS = 3;
  private static final int PER_THREAD = 30_000;
  private static final int KEYS_PER_THREAD = 10_000;

  @Test
  void increment_bufferAtBound_blocksAndLosesNothing(TestEnv env) throws Exception {
    AtomicInteger maxPending = new AtomicInteger();
    AtomicBoolean producing = new AtomicBoolean(true);
    try (Spillway sw =
        Spillways.builder(env)
            .maxPendingCells(MAX_CELLS)
            .overflowPolicy(OverflowPolicy.BLOCK)
            .blockTimeout(Duration.ofSeconds(60))
            .build()) {
      Thread sampler =
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (producing.get()) {
                      maxPending.accumulateAndGet(sw.counters().pendingCells(), Math::max);
                      Thread.onSpinWait();
                    }
                  });
      List<Thread> producers = new ArrayList<>();
      List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
      for (int t = 0; t < THREADS; t++) {
        int id = t;
        producers.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        for (int i = 0; i < PER_THREAD; i++) {
                          sw.counters()
                              .increment("signups", "t" + id + "-" + (i % KEYS_PER_THREAD));
                        }
                      } catch (RuntimeException e) {
                        failures.add(e);
                      }
                    }));
      }
      for (Thread p : producers) {
        p.join();
      }
      producing.set(false);
      sampler.join();
      assertThat(failures).isEmpty();
      // The buffer holds at most the bound (plus one new cell per racing thread); a drain in
      // flight holds at most as much again.
      assertThat(maxPending.get()).isLessThanOrEqualTo(2 * (MAX_CELLS + THREADS));
      sw.counters().flush();
      assertThat(sw.flushOnce().ok()).isTrue();
    }
    assertThat(
            env.queryLong(
                "SELECT coalesce(sum(total), 0) FROM "
                    + env.schema()
                    + ".counter_totals WHERE counter = 'signups'"))
        .isEqualTo((long) THREADS * PER_THREAD);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM "
                    + env.schema()
                    + ".counter_totals WHERE counter = 'signups'"))
        .isEqualTo((long) THREADS * KEYS_PER_THREAD);
  }
}
