package dev.spillway.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code make bench}: every figure of issue 7 in one run, each beside its peers and limits measured
 * in the same run, printed as a table and written to {@code target/bench/results.json} and {@code
 * results.md}. Runs against the configured Redis and PostgreSQL (SPILLWAY_REDIS_URI,
 * SPILLWAY_JDBC_URL, ...) or embedded ones when those do not answer.
 *
 * <p>Sizes are system properties: {@code -Dbench.seconds=5 -Dbench.coldKeys=1000000
 * -Dbench.flushCells=200000 -Dbench.naiveKeys=20000 -Dbench.adoptKeys=50000
 * -Dbench.memoryCells=200000 -Dbench.lagSeconds=15 -Dbench.scaleCells=50000,200000,1000000
 * -Dbench.only=1,3}; {@code -Dbench.schema/-Dbench.prefix/-Dbench.keys} (see {@link Env}); figure 9
 * is the flush's scaling, 10 the cost of durable mode, {@code api} the HTTP API with wrk ({@link
 * ApiBench}). The defaults end within about four minutes on two cores.
 *
 * <p>Run: {@code make bench}, or {@code java -cp target/classes:target/test-classes:<test
 * classpath> dev.spillway.bench.BenchMain [output-dir]}.
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "target/bench");
    int threads = Integer.getInteger("bench.threads", Runtime.getRuntime().availableProcessors());
    Duration d = Duration.ofSeconds(Integer.getInteger("bench.seconds", 5));
    String only = System.getProperty("bench.only", "0,1,2,3,4,5,6,7,8,9,10,api");
    List<BenchResult> results = new ArrayList<>();
    Instant started = Instant.now();
    run(only, "0", results, () -> Jmh.increment(threads));
    try (Env env = new Env()) {
      run(only, "1", results, () -> Ingest.hot(env, threads, d));
      run(
          only,
          "2",
          results,
          () -> Ingest.cold(env, threads, d, Integer.getInteger("bench.coldKeys", 1_000_000)));
      run(
          only,
          "3",
          results,
          () ->
              FlushBench.flush(
                  env,
                  Integer.getInteger("bench.flushCells", 200_000),
                  Integer.getInteger("bench.naiveKeys", 20_000)));
      run(
          only,
          "4",
          results,
          () ->
              FlushBench.adopt(
                  env,
                  Integer.getInteger("bench.adoptKeys", 50_000),
                  Integer.getInteger("bench.naiveKeys", 20_000)));
      run(only, "5", results, () -> EndToEnd.perEventSql(env, threads, d));
      run(
          only,
          "6",
          results,
          () ->
              EndToEnd.lag(
                  env, Duration.ofSeconds(Integer.getInteger("bench.lagSeconds", 15)), 100_000));
      run(
          only,
          "7",
          results,
          () -> MemoryBench.memory(env, Integer.getInteger("bench.memoryCells", 200_000)));
      run(
          only,
          "8",
          results,
          () -> EndToEnd.safety(env, Integer.getInteger("bench.naiveKeys", 20_000)));
      run(
          only,
          "9",
          results,
          () ->
              FlushBench.scaling(
                  env,
                  Arrays.stream(
                          System.getProperty("bench.scaleCells", "50000,200000,1000000").split(","))
                      .map(String::trim)
                      .map(Integer::valueOf)
                      .toList()));
      run(
          only,
          "10",
          results,
          () ->
              DurableBench.ingest(
                  env, threads, d, Integer.getInteger("bench.coldKeys", 1_000_000)));
      run(only, "api", results, () -> ApiBench.run(env, d));
      env.reset();
    }
    Duration took = Duration.between(started, Instant.now());
    String table = markdown(results, threads, took);
    System.out.println();
    System.out.println(table);
    Files.createDirectories(out);
    Files.writeString(out.resolve("results.md"), table);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("started", started.toString());
    json.put("seconds", took.toSeconds());
    json.put("threads", threads);
    json.put("cores", Runtime.getRuntime().availableProcessors());
    json.put("java", Runtime.version().toString());
    json.put("results", results);
    new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .writeValue(out.resolve("results.json").toFile(), json);
    System.out.println(
        "wrote " + out.resolve("results.md") + " and " + out.resolve("results.json"));
  }

  interface Bench {
    List<BenchResult> run() throws Exception;
  }

  private static void run(String only, String id, List<BenchResult> results, Bench b)
      throws Exception {
    if (!List.of(only.split(",")).contains(id)) {
      return;
    }
    long t0 = System.nanoTime();
    System.out.printf("running benchmark %s ...%n", id);
    List<BenchResult> r = b.run();
    results.addAll(r);
    for (BenchResult x : r) {
      System.out.println("  " + line(x));
    }
    System.out.printf("  (%.0f s)%n", (System.nanoTime() - t0) / 1e9);
  }

  private static String line(BenchResult r) {
    return r.name()
        + ": "
        + fmt(r.value())
        + " "
        + r.unit()
        + (r.ratio() == null
            ? ""
            : String.format(Locale.ROOT, "  = %.2fx %s", r.ratio(), r.versus()))
        + (r.aim() == null ? "" : " (aim " + r.aim() + ")")
        + (r.note() == null ? "" : " [" + r.note() + "]");
  }

  static String fmt(double v) {
    if (Math.abs(v) >= 100) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    return String.format(Locale.ROOT, "%,.1f", v);
  }

  static String markdown(List<BenchResult> results, int threads, Duration took) {
    StringBuilder b = new StringBuilder();
    b.append("| figure | measured | value | ratio | versus | aim | note |\n");
    b.append("| --- | --- | ---: | ---: | --- | --- | --- |\n");
    String group = null;
    for (BenchResult r : results) {
      b.append("| ")
          .append(r.group().equals(group) ? "" : r.group())
          .append(" | ")
          .append(r.name())
          .append(" | ")
          .append(fmt(r.value()))
          .append(' ')
          .append(r.unit())
          .append(" | ")
          .append(r.ratio() == null ? "" : String.format(Locale.ROOT, "%.2fx", r.ratio()))
          .append(" | ")
          .append(r.versus() == null ? "" : r.versus())
          .append(" | ")
          .append(r.aim() == null ? "" : r.aim())
          .append(" | ")
          .append(r.note() == null ? "" : r.note())
          .append(" |\n");
      group = r.group();
    }
    b.append("\n")
        .append(threads)
        .append(" threads on ")
        .append(Runtime.getRuntime().availableProcessors())
        .append(" cores, Java ")
        .append(Runtime.version().feature())
        .append(", run took ")
        .append(took.toSeconds())
        .append(" s.\n");
    return b.toString();
  }
}
