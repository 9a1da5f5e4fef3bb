package dev.spillway.cli;

import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.store.DeadLetterKind;
import dev.spillway.store.DeadLetters;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spillway dead-letter}: list, show, replay and discard what could not be applied. Every
 * string that came from outside (keys, raw cells, reasons) is printed through {@link Printable}.
 */
@Command(
    name = "dead-letter",
    mixinStandardHelpOptions = true,
    description = {
      "Inspect and resolve what could not be applied. Nothing is dropped: it waits in the"
          + " dead_letter table until a person replays or discards it, and the decision (who,"
          + " when, why) is kept with the row.",
      "",
      "Every row has a class:",
      "",
      "unapplied: never counted (a total that would overflow, no target row, a non-integer"
          + " value, a wrong key type). Fix the cause, then `dead-letter replay`.",
      "",
      "maybe_counted: cells of a batch Redis resurrected after rolling back (AOF tail lost,"
          + " lagging replica promoted, backup restored). Some or all may already be in the"
          + " totals, so a plain replay never applies them. Compare each with the totals, then"
          + " `dead-letter replay --id N` (not counted yet) or `dead-letter discard --id N"
          + " --reason ...` (already counted).",
      ""
    },
    subcommands = {
      DeadLetterCommand.ListCommand.class,
      DeadLetterCommand.ShowCommand.class,
      DeadLetterCommand.ReplayCommand.class,
      DeadLetterCommand.DiscardCommand.class
    },
    footer = {
      "",
      "Examples:",
      "  spillway dead-letter list",
      "  spillway dead-letter list --mapping page-views --limit 20",
      "  spillway dead-letter replay --mapping page-views",
      "  spillway dead-letter show --id 42",
      "  spillway dead-letter replay --id 42 --reason \"not in the total yet\"",
      "  spillway dead-letter discard --id 43 --reason \"already counted\""
    })
