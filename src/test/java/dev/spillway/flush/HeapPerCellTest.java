package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Measures, not times: the heap one distinct cell costs (a) in the client's local buffer between
 * two drains and (b) in a flush, from its claim until its transaction commits (the batches read
 * from Redis, parsed, bound to the upsert, and the applied-counters view handed to the cache
 * runtime). Heap is sampled after a full GC (MemoryMXBean), before and at the peak; the peak of a
 * flush is sampled inside its transaction through {@link FlushListener#beforeCommit}. The figures
 * go to the log (README, "Bounded memory"); the assertion is only a generous ceiling, so that a
 * regression that multiplies the cost shows up.
 *
 * <p>{@code @Isolated}: test classes otherwise run in parallel in this JVM, and their heap would be
 * measured too. Run alone: {@code mvn -o test -Dtest=HeapPerCellTest}.
 */
@ExtendWith(ServicesExtension.class)
@Isolated
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HeapPerCellTest {
  private static final int CELLS = 100_000;

  @Test
  void flush_distinctCells_heapPerCellBounded(TestEnv env) {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    AtomicLong flushPeak = new AtomicLong();
    FlushListener sampler =
        new FlushListener() {
          @Override
          public void beforeCommit(Set<String> appliedBatchIds) {
            flushPeak.accumulateAndGet(usedAfterGc(memory), Math::max);
          }
        };
    try (Spillway sw =
        Spillways.builder(env)
            .drainInterval(Duration.ofMinutes(1)) // cells stay in the local buffer until flush()
            .flushListener(sampler)
            .build()) {
      sw.cachedCounters().get("views", "0"); // the cache runtime is in use, as in a worker
      sw.counters().increment("views", "warm-up");
      sw.counters().flush();
      sw.flushOnce();

      long beforeBuffer = usedAfterGc(memory);
      for (int i = 0; i < CELLS; i++) {
        sw.counters().increment("views", Integer.toString(i));
      }
      long buffered = usedAfterGc(memory);
      sw.counters().flush(); // to Redis; the buffer's cells retire over the next drains
      long beforeFlush = usedAfterGc(memory);
      FlushReport r = sw.flushOnce();
      assertThat(r.cells()).isEqualTo(CELLS);

      double bufferPerCell = (double) (buffered - beforeBuffer) / CELLS;
      double flushPerCell = (double) (flushPeak.get() - beforeFlush) / CELLS;
      System.out.printf(
          "heap per distinct cell: local buffer %.0f bytes, flush (claim to commit) %.0f bytes"
              + " (%d cells, one transaction of %d)%n",
          bufferPerCell, flushPerCell, CELLS, sw.config().flushMaxCellsPerTransaction());
      assertThat(bufferPerCell).isBetween(1.0, 1_000.0);
      assertThat(flushPerCell).isBetween(1.0, 4_000.0);
    }
  }

  private static long usedAfterGc(MemoryMXBean memory) {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) { // a few rounds: the smallest is the live set
      memory.gc();
      best = Math.min(best, memory.getHeapMemoryUsage().getUsed());
    }
    return best;
  }
}
