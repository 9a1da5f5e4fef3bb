package dev.spillway.cli;

import dev.spillway.Spillway;
import dev.spillway.flush.FlushReport;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "flush",
    mixinStandardHelpOptions = true,
    description = {
      "Move counts pending in Redis into PostgreSQL, exactly once: Spillway's own counters, then"
          + " every adopt mapping (existing keys such as views:*).",
      "With --once: one run over every stripe, then exit (non-zero if anything stayed pending)."
          + " Without: run every flush.interval until interrupted."
    },
    footer = {"", "Example:", "  spillway flush --once --config spillway.yaml"})
final class FlushCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--once", description = "Run once and exit")
  boolean once;

  @Override
  public Integer call() throws InterruptedException {
    try (Spillway sw = options.open()) {
      if (once) {
        FlushReport r = sw.flushOnce();
        System.out.println(options.redactor().redact("counters: " + r));
        boolean ok = r.ok();
        for (var e : sw.adoptOnce().entrySet()) {
          FlushReport a = e.getValue();
          System.out.println(
              "adopt "
                  + e.getKey()
                  + ": moved "
                  + a.cells()
                  + " value(s) in "
                  + a.batchesApplied()
                  + " batch(es), "
                  + a.rowsUpserted()
                  + " row(s) written, "
                  + a.deadLetters()
                  + " dead letter(s)"
                  + (a.ok()
                      ? ""
                      : ", FAILED: " + options.redactor().redact(a.errors().toString())));
          if (a.leftAlone().total() > 0) {
            String match = sw.config().adoptMapping(e.getKey()).orElseThrow().match();
            System.out.println(
                options
                    .redactor()
                    .redact(
                        "adopt "
                            + e.getKey()
                            + ": "
                            + a.leftAlone().describe(match, false)
                            + " (spillway doctor names some)"));
          }
          ok &= a.ok();
        }
        return ok ? 0 : 1;
      }
      long interval = sw.config().flushInterval().toMillis();
      while (!Thread.currentThread().isInterrupted()) {
        FlushReport r = sw.flushOnce();
        if (r.batchesApplied() > 0 || !r.ok()) {
          System.out.println(options.redactor().redact("counters: " + r));
        }
        for (var e : sw.adoptOnce().entrySet()) {
          if (e.getValue().batchesApplied() > 0 || !e.getValue().ok()) {
            System.out.println(
                options.redactor().redact("adopt " + e.getKey() + ": " + e.getValue()));
          }
        }
        Thread.sleep(interval);
      }
    }
    return 0;
  }
}
