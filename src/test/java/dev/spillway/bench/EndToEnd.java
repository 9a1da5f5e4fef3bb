package dev.spillway.bench;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.flush.FlushReport;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/** Figures 5, 6 and 8: per-event SQL vs Spillway end to end, lag, and safety under a fault. */
final class EndToEnd {
  private EndToEnd() {}

  static List<BenchResult> perEventSql(Env env, int threads, Duration d) throws Exception {
    env.reset();
    env.sql(
        "CREATE SCHEMA IF NOT EXISTS " + Env.SCHEMA,
        "CREATE TABLE "
            + Env.SCHEMA
            + ".counters (k text PRIMARY KEY, n bigint NOT NULL) WITH (fillfactor = 70)",
        "INSERT INTO "
            + Env.SCHEMA
            + ".counters SELECT 'p' || g, 0 FROM generate_series(0, 999) g");
    List<Connection> conns = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      conns.add(env.jdbc());
    }
    double sql;
    try {
      sql =
          Ingest.rate(
              threads,
              d,
              (t, stop, sent) -> {
                SplittableRandom r = new SplittableRandom(t);
                try (PreparedStatement ps =
                    conns
                        .get(t)
                        .prepareStatement(
                            "UPDATE " + Env.SCHEMA + ".counters SET n = n + 1 WHERE k = ?")) {
                  while (!stop.get()) {
                    ps.setString(1, "p" + r.nextInt(1000));
                    ps.executeUpdate();
                    sent.increment();
                  }
                }
              },
              null);
    } finally {
      for (Connection c : conns) {
        c.close();
      }
    }
    // Spillway end to end: from increment() until PostgreSQL holds every event.
    double spillway;
    try (Spillway sw = env.spillway(b -> b.flushEvery(Duration.ofSeconds(1)))) {
      Counters c = sw.counters();
      LongAdder total = new LongAdder();
      spillway =
          Ingest.rate(
              threads,
              d,
              (t, stop, sent) -> {
                SplittableRandom r = new SplittableRandom(t);
                String[] names = Ingest.names("p", 1000);
                while (!stop.get()) {
                  for (int i = 0; i < 1000; i++) {
                    c.increment("e2e", names[r.nextInt(1000)]);
                  }
                  sent.add(1000);
                  total.add(1000);
                }
              },
              () -> {
                c.flush();
                waitFor(sw, "e2e", total.sum());
              });
    }
    String g = "5. per-event SQL vs Spillway end to end (" + threads + " threads)";
    BenchResult sqlR =
        BenchResult.of(g, "one UPDATE ... SET n = n + 1 per event (JDBC)", sql, "events/s");
    return List.of(
        BenchResult.of(g, "Spillway, increment() until in PostgreSQL", spillway, "events/s")
            .against(sqlR, null),
        sqlR);
  }

  /** Flushes until PostgreSQL's sum for {@code counter} reaches {@code expected}. */
  static void waitFor(Spillway sw, String counter, long expected) {
    for (int i = 0; i < 600; i++) {
      if (sum(sw, counter) == expected) {
        return;
      }
      sw.flushOnce();
    }
    throw new IllegalStateException(counter + " never reached " + expected + " in PostgreSQL");
  }

  static long sum(Spillway sw, String counter) {
    try (Connection c = sw.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT coalesce(sum(total), 0) FROM "
                    + Env.SCHEMA
                    + ".counter_totals WHERE counter = ?")) {
      ps.setString(1, counter);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Lag at a steady background load: a probe increments a fresh key every 20 ms and a poller notes
   * when each becomes visible in PostgreSQL.
   */
  static List<BenchResult> lag(Env env, Duration d, int backgroundPerSecond) throws Exception {
    env.reset();
    Duration interval = Duration.ofSeconds(1);
    Histogram h = new Histogram(TimeUnit.MINUTES.toMicros(5), 3);
    try (Spillway sw = env.spillway(b -> b.flushEvery(interval))) {
      Counters c = sw.counters();
      AtomicBoolean stop = new AtomicBoolean();
      Thread load =
          Thread.ofPlatform()
              .start(
                  () -> {
                    SplittableRandom r = new SplittableRandom(1);
                    long perTick = backgroundPerSecond / 100;
                    while (!stop.get()) {
                      long t0 = System.nanoTime();
                      for (int i = 0; i < perTick; i++) {
                        c.increment("lag_load", Integer.toString(r.nextInt(10_000)));
                      }
                      long left = 10_000_000 - (System.nanoTime() - t0);
                      if (left > 0) {
                        LockSupport.parkNanos(left);
                      }
                    }
                  });
      int probes = (int) (d.toMillis() / 20);
      long[] sent = new long[probes];
      try (Connection conn = env.jdbc();
          PreparedStatement seen =
              conn.prepareStatement(
                  "SELECT key FROM "
                      + Env.SCHEMA
                      + ".counter_totals WHERE counter = 'lag_probe'")) {
        Set<String> visible = new HashSet<>();
        long next = System.nanoTime();
        int p = 0;
        long deadline = System.nanoTime() + d.toNanos() + TimeUnit.SECONDS.toNanos(10);
        while (visible.size() < probes && System.nanoTime() < deadline) {
          long now = System.nanoTime();
          if (p < probes && now >= next) {
            sent[p] = now;
            c.increment("lag_probe", Integer.toString(p));
            p++;
            next += 20_000_000;
          }
          try (ResultSet rs = seen.executeQuery()) {
            long at = System.nanoTime();
            while (rs.next()) {
              if (visible.add(rs.getString(1))) {
                h.recordValue(Math.max(0, (at - sent[Integer.parseInt(rs.getString(1))]) / 1000));
              }
            }
          }
          Thread.sleep(5);
        }
      } finally {
        stop.set(true);
        load.join();
      }
    }
    String g =
        "6. lag, increment() to visible in PostgreSQL (flush every 1s, "
            + backgroundPerSecond / 1000
            + "k events/s background)";
    double aim = (interval.toMillis() + 1000);
    return List.of(
        BenchResult.of(g, "p50", h.getValueAtPercentile(50) / 1000.0, "ms"),
        BenchResult.of(g, "p99", h.getValueAtPercentile(99) / 1000.0, "ms")
            .note("aim: <= flush interval + 1 s = " + (long) aim + " ms"),
        BenchResult.of(g, "max", h.getMaxValue() / 1000.0, "ms"),
        BenchResult.of(g, "probes", h.getTotalCount(), "count"));
  }

  /**
   * Figure 8: the naive loop and Spillway under the same fault — their PostgreSQL connections
   * terminated every 100 ms while they flush. Counts the increments each lost.
   */
  static List<BenchResult> safety(Env env, int keys) throws Exception {
    env.reset("bench:safe:*");
    // naive
    env.sql(
        "CREATE SCHEMA IF NOT EXISTS " + Env.SCHEMA,
        "CREATE TABLE " + Env.SCHEMA + ".naive_safe (k text PRIMARY KEY, n bigint NOT NULL)",
        "INSERT INTO "
            + Env.SCHEMA
            + ".naive_safe SELECT 'bench:safe:' || g, 0 FROM generate_series(0, "
            + (keys - 1)
            + ") g");
    FlushBench.setKeys(env, "bench:safe:", keys, 5);
    long naiveSent = 5L * keys;
    try (Killer k = new Killer(env, "naive-bench")) {
      FlushBench.naiveLoop(env, "bench:safe:", "naive_safe", "naive-bench");
    }
    long naiveInDb;
    try (Connection c = env.jdbc();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT sum(n) FROM " + Env.SCHEMA + ".naive_safe")) {
      rs.next();
      naiveInDb = rs.getLong(1);
    }
    long naiveLeft = env.conn.sync().keys("bench:safe:*").size();
    // Spillway
    long swLost;
    int failedRuns = 0;
    String url =
        env.base.jdbcUrl()
            + (env.base.jdbcUrl().contains("?") ? "&" : "?")
            + "ApplicationName=spillway-bench"; // so the fault hits this runtime and nothing else
    try (Spillway sw = env.spillway(b -> b.jdbcUrl(url))) {
      for (int i = 0; i < keys; i++) {
        sw.counters().increment("safe", Integer.toString(i), 5);
      }
      sw.counters().flush();
      try (Killer k = new Killer(env, "spillway-bench")) {
        for (int i = 0; i < 20; i++) {
          FlushReport r = sw.flushOnce();
          failedRuns += r.batchesFailed() > 0 ? 1 : 0;
        }
      }
      waitFor(sw, "safe", 5L * keys);
      swLost = 5L * keys - sum(sw, "safe");
    }
    env.unlink("bench:safe:*");
    String g = "8. safety: PostgreSQL connections terminated every 100 ms during the flush";
    return List.of(
        BenchResult.of(
                g,
                "naive loop: increments lost",
                naiveSent - naiveInDb - 5L * naiveLeft,
                "increments")
            .note("of " + naiveSent + " sent"),
        BenchResult.of(g, "Spillway: increments lost", swLost, "increments")
            .note(
                "of "
                    + 5L * keys
                    + " sent; "
                    + failedRuns
                    + " flush runs hit the fault and left their batches pending"));
  }

  /** Terminates the backends of one application name every 100 ms until closed. */
  static final class Killer implements AutoCloseable {
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    Killer(Env env, String applicationName) {
      thread =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try (Connection c = env.jdbc();
                        PreparedStatement ps =
                            c.prepareStatement(
                                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                    + " WHERE application_name = ? AND pid <> pg_backend_pid()")) {
                      ps.setString(1, applicationName);
                      while (!stop.get()) {
                        ps.executeQuery().close();
                        Thread.sleep(100);
                      }
                    } catch (Exception e) {
                      if (!stop.get()) {
                        System.out.println("killer stopped: " + e);
                      }
                    }
                  });
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      thread.join();
    }
  }
}
