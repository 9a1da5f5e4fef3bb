package dev.spillway.cli;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.store.Database;
import dev.spillway.store.PostgresUnavailableException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(
    name = "get",
    mixinStandardHelpOptions = true,
    description = {
      "Print the exact value of a counter key (PostgreSQL plus what is pending in Redis), alone on"
          + " a line.",
      "While PostgreSQL is unreachable: print what Redis holds pending instead, say so in one"
          + " sentence on stderr, and exit "
          + GetCommand.PARTIAL
          + "."
    },
    footer = {
      "",
      "Exit codes: 0 the exact value; "
          + GetCommand.PARTIAL
          + " only the value pending in Redis"
          + " (PostgreSQL unreachable); 1 failure (Redis unreachable, a pending cell that is not an"
          + " integer); 2 bad argument or configuration.",
      "",
      "Example:",
      "  spillway get page_views 42"
    })
final class GetCommand implements Callable<Integer> {
  /**
   * The exit code of a partial answer. Not 0: a script that reads the number must not take the
   * Redis-side part for the whole value unless it asks for that.
   */
  static final int PARTIAL = 3;

  @Mixin ConfigOptions options;

  @Parameters(index = "0", paramLabel = "COUNTER")
  String counter;

  @Parameters(index = "1", paramLabel = "KEY")
  String key;

  @Override
  public Integer call() {
    SpillwayConfig c = options.loadOneShot();
    PostgresUnavailableException down = null;
    try {
      Database.requireReachable(c);
    } catch (PostgresUnavailableException e) {
      down = e;
    }
    if (down == null) {
      try (Spillway sw = options.open(c)) {
        System.out.println(sw.counters().get(counter, key));
      }
      return 0;
    }
    // The Redis side is worth printing without PostgreSQL, as long as nobody mistakes it for all.
    try (Spillway sw = options.openRedisOnly(c)) {
      long pending = sw.counters().pending(counter, key);
      System.out.println(pending);
      System.err.println(
          "spillway: printed only the value of "
              + counter
              + "/"
              + key
              + " pending in Redis; it cannot include the flushed total because PostgreSQL at "
              + down.address()
              + " is unreachable ("
              + down.reason()
              + ")");
    }
    return PARTIAL;
  }
}
