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
      "Move counts pending in Redis into PostgreSQL, exactly once.",
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
        System.out.println(r);
        return r.ok() ? 0 : 1;
      }
      long interval = sw.config().flushInterval().toMillis();
      while (!Thread.currentThread().isInterrupted()) {
        FlushReport r = sw.flushOnce();
        if (r.batchesApplied() > 0 || !r.ok()) {
          System.out.println(r);
        }
        Thread.sleep(interval);
      }
    }
    return 0;
  }
}
