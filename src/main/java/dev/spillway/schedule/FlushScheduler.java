package dev.spillway.schedule;

import dev.spillway.flush.FlushReport;
import dev.spillway.flush.Flusher;
import dev.spillway.runtime.RuntimeFailure;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded runtime's flush schedule ({@code Spillway.builder().flushEvery(d)}): one in-memory
 * {@link JobScheduler} task running {@link Flusher#flushOnce()} every {@code interval}. Runs never
 * overlap and a run missed during a pause is skipped, so runs never pile up. The standalone worker
 * uses {@link JobScheduler} directly, with one flush task per stripe group ({@link FlushGroups}).
 */
public final class FlushScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FlushScheduler.class);

  private final JobScheduler scheduler;

  public FlushScheduler(Flusher flusher, Duration interval, RuntimeFailure failure) {
    scheduler =
        JobScheduler.builder()
            .failure(failure)
            .task(
                new ScheduledTask(
                    "flush",
                    Schedule.every(interval),
                    () -> {
                      FlushReport r = flusher.flushOnce();
                      if (!r.ok()) {
                        log.debug("event=scheduled_flush_incomplete {}", r);
                      }
                    }))
            .build();
    scheduler.start();
  }

  /** Stops firing, then waits for a running flush to finish (it leaves no half-done state). */
  @Override
  public void close() {
    scheduler.close();
  }
}
