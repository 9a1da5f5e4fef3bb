package dev.spillway.runtime;

import dev.spillway.SpillwayException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first {@link Error} (OutOfMemoryError, StackOverflowError, a linkage error…) caught on one of
 * a runtime's own threads: the drain thread, the flush and apply threads, the scheduled jobs, the
 * cache threads. Once set it stays set: the drainer stops draining, the flusher stops flushing,
 * {@code increment()} refuses, and the runtime reports the reason ({@code Spillway#failed()}, the
 * worker's health endpoints) instead of carrying on half broken. It is said once, at ERROR; the
 * Errors that follow are counted, not logged.
 *
 * <p>Why stop rather than retry: after an Error a thread may have died half way through a step, a
 * lock or a queue may be in an unknown state, and a JVM out of heap keeps failing in places nobody
 * catches (Lettuce's encoder, Netty's event loops). Nothing already acknowledged by Redis is lost
 * by stopping: it stays pending in Redis for the next flush, here after a restart or on another
 * worker. Run the JVM with {@code -XX:+ExitOnOutOfMemoryError} so that a heap exhausted on a thread
 * Spillway does not own ends the process too.
 */
public final class RuntimeFailure {
  private static final Logger log = LoggerFactory.getLogger(RuntimeFailure.class);

  private final AtomicReference<String> reason = new AtomicReference<>();
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  /**
   * Runs {@code r} once, on the failing thread, after the first Error is recorded (at once if one
   * was already). Keep it short: the worker uses it to request its own stop.
   */
  public void whenFailed(Runnable r) {
    listeners.add(r);
    if (failed() && listeners.remove(r)) {
      r.run();
    }
  }

  /**
   * Records {@code error}, caught on {@code thread}; returns true if it is the first (and then logs
   * it once at ERROR with its stack trace).
   */
  public boolean record(String thread, Throwable error) {
    String why =
        error.getClass().getName()
            + " on thread "
            + thread
            + (error.getMessage() == null ? "" : ": " + error.getMessage());
    if (!reason.compareAndSet(null, why)) {
      return false;
    }
    try {
      log.error(
          "event=runtime_failed thread={} error=\"{}\" action=stopped_draining_and_flushing"
              + " detail=\"counts acknowledged by Redis stay pending there for the next flush;"
              + " restart the process\"",
          thread,
          error.toString(),
          error);
    } catch (Throwable again) { // NOPMD: out of heap, even the log line may fail; the state holds
      // The reason is recorded; health and failed() report it.
    }
    for (Runnable r : listeners) {
      if (listeners.remove(r)) {
        try {
          r.run();
        } catch (RuntimeException e) {
          log.warn("event=failure_listener_failed error=\"{}\"", e.toString());
        }
      }
    }
    return true;
  }

  /** Whether an Error was recorded. */
  public boolean failed() {
    return reason.get() != null;
  }

  /** The first Error, described: class, thread and message. */
  public Optional<String> reason() {
    return Optional.ofNullable(reason.get());
  }

  /**
   * Throws a {@link SpillwayException} naming the failure, if there was one; {@code what} says what
   * was refused ("the increment was not recorded").
   */
  public void check(String what) {
    String r = reason.get();
    if (r != null) {
      throw new SpillwayException("the Spillway runtime stopped after " + r + "; " + what);
    }
  }
}
