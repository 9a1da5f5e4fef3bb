package dev.spillway.runtime;

import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/** Closing what a runtime opened, in reverse order, without letting one failure stop the rest. */
public final class Closeables {
  private Closeables() {}

  /**
   * Pops and closes every resource of {@code opened} (last opened, first closed); a failure is
   * logged as {@code event=<event>} with the resource and the error, and the next one is closed.
   */
  public static void closeAll(Deque<AutoCloseable> opened, Logger log, String event) {
    boolean interrupted = false;
    while (!opened.isEmpty()) {
      AutoCloseable c = opened.pop();
      try {
        c.close();
      } catch (Exception e) {
        // An interrupt cuts one wait short; the rest still close (the last drain among them),
        // and the interrupt is handed back to the caller at the end.
        interrupted |= e instanceof InterruptedException;
        log.warn("event={} resource={} error=\"{}\"", event, c, e.toString());
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Ends an executor and waits for its threads (up to {@code patience}, then interrupts them and
   * waits two seconds more), so that none of them uses a connection closed after it.
   */
  public static void stop(ExecutorService e, long patience, TimeUnit unit)
      throws InterruptedException {
    e.shutdown();
    if (!e.awaitTermination(patience, unit)) {
      e.shutdownNow();
      e.awaitTermination(2, TimeUnit.SECONDS);
    }
  }
}
