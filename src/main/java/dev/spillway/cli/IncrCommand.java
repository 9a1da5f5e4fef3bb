package dev.spillway.cli;

import dev.spillway.Spillway;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
    name = "incr",
    mixinStandardHelpOptions = true,
    description = {
      "Add to a counter through Redis (returns once Redis acknowledged it).",
      "Needs only Redis: works while PostgreSQL is down; a later flush moves the count there."
    },
    footer = {
      "",
      "Examples:",
      "  spillway incr page_views 42",
      "  spillway incr api_calls acme --by -3"
    })
final class IncrCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Parameters(
      index = "0",
      paramLabel = "COUNTER",
      description = "Counter name, [a-z][a-z0-9_.-]{0,63}")
  String counter;

  @Parameters(
      index = "1",
      paramLabel = "KEY",
      description = "Key: 1-512 bytes of UTF-8, no control characters")
  String key;

  @Option(
      names = "--by",
      paramLabel = "N",
      defaultValue = "1",
      description = "Delta (negative allowed; default 1)")
  long by;

  @Override
  public Integer call() {
    try (Spillway sw = options.openRedisOnly(options.loadOneShot())) {
      sw.counters().increment(counter, key, by);
      sw.counters().flush();
      System.out.println(
          counter + "/" + key + " " + (by >= 0 ? "+" : "") + by + " (acknowledged by Redis)");
    }
    return 0;
  }
}
