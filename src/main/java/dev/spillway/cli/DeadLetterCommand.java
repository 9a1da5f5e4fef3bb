package dev.spillway.cli;

import dev.spillway.Spillway;
import dev.spillway.store.DeadLetters;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "dead-letter",
    mixinStandardHelpOptions = true,
    description = {
      "Inspect and replay what could not be applied (overflow, no target row, non-integer value,"
          + " wrong key type). Nothing is dropped: it waits in the dead_letter table."
    },
    subcommands = {DeadLetterCommand.ListCommand.class, DeadLetterCommand.ReplayCommand.class},
    footer = {
      "",
      "Examples:",
      "  spillway dead-letter list",
      "  spillway dead-letter list --mapping page-views --limit 20",
      "  spillway dead-letter replay --mapping page-views   # after inserting the missing rows"
    })
final class DeadLetterCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List dead letters waiting for a replay, oldest first.")
  static final class ListCommand implements Callable<Integer> {
    @Mixin ConfigOptions options;

    @Option(names = "--mapping", paramLabel = "NAME", description = "Only this adopt mapping")
    String mapping;

    @Option(names = "--limit", defaultValue = "100", description = "At most this many rows (default ${DEFAULT-VALUE})")
    int limit;

    @Override
    public Integer call() {
      if (limit < 1) {
        throw new IllegalArgumentException("--limit must be at least 1 but was " + limit);
      }
      try (Spillway sw = options.open()) {
        DeadLetters dl = sw.deadLetters();
        List<DeadLetters.Row> rows = dl.list(mapping == null ? null : "adopt:" + mapping, limit);
        if (rows.isEmpty()) {
          System.out.println("no dead letters waiting" + (mapping == null ? "" : " for mapping " + mapping));
          return 0;
        }
        System.out.printf("%-6s %-20s %-22s %-28s %12s  %s%n", "id", "created", "source", "key", "delta", "reason");
        for (DeadLetters.Row r : rows) {
          String key = r.counter() != null ? r.counter() + "/" + r.key() : String.valueOf(r.key());
          if (r.field() != null) {
            key += " [" + r.field() + "]";
          }
          System.out.printf(
              "%-6d %-20s %-22s %-28s %12s  %s%n",
              r.id(),
              r.createdAt().toLocalDateTime().withNano(0),
              r.source(),
              key,
              r.delta() == null ? "(" + r.raw() + ")" : r.delta().toPlainString(),
              r.reason());
        }
        System.out.println(dl.waiting() + " waiting in all");
      }
      return 0;
    }
  }

  @Command(
      name = "replay",
      mixinStandardHelpOptions = true,
      description = {
        "Apply waiting dead letters again, once the cause is fixed. Each row is applied and marked"
            + " replayed in one transaction; rows that still fail stay, with the reason printed."
      })
  static final class ReplayCommand implements Callable<Integer> {
    @Mixin ConfigOptions options;

    @Option(names = "--mapping", paramLabel = "NAME", description = "Only this adopt mapping")
    String mapping;

    @Override
    public Integer call() {
      try (Spillway sw = options.open()) {
        DeadLetters.ReplayResult r = sw.deadLetters().replay(sw.config(), mapping);
        System.out.println(
            "replayed " + r.replayed() + ", still failing " + r.failed() + ", not replayable "
                + r.notReplayable() + " (no integer delta: see dead-letter list)");
        r.problems().stream().limit(50).forEach(p -> System.out.println("  " + p));
        return r.failed() == 0 ? 0 : 1;
      }
    }
  }
}
