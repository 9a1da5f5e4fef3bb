package dev.spillway.bench;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code redis-benchmark} binary against the same server, when installed. */
final class RedisBenchmarkTool {
  private RedisBenchmarkTool() {}

  /** How the honest limit is run: the layout Spillway writes, redis-benchmark's default clients. */
  static final String STRIPED =
      "redis-benchmark -P 64 (default 50 clients) HINCRBY over 4096 small hashes, random fields";

  /** The cheapest HINCRBY Redis serves: one field in each of many tiny hashes. */
  static final String TINY =
      "redis-benchmark -P 64 (default 50 clients) HINCRBY over 1M one-field hashes";

  /** The earlier reference: 4 clients and one huge hash. */
  static final String ONE_HASH = "redis-benchmark -P 64 -c 4 HINCRBY on one hash";

  /**
   * Requests/s of pipelined (-P 64) HINCRBY with redis-benchmark's default client count (50) into
   * as many hashes as Spillway has stripes (4096), each field random: the layout Spillway writes
   * (many small hashes, random fields). {@code -r} draws every {@code __rand_int__} on its own.
   * Null when the binary is missing.
   */
  static Double hincrbyStriped(Env env, int stripes) throws Exception {
    return run(
        env,
        List.of("-P", "64", "-n", "5000000", "-r", String.valueOf(stripes)),
        Env.KEYS + "rb:{__rand_int__}:live",
        "f:__rand_int__");
  }

  /**
   * Requests/s of pipelined (-P 64) HINCRBY with the default 50 clients into {@code keys} random
   * hashes of one field each: no field to look up in a hash, the cheapest layout for Redis.
   */
  static Double hincrbyTiny(Env env, int keys) throws Exception {
    return run(
        env,
        List.of("-P", "64", "-n", "5000000", "-r", String.valueOf(keys)),
        Env.KEYS + "rbt:__rand_int__",
        "f");
  }

  /** Requests/s of pipelined (-P 64) HINCRBY, 4 clients, {@code keys} random fields of one hash. */
  static Double hincrby(Env env, int keys) throws Exception {
    return run(
        env,
        List.of("-P", "64", "-c", "4", "-n", "3000000", "-r", String.valueOf(keys)),
        Env.KEYS + "rb:{1}",
        "f:__rand_int__");
  }

  private static Double run(Env env, List<String> options, String key, String field)
      throws Exception {
    File bin = new File("/usr/bin/redis-benchmark");
    if (!bin.canExecute()) {
      return null;
    }
    var addr = env.redisAddress();
    List<String> cmd =
        new ArrayList<>(
            List.of(bin.getPath(), "-h", addr.getHost(), "-p", String.valueOf(addr.getPort())));
    cmd.addAll(options);
    cmd.addAll(List.of("--csv", "HINCRBY", key, field, "1"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      System.out.println("redis-benchmark failed: " + out);
      return null;
    }
    // CSV: "test","rps",... then a line per test: "HINCRBY ...","123456.78",...
    for (String line : out.lines().toList()) {
      if (line.startsWith("\"HINCRBY")) {
        String[] cols = line.split("\",\"");
        return Double.parseDouble(cols[1].replace("\"", ""));
      }
    }
    System.out.println("redis-benchmark printed no HINCRBY line: " + out);
    return null;
  }
}
