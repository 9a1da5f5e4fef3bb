package dev.spillway.bench;

import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.flush.FlushReport;
import io.lettuce.core.RedisFuture;
import io.micrometer.core.instrument.Timer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Figures 3 and 4: moving distinct cells from Redis into PostgreSQL, against the naive loop (KEYS,
 * GETDEL, one UPDATE per key) and against PostgreSQL's own ceiling (one server-side INSERT ...
 * SELECT ... ON CONFLICT DO UPDATE of the same rows into a table of the same shape). All measure
 * the update path: the rows exist already, as they do in steady state.
 */
final class FlushBench {
  private FlushBench() {}

  /** The flush phases, in the order a batch goes through them. */
  static final List<String> PHASES =
      List.of("claim", "read", "aggregate", "ledger", "ship", "upsert", "commit", "ack");

  static List<BenchResult> flush(Env env, int cells, int naiveKeys) throws Exception {
    env.reset(Env.KEYS + "naive:*");
    String g =
        "3. flush (" + cells / 1000 + "k distinct cells; naive on " + naiveKeys / 1000 + "k keys)";
    Measured update;
    Measured insert;
    double before = ceiling(env, cells);
    try (Spillway sw = env.spillway(b -> b)) {
      warmUp(sw);
      insert = measure(env, sw, "flush", cells); // first round inserts the rows
      update = measure(env, sw, "flush", cells);
    }
    double after = ceiling(env, cells);
    double naive = naive(env, naiveKeys, Env.KEYS + "naive:", "naive_counters");
    BenchResult ceilingR = ceilingResult(g, "PostgreSQL server-side upsert ceiling", before, after);
    BenchResult naiveR = BenchResult.of(g, "naive KEYS + GETDEL + UPDATE per key", naive, "keys/s");
    return List.of(
        BenchResult.of(g, "Spillway flushOnce(), update path", update.rate, "cells/s")
            .against(ceilingR, ">= 0.8x")
            .note(update.phases),
        BenchResult.of(g, "Spillway flushOnce(), insert path", insert.rate, "cells/s")
            .against(ceilingR, ">= 0.7x")
            .note(insert.phases),
        BenchResult.of(g, "Spillway vs naive", update.rate, "cells/s").against(naiveR, ">= 10x"),
        ceilingR,
        naiveR);
  }

  /**
   * Figure 9: cost per cell as the work grows. For each size, the insert path (new rows), the
   * update path (the same rows again) and the server-side ceiling for that many rows.
   */
  static List<BenchResult> scaling(Env env, List<Integer> sizes) throws Exception {
    List<BenchResult> out = new ArrayList<>();
    String g = "9. flush scaling (pending cells)";
    for (int n : sizes) {
      Measured insert;
      Measured update;
      double before = ceiling(env, n);
      try (Spillway sw = env.spillway(b -> b)) {
        warmUp(sw);
        String counter = "scale" + n;
        insert = measure(env, sw, counter, n);
        update = measure(env, sw, counter, n);
      }
      double after = ceiling(env, n);
      BenchResult ceilingR =
          ceilingResult(g, n / 1000 + "k: server-side upsert ceiling", before, after);
      out.add(
          BenchResult.of(g, n / 1000 + "k: update path", update.rate, "cells/s")
              .against(ceilingR, null)
              .note(update.phases));
      out.add(
          BenchResult.of(g, n / 1000 + "k: insert path", insert.rate, "cells/s")
              .against(ceilingR, null)
              .note(insert.phases));
      out.add(ceilingR);
    }
    return out;
  }

  record Measured(double rate, String phases) {}

  /**
   * The ceiling, measured right before and right after what is compared with it (the load on a
   * shared machine drifts): the mean of the two, both shown.
   */
  static BenchResult ceilingResult(String group, String name, double before, double after) {
    return BenchResult.of(group, name, (before + after) / 2, "rows/s")
        .note(String.format(Locale.ROOT, "mean of %,.0f before and %,.0f after", before, after));
  }

