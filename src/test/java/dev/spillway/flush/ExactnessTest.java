package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 2, case 1: 4 threads x 500k increments over 10k keys while a flush runs every 200 ms;
 * PostgreSQL then holds exactly what was sent, per key, to the unit. Exact reads taken while
 * flushing never exceed what was sent and end equal to it.
 */
@ExtendWith(ServicesExtension.class)
class ExactnessTest {
  private static final int THREADS = 4;
  private static final int PER_THREAD = 500_000;
  private static final int KEYS = 10_000;

  @Test
  void increment_whileFlushingEvery200ms_totalsExactPerKey(TestEnv env) throws Exception {
    long[][] sent = new long[THREADS][KEYS];
    try (Spillway sw =
        Spillways.builder(env).stripes(256).flushEvery(Duration.ofMillis(200)).build()) {
      Counters counters = sw.counters();
      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicLong reads = new AtomicLong();
      AtomicLong readViolations = new AtomicLong();
      // Key 0 only ever grows (deltas >= 1 there), so an exact read is monotonic between
      // flushes of this thread's view and never above what was sent.
      Thread reader =
          Thread.ofPlatform()
              .start(
                  () -> {
                    long last = 0;
                    while (writing.get()) {
                      long v = counters.get("hits", "k0");
                      if (v < last) {
                        readViolations.incrementAndGet();
                      }
                      last = v;
                      reads.incrementAndGet();
                    }
                  });
      List<Thread> writers = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int id = t;
        writers.add(
            Thread.ofPlatform()
                .name("writer-" + t)
                .start(
                    () -> {
                      SplittableRandom r = new SplittableRandom(1000 + id);
                      for (int i = 0; i < PER_THREAD; i++) {
                        int k = r.nextInt(KEYS);
                        long d = k == 0 ? 1 + r.nextInt(3) : r.nextInt(-2, 50);
                        counters.increment("hits", "k" + k, d);
                        sent[id][k] += d;
                      }
                    }));
      }
      for (Thread w : writers) {
        w.join();
      }
      writing.set(false);
      reader.join();
      counters.flush();
      long expectedK0 = 0;
      for (int t = 0; t < THREADS; t++) {
        expectedK0 += sent[t][0];
      }
      // Before the final flush: an exact read already sees everything acknowledged by Redis.
      assertThat(counters.get("hits", "k0")).isEqualTo(expectedK0);
      drain(sw);
      assertThat(reads.get()).isPositive();
      assertThat(readViolations.get()).as("exact reads went backwards").isZero();
    }
    Map<String, Long> db = new HashMap<>();
    try (Connection c = env.dataSource().getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT key, total FROM "
                    + env.schema()
                    + ".counter_totals WHERE counter = 'hits'")) {
      while (rs.next()) {
        db.put(rs.getString(1), rs.getLong(2));
      }
    }
    int mismatches = 0;
    for (int k = 0; k < KEYS; k++) {
      long expected = 0;
      for (int t = 0; t < THREADS; t++) {
        expected += sent[t][k];
      }
      if (db.getOrDefault("k" + k, 0L) != expected) {
        mismatches++;
      }
    }
    assertThat(mismatches).as("keys whose PostgreSQL total differs from what was sent").isZero();
    assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isPositive();
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM (SELECT batch_id FROM flush_ledger GROUP BY 1 HAVING count(*)"
                    + " > 1) d"))
        .isZero();
    assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
  }

  /** Flushes until a run finds nothing pending. */
  static void drain(Spillway sw) {
    for (int i = 0; i < 50; i++) {
      FlushReport r = sw.flushOnce();
      if (r.ok()
          && r.batchesClaimed() == 0
          && r.batchesApplied() == 0
          && r.batchesDuplicate() == 0) {
        return;
      }
    }
    throw new AssertionError("flush did not settle");
  }
}
