package dev.spillway.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;

/** Figures 1 and 2: ingest, hot keys (1k) and cold keys (1M), against per-event Redis writes. */
final class Ingest {
  private Ingest() {}

  interface Worker {
    /** Runs until {@code stop}; adds what it sent to {@code sent}. */
    void run(int thread, AtomicBoolean stop, LongAdder sent) throws Exception;
  }

  /** Runs {@code threads} workers for {@code d}; returns events per second. */
  static double rate(int threads, Duration d, Worker w, Runnable finish) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    LongAdder sent = new LongAdder();
    List<Thread> ts = new ArrayList<>();
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    long t0 = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      int id = t;
      ts.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      w.run(id, stop, sent);
                    } catch (Throwable e) {
                      errors.add(e);
                    }
                  }));
    }
    Thread.sleep(d.toMillis());
    stop.set(true);
    for (Thread t : ts) {
      t.join();
    }
    if (finish != null) {
      finish.run(); // counted: the events are not delivered until this returns
    }
    if (!errors.isEmpty()) {
      throw new IllegalStateException("benchmark worker failed", errors.get(0));
    }
    return sent.sum() / ((System.nanoTime() - t0) / 1e9);
  }

  static List<BenchResult> hot(Env env, int threads, Duration d) throws Exception {
    int keys = 1000;
    env.reset(Env.KEYS + "hot:*");
    double spillway;
    try (Spillway sw = env.spillway(b -> b)) {
      Counters c = sw.counters();
      spillway =
          rate(
              threads,
              d,
              (t, stop, sent) -> {
                SplittableRandom r = new SplittableRandom(t);
                String[] names = names("p", keys);
                while (!stop.get()) {
                  for (int i = 0; i < 1000; i++) {
                    c.increment("hot", names[r.nextInt(keys)]);
                  }
                  sent.add(1000);
                }
              },
              c::flush);
    }
    double sync = redisRate(env, threads, d, false, i -> Env.KEYS + "hot:" + (i % keys));
    double pipelined = redisRate(env, threads, d, true, i -> Env.KEYS + "hot:" + (i % keys));
    env.reset(Env.KEYS + "hot:*");
    String g = "1. ingest, hot keys (1k keys, " + threads + " threads)";
    BenchResult syncR = BenchResult.of(g, "sync INCR per event", sync, "events/s");
    BenchResult pipeR = BenchResult.of(g, "pipelined INCR per event", pipelined, "events/s");
    return List.of(
        BenchResult.of(g, "Spillway increment() to Redis-acknowledged", spillway, "events/s")
            .against(syncR, ">= 100x"),
        BenchResult.of(g, "Spillway vs pipelined INCR", spillway, "events/s").against(pipeR, null),
        syncR,
        pipeR);
  }

  static List<BenchResult> cold(Env env, int threads, Duration d, int keys) throws Exception {
    env.reset(Env.KEYS + "cold:*", Env.KEYS + "rb*");
    double spillway;
    String cpu;
    try (Spillway sw = env.spillway(b -> b)) {
      Counters c = sw.counters();
      double redis0 = redisCpuSeconds(env);
      long jvm0 = jvmCpuNanos();
      long w0 = System.nanoTime();
      spillway =
          rate(
              threads,
              d,
              (t, stop, sent) -> {
                SplittableRandom r = new SplittableRandom(100 + t);
                while (!stop.get()) {
                  for (int i = 0; i < 1000; i++) {
                    c.increment("cold", Integer.toString(r.nextInt(keys)));
                  }
                  sent.add(1000);
                }
              },
              c::flush);
      double wall = (System.nanoTime() - w0) / 1e9;
      cpu =
          String.format(
              Locale.ROOT,
              "CPU while it ran: Redis %.0f%% of a core, this JVM %.0f%%",
              100 * (redisCpuSeconds(env) - redis0) / wall,
              100 * (jvmCpuNanos() - jvm0) / 1e9 / wall);
    }
    env.reset(Env.KEYS + "cold:*");
    // Per event: HINCRBY into hashes striped like Spillway's, pipelined 1000 at a time.
    double pipelined = redisRateHincrby(env, threads, d, keys);
    env.reset(Env.KEYS + "cold:*");
    String g = "2. ingest, cold keys (" + keys / 1000 + "k keys, " + threads + " threads)";
    List<BenchResult> out = new ArrayList<>();
    BenchResult pipeR = BenchResult.of(g, "pipelined HINCRBY per event", pipelined, "events/s");
    double redis0 = redisCpuSeconds(env);
    long w0 = System.nanoTime();
    Double limit = RedisBenchmarkTool.hincrbyStriped(env, 4096);
    String limitCpu =
        String.format(
            Locale.ROOT,
            "Redis %.0f%% of a core while it ran",
            100 * (redisCpuSeconds(env) - redis0) / ((System.nanoTime() - w0) / 1e9));
    env.reset(Env.KEYS + "rb*");
    Double tiny = RedisBenchmarkTool.hincrbyTiny(env, keys);
    env.reset(Env.KEYS + "rb*");
    Double oneHash = RedisBenchmarkTool.hincrby(env, keys);
    BenchResult sw =
        BenchResult.of(g, "Spillway increment() to Redis-acknowledged", spillway, "events/s");
    if (limit != null && oneHash != null && tiny != null) {
      BenchResult limitR =
          BenchResult.of(g, RedisBenchmarkTool.STRIPED + " (Redis limit)", limit, "events/s");
      BenchResult oneR =
          BenchResult.of(
              g, RedisBenchmarkTool.ONE_HASH + " (earlier reference)", oneHash, "events/s");
      out.add(sw.against(limitR, ">= 0.7x").note(cpu));
      limitR = limitR.note(limitCpu);
      BenchResult tinyR =
          BenchResult.of(g, RedisBenchmarkTool.TINY + " (cheapest layout)", tiny, "events/s");
      out.add(
          BenchResult.of(g, "Spillway vs one-field hashes", spillway, "events/s")
              .against(tinyR, null));
      out.add(
          BenchResult.of(g, "Spillway vs the earlier reference", spillway, "events/s")
              .against(oneR, null));
      out.add(
          BenchResult.of(g, "Spillway vs pipelined HINCRBY", spillway, "events/s")
              .against(pipeR, null));
      out.add(pipeR);
      out.add(limitR);
      out.add(tinyR);
      out.add(oneR);
    } else {
      out.add(
          sw.against(pipeR, null).note("redis-benchmark not installed: Redis limit not measured"));
      out.add(pipeR);
    }
    env.reset(Env.KEYS + "rb*");
    return out;
  }

  /** Redis's own CPU time so far (INFO cpu: used_cpu_sys + used_cpu_user), seconds. */
  static double redisCpuSeconds(Env env) {
    double s = 0;
    for (String line : env.conn.sync().info("cpu").split("\r?\n")) {
      if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
        s += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    return s;
  }

  /**
   * CPU seconds used so far by every process named {@code postgres} on this machine (utime + stime
   * from /proc), or NaN where there is no /proc or no local PostgreSQL. Backends that exit take
   * their time with them, so compare it over a span in which the pool's connections live.
   */
  static double postgresCpuSeconds() {
    java.io.File[] procs = new java.io.File("/proc").listFiles();
    if (procs == null) {
      return Double.NaN;
    }
    long ticks = 0;
    boolean any = false;
    for (java.io.File p : procs) {
      if (!p.getName().chars().allMatch(Character::isDigit)) {
        continue;
      }
      try {
        String stat = java.nio.file.Files.readString(p.toPath().resolve("stat"));
        int close = stat.lastIndexOf(')');
        if (!stat.substring(stat.indexOf('(') + 1, close).equals("postgres")) {
          continue;
        }
        String[] f = stat.substring(close + 2).split(" ");
        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
        any = true;
      } catch (java.io.IOException | RuntimeException e) {
        // the process ended meanwhile
      }
    }
    return any ? ticks / 100.0 : Double.NaN;
  }

  static long jvmCpuNanos() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  static String[] names(String prefix, int n) {
    String[] s = new String[n];
    for (int i = 0; i < n; i++) {
      s[i] = prefix + i;
    }
    return s;
  }

  private static double redisRate(
      Env env, int threads, Duration d, boolean pipelined, IntFunction<String> key)
      throws Exception {
    List<StatefulRedisConnection<String, String>> conns = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      conns.add(env.redis.connect());
    }
    try {
      return rate(
          threads,
          d,
          (t, stop, sent) -> {
            SplittableRandom r = new SplittableRandom(200 + t);
            var conn = conns.get(t);
            while (!stop.get()) {
              if (pipelined) {
                List<RedisFuture<Long>> fs = new ArrayList<>(1000);
                for (int i = 0; i < 1000; i++) {
                  fs.add(conn.async().incr(key.apply(r.nextInt(1_000_000))));
                }
                for (RedisFuture<Long> f : fs) {
                  f.get(10, TimeUnit.SECONDS);
                }
                sent.add(1000);
              } else {
                for (int i = 0; i < 100; i++) {
                  conn.sync().incr(key.apply(r.nextInt(1_000_000)));
                }
                sent.add(100);
              }
            }
          },
          null);
    } finally {
      conns.forEach(StatefulRedisConnection::close);
    }
  }

  private static double redisRateHincrby(Env env, int threads, Duration d, int keys)
      throws Exception {
    List<StatefulRedisConnection<String, String>> conns = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      conns.add(env.redis.connect());
    }
    try {
      return rate(
          threads,
          d,
          (t, stop, sent) -> {
            SplittableRandom r = new SplittableRandom(300 + t);
            var conn = conns.get(t);
            while (!stop.get()) {
              List<RedisFuture<Long>> fs = new ArrayList<>(1000);
              for (int i = 0; i < 1000; i++) {
                int k = r.nextInt(keys);
                fs.add(
                    conn.async().hincrby(Env.KEYS + "cold:{" + (k & 4095) + "}", "cold||" + k, 1));
              }
              for (RedisFuture<Long> f : fs) {
                f.get(10, TimeUnit.SECONDS);
              }
              sent.add(1000);
            }
          },
          null);
    } finally {
      conns.forEach(StatefulRedisConnection::close);
    }
  }
}
