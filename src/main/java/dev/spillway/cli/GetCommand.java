package dev.spillway.cli;

import dev.spillway.Spillway;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(
    name = "get",
    mixinStandardHelpOptions = true,
    description = "Print the exact value of a counter key (PostgreSQL plus what is pending in Redis), alone on a line.",
    footer = {"", "Example:", "  spillway get page_views 42"})
final class GetCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Parameters(index = "0", paramLabel = "COUNTER")
  String counter;

  @Parameters(index = "1", paramLabel = "KEY")
  String key;

  @Override
  public Integer call() {
    try (Spillway sw = options.open()) {
      System.out.println(sw.counters().get(counter, key));
    }
    return 0;
  }
}
