package dev.spillway.bench;

import dev.spillway.Spillway;
import io.lettuce.core.RedisFuture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Figure 7: Redis memory per pending cell, Spillway's striped hashes against one string key per
 * counter, measured as the change in {@code used_memory} for the same cells on the same server.
 */
final class MemoryBench {
  private MemoryBench() {}

  static List<BenchResult> memory(Env env, int cells) throws Exception {
    env.reset("bench:mem:*");
    long before = usedMemory(env);
    String encoding;
    try (Spillway sw = env.spillway(b -> b)) {
      for (int i = 0; i < cells; i++) {
        sw.counters().increment("page_views", Integer.toString(i), 1 + (i % 100));
      }
      sw.counters().flush(); // now pending in Redis, not flushed to PostgreSQL
      encoding = env.conn.sync().objectEncoding(Env.PREFIX + "{0}:live");
      long striped = usedMemory(env) - before;
      env.reset();
      before = usedMemory(env);
      List<RedisFuture<Long>> fs = new ArrayList<>();
      for (int i = 0; i < cells; i++) {
        fs.add(env.conn.async().incrby("bench:mem:page_views:" + i, 1 + (i % 100)));
      }
      for (RedisFuture<Long> f : fs) {
        f.get(30, TimeUnit.SECONDS);
      }
      long plain = usedMemory(env) - before;
      env.reset("bench:mem:*");
      int stripes = sw.config().stripes();
      String g = "7. Redis memory per pending cell (" + cells / 1000 + "k cells)";
      BenchResult plainR =
          BenchResult.of(
              g, "one string key per counter (INCR)", (double) plain / cells, "bytes/cell");
      return List.of(
          BenchResult.of(g, "Spillway striped hashes", (double) striped / cells, "bytes/cell")
              .against(plainR, "<= 0.5x")
              .note(
                  stripes + " stripes, ~" + cells / stripes + " cells each, encoding " + encoding),
          plainR);
    }
  }

  private static long usedMemory(Env env) throws InterruptedException {
    Thread.sleep(200); // let lazy frees (UNLINK) settle
    for (String line : env.conn.sync().info("memory").split("\r?\n")) {
      if (line.startsWith("used_memory:")) {
        return Long.parseLong(line.substring("used_memory:".length()).trim());
      }
    }
    throw new IllegalStateException("INFO memory has no used_memory");
  }
}