final class DeadLetterCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /**
   * Runs a decision; its refusal may quote stored text (who decided), so the sentence is made
   * printable before Main prints it.
   */
  static <T> T printableErrors(Supplier<T> decision) {
    try {
      return decision.get();
    } catch (SpillwayException e) {
      throw new SpillwayException(Printable.of(e.getMessage()), e);
    }
  }

  /** $USER, else the JVM's user.name: who decided, when --by is not given. */
  static String defaultDecider() {
    String user = System.getenv("USER");
    return user != null && !user.isBlank() ? user : System.getProperty("user.name", "unknown");
  }

  private static String where(DeadLetters.Row r) {
    String key = Printable.of(r.key());
    return r.field() == null ? key : key + " [" + Printable.of(r.field()) + "]";
  }

  private static String counterOf(DeadLetters.Row r) {
    return r.counter() != null ? Printable.of(r.counter()) : Printable.of(r.source());
  }

  private static String deltaOf(DeadLetters.Row r) {
    return r.delta() == null ? "(" + Printable.of(r.raw()) + ")" : r.delta().toPlainString();
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = {
        "List dead letters waiting for a decision, oldest first: id, class, counter (or adopt"
            + " source), key, delta and reason.",
        "Control characters and invisible formatting characters in keys and reasons are shown"
            + " escaped (\\x1b, \\n, \\u202e) and a backslash as \\\\, never printed raw."
      })
  static final class ListCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ConfigOptions options;

    @Option(names = "--mapping", paramLabel = "NAME", description = "Only this adopt mapping")
    String mapping;

    @Option(
        names = "--limit",
        defaultValue = "100",
        description = "At most this many rows (default ${DEFAULT-VALUE})")
    int limit;

    @Override
    public Integer call() {
      if (limit < 1) {
        throw new IllegalArgumentException("--limit must be at least 1 but was " + limit);
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Spillway sw = options.open()) {
        DeadLetters dl = sw.deadLetters();
        List<DeadLetters.Row> rows = dl.list(mapping == null ? null : "adopt:" + mapping, limit);
        if (rows.isEmpty()) {
          out.println(
              "no dead letters waiting" + (mapping == null ? "" : " for mapping " + mapping));
          return 0;
        }
        out.printf(
            "%-6s %-13s %-22s %-28s %12s  %s%n",
            "id", "class", "counter", "key", "delta", "reason");
        for (DeadLetters.Row r : rows) {
          out.printf(
              "%-6d %-13s %-22s %-28s %12s  %s%n",
              r.id(), r.kind(), counterOf(r), where(r), deltaOf(r), Printable.of(r.reason()));
        }
        Map<DeadLetterKind, Long> byKind = dl.waitingByKind();
        long maybe = byKind.get(DeadLetterKind.MAYBE_COUNTED);
        out.println(
            (byKind.get(DeadLetterKind.UNAPPLIED) + maybe)
                + " waiting in all ("
                + byKind.get(DeadLetterKind.UNAPPLIED)
                + " unapplied, "
                + maybe
                + " maybe_counted)");
        if (maybe > 0) {
          out.println(
              "maybe_counted rows are never replayed by a plain replay: decide each with"
                  + " `dead-letter replay --id N` or `dead-letter discard --id N --reason ...`");
        }
      }
      return 0;
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Show every field of one dead letter, waiting or closed, with its decision.")
  static final class ShowCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ConfigOptions options;

    @Option(
        names = "--id",
        required = true,
        paramLabel = "N",
        description = "The row (see dead-letter list)")
    long id;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (Spillway sw = options.open()) {
        DeadLetters.Row r =
            sw.deadLetters()
                .find(id)
                .orElseThrow(
                    () ->
                        new SpillwayException(
                            "there is no dead letter " + id + " (see dead-letter list)"));
        out.println("id          " + r.id());
        out.println("class       " + r.kind());
        out.println("created     " + r.createdAt());
        out.println("batch       " + Printable.of(r.batchId()));
        out.println("source      " + Printable.of(r.source()));
        out.println("counter     " + Printable.of(r.counter()));
        out.println("key         " + where(r));
        if (r.granularity() != null) {
          out.println("bucket      " + r.granularity() + " " + r.bucketStart());
        }
        out.println("delta       " + (r.delta() == null ? "-" : r.delta().toPlainString()));
        out.println("raw         " + Printable.of(r.raw()));
        out.println("reason      " + Printable.of(r.reason()));
        if (r.waiting()) {
          out.println("decision    waiting");
        } else {
          out.println(
              "decision    "
                  + r.decision()
                  + " by "
                  + Printable.of(r.decidedBy())
                  + " at "
                  + r.decidedAt()
                  + (r.decisionReason() == null ? "" : ": " + Printable.of(r.decisionReason())));
        }
      }
      return 0;
    }
  }

  @Command(
      name = "replay",
      mixinStandardHelpOptions = true,
      description = {
        "Apply dead letters again, once the cause is fixed. Each row is applied and marked"
            + " replayed in one transaction, so it is applied at most once even when two people"
            + " replay at the same moment.",
        "Without --id: every waiting unapplied row (of --mapping, if given); rows that still fail"
            + " stay, with the reason printed. maybe_counted rows are left alone and counted: their"
            + " cells may already be in the totals.",
        "With --id N: exactly that row, whatever its class. Use it for a maybe_counted row once"
            + " you have checked that its cells are not counted yet (compare `dead-letter show"
            + " --id N` with the totals); otherwise discard it."
      })
  static final class ReplayCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ConfigOptions options;

    @Option(
        names = "--mapping",
        paramLabel = "NAME",
        description = "Only this adopt mapping (not with --id)")
    String mapping;

    @Option(
        names = "--id",
        paramLabel = "N",
        description = "Replay exactly this row, whatever its class")
    Long id;

    @Option(
        names = "--by",
        paramLabel = "NAME",
        description = "Who decided (default: $USER, else the OS user)")
    String by;

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        description = "Why, kept with the row (optional)")
    String reason;

    @Override
    public Integer call() {
      if (id != null && mapping != null) {
        throw new IllegalArgumentException(
            "--id replays one row whatever its source; --mapping cannot be combined with it");
      }
      String decider = by != null ? by : defaultDecider();
      PrintWriter out = spec.commandLine().getOut();
      try (Spillway sw = options.open()) {
        if (id != null) {
          DeadLetters.Row r =
              printableErrors(() -> sw.deadLetters().replayOne(sw.config(), id, decider, reason));
          out.println(decided("replayed", r));
          return 0;
        }
        DeadLetters.ReplayResult r = sw.deadLetters().replay(sw.config(), mapping, decider, reason);
        out.println(
            "replayed "
                + r.replayed()
                + ", still failing "
                + r.failed()
                + ", not replayable "
                + r.notReplayable()
                + " (no integer delta: see dead-letter list)");
        r.problems().stream().limit(50).forEach(p -> out.println("  " + Printable.of(p)));
        long left = r.leftMaybeCounted();
        if (left > 0) {
          out.println(
              left
                  + (left == 1 ? " row left: its cells" : " rows left: their cells")
                  + " may already be counted (Redis rollback); review them, then"
                  + " `dead-letter replay --id N` or `dead-letter discard --id N --reason ...`");
        }
        return r.failed() == 0 ? 0 : 1;
      }
    }
  }

  @Command(
      name = "discard",
      mixinStandardHelpOptions = true,
      description = {
        "Close one dead letter without applying it, recording who, when and why. For a"
            + " maybe_counted row whose cells the totals already hold, or an unapplied row you"
            + " have accounted for by hand. A discarded row is never replayed."
      })
  static final class DiscardCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin ConfigOptions options;

    @Option(
        names = "--id",
        required = true,
        paramLabel = "N",
        description = "The row to close (see dead-letter list)")
    long id;

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        description = "Why it is not applied (required; kept with the row)")
    String reason;

    @Option(
        names = "--by",
        paramLabel = "NAME",
        description = "Who decided (default: $USER, else the OS user)")
    String by;

    @Override
    public Integer call() {
      if (reason == null || reason.isBlank()) {
        throw new IllegalArgumentException(
            "dead-letter discard needs --reason TEXT: say why dead letter "
                + id
                + " is closed"
                + " without being applied (it is kept with the row), e.g. --reason \"already"
                + " counted: the total includes it\"");
      }
      PrintWriter out = spec.commandLine().getOut();
      try (Spillway sw = options.open()) {
        String decider = by != null ? by : defaultDecider();
        DeadLetters.Row r = printableErrors(() -> sw.deadLetters().discard(id, decider, reason));
        out.println(decided("discarded", r) + ": " + Printable.of(r.decisionReason()));
      }
      return 0;
    }
  }

  /**
   * {@code <verb> dead letter <id> (<kind>, <counter> <where>, delta <d>), decided by <who> at
   * <when>}.
   */
  static String decided(String verb, DeadLetters.Row r) {
    return verb
        + " dead letter "
        + r.id()
        + " ("
        + r.kind()
        + ", "
        + counterOf(r)
        + " "
        + where(r)
        + ", delta "
        + deltaOf(r)
        + "), decided by "
        + Printable.of(r.decidedBy())
        + " at "
        + r.decidedAt();
  }
}