  /**
   * Four untimed flushes of 100k cells of another counter (an insert, then updates), so that what
   * is timed is a JVM whose flush code is compiled, as in a worker that has been running: the first
   * flushes of a fresh JVM spend as much CPU compiling as flushing.
   */
  static void warmUp(Spillway sw) {
    for (int round = 0; round < 4; round++) {
      fill(sw, "warmup", 100_000);
      sw.flushOnce();
    }
  }

  /** Fills {@code cells} distinct cells of {@code counter} and times one flushOnce(). */
  static Measured measure(Env env, Spillway sw, String counter, int cells) {
    fill(sw, counter, cells);
    Map<String, Double> before = phaseMillis(sw);
    long jvm0 = Ingest.jvmCpuNanos();
    double pg0 = Ingest.postgresCpuSeconds();
    double redis0 = Ingest.redisCpuSeconds(env);
    long t0 = System.nanoTime();
    FlushReport r = sw.flushOnce();
    double seconds = (System.nanoTime() - t0) / 1e9;
    String cpu =
        String.format(
            Locale.ROOT,
            "; CPU ms: this JVM %.0f, PostgreSQL %.0f, Redis %.0f",
            (Ingest.jvmCpuNanos() - jvm0) / 1e6,
            (Ingest.postgresCpuSeconds() - pg0) * 1000,
            (Ingest.redisCpuSeconds(env) - redis0) * 1000);
    if (r.cells() != cells || !r.ok()) {
      throw new IllegalStateException("flush moved " + r.cells() + " of " + cells + ": " + r);
    }
    Map<String, Double> after = phaseMillis(sw);
    StringBuilder b =
        new StringBuilder(String.format(Locale.ROOT, "wall %.0f ms:", seconds * 1000));
    for (String p : PHASES) {
      b.append(String.format(Locale.ROOT, " %s %.0f", p, after.get(p) - before.get(p)));
    }
    return new Measured(r.cells() / seconds, b.append(cpu).toString());
  }

  /** Total milliseconds recorded so far per phase (spillway.flush.phase). */
  static Map<String, Double> phaseMillis(Spillway sw) {
    return phaseMillis(sw, PHASES);
  }

