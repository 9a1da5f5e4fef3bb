package dev.spillway.bench;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code redis-benchmark} binary against the same server, when installed. */
final class RedisBenchmarkTool {
  private RedisBenchmarkTool() {}

  /** Requests/s of pipelined (-P 64) HINCRBY over {@code keys} random fields, or null. */
  static Double hincrby(Env env, int keys) throws Exception {
    File bin = new File("/usr/bin/redis-benchmark");
    if (!bin.canExecute()) {
      return null;
    }
    var addr = env.redisAddress();
    Process p =
        new ProcessBuilder(
                bin.getPath(), "-h", addr.getHost(), "-p", String.valueOf(addr.getPort()),
                "-P", "64", "-c", "4", "-n", "3000000", "-r", String.valueOf(keys), "--csv",
                "HINCRBY", "bench:rb:{1}", "f:__rand_int__", "1")
            .redirectErrorStream(true)
            .start();
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