  static Map<String, Double> phaseMillis(Spillway sw, List<String> phases) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String p : phases) {
      Timer t = sw.meterRegistry().find("spillway.flush.phase").tag("phase", p).timer();
      m.put(p, t == null ? 0.0 : t.totalTime(TimeUnit.MILLISECONDS));
    }
    return m;
  }

  private static void fill(Spillway sw, String counter, int cells) {
    var c = sw.counters();
    for (int i = 0; i < cells; i++) {
      c.increment(counter, Integer.toString(i));
    }
    c.flush();
  }

  /** Rows/s of one server-side upsert of {@code rows} existing rows. */
  static double ceiling(Env env, int rows) throws SQLException {
    try (Connection c = env.jdbc();
        Statement st = c.createStatement()) {
      st.execute("CREATE SCHEMA IF NOT EXISTS " + Env.SCHEMA);
      st.execute("DROP TABLE IF EXISTS " + Env.SCHEMA + ".ceiling");
      st.execute(
          "CREATE TABLE "
              + Env.SCHEMA
              + ".ceiling (counter text COLLATE \"C\" NOT NULL, key text"
              + " COLLATE \"C\" NOT NULL, total bigint NOT NULL, updated_at timestamptz NOT NULL"
              + " DEFAULT now(), PRIMARY KEY (counter, key)) WITH (fillfactor = 70)");
      String upsert =
          "INSERT INTO "
              + Env.SCHEMA
              + ".ceiling AS t (counter, key, total, updated_at)"
              + " SELECT 'flush', g::text, 1, now() FROM generate_series(0, "
              + (rows - 1)
              + ") g"
              + " ON CONFLICT (counter, key) DO UPDATE SET total = t.total + excluded.total,"
              + " updated_at = excluded.updated_at";
      st.execute(upsert);
      st.execute("VACUUM " + Env.SCHEMA + ".ceiling");
      double pg0 = Ingest.postgresCpuSeconds();
      long t0 = System.nanoTime();
      st.execute(upsert);
      double seconds = (System.nanoTime() - t0) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "  ceiling, %,d rows: wall %.0f ms, PostgreSQL CPU %.0f ms%n",
          rows,
          seconds * 1000,
          (Ingest.postgresCpuSeconds() - pg0) * 1000);
      return rows / seconds;
    }
  }

  /** The loop most teams write: KEYS, then per key GETDEL and one autocommit UPDATE. Keys/s. */
  static double naive(Env env, int keys, String keyPrefix, String table) throws Exception {
    env.sql(
        "CREATE SCHEMA IF NOT EXISTS " + Env.SCHEMA,
        "DROP TABLE IF EXISTS " + Env.SCHEMA + "." + table,
        "CREATE TABLE " + Env.SCHEMA + "." + table + " (k text PRIMARY KEY, n bigint NOT NULL)",
        "INSERT INTO "
            + Env.SCHEMA
            + "."
            + table
            + " SELECT '"
            + keyPrefix
            + "' || g, 0"
            + " FROM generate_series(0, "
            + (keys - 1)
            + ") g");
    setKeys(env, keyPrefix, keys, 1);
    long t0 = System.nanoTime();
    int moved = naiveLoop(env, keyPrefix, table, null);
    double rate = moved / ((System.nanoTime() - t0) / 1e9);
    env.unlink(keyPrefix + "*");
    return rate;
  }

  static void setKeys(Env env, String keyPrefix, int keys, long value) throws Exception {
    List<RedisFuture<String>> fs = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      fs.add(env.conn.async().set(keyPrefix + i, Long.toString(value)));
    }
    for (RedisFuture<String> f : fs) {
      f.get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * One pass of the naive loop. On a database error it does what such code usually does: logs,
   * reconnects and goes on with the next key — the value it already GETDEL'd is gone.
   */
  static int naiveLoop(Env env, String keyPrefix, String table, String applicationName)
      throws Exception {
    var sync = env.conn.sync();
    List<String> keys = sync.keys(keyPrefix + "*");
    int moved = 0;
    Connection c = naiveConnection(env, applicationName);
    try {
      PreparedStatement ps =
          c.prepareStatement("UPDATE " + Env.SCHEMA + "." + table + " SET n = n + ? WHERE k = ?");
      for (String k : keys) {
        String v = sync.getdel(k);
        if (v == null) {
          continue;
        }
        try {
          ps.setLong(1, Long.parseLong(v));
          ps.setString(2, k);
          ps.executeUpdate();
          moved++;
        } catch (SQLException e) {
          c.close();
          c = naiveConnection(env, applicationName);
          ps =
              c.prepareStatement(
                  "UPDATE " + Env.SCHEMA + "." + table + " SET n = n + ? WHERE k = ?");
        }
      }
    } finally {
      c.close();
    }
    return moved;
  }

  private static Connection naiveConnection(Env env, String applicationName) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", env.base.jdbcUser());
    p.setProperty("password", env.base.jdbcPassword());
    if (applicationName != null) {
      p.setProperty("ApplicationName", applicationName);
    }
    return DriverManager.getConnection(env.base.jdbcUrl(), p);
  }

  static List<BenchResult> adopt(Env env, int keys, int naiveKeys) throws Exception {
    env.reset(Env.KEYS + "views:*", Env.KEYS + "tviews:*", Env.KEYS + "naive2:*");
    env.sql(
        "CREATE SCHEMA IF NOT EXISTS " + Env.SCHEMA,
        "CREATE TABLE "
            + Env.SCHEMA
            + ".pages (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)",
        "INSERT INTO "
            + Env.SCHEMA
            + ".pages (id) SELECT g FROM generate_series(0, "
            + (keys - 1)
            + ") g",
        "CREATE TABLE "
            + Env.SCHEMA
            + ".page_views (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)",
        "INSERT INTO "
            + Env.SCHEMA
            + ".page_views (id) SELECT g FROM generate_series(0, "
            + (keys - 1)
            + ") g");
    // SQL mode: the user's UPDATE per key, sent as JDBC batches.
    AdoptMapping sqlMode =
        new AdoptMapping(
            "bench-views",
            Env.KEYS + "views:*",
            KeyRegex.compile(Pattern.quote(Env.KEYS) + "views:(?<id>[0-9]+)"),
            AdoptMapping.Type.STRING,
            "UPDATE "
                + Env.SCHEMA
                + ".pages SET view_count = view_count + :delta WHERE id = CAST(:id AS bigint)",
            null,
            null,
            null,
            null,
            1000);
    // Table mode: Spillway writes the upsert itself (the rows exist: the update path).
    AdoptMapping tableMode =
        new AdoptMapping(
            "bench-tviews",
            Env.KEYS + "tviews:*",
            KeyRegex.compile(Pattern.quote(Env.KEYS) + "tviews:(?<id>[0-9]+)"),
            AdoptMapping.Type.STRING,
            null,
            Env.SCHEMA + ".page_views",
            Map.of("id", "id"),
            "view_count",
            null,
            1000);
    double before = ceiling(env, keys);
    AdoptMeasured sql = adoptRun(env, sqlMode, Env.KEYS + "views:", keys);
    AdoptMeasured table = adoptRun(env, tableMode, Env.KEYS + "tviews:", keys);
    double after = ceiling(env, keys);
    double naive = naive(env, naiveKeys, Env.KEYS + "naive2:", "naive_pages");
    String g =
        "4. adopted keys (" + keys / 1000 + "k INCR keys; naive on " + naiveKeys / 1000 + "k)";
    BenchResult ceilingR = ceilingResult(g, "PostgreSQL server-side upsert ceiling", before, after);
    BenchResult naiveR = BenchResult.of(g, "naive KEYS + GETDEL + UPDATE per key", naive, "keys/s");
    return List.of(
        BenchResult.of(g, "Spillway adopt run, table mode", table.rate(), "keys/s")
            .against(ceilingR, ">= 0.5x")
            .note(table.phases()),
        BenchResult.of(g, "Spillway adopt run, SQL mode (UPDATE per key)", sql.rate(), "keys/s")
            .against(ceilingR, null)
            .note(sql.phases()),
        BenchResult.of(g, "Spillway adopt run (SQL mode) vs naive", sql.rate(), "keys/s")
            .against(naiveR, null),
        ceilingR,
        naiveR);
  }

  record AdoptMeasured(double rate, String phases) {}

  private static AdoptMeasured adoptRun(Env env, AdoptMapping m, String prefix, int keys)
      throws Exception {
    try (Spillway sw = env.spillway(b -> b.adopt(m))) {
      for (int round = 0; round < 3; round++) { // untimed: a JVM whose adopt code is compiled
        setKeys(env, prefix, keys, 3);
        sw.adoptOnce(m.name());
      }
      setKeys(env, prefix, keys, 3);
      Map<String, Double> before = phaseMillis(sw, ADOPT_PHASES);
      long t0 = System.nanoTime();
      FlushReport r = sw.adoptOnce(m.name());
      double seconds = (System.nanoTime() - t0) / 1e9;
      if (r.cells() != keys || !r.ok()) {
        throw new IllegalStateException("adopt moved " + r.cells() + " of " + keys + ": " + r);
      }
      Map<String, Double> after = phaseMillis(sw, ADOPT_PHASES);
      StringBuilder b = new StringBuilder();
      for (String p : ADOPT_PHASES) {
        double ms = after.get(p) - before.get(p);
        b.append(String.format(Locale.ROOT, " %s %.0f", p.substring(6), ms));
      }
      return new AdoptMeasured(
          r.cells() / seconds, String.format(Locale.ROOT, "wall %.0f ms:%s", seconds * 1000, b));
    }
  }

  static final List<String> ADOPT_PHASES =
      List.of("adopt_claim", "adopt_read", "adopt_apply", "adopt_ack");
}
